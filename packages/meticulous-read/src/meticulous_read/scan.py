"""List an experiments directory and read (or recall from the cache) every folder.

Experiments are found in the directory and in its *groups* (spec §1): a
sub-folder that is not an experiment (no ``STATUS``, ``metadata.json`` or
``args.json``, and not an integer name) is looked into, to ``GROUP_DEPTH``
levels, and an experiment ``1`` in ``dense_model/`` has the id
``dense_model/1``. Ids cannot contain ``/``, so such an address is never
confused with a plain id.

Symbolic links in the directory are never followed (a planted link could
point anywhere); they are named in one warning.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import partial

from . import cache, safeio
from .folder import MARKER_FILES, Snapshot, read_snapshot
from .ids import is_integer_id, sort_key

GROUP_DEPTH = 4  # group folders inside group folders, at most


@dataclass
class Scan:
    """What one pass over the directory found."""

    directory: str
    ids: list[str] = field(default_factory=list)  # sorted as spec §1 says
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # id -> folder path
    not_experiments: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)  # symbolic links, not followed
    scanned_at: float = 0.0


def check_directory(directory: str) -> None:
    """Raise a clear error when the experiments directory is unusable."""
    if not os.path.exists(directory):
        raise FileNotFoundError(f"experiments directory {directory!r} does not exist")
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"{directory!r} is not a directory")


Folder = tuple  # (id, path, FolderKey or None when it could not be stat'ed)
Listed = tuple  # (started, folders, groups, links): a list_folders result


def may_be_group(name: str, path: str) -> bool:
    """A folder that is no experiment by its name and files: look inside it."""
    if is_integer_id(name):
        return False
    for marker in MARKER_FILES:
        try:
            os.lstat(os.path.join(path, marker))
            return False
        except FileNotFoundError:
            continue
        except OSError:  # unreadable: shown as a broken experiment, not entered
            return False
    return True


def _walk(
    path: str, prefix: str, depth: int, folders: list, groups: list, links: list
) -> bool:
    """Add the folders under ``path``; False when it cannot be listed."""
    try:
        with os.scandir(path) as iterator:
            entries = list(iterator)
    except OSError:
        return False
    for entry in entries:
        own = entry.name
        if own[0] == ".":
            continue
        name = prefix + (own if own.isascii() else safeio.safe_text(own))
        try:
            if not entry.is_dir(follow_symlinks=False):
                if entry.is_symlink():
                    links.append(name)
                continue
            info = entry.stat(follow_symlinks=False)
            key = (info.st_mtime_ns, info.st_ctime_ns, info.st_ino)  # cache.folder_key
        except OSError:
            folders.append((name, entry.path, None))  # removed while we looked
            continue
        if (
            depth < GROUP_DEPTH
            and not is_integer_id(own)  # what may_be_group asks first
            and may_be_group(own, entry.path)
        ):
            size = len(folders)
            if _walk(entry.path, name + "/", depth + 1, folders, groups, links) and (
                len(folders) > size
            ):
                groups.append((name, entry.path, key))
                continue
            del folders[size:]
        folders.append((name, entry.path, key))
    return True


def list_folders(directory: str) -> Listed:
    """(when the pass started, candidate folders, group folders, links).

    Each folder and group comes with its cache key. This is the one pass
    over the directory that both caches key on: the snapshot cache per
    folder, the listing cache (:mod:`.listing_cache`) on all of it.
    """
    check_directory(directory)
    started = time.time()
    folders: list = []
    groups: list = []
    links: list = []
    if not _walk(directory, "", 0, folders, groups, links):
        with os.scandir(directory):  # raises the reason (PermissionError, ...)
            pass
    return started, folders, groups, links


def scan(directory: str, use_cache: bool = True, listed: Listed | None = None) -> Scan:
    """Every experiment's snapshot; ``listed`` is a :func:`list_folders` result."""
    scanned_at, folders, _, links = (
        listed if listed is not None else list_folders(directory)
    )
    result = Scan(directory=directory, scanned_at=scanned_at, links=sorted(links))
    previous = cache.load(directory) if use_cache else {}
    kept: dict[str, str | list] = {}  # name -> entry: its JSON text, or as loaded
    changed = False
    snapshots: list[Snapshot | None] = []
    entries: list[str | list | None] = []  # what the cache would store of each
    missing: list[int] = []
    for row, (name, _, key) in enumerate(folders):
        raw = previous.get(name) if key is not None else None
        cached = (
            cache.decode(raw) if raw is not None and tuple(raw[:3]) == key else None
        )
        snapshots.append(None if cached is None else cached[1])
        entries.append(None if cached is None else raw)
        if cached is None:
            missing.append(row)
    if missing:
        changed = True
        read = read_snapshots([folders[row] for row in missing], keep_texts=use_cache)
        for row, found in zip(missing, read):
            snapshots[row], entries[row] = found if use_cache else (found, None)
    for (name, path, key), snapshot, entry in zip(folders, snapshots, entries):
        if (
            entry is not None
            and cache.is_settled(key, result.scanned_at)
            and (snapshot is None or not snapshot["problems"])
        ):
            kept[name] = entry
        if snapshot is None:
            result.not_experiments.append(name)
        else:
            result.snapshots[name] = snapshot
            result.paths[name] = path
    result.ids = sorted(result.snapshots, key=sort_key)
    result.not_experiments.sort()
    if use_cache and (changed or kept.keys() != previous.keys()):
        cache.save(directory, kept)
    return result


