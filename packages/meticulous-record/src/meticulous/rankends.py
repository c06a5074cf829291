"""Rank 0 collects how the other ranks ended before it says SUCCESS (spec 10.4).

A distributed run is only a success if every rank's part was: a rank that
raised, exited non-zero, was killed or never came makes the whole run an
ERROR. Each rank records its own end in ``ranks/<n>/STATUS``; rank 0 reads
those files, waiting a bounded time for ranks that are still finishing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .filenames import METADATA_FILE
from .folders import read_json_object
from .liveness import pid_is_alive
from .runinfo import hostname
from .status import ERROR, RUNNING, SUCCESS, read_status

ENV_END_TIMEOUT = "METICULOUS_RANK_END_TIMEOUT"
DEFAULT_END_TIMEOUT_SECONDS = 30.0
DEAD = "DEAD"


def rank_folder(folder: Path, rank: int) -> Path:
    return folder / "ranks" / str(rank)


def end_timeout_from(environ: Any) -> float:
    try:
        value = float(environ.get(ENV_END_TIMEOUT, DEFAULT_END_TIMEOUT_SECONDS))
    except ValueError:
        return DEFAULT_END_TIMEOUT_SECONDS
    return max(0.0, value)


def rank_state(folder: Path, rank: int, this_host: str) -> dict[str, Any]:
    """``{"rank", "host", "pid", "status", "message"}`` of one joined rank."""
    own = rank_folder(folder, rank)
    metadata = read_json_object(own / METADATA_FILE) or {}
    status = read_status(own)
    host, pid = metadata.get("host"), metadata.get("pid")
    word, message = (None, "") if status is None else status
    if (
        word == RUNNING
        and host == this_host
        and type(pid) is int
        and not pid_is_alive(pid)
    ):
        word = DEAD
    return {"rank": rank, "host": host, "pid": pid, "status": word, "message": message}


def collect(
    folder: Path, world_size: int, timeout: float, *, wait: bool = True
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every other rank's state, and one line per rank that did not succeed.

    With ``wait``, polls until every rank has ended (or is dead) or
    ``timeout`` seconds have passed.
    """
    this_host = hostname()
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        states = [rank_state(folder, n, this_host) for n in range(1, world_size)]
        pending = [s for s in states if s["status"] in (None, RUNNING)]
        if not wait or not pending or time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    failures = []
    for state in states:
        word, rank = state["status"], state["rank"]
        if word == SUCCESS:
            continue
        if word is None:
            failures.append(f"rank {rank} never joined")
        elif word == DEAD:
            failures.append(
                f"rank {rank} (pid {state['pid']} on {state['host']}) died "
                f"without recording an end"
            )
        elif word == RUNNING:
            failures.append(f"rank {rank} had not ended {timeout:g} s after rank 0")
        else:
            first = state["message"].strip().splitlines()
            reason = f": {first[-1]}" if first else ""
            failures.append(f"rank {rank} ended {word}{reason}")
    for state in states:
        state.pop("message", None)
    return states, failures


def this_rank_entry(word: str | None) -> dict[str, Any]:
    return {"rank": 0, "host": hostname(), "pid": os.getpid(), "status": word}


def main_rank_end(
    folder: Path, world_size: int, word: str, message: str
) -> tuple[str, str, list[dict[str, Any]]]:
    """Rank 0's terminal word and message, made ERROR by any other rank's
    failure, and the ``ranks`` entry of its metadata.

    Only a SUCCESS waits for the others; an ERROR or INTERRUPTED is final.
    """
    states, failures = collect(
        folder, world_size, end_timeout_from(os.environ), wait=word == SUCCESS
    )
    ranks = [this_rank_entry(word), *states]
    if word == SUCCESS and failures:
        return ERROR, "\n".join(failures), ranks
    return word, message, ranks
