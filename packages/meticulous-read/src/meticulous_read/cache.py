"""A cache of folder snapshots that is never stale (spec §8).

Every atomic replace renames a file inside the experiment folder, which
changes the folder's mtime and ctime; appends (stdout, metrics) do not, but
the table never reads those. So a snapshot stays valid exactly as long as its
folder's (mtime_ns, ctime_ns, inode) is unchanged — with two exceptions:

* a folder changed less than 2 s before the cache was built may change again
  within the same mtime tick on a coarse network filesystem: such entries
  are not stored, so they are read again next time;
* folders with problems (half-written, by tools that do not replace files
  atomically) may be completed in place: they are not stored either.

Liveness of RUNNING experiments (heartbeat, pid) is never cached: it is
checked at every read.

The cache lives in ``<experiments>/.meticulous/cache/`` (spec §7) when that is
writable, else in the user's cache directory keyed by the folder's absolute
path. It is written atomically (temporary file + ``os.replace``), so several
readers can share it; whichever finishes last wins, and each version is
whole. An unreadable or foreign cache is ignored and rebuilt.

The file is a pickle of plain lists, dicts and scalars, loaded with an
unpickler that refuses every class: a cache planted in a shared folder can
at worst be wrong (and then it is ignored), never run code.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle

from .atomic import write_bytes_atomically

CACHE_FORMAT = 2  # 2: snapshots hold tags (spec §15)
FRESH_SECONDS = 2.0
FILE_NAME = "listing-v1.pickle"

FolderKey = tuple  # (mtime_ns, ctime_ns, inode)
Entries = dict  # folder name -> (FolderKey, snapshot or None)


class PlainUnpickler(pickle.Unpickler):
    """Loads plain data only: a planted cache cannot run code."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def folder_key(stat: os.stat_result) -> FolderKey:
    return (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def is_settled(key: FolderKey, built_at: float) -> bool:
    """Whether the folder's mtime is old enough before the scan to be trusted.

    The rule is the spec's, on the mtime; the ctime is only part of the key,
    catching changes whose mtime was set back (``touch -d``, ``rsync -a``).
    """
    return key[0] / 1e9 < built_at - FRESH_SECONDS


def user_cache_directory() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "meticulous")


def cache_paths(directory: str, file_name: str = FILE_NAME) -> list[str]:
    """Where the cache may be: in the experiments folder, then per user."""
    absolute = os.path.abspath(directory)
    digest = hashlib.sha256(os.fsencode(absolute)).hexdigest()[:24]
    return [
        os.path.join(absolute, ".meticulous", "cache", file_name),
        os.path.join(user_cache_directory(), f"{digest}-{file_name}"),
    ]


def _load_file(path: str, directory: str) -> Entries | None:
    try:
        with open(path, "rb") as handle:
            payload = PlainUnpickler(io.BytesIO(handle.read())).load()
    except Exception:  # noqa: BLE001 - any unreadable or corrupt cache is not used
        return None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != CACHE_FORMAT
        or payload.get("directory") != directory
        or not isinstance(payload.get("entries"), dict)
    ):
        return None
    return payload["entries"]


def load(directory: str) -> Entries:
    """The newest readable cache of this folder, {} when there is none."""
    absolute = os.path.abspath(directory)
    candidates = []
    for path in cache_paths(directory):
        try:
            candidates.append((os.stat(path).st_mtime_ns, path))
        except OSError:
            pass
    for _, path in sorted(candidates, reverse=True):
        entries = _load_file(path, absolute)
        if entries is not None:
            return entries
    return {}


def save(directory: str, entries: Entries) -> str | None:
    """Store the entries where possible; the path used, None if nowhere."""
    absolute = os.path.abspath(directory)
    data = pickle.dumps(
        {"format": CACHE_FORMAT, "directory": absolute, "entries": entries},
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    for path in cache_paths(directory):
        try:
            write_bytes_atomically(path, data)
        except OSError:
            continue
        return path
    return None
