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
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from . import cache, safeio
from .folder import MARKER_FILES, Snapshot, read_snapshot
from .ids import is_integer_id, sort_key
from .status import DEAD, DEATH_PREFIX, derive_status, running_inputs

if TYPE_CHECKING:  # the columns need pandas: imported when a scan reads folders
    from .deviations import Deviations

GROUP_DEPTH = 4  # group folders inside group folders, at most


@dataclass
class Scan:
    """What one pass over the directory found: the table's columns, not snapshots.

    ``chunks`` are the compact columns of the experiments in id order
    (:func:`.table.join_tables` makes the DataFrame of them); the rest is
    what the listing needs besides (liveness inputs, deviating args).
    """

    directory: str
    ids: list[str] = field(default_factory=list)  # sorted as spec §1 says
    chunks: list = field(default_factory=list)  # TableParts, in id order
    keys: list = field(default_factory=list)  # each experiment's FolderKey or None
    paths: dict[str, str] = field(default_factory=dict)  # only those not DIR/id
    running: list = field(default_factory=list)  # [id, host, pid, start, death]
    deviations: Any = None  # a Deviations of every experiment, in id order
    snapshots: dict[str, Snapshot] | None = None  # with keep_snapshots only
    complete: bool = True  # no experiment had a problem
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
    """Add the folders under ``path``; False when it cannot be listed.

    Listed and stat'ed through one descriptor of ``path``: each ``lstat`` then
    resolves one name, not the whole path again (a fifth of a warm 100,000
    listing's system time).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        with os.scandir(fd) as iterator:
            entries = list(iterator)
    except OSError:
        os.close(fd)
        return False
    base = path if path.endswith(os.sep) else path + os.sep  # as os.path.join
    try:
        for entry in entries:
            own = entry.name
            if own[0] == ".":
                continue
            name = prefix + (own if own.isascii() else safeio.safe_text(own))
            folder = base + own
            try:
                if not entry.is_dir(follow_symlinks=False):
                    if entry.is_symlink():
                        links.append(name)
                    continue
                # lstat, not entry.stat(): the same call, but DirEntry would
                # keep each stat result alive until the directory is walked.
                info = os.lstat(own, dir_fd=fd)
                # cache.folder_key's three numbers
                key = (info.st_mtime_ns, info.st_ctime_ns, info.st_ino)
            except OSError:
                folders.append((name, folder, None))  # removed while we looked
                continue
            if (
                depth < GROUP_DEPTH
                and not is_integer_id(own)  # what may_be_group asks first
                and may_be_group(own, folder)
            ):
                size = len(folders)
                if _walk(folder, name + "/", depth + 1, folders, groups, links) and (
                    len(folders) > size
                ):
                    groups.append((name, folder, key))
                    continue
                del folders[size:]
            folders.append((name, folder, key))
    finally:
        os.close(fd)
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


def scan(
    directory: str,
    use_cache: bool = True,
    listed: Listed | None = None,
    keep_snapshots: bool = False,
) -> Scan:
    """Every experiment's columns; ``listed`` is a :func:`list_folders` result.

    Folders are read (or recalled from the snapshot cache) in chunks, in
    worker processes when there are many, and each chunk comes back as
    compact columns: the parent never holds a snapshot per experiment,
    unless ``keep_snapshots`` asks for them (a reader subclass, whose
    properties may read anything).
    """
    scanned_at, folders, _, links = (
        listed if listed is not None else list_folders(directory)
    )
    from .deviations import Deviations

    result = Scan(directory=directory, scanned_at=scanned_at, links=sorted(links))
    result.deviations = Deviations()
    folders = sorted(folders, key=lambda folder: sort_key(folder[0]))
    previous = cache.load(directory) if use_cache else {}
    recalled: list | None = None
    if previous:
        recalled = []
        for name, _, key in folders:
            raw = previous.get(name) if key is not None else None
            recalled.append(raw if raw is not None and tuple(raw[:3]) == key else None)
    options = Reading(scanned_at, socket.gethostname(), use_cache, keep_snapshots)
    tasks = [
        (
            folders[start : start + CHUNK],
            None if recalled is None else recalled[start : start + CHUNK],
        )
        for start in range(0, len(folders), CHUNK)
    ]
    kept: dict[str, str | list] = {}  # name -> entry: its JSON text, or as loaded
    changed = False
    if keep_snapshots:
        result.snapshots = {}
    for (chunk, _), found in zip(tasks, read_chunks(tasks, options)):
        changed = changed or found.changed
        for (name, path, key), entry in zip(chunk, found.entries):
            if entry is True:
                kept[name] = previous[name]
            elif entry is not None:
                kept[name] = entry
        for row in found.rows:
            name, path, key = chunk[row]
            result.ids.append(name)
            result.keys.append(key)
            if path != os.path.join(directory, name):
                result.paths[name] = path
        result.not_experiments.extend(found.not_experiments)
        result.running.extend(found.running)
        result.complete = result.complete and found.complete
        result.deviations.extend(found.deviations)
        if found.rows:
            result.chunks.append(found.table)
        if result.snapshots is not None:
            result.snapshots.update(zip(found.names, found.snapshots))
    result.deviations.compact()
    result.not_experiments.sort()
    if use_cache and (changed or kept.keys() != previous.keys()):
        cache.save(directory, kept)
    return result


PARALLEL_FROM = 2000  # folders: below this, starting workers costs more than it saves
CHUNK = 500


@dataclass
class Reading:
    """What every chunk is read with: the scan's moment, this host, what to keep."""

    scanned_at: float
    host: str
    keep_texts: bool  # make the snapshot cache's entries
    keep_snapshots: bool


