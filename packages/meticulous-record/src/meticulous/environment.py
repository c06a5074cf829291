"""The machine and the installed packages a run used (spec 11).

A commit pins the code, not what it ran on: the versions of the installed
distributions whose modules were imported, the CPU and GPU models and the
GPUs the process was given. Sacred records as much. The cheap facts are
read at the start; ``nvidia-smi`` (slow) runs in the background from the
start, and the packages are resolved at the end, when every import the run
made has happened.
"""

from __future__ import annotations

import os
import sys
from typing import Any

GPU_QUERY_TIMEOUT_SECONDS = 5.0


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
    """
    imported = {name.partition(".")[0] for name in list(sys.modules)}
    packages: dict[str, str] = {}
    for entry in list(sys.path):
        try:
            with os.scandir(entry or ".") as listing:
                infos = [e.name for e in listing if e.name.endswith(_INFO_SUFFIXES)]
        except OSError:
            continue
        for info in infos:
            name, version = _name_and_version(info)
            if name is None or name in packages:
                continue
            if imported & _top_level_modules(os.path.join(entry, info), name):
                packages[name] = version
    return dict(sorted(packages.items(), key=lambda item: item[0].lower()))


_INFO_SUFFIXES = (".dist-info", ".egg-info")


def _name_and_version(info: str) -> tuple[str | None, str]:
    """``GitPython-3.1.40.dist-info`` -> ("GitPython", "3.1.40")."""
    stem = info.rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    version = rest.split("-py", 1)[0]  # egg-info: name-1.0-py3.11
    return (name or None), version


def _top_level_modules(info: str, name: str) -> set[str]:
    """The top-level modules a distribution installs: ``top_level.txt``, else
    the first components of the files in its ``RECORD``, else its own name."""
    try:
        with open(os.path.join(info, "top_level.txt"), encoding="utf-8") as listing:
            return {line.strip() for line in listing if line.strip()}
    except OSError:
        pass
    modules = {name.replace("-", "_"), name.replace("-", "_").lower()}
    try:
        with open(os.path.join(info, "RECORD"), encoding="utf-8") as record:
            for line in record:
                first = line.split(",", 1)[0].split("/", 1)[0]
                if first.endswith(".py"):
                    first = first[:-3]
                elif first.endswith(".pth") and first.startswith("__editable__"):
                    continue
                elif "." in first and not first.endswith((".so", ".pyd")):
                    continue  # name.dist-info, name.data, scripts
                modules.add(first.split(".", 1)[0])
    except OSError:
        pass
    return modules
