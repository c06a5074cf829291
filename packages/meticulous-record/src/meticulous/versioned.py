"""Writing a whole file under a versioned name, never over an earlier one (spec §13.2).

Saved objects and logged images are written by third-party code (numpy,
Pillow, torch) that takes a path and writes at its own pace, so they go to a
temporary ``.``-name first (readers skip it) and get their real name only
when complete. The real name is taken with ``link(2)``, which fails when the
name exists, also on NFS: two processes saving ``model`` at once get
``model.pkl`` and ``model.1.pkl``, never one file each half-written.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

from .exceptions import InvalidExperimentError
from .ids import validate_id

Writer = Callable[[Path], None]


def checked_relative_name(name: str, what: str) -> list[str]:
    """The ``/``-separated components of ``name``, each a valid id (spec §1)."""
    if not isinstance(name, str):
        raise InvalidExperimentError(f"{what} must be a string, not {name!r}")
    parts = name.split("/")
    for part in parts:
        try:
            validate_id(part)
        except InvalidExperimentError as error:
            problem = str(error).partition(": ")[2] or str(error)
            raise InvalidExperimentError(
                f"invalid {what} {name!r}: the part {part!r} is not allowed ({problem})"
            ) from None
    return parts


def folder_inside(base: Path, parts: list[str]) -> Path:
    """``base/parts[:-1]``, created, and refused if a symlink leads it outside ``base``."""
    folder = base.joinpath(*parts[:-1])
    folder.mkdir(parents=True, exist_ok=True)
    real_base = base.resolve()
    real = folder.resolve()
    if real != real_base and real_base not in real.parents:
        raise InvalidExperimentError(
            f"{folder} leads outside {base} (a symlink): nothing was written"
        )
    return folder


def write_versioned(
    folder: Path, stem: str, suffix: str, write: Writer, *, overwrite: bool = False
) -> Path:
    """Write through ``write(temporary path)``, then name it ``stem[.n]suffix``.

    The version is one past the largest present (none for the first).
    ``overwrite`` replaces ``stem + suffix`` instead.
    """
    temporary = folder / f".{stem}.tmp-{os.urandom(6).hex()}{suffix}"
    try:
        write(temporary)
        _sync(temporary)
        if overwrite:
            target = folder / f"{stem}{suffix}"
            os.replace(temporary, target)
            return target
        return _link_next_version(temporary, folder, stem, suffix)
    finally:
        _remove_quietly(temporary)


def versions(folder: Path, stem: str, suffix: str) -> list[tuple[int, Path]]:
    """``(version, path)`` of every saved ``stem[.n]suffix`` in ``folder``, any order."""
    pattern = re.compile(re.escape(stem) + r"(?:\.([1-9][0-9]*))?" + re.escape(suffix))
    found = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_file():
            found.append((int(match.group(1) or 0), Path(entry.path)))
    return found


def _link_next_version(temporary: Path, folder: Path, stem: str, suffix: str) -> Path:
    present = versions(folder, stem, suffix)
    version = max((n for n, _ in present), default=-1) + 1
    while True:
        target = folder / (
            f"{stem}.{version}{suffix}" if version else f"{stem}{suffix}"
        )
        try:
            _link_or_claim(temporary, target)
            return target
        except FileExistsError:
            version += 1


def _link_or_claim(temporary: Path, target: Path) -> None:
    try:
        os.link(temporary, target)
    except OSError as error:
        if error.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EXDEV,
        ):
            raise
        # A filesystem without hard links: claim the name with O_EXCL, then
        # replace the (briefly empty) placeholder with the complete file.
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(temporary, target)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
