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

Each option set has its own file, ``listing-v2-<digest>.json``, next to
the snapshot cache (``DIR/.meticulous/cache/``, reached without following
links, else the user's cache directory); the newest few are kept per
folder, and pruning removes only files that begin as this module writes
them. Files are written atomically and are JSON of a fixed shape (the
output text, the liveness inputs of RUNNING runs), checked on load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import sys
import time
from collections.abc import Iterable

from . import __version__, cache, cachedir, safeio
from .status import death_of

LISTING_FORMAT = "meticulous-read listing"
LISTING_VERSION = 2
HEADER = b'{"format":"meticulous-read listing"'  # how our own files begin
LISTING_LIMIT = 1024 * safeio.MiB
KEEP_OPTION_SETS = 8
NAME_PREFIX = "listing-v2-"

Chunks = tuple  # ((1 for stdout or 2 for stderr, text), ...) in the order written


def _code_stamp() -> list:
    """What identifies the code that made a listing: ours, pandas', numpy's."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamp: list = [__version__, LISTING_VERSION, sys.version]
    with os.scandir(here) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            if entry.name.endswith(".py"):
                info = entry.stat()
                stamp.append((entry.name, info.st_mtime_ns, info.st_size))
    for module in ("pandas", "numpy"):
        try:
            spec = importlib.util.find_spec(module)
            origin = spec.origin if spec is not None else None
            found = os.stat(origin) if origin else None
        except (ImportError, ValueError, OSError):
            found = None
        stamp.append((module, origin, found and (found.st_mtime_ns, found.st_size)))
    return stamp


def code_digest() -> str:
    """A digest of :func:`_code_stamp`: what the frame cache keys its code on."""
    return hashlib.sha256(repr(_code_stamp()).encode()).hexdigest()


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
    newest = (scanned_at - cache.FRESH_SECONDS) * 1e9  # the spec's 2 s, on mtimes
    lines = []
    for kind, entries in (("f", folders), ("g", groups)):
        for name, _, key in entries:
            if key is None or key[0] >= newest:
                return None
            lines.append(f"{kind}\0{name}\0{key[0]}\0{key[1]}\0{key[2]}\n")
    # Sorting the lines sorts by kind, then name: no name holds a NUL.
    lines.sort()
    lines.extend(sorted(f"l\0{name}\n" for name in links))
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogatepass")).hexdigest()


def _file_name(key: str) -> str:
    return NAME_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:24] + ".json"


def _is_scalar(value: object) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def _parse(data: bytes, directory: str, key: str, state: str) -> dict | None:
    payload = cachedir.parse_document(
        data,
        format=LISTING_FORMAT,
        version=LISTING_VERSION,
        directory=directory,
        options=key,
        state=state,
    )
    if (
        payload is None
        or type(payload.get("code")) is not int
        or type(payload.get("running")) is not list
        or type(payload.get("chunks")) is not list
    ):
        return None
    for run in payload["running"]:
        if not (
            type(run) is list
            and len(run) == 5
            and type(run[0]) is str
            and all(_is_scalar(value) for value in run)
        ):
            return None
    for chunk in payload["chunks"]:
        if not (
            type(chunk) is list
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
    for name, run_host, pid, timestamp, death in running:
        folder = os.path.join(directory, safeio.folder_name(name))
        if death_of(folder, run_host, pid, timestamp, now, host) != death:
            return False
    return True


def lookup(directory: str, key: str, state: str) -> tuple[int, Chunks] | None:
    """(exit code, output chunks) of a stored listing still valid, else None."""
    absolute = os.path.abspath(directory)
    name = _file_name(key)
    with cachedir.places(directory, create=False) as places:
        for place in places:
            data = place.read(name, LISTING_LIMIT)
            payload = _parse(data, absolute, key, state) if data is not None else None
            if payload is not None and _still_alive_as_before(
                directory, payload["running"]
            ):
                place.touch(name)  # recently used: kept longest
                return payload["code"], tuple(
                    (stream, text) for stream, text in payload["chunks"]
                )
    return None


def _prune(place: cachedir.Place) -> None:
    """Keep the newest few option sets of this folder; remove only our own files."""
    found = [
        (mtime, name)
        for mtime, name in place.names(NAME_PREFIX)
        if name.endswith(".json")
    ]
    for _, old in sorted(found, reverse=True)[KEEP_OPTION_SETS:]:
        head = place.read(old, LISTING_LIMIT)
        if head is not None and head.startswith(HEADER):
            place.remove(old)


def store(
    directory: str, key: str, state: str, running: list, code: int, chunks: Chunks
) -> bool:
    """Keep a listing for reuse; False when no cache folder took it."""
    payload = {
        "format": LISTING_FORMAT,
        "version": LISTING_VERSION,
        "directory": os.path.abspath(directory),
        "options": key,
        "state": state,
        "running": [list(run) for run in running],
        "code": code,
        "chunks": [list(chunk) for chunk in chunks],
    }
    data = json.dumps(payload, separators=(",", ":")).encode("ascii")
    name = _file_name(key)
    return cachedir.write_first(directory, name, data, then=_prune)
