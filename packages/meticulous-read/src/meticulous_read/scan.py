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


def scan(directory: str, use_cache: bool = True) -> Scan:
    check_directory(directory)
    result = Scan(directory=directory, scanned_at=time.time())
    folders = _folders(directory)
    previous: cache.Entries = cache.load(directory) if use_cache else {}
    kept: cache.Entries = {}
    changed = False
    for entry in folders:
        name = entry.name
        snapshot: Snapshot | None
        if use_cache:
            try:
                key = cache.folder_key(entry.stat())
            except OSError:
                continue  # removed while we looked
            cached = previous.get(name)
            if cached is not None and cached[0] == key:
                snapshot = cached[1]
            else:
                snapshot = read_snapshot(entry.path, name)
                changed = True
            if cache.is_settled(key, result.scanned_at) and (
                snapshot is None or not snapshot["problems"]
            ):
                kept[name] = (key, snapshot)
        else:
            snapshot = read_snapshot(entry.path, name)
        if snapshot is None:
            result.not_experiments.append(name)
        else:
            result.snapshots[name] = snapshot
    result.ids = sorted(result.snapshots, key=sort_key)
    result.not_experiments.sort()
    if use_cache and (changed or kept.keys() != previous.keys()):
        cache.save(directory, kept)
    return result
