"""List an experiments directory and read (or recall from the cache) every folder."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from . import cache
from .folder import Snapshot, read_snapshot
from .ids import sort_key


@dataclass
class Scan:
    """What one pass over the directory found."""

    directory: str
    ids: list[str] = field(default_factory=list)  # sorted as spec §1 says
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    not_experiments: list[str] = field(default_factory=list)
    scanned_at: float = 0.0


def check_directory(directory: str) -> None:
    """Raise a clear error when the experiments directory is unusable."""
    if not os.path.exists(directory):
        raise FileNotFoundError(f"experiments directory {directory!r} does not exist")
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"{directory!r} is not a directory")


def _folders(directory: str) -> list[os.DirEntry]:
    """Candidate experiment folders: not dot-entries, not plain files."""
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    found.append(entry)
            except OSError:
                continue
    return found


Folder = tuple  # (name, path, FolderKey or None when it could not be stat'ed)


def list_folders(directory: str) -> tuple[float, list[Folder]]:
    """(when the pass started, candidate folders with their cache keys).

    The one pass over the directory that both caches key on: the snapshot
    cache per folder, the listing cache (:mod:`.listing_cache`) on all of it.
    """
    check_directory(directory)
    started = time.time()
    folders = []
    for entry in _folders(directory):
        try:
            key = cache.folder_key(entry.stat())
        except OSError:
            key = None  # removed while we looked
        folders.append((entry.name, entry.path, key))
    return started, folders


def scan(directory: str, use_cache: bool = True, listed: tuple | None = None) -> Scan:
    """Every experiment's snapshot; ``listed`` is a :func:`list_folders` result."""
    if not use_cache:
        return _scan_uncached(directory)
    scanned_at, folders = listed if listed is not None else list_folders(directory)
    result = Scan(directory=directory, scanned_at=scanned_at)
    previous: cache.Entries = cache.load(directory)
    kept: cache.Entries = {}
    changed = False
    for name, path, key in folders:
        snapshot: Snapshot | None
        if key is None:
            continue
        cached = previous.get(name)
        if cached is not None and cached[0] == key:
            snapshot = cached[1]
        else:
            snapshot = read_snapshot(path, name)
            changed = True
        if cache.is_settled(key, result.scanned_at) and (
            snapshot is None or not snapshot["problems"]
        ):
            kept[name] = (key, snapshot)
        _add(result, name, snapshot)
    _finish(result)
    if changed or kept.keys() != previous.keys():
        cache.save(directory, kept)
    return result


def _scan_uncached(directory: str) -> Scan:
    check_directory(directory)
    result = Scan(directory=directory, scanned_at=time.time())
    for entry in _folders(directory):
        _add(result, entry.name, read_snapshot(entry.path, entry.name))
    _finish(result)
    return result


def _add(result: Scan, name: str, snapshot: Snapshot | None) -> None:
    if snapshot is None:
        result.not_experiments.append(name)
    else:
        result.snapshots[name] = snapshot


def _finish(result: Scan) -> None:
    result.ids = sorted(result.snapshots, key=sort_key)
    result.not_experiments.sort()
