"""Experiment ids: what a valid id is (spec section 1) and allocating the
next integer one safely under concurrency (spec section 4).

Allocation must work for many processes on many hosts sharing a directory
over NFS at the same moment. ``os.mkdir`` is atomic everywhere, NFS
included, so it alone guarantees distinct ids; the lock and the
``last-id`` hint only make them consecutive and keep allocation O(1)
instead of a scan of a directory that may hold thousands of runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .atomic import write_text_atomic
from .exceptions import InvalidExperimentError
from .locks import LockFile

MAX_ID_LENGTH = 200
MAX_ID_BYTES = 255  # NAME_MAX of common filesystems (spec section 1)
META_FOLDER = ".meticulous"


def validate_id(experiment_id: str) -> str:
    """Return ``experiment_id`` unchanged, or raise InvalidExperimentError.

    An id names a folder inside the experiments directory, so anything that
    could escape it (``..``, ``a/b``) or hide it (a leading dot) is refused.
    """
    if not isinstance(experiment_id, str):
        raise InvalidExperimentError(
            f"experiment id must be a string, not {type(experiment_id).__name__}: "
            f"{experiment_id!r}"
        )
    problem = _id_problem(experiment_id)
    if problem:
        raise InvalidExperimentError(
            f"invalid experiment id {experiment_id!r}: {problem}"
        )
    return experiment_id


def _id_problem(experiment_id: str) -> str:
    if not experiment_id:
        return "it is empty"
    if len(experiment_id) > MAX_ID_LENGTH:
        return f"it is longer than {MAX_ID_LENGTH} characters"
    try:
        size = len(experiment_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "it is not valid Unicode (it holds a lone surrogate)"
    if size > MAX_ID_BYTES:
        return (
            f"it is {size} bytes in UTF-8, and a folder name can have at most "
            f"{MAX_ID_BYTES} bytes"
        )
    if "/" in experiment_id or "\\" in experiment_id:
        return "it contains a path separator"
    if any(ord(char) < 0x20 for char in experiment_id):
        return "it contains a control character"
    if experiment_id.startswith("."):
        return "it starts with '.' (reserved for meticulous and other tools)"
    if experiment_id[0].isspace() or experiment_id[-1].isspace():
        return "it starts or ends with white space"
    return ""


def is_integer_id(name: str) -> bool:
    """``1``, ``42``: decimal, no sign, no leading zero."""
    return name.isascii() and name.isdigit() and (name == "0" or name[0] != "0")


def id_sort_key(name: str) -> tuple[int, int, str]:
    """Integer ids numerically first, then every other id as a string."""
    if is_integer_id(name):
        return (0, int(name), "")
    return (1, 0, name)


def allocate_id(experiments_directory: str | os.PathLike[str]) -> str:
    """Create the next integer experiment folder and return its id.

    Creates the experiments directory (and its ``.meticulous/``) if needed.
    """
    return allocate_ids(experiments_directory, 1)[0]


def allocate_ids(
    experiments_directory: str | os.PathLike[str], count: int
) -> list[str]:
    """Create the next ``count`` integer experiment folders; return their ids.

    One lock and one hint update for the lot, so a launcher reserving a
    thousand points pays for them once. The ids are consecutive unless a
    writer ignoring the lock made a folder in between (it is skipped).
    """
    allocated: list[str] = []
    if count <= 0:
        return allocated
    directory = Path(experiments_directory)
    with _id_lock(directory) as meta:
        candidate = _last_id(directory, meta)
        try:
            while len(allocated) < count:
                candidate += 1
                try:
                    os.mkdir(directory / str(candidate))
                except FileExistsError:
                    continue
                allocated.append(str(candidate))
            write_text_atomic(meta / "last-id", f"{candidate}\n")
        except BaseException:  # a full disk halfway: hand out none of them
            for experiment_id in allocated:
                os.rmdir(directory / experiment_id)
            raise
    return allocated


def expected_ids(
    experiments_directory: str | os.PathLike[str], count: int
) -> list[str]:
    """The ids :func:`allocate_ids` would hand out now, read without the lock.

    Only a forecast: another allocation, or a folder in the way, changes
    them. A launcher uses it to prepare its jobs while the real allocation
    runs elsewhere, and must compare the two before anything is submitted.
    """
    directory = Path(experiments_directory)
    try:
        last = _last_id(directory, directory / META_FOLDER)
    except FileNotFoundError:  # no directory yet: it starts at 1
        last = 0
    return [str(last + offset) for offset in range(1, count + 1)]


@contextmanager
def _id_lock(directory: Path) -> Iterator[Path]:
    """``.meticulous/ids.lock`` held: the one lock every id allocation takes."""
    meta = directory / META_FOLDER
    meta.mkdir(parents=True, exist_ok=True)
    with LockFile(meta / "ids.lock"):
        yield meta


def _last_id(directory: Path, meta: Path) -> int:
    """The ``last-id`` hint, or without a usable one the largest integer id."""
    hint = _read_hint(meta / "last-id")
    return _largest_integer_id(directory) if hint is None else hint


def _read_hint(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    return int(text) if is_integer_id(text) else None


def _largest_integer_id(directory: Path) -> int:
    with os.scandir(directory) as entries:
        return max((int(e.name) for e in entries if is_integer_id(e.name)), default=0)


def note_explicit_id(experiments_directory: str | os.PathLike[str], name: str) -> None:
    """A new folder made for an explicit integer id moves the hint past it
    (spec 4), so the next automatic id is the largest plus one, as in
    meticulous-ml, and never a smaller number than an id chosen by hand."""
    if not is_integer_id(name):
        return
    directory = Path(experiments_directory)
    with _id_lock(directory) as meta:
        if int(name) >= _last_id(directory, meta):
            write_text_atomic(meta / "last-id", f"{int(name)}\n")
