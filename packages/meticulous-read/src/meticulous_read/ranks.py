"""The ranks of a distributed run, as a reader sees them (spec section 10).

Rank 0 writes the experiment's own files; every other rank keeps its own
``STATUS``, ``metadata.json`` and ``heartbeat`` under ``ranks/<n>/``. A rank
killed outright never writes its end, so its STATUS says RUNNING forever:
a reader applies the same liveness rules to it as to the run, and reports a
run whose main rank lives on but one of whose ranks is dead as DEAD.
"""

from __future__ import annotations

import json
import os

from . import safeio
from .spec import METADATA_FILE, STATUS_FILE

RANKS_FOLDER = "ranks"
MAX_FILE_BYTES = 1 << 20


def _read_small(path: str) -> str | None:
    """A regular file's text (at most 1 MiB), never following a symlink."""
    try:
        data = safeio.read_bytes(path, MAX_FILE_BYTES)
    except OSError:  # UnsafeFile too: a link, a FIFO, over the limit
        return None
    return None if data is None else data.decode("utf-8", "replace")


def rank_numbers(folder: str) -> list[int]:
    """The ranks that have a folder under ``ranks/``, in order."""
    try:
        with os.scandir(os.path.join(folder, RANKS_FOLDER)) as entries:
            names = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return sorted(int(n) for n in names if n.isascii() and n.isdigit())


def rank_state(folder: str, rank: int) -> tuple[str, dict]:
    """(status word, metadata) of one rank; ``""`` and ``{}`` when unreadable."""
    own = os.path.join(folder, RANKS_FOLDER, str(rank))
    text = _read_small(os.path.join(own, STATUS_FILE)) or ""
    try:
        metadata = json.loads(_read_small(os.path.join(own, METADATA_FILE)) or "{}")
    except (ValueError, RecursionError):
        metadata = {}
    return text.partition("\n")[0].strip(), metadata if isinstance(
        metadata, dict
    ) else {}


def dead_rank(folder: str, now: float, this_host: str) -> str | None:
    """Why a rank of a live run is dead, or None when every rank lives."""
    from .status import RUNNING, process_death

    for rank in rank_numbers(folder):
        word, metadata = rank_state(folder, rank)
        if word != RUNNING:
            continue
        death = process_death(
            os.path.join(folder, RANKS_FOLDER, str(rank)),
            metadata.get("host"),
            metadata.get("pid"),
            metadata.get("timestamp"),
            now,
            this_host,
        )
        if death is not None:
            return f"rank {rank} is dead: {death}"
    return None


def rank_lines(folder: str) -> list[str]:
    """One line per joined rank for ``meticulous show``."""
    lines = []
    for rank in rank_numbers(folder):
        word, metadata = rank_state(folder, rank)
        where = f"pid {metadata.get('pid')} on {metadata.get('host')}"
        lines.append(f"  rank {rank}  {word or '(no STATUS)'}  {where}")
    return lines