@dataclass
class Chunk:
    """What a worker sends back of its folders: our own plain data and arrays."""

    rows: list[int]  # positions of the experiments among the chunk's folders
    names: list[str]
    table: dict  # TableParts
    deviations: Deviations
    running: list
    entries: list  # per folder: cache entry text, True (keep the loaded one), None
    not_experiments: list[str]
    complete: bool
    changed: bool  # some folder was read, not recalled
    snapshots: list


def _read_chunk(task: tuple, options: Reading) -> Chunk:
    """Read (or recall) one chunk's folders and build their columns.

    A cache entry is encoded here, in the worker that read the files, from
    their bytes as read: the parent only joins the texts.
    """
    from .deviations import Deviations
    from .table import TableBuilder

    folders, recalled = task
    table = TableBuilder(len(folders))
    found = Chunk([], [], {}, Deviations(), [], [], [], True, False, [])
    for row, (name, path, key) in enumerate(folders):
        raw = recalled[row] if recalled is not None else None
        decoded = cache.decode(raw) if raw is not None else None
        entry: str | bool | None = None
        if decoded is not None:
            snapshot = decoded[1]
            entry = True
        else:
            found.changed = True
            snapshot = read_snapshot(
                path, name, follow_link=False, keep_texts=options.keep_texts
            )
            texts = snapshot.pop("texts", None) if snapshot is not None else None
            if (
                options.keep_texts
                and key is not None
                and (snapshot is None or not snapshot["problems"])
            ):
                entry = cache.entry_text(key, snapshot, texts)
        settled = key is not None and cache.is_settled(key, options.scanned_at)
        problems = snapshot is not None and bool(snapshot["problems"])
        found.entries.append(entry if settled and not problems else None)
        if snapshot is None:
            found.not_experiments.append(name)
            continue
        status = derive_status(snapshot, path, options.scanned_at, options.host)
        inputs = running_inputs(snapshot)
        if inputs is not None:
            word, message = status
            death = message[len(DEATH_PREFIX) :] if word == DEAD else None
            found.running.append([name, *inputs, death])
        found.complete = found.complete and not problems
        table.add(snapshot, status)
        found.deviations.add(snapshot["args"], snapshot["default_args"])
        found.rows.append(row)
        found.names.append(name)
        if options.keep_snapshots:
            found.snapshots.append(snapshot)
    found.table = table.parts()
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


def read_chunks(tasks: list, options: Reading) -> Iterator[Chunk]:
    """Each chunk's :class:`Chunk`, in order; in parallel processes when there are many.

    Reading is half system calls and half JSON parsing, which holds the
    GIL, so threads barely help; forked processes read chunks side by side
    and send back columns (numpy and Arrow arrays, plain lists: our own
    results, never a folder's bytes, go through pickle). Where fork is
    unavailable or fails, one process reads.
    """
    read = partial(_read_chunk, options=options)
    workers = _workers()
    folders = sum(len(chunk) for chunk, _ in tasks)
    if workers < 2 or folders < PARALLEL_FROM or not hasattr(os, "fork"):
        return map(read, tasks)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return iter(list(pool.map(read, tasks)))
    except (OSError, RuntimeError, ValueError):  # no fork, no processes left, ...
        return map(read, tasks)


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