PARALLEL_FROM = 2000  # folders: below this, starting workers costs more than it saves
CHUNK = 500


def _read_chunk(folders: list, keep_texts: bool = False) -> list:
    """Snapshots; with ``keep_texts``, (snapshot, its cache entry's JSON text or None).

    The entry is encoded here, in the worker that read the files, from
    their bytes as read: the parent only joins the texts.
    """
    if not keep_texts:
        return [
            read_snapshot(path, name, follow_link=False) for name, path, _ in folders
        ]
    found = []
    for name, path, key in folders:
        snapshot = read_snapshot(path, name, follow_link=False, keep_texts=True)
        texts = snapshot.pop("texts", None) if snapshot is not None else None
        storable = key is not None and (snapshot is None or not snapshot["problems"])
        entry = cache.entry_text(key, snapshot, texts) if storable else None
        found.append((snapshot, entry))
    return found


def _workers() -> int:
    """How many processes read folders: ``METICULOUS_READ_WORKERS``, else the CPUs."""
    configured = os.environ.get("METICULOUS_READ_WORKERS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def read_snapshots(folders: list, keep_texts: bool = False) -> list:
    """Each folder's snapshot, in order; in parallel processes when there are many.

    ``keep_texts`` gives (snapshot, cache entry) pairs (:func:`_read_chunk`).

    Reading is half system calls and half JSON parsing, which holds the
    GIL, so threads barely help; forked processes read chunks side by side
    and send back plain dicts (our own results, never a folder's bytes, go
    through pickle). Where fork is unavailable or fails, one process reads.
    """
    workers = _workers()
    if workers < 2 or len(folders) < PARALLEL_FROM or not hasattr(os, "fork"):
        return _read_chunk(folders, keep_texts)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunks = [folders[start : start + CHUNK] for start in range(0, len(folders), CHUNK)]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            parts = list(pool.map(partial(_read_chunk, keep_texts=keep_texts), chunks))
    except (OSError, RuntimeError, ValueError):  # no fork, no processes left, ...
        return _read_chunk(folders, keep_texts)
    return [snapshot for part in parts for snapshot in part]


def locate(directory: str, experiment_id: str) -> str | None:
    """The folder of one experiment by its id (``7``, ``dense_model/7``), or None.

    What ``meticulous show DIR ID`` needs without scanning the directory:
    every part of the address must be a plain folder (no link, no dot
    name), and only group folders may lead to it.
    """
    parts = experiment_id.split("/")
    if not experiment_id or len(parts) > GROUP_DEPTH + 1:
        return None
    path = directory
    for number, part in enumerate(parts, start=1):
        if not part or part.startswith("."):
            return None
        name = safeio.folder_name(part)
        path = os.path.join(path, name)
        try:
            if os.path.islink(path) or not os.path.isdir(path):
                return None
        except (OSError, ValueError):
            return None
        if number < len(parts) and not may_be_group(name, path):
            return None
    return path
