"""The machine, the installed packages and the sources a run used (spec 11).

A commit pins the code, not what it ran on: the versions of the installed
distributions whose modules were imported, the CPU and GPU models and the
GPUs the process was given. Sacred records as much. The cheap facts are
read at the start; ``nvidia-smi`` (slow) runs in the background from the
start, and the packages are resolved at the end, when every import the run
made has happened. The imported sources git does not track are copied at
the start and, for those imported since, at the end (``sources`` finds
them).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from .sources import SourceScan

GPU_QUERY_TIMEOUT_SECONDS = 5.0


class RunEnvironment:
    """The keys of spec 11 in one process's ``metadata.json``, start to end.

    On the main rank, ``sources`` is the scan of imported sources started
    with the git checks, ``untracked`` what it found, and ``experiments``
    the directory later scans leave out; a joined rank records the machine
    and the packages only (rank 0 records the sources).
    """

    def __init__(
        self,
        sources: SourceScan | None = None,
        untracked: list[str] | None = None,
        experiments: Path | None = None,
    ) -> None:
        self._sources = sources
        self._untracked_at_start = untracked or []
        self._excluded = [] if experiments is None else [experiments]
        self._gpus: GpuQuery | None = None

    def start(self) -> dict[str, Any]:
        """The keys known at the start; ``nvidia-smi`` is asked from now on."""
        self._gpus = GpuQuery()
        return start_environment()

    def record_sources(self, metadata: dict[str, Any], record: Path) -> None:
        """The start's untracked sources: copied, listed in ``metadata``."""
        self._record_sources(metadata, record, self._untracked_at_start)

    def end(self, metadata: dict[str, Any], record: Path) -> None:
        """What is only known at the end: later imports, packages, GPUs."""
        try:
            if self._sources is not None:
                self._sources = self._sources.later(self._excluded)
                self._record_sources(metadata, record, self._sources.untracked())
            metadata["packages"] = imported_packages()
            if self._gpus is not None:
                metadata["gpus"] = self._gpus.names()
        except Exception:  # noqa: BLE001, S110 - the run's end matters more
            pass

    def _record_sources(
        self, metadata: dict[str, Any], record: Path, untracked: list[str]
    ) -> None:
        """Copy untracked imported sources into ``sources/`` and list them in
        the metadata (spec 11); the caller writes ``metadata.json``."""
        from .sources import copy_sources

        listed = metadata.get("untracked-sources")
        listed = list(listed) if isinstance(listed, list) else []
        if self._sources is not None and untracked:
            copied = copy_sources(record, self._sources.toplevel, untracked)
            listed += [name for name in copied if name not in listed]
        metadata["untracked-sources"] = listed
        metadata["reproducible-from-commit"] = not (metadata.get("dirty") or listed)


def cpu_model() -> str:
    """``model name`` of /proc/cpuinfo, else the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


class GpuQuery:
    """``nvidia-smi --query-gpu=name`` started now, read at the end."""

    def __init__(self) -> None:
        import shutil
        import subprocess

        self._process: subprocess.Popen[bytes] | None = None
        if shutil.which("nvidia-smi") is None:
            return
        try:
            self._process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            self._process = None

    def names(self) -> list[str]:
        import subprocess

        process, self._process = self._process, None
        if process is None:
            return []
        try:
            out, _ = process.communicate(timeout=GPU_QUERY_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return []
        if process.returncode != 0:
            return []
        return [
            line.strip()
            for line in out.decode("utf-8", "replace").splitlines()
            if line.strip()
        ]


def start_environment() -> dict[str, Any]:
    """What is known at the start: CPU model and the visible CUDA devices."""
    return {
        "cpu": cpu_model(),
        "cuda-visible-devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def imported_packages() -> dict[str, str]:
    """Distribution name -> version for every installed distribution that
    provides a top-level module imported now.

    Read from the ``*.dist-info`` folders on ``sys.path`` directly rather than
    through ``importlib.metadata``: importing that at exit (it pulls in
    ``socket``) makes CPython forget that a KeyboardInterrupt ended the
    program, so it would exit 1 instead of dying by SIGINT; and it is slower.

    It runs at the end of every run, in environments of a hundred
    distributions, so it reads as little as it can: only the folders on
    ``sys.path`` that hold an imported module outside the standard library;
    there a distribution named like the module, or listing it in its small
    ``top_level.txt``, provides it; the large ``RECORD`` files are searched
    last, and only until every module left has a provider.
    """
    wanted = _imported_by_folder()
    packages: dict[str, str] = {}
    for entry in dict.fromkeys(os.path.abspath(entry or ".") for entry in sys.path):
        modules = wanted.pop(entry, None)
        if modules:
            packages.update(_providers(entry, *modules))
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


_INFO_SUFFIXES = (".dist-info", ".egg-info")
_STANDARD_MODULES = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(
    sys.builtin_module_names
)


def _imported_by_folder() -> dict[str, tuple[set[str], set[str]]]:
    """The imported top-level modules outside the standard library, by the
    folder they were imported from: (modules, namespace packages), the latter
    spread over several folders and possibly several distributions."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for name, module in list(sys.modules.items()):
        if "." in name or name in _STANDARD_MODULES or name == "__main__":
            continue
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            folder = os.path.dirname(file)
            if os.path.basename(file).startswith("__init__."):  # a package
                folder = os.path.dirname(folder)
            found.setdefault(os.path.abspath(folder), (set(), set()))[0].add(name)
            continue
        try:
            parts = list(getattr(module, "__path__", None) or ())
        except TypeError:
            continue
        for part in parts:
            if isinstance(part, str):
                folder = os.path.abspath(os.path.dirname(part))
                found.setdefault(folder, (set(), set()))[1].add(name)
    return found


