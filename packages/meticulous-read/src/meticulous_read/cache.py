"""A cache of folder snapshots that is never stale and cannot be planted (spec §8).

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

**Safe to load from a shared folder.** The file,
``.meticulous/cache/snapshots-v2.json`` (:mod:`.cachedir`: no link
followed), is JSON, so it has no shared references (a planted 1.4 KB file
cannot expand to 2^40 anything) and runs no code. Its shape is fixed: each
entry is a list of numbers and strings and one flat object of texts: the
JSON files of a snapshot are kept as the text of their JSON, parsed again on use with the
same bounds as the files themselves (:mod:`.safeio`). A file over
``CACHE_LIMIT``, of another shape, or for another directory is ignored and
rebuilt.
"""

from __future__ import annotations

import json
import os
from functools import partial
from typing import Any

from . import cachedir, safeio
from .folder import Snapshot

CACHE_FORMAT = "meticulous-read snapshots"
CACHE_VERSION = 3
FRESH_SECONDS = 2.0
FILE_NAME = "snapshots-v2.json"
CACHE_LIMIT = 2048 * safeio.MiB  # about 2 KiB a folder: a million folders fit

FolderKey = tuple  # (mtime_ns, ctime_ns, inode)
# The snapshot fields that hold a JSON object (or None); a snapshot with any
# other field is not cached, so a field added to folder.py is never dropped.
JSON_FIELDS = ("metadata", "args", "default_args", "summary", "tags")


def folder_key(stat: os.stat_result) -> FolderKey:
    return (stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def is_settled(key: FolderKey, built_at: float) -> bool:
    """Whether the folder's mtime is old enough before the scan to be trusted.

    The rule is the spec's, on the mtime; the ctime is only part of the key,
    catching changes whose mtime was set back (``touch -d``, ``rsync -a``).
    """
    return key[0] / 1e9 < built_at - FRESH_SECONDS


def _encode(
    key: FolderKey, snapshot: Snapshot | None, read: dict | None = None
) -> list | None:
    """The entry for a snapshot; None when it holds a field this cache does not know.

    ``read`` holds the files' bytes as the folder reader read them: stored
    as they are, which costs nothing, where encoding the values again would
    cost a ``json.dumps`` per file.
    """
    if snapshot is None:
        return list(key)
    read = read or {}
    texts: dict[str, str | None] = {}
    for field, value in snapshot.items():
        if field in ("word", "message", "problems"):
            continue
        if field not in JSON_FIELDS or not (value is None or type(value) is dict):
            return None  # never cache what would come back without it
        raw = read.get(field)
        if value is None:
            texts[field] = None
        elif raw is not None:
            texts[field] = raw.decode("utf-8")  # it was parsed: it is UTF-8
        else:
            texts[field] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return [*key, snapshot["word"], snapshot["message"], texts]


def _is_entry(entry: Any) -> bool:
    if type(entry) is not list or len(entry) not in (3, 6):
        return False
    if not all(type(number) is int for number in entry[:3]):
        return False
    if len(entry) == 3:
        return True
    word, message, texts = entry[3:]
    return (
        (word is None or type(word) is str)
        and type(message) is str
        and type(texts) is dict
        and all(
            field in JSON_FIELDS and (text is None or type(text) is str)
            for field, text in texts.items()
        )
    )


def decode(entry: list) -> tuple[FolderKey, Snapshot | None] | None:
    """An entry as (key, snapshot); None when its JSON breaks the reader's bounds."""
    key = tuple(entry[:3])
    if len(entry) == 3:
        return key, None
    snapshot: Snapshot = {"word": entry[3], "message": entry[4], "problems": []}
    snapshot.update(dict.fromkeys(JSON_FIELDS))
    for field, text in entry[5].items():
        if text is None:
            snapshot[field] = None
            continue
        if len(text) > safeio.JSON_LIMIT:
            return None
        try:
            value = safeio.loads_bounded(text)
        except (ValueError, RecursionError):
            return None
        if type(value) is not dict or (
            len(text) > 4 * safeio.JSON_VALUES_LIMIT
            and safeio.count_values(value, safeio.JSON_VALUES_LIMIT)
            > safeio.JSON_VALUES_LIMIT
        ):
            return None
        snapshot[field] = value
    return key, snapshot


def _parse(data: bytes, directory: str) -> dict | None:
    payload = cachedir.parse_document(
        data, format=CACHE_FORMAT, version=CACHE_VERSION, directory=directory
    )
    if payload is None or type(payload.get("entries")) is not dict:
        return None
    entries = payload["entries"]
    if not all(_is_entry(entry) for entry in entries.values()):
        return None
    return entries


def load(directory: str) -> dict[str, list]:
    """The newest usable cache of this folder as raw entries (see :func:`decode`)."""
    absolute = os.path.abspath(directory)
    with cachedir.places(directory, create=False) as places:
        candidates = []
        for place in places:
            for mtime, name in place.names(FILE_NAME):
                if name == FILE_NAME:
                    candidates.append((mtime, place))
        for _, place in sorted(candidates, key=lambda pair: pair[0], reverse=True):
            data = place.read(FILE_NAME, CACHE_LIMIT)
            entries = _parse(data, absolute) if data is not None else None
            if entries is not None:
                return entries
    return {}


def entry_text(
    key: FolderKey, snapshot: Snapshot | None, read: dict | None = None
) -> str | None:
    """The entry's JSON text as :func:`save` writes it; None when not cacheable."""
    entry = _encode(key, snapshot, read)
    return None if entry is None else json.dumps(entry, separators=(",", ":"))


def save(directory: str, entries: dict[str, str | list]) -> bool:
    """Store the entries in the first place that takes them; False if none did.

    Each entry is its JSON text (:func:`entry_text`) or, for one kept from the
    file loaded, the list :func:`load` gave: written back as it was read.
    """
    head = json.dumps(
        {
            "format": CACHE_FORMAT,
            "version": CACHE_VERSION,
            "directory": os.path.abspath(directory),
        },
        separators=(",", ":"),
    )
    dumps = partial(json.dumps, separators=(",", ":"))
    body = ",".join(
        f"{dumps(name)}:{entry if type(entry) is str else dumps(entry)}"
        for name, entry in entries.items()
    )
    data = f'{head[:-1]},"entries":{{{body}}}}}'.encode("ascii")
    return cachedir.write_first(directory, FILE_NAME, data)
