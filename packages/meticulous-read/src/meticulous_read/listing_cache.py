"""A cache of whole listings: an unchanged folder is listed without reading it.

The snapshot cache (:mod:`.cache`) saves reading half a million small files,
but a listing of 100,000 experiments still spends seconds loading it,
building the DataFrame and rendering the table. This cache keeps the
finished output instead, and serves it when nothing it depends on changed:

* every candidate folder's name and (mtime_ns, ctime_ns, inode), from one
  ``os.scandir`` + ``stat`` pass (the same pass the snapshot cache keys on;
  dot-entries and plain files never reach the output, so they are not in
  the key);
* everything else the output depends on: the parsed options (with the width
  and colour already decided from the terminal, ``COLUMNS``, ``NO_COLOR``),
  the local time zone (times are shown in local time), the package version
  and source files, the pandas and numpy installs, this cache's format;
* the liveness of every run whose STATUS says RUNNING: its host, pid and
  timestamp are kept with the verdict they gave (alive, or why dead — the
  reason names an age, so it changes with time), and checked again before
  every reuse. Liveness itself is never cached (spec §8).

A listing is neither stored nor reused when any folder changed less than
2 s before the pass (spec §8), could not be stat'ed, or has problems (a
non-atomic writer may still complete it in place), nor for ``--export``
(it writes a file) and ``--no-cache``.

Each option set has its own file, ``output-v1-<digest>.pickle``, next to
the snapshot cache (``DIR/.meticulous/cache/``, else the user's cache
directory); the newest few are kept per folder. Files are written
atomically and hold only plain tuples, strings and numbers, loaded with the
snapshot cache's unpickler that refuses every class.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import pickle
import socket
import sys
import time
from collections.abc import Iterable

from . import __version__, cache
from .atomic import write_bytes_atomically
from .status import death_of

LISTING_FORMAT = 1
KEEP_OPTION_SETS = 8
NAME_PREFIX = "output-v1-"

Chunks = tuple  # ((1 for stdout or 2 for stderr, text), ...) in the order written


def _code_stamp() -> list:
    """What identifies the code that made a listing: ours, pandas', numpy's."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamp: list = [__version__, LISTING_FORMAT, sys.version]
    with os.scandir(here) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            if entry.name.endswith(".py"):
                info = entry.stat()
                stamp.append((entry.name, info.st_mtime_ns, info.st_size))
    for module in ("pandas", "numpy"):
        try:
            spec = importlib.util.find_spec(module)
            origin = spec.origin if spec is not None else None
            info = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            info = None
        stamp.append((module, origin, info and (info.st_mtime_ns, info.st_size)))
    return stamp


def options_key(options: dict) -> str:
    """Everything besides the folders that the output depends on, as text."""
    return repr(
        [
            sorted((str(name), repr(value)) for name, value in options.items()),
            os.environ.get("TZ"),
            time.tzname,
            time.timezone,
            time.altzone,
            time.daylight,
            _code_stamp(),
        ]
    )


def folders_state(
    scanned_at: float,
    folders: Iterable[tuple],
    groups: Iterable[tuple] = (),
    links: Iterable[str] = (),
) -> str | None:
    """A digest of every folder's and group's name and key; None when one is not settled.

    Groups are in it because a group folder that gains a ``STATUS`` becomes
    an experiment; links because the listing warns about them.
    """
    digest = hashlib.sha256()
    for kind, entries in (("f", folders), ("g", groups)):
        for name, _, key in sorted(entries):
            if key is None or not cache.is_settled(key, scanned_at):
                return None
            digest.update(f"{kind}\0{name}\0{key[0]}\0{key[1]}\0{key[2]}\n".encode())
    for name in sorted(links):
        digest.update(f"l\0{name}\n".encode())
    return digest.hexdigest()


def _paths(directory: str, key: str) -> list[str]:
    name = NAME_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:24] + ".pickle"
    return cache.cache_paths(directory, name)


def _load(path: str, directory: str, key: str, state: str) -> dict | None:
    try:
        with open(path, "rb") as handle:
            payload = cache.PlainUnpickler(io.BytesIO(handle.read())).load()
    except Exception:  # noqa: BLE001 - any unreadable or corrupt cache is not used
        return None
    if (
        not isinstance(payload, dict)
        or payload.get("format") != LISTING_FORMAT
        or payload.get("directory") != directory
        or payload.get("options") != key
        or payload.get("state") != state
        or type(payload.get("code")) is not int
        or not isinstance(payload.get("running"), (list, tuple))
        or not isinstance(payload.get("chunks"), (list, tuple))
    ):
        return None
    for chunk in payload["chunks"]:
        if not (
            isinstance(chunk, tuple)
            and len(chunk) == 2
            and chunk[0] in (1, 2)
            and type(chunk[1]) is str
        ):
            return None
    return payload


def _still_alive_as_before(directory: str, running: Iterable) -> bool:
    """Whether every RUNNING run gets the same verdict now as when stored."""
    now = time.time()
    host = socket.gethostname()
    try:
        for name, run_host, pid, timestamp, death in running:
            folder = os.path.join(directory, name)
            if death_of(folder, run_host, pid, timestamp, now, host) != death:
                return False
    except (TypeError, ValueError):  # a malformed entry: not usable
        return False
    return True


def lookup(directory: str, key: str, state: str) -> tuple[int, Chunks] | None:
    """(exit code, output chunks) of a stored listing still valid, else None."""
    absolute = os.path.abspath(directory)
    for path in _paths(directory, key):
        payload = _load(path, absolute, key, state)
        if payload is not None and _still_alive_as_before(
            directory, payload["running"]
        ):
            try:
                os.utime(path)  # recently used: kept longest
            except OSError:
                pass
            return payload["code"], tuple(payload["chunks"])
    return None


def _prune(path: str) -> None:
    """Keep the newest few option sets of this folder."""
    folder, name = os.path.split(path)
    prefix = name[: name.index(NAME_PREFIX) + len(NAME_PREFIX)]
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(prefix):
                    try:
                        found.append((entry.stat().st_mtime_ns, entry.path))
                    except OSError:
                        pass
    except OSError:
        return
    for _, old in sorted(found, reverse=True)[KEEP_OPTION_SETS:]:
        try:
            os.unlink(old)
        except OSError:
            pass


def store(
    directory: str, key: str, state: str, running: list, code: int, chunks: Chunks
) -> str | None:
    """Keep a listing for reuse; the path used, None if nowhere."""
    data = pickle.dumps(
        {
            "format": LISTING_FORMAT,
            "directory": os.path.abspath(directory),
            "options": key,
            "state": state,
            "running": [tuple(run) for run in running],
            "code": code,
            "chunks": tuple(chunks),
        },
        protocol=pickle.HIGHEST_PROTOCOL,
    )
    for path in _paths(directory, key):
        try:
            write_bytes_atomically(path, data)
        except OSError:
            continue
        _prune(path)
        return path
    return None