def _providers(entry: str, modules: set[str], namespaces: set[str]) -> dict[str, str]:
    """The distributions in ``entry`` that provide ``modules`` and
    ``namespaces``: every one named like a module or listing it in
    ``top_level.txt``; through ``RECORD`` only the first one found for a
    module, every one for a namespace package (each provides a part)."""
    try:
        with os.scandir(entry) as listing:
            infos = [e.name for e in listing if e.name.endswith(_INFO_SUFFIXES)]
    except OSError:
        return {}
    unresolved = set(modules)
    packages: dict[str, str] = {}
    candidates = []
    for info in infos:
        name, version = _name_and_version(info)
        if name is None:
            continue
        own = name.replace("-", "_")
        if own in unresolved or own.lower() in unresolved:  # numpy, pandas, six
            packages[name] = version
            unresolved -= {own, own.lower()}
        candidates.append((info, name, version, own.lower()))

    def likely_first(candidate: tuple[str, str, str, str]) -> bool:
        own = candidate[3]
        return not any(own.startswith(m.lower()) for m in unresolved | namespaces)

    candidates.sort(key=likely_first)  # meticulous_record for meticulous
    wanted = modules | namespaces
    for info, name, version, _ in candidates:  # small files: all of them
        provided = _read_top_level(os.path.join(entry, info), wanted)
        if provided:
            packages.setdefault(name, version)
            unresolved -= provided
    for info, name, version, _ in candidates:  # large files: only while needed
        if not (unresolved or namespaces):
            break
        if name not in packages:
            provided = _read_record(os.path.join(entry, info), unresolved | namespaces)
            if provided:
                packages[name] = version
                unresolved -= provided
    return packages


def _name_and_version(info: str) -> tuple[str | None, str]:
    """``GitPython-3.1.40.dist-info`` -> ("GitPython", "3.1.40")."""
    stem = info.rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    version = rest.split("-py", 1)[0]  # egg-info: name-1.0-py3.11
    return (name or None), version


def _read_top_level(info: str, modules: set[str]) -> set[str]:
    """Which of ``modules`` the small ``top_level.txt`` lists."""
    try:
        with open(os.path.join(info, "top_level.txt"), encoding="utf-8") as listing:
            return modules & {line.strip() for line in listing}
    except OSError:
        return set()


def _read_record(info: str, modules: set[str]) -> set[str]:
    """Which of ``modules`` are a first component of a file in ``RECORD``:
    a package folder, a ``.py`` module or an extension module."""
    if os.path.exists(os.path.join(info, "top_level.txt")):
        return set()  # top_level.txt said it all
    try:
        with open(os.path.join(info, "RECORD"), "rb") as record:
            text = b"\n" + record.read()
    except OSError:
        return set()
    return {module for module in modules if _record_lists(text, module)}


def _record_lists(text: bytes, module: str) -> bool:
    start = b"\n" + module.encode("utf-8", "surrogateescape")
    if start + b"/" in text or start + b".py," in text:
        return True
    at = text.find(start + b".")
    while at != -1:  # an extension module: name.cpython-311-x86_64-linux-gnu.so
        path = text[at + 1 : text.find(b",", at)]
        if b"/" not in path and path.endswith((b".so", b".pyd")):
            return True
        at = text.find(start + b".", at + 1)
    return False
