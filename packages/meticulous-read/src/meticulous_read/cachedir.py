"""Where the reader's caches live, reached without following any link (spec §8).

The caches sit in the shared experiments folder, ``DIR/.meticulous/cache/``,
where anyone with write access could replace ``.meticulous`` or ``cache``
by a symbolic link to a folder of theirs (or of yours): a reader that
followed it would write, replace and prune files there. So each step is
opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to the one before, files
are created, read, replaced and removed relative to the final descriptor,
and a link anywhere on the way means that place is not used at all (the
per-user cache directory is used instead).

Removal is offered only for names this package writes (``is_ours``), and
callers check a file's content is theirs before they remove it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import safeio
from .spec import META_FOLDER

_DIRECTORY_FLAGS = safeio.FOLDER_FLAGS
_CREATE_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
PREFIXES = ("snapshots-", "listing-", "frame-")  # what the reader's caches are called


def parse_document(data: bytes, **header: object) -> dict[str, Any] | None:
    """A JSON cache file's object when its header fields hold these values.

    Anything else (not JSON, nested too deep, another format, version or
    folder) is None: a cache that is not this reader's own is rebuilt, never
    trusted.
    """
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if type(payload) is not dict:
        return None
    if any(payload.get(name) != value for name, value in header.items()):
        return None
    return payload


def user_cache_directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "meticulous")


class Place:
    """One cache folder: an open descriptor, and a prefix for its file names.

    The per-user folder serves every experiments directory, so its file
    names start with a digest of the directory's absolute path.
    """

    def __init__(self, descriptor: int, prefix: str) -> None:
        self.descriptor = descriptor
        self.prefix = prefix

    def read(self, name: str, limit: int) -> bytes | None:
        """The file's bytes, None when missing or unusable (a link, too large)."""
        try:
            return safeio.read_bytes(self.prefix + name, limit, self.descriptor)
        except OSError:
            return None

    def write(self, name: str, data: bytes) -> None:
        """Replace the file whole: a temporary file, then a rename, both in here."""
        target = self.prefix + name
        while True:
            temporary = f".{target}.tmp-{os.urandom(6).hex()}"
            try:
                handle = os.open(
                    temporary, _CREATE_FLAGS, 0o666, dir_fd=self.descriptor
                )
                break
            except FileExistsError:
                continue
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(handle, view)
                    view = view[written:]
            finally:
                os.close(handle)
            os.replace(
                temporary,
                target,
                src_dir_fd=self.descriptor,
                dst_dir_fd=self.descriptor,
            )
        except BaseException:
            try:
                os.unlink(temporary, dir_fd=self.descriptor)
            except OSError:
                pass
            raise

    def names(self, start: str) -> list[tuple[int, str]]:
        """(mtime_ns, name without prefix) of this place's files starting with ``start``."""
        found = []
        try:
            listed = os.listdir(self.descriptor)
        except OSError:
            return []
        for full in listed:
            if not full.startswith(self.prefix + start):
                continue
            try:
                info = os.stat(full, dir_fd=self.descriptor, follow_symlinks=False)
            except OSError:
                continue
            found.append((info.st_mtime_ns, full[len(self.prefix) :]))
        return found

    def remove(self, name: str) -> None:
        if not name.startswith(PREFIXES):
            raise ValueError(f"{name!r} is not a name the reader writes")
        try:
            os.unlink(self.prefix + name, dir_fd=self.descriptor)
        except OSError:
            pass

    def touch(self, name: str) -> None:
        try:
            os.utime(self.prefix + name, dir_fd=self.descriptor, follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass


def _open_steps(base: str, steps: tuple[str, ...], create: bool) -> int | None:
    """A descriptor of base/steps..., None when a step is a link or unusable."""
    try:
        descriptor = os.open(base, _DIRECTORY_FLAGS & ~getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    for step in steps:
        try:
            following = os.open(step, _DIRECTORY_FLAGS, dir_fd=descriptor)
        except FileNotFoundError:
            if not create:
                os.close(descriptor)
                return None
            try:
                os.mkdir(step, 0o777, dir_fd=descriptor)
                following = os.open(step, _DIRECTORY_FLAGS, dir_fd=descriptor)
            except OSError:
                os.close(descriptor)
                return None
        except OSError:  # a link (ELOOP), a file (ENOTDIR), no permission
            os.close(descriptor)
            return None
        os.close(descriptor)
        descriptor = following
    return descriptor


@contextmanager
def places(directory: str, create: bool) -> Iterator[list[Place]]:
    """The usable cache folders of ``directory``, best first; closed afterwards.

    ``create`` makes missing folders (for writing). The folder in the
    experiments directory comes first, then the per-user one.
    """
    absolute = os.path.abspath(directory)
    digest = hashlib.sha256(os.fsencode(absolute)).hexdigest()[:24]
    opened: list[Place] = []
    try:
        shared = _open_steps(absolute, (META_FOLDER, "cache"), create)
        if shared is not None:
            opened.append(Place(shared, ""))
        user = user_cache_directory()
        parent, leaf = os.path.split(user)
        if create:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError:
                parent = ""
        own = _open_steps(parent, (leaf,), create) if parent else None
        if own is not None:
            opened.append(Place(own, digest + "-"))
        yield opened
    finally:
        for place in opened:
            os.close(place.descriptor)


def write_first(
    directory: str,
    name: str,
    data: bytes,
    then: Callable[[Place], None] | None = None,
) -> bool:
    """Write ``name`` in the first cache place that takes it; False if none did.

    ``then`` runs on that place afterwards (pruning old files).
    """
    with places(directory, create=True) as found:
        for place in found:
            try:
                place.write(name, data)
            except OSError:
                continue
            if then is not None:
                then(place)
            return True
    return False
