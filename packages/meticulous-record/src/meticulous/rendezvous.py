"""How the ranks of one launch agree on one experiment folder (spec 10.2).

Rank 0 chooses the folder exactly as a plain run does, then publishes its id
in ``.meticulous/ranks/<launch key>.json``; the other ranks poll that file.
A shared filesystem is all the ranks are sure to have in common (no network
is needed, and the launcher's own rendezvous is not ours to use). A file
left by an earlier launch with the same key is recognised by its main rank
being gone, or its folder no longer RUNNING, and waited past.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .atomic import write_json_atomic
from .exceptions import RankJoinError
from .filenames import HEARTBEAT_FILE
from .folders import read_json_object
from .ids import META_FOLDER
from .liveness import death_of, pid_is_alive, read_beat_file
from .runinfo import hostname, now
from .status import RUNNING, read_status

ENV_RANK_TIMEOUT = "METICULOUS_RANK_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 300.0
# A failure report is believed when written at most this long before the
# rank began to wait: rank 0 may have failed (and exited) before it started.
FAILURE_RECENCY_SECONDS = 60.0


def rendezvous_path(experiments: Path, launch: str) -> Path:
    return experiments / META_FOLDER / "ranks" / f"{launch}.json"


def publish(
    experiments: Path, launch: str, experiment_id: str, world_size: int
) -> None:
    """Rank 0: tell the other ranks which folder it records into."""
    path = rendezvous_path(experiments, launch)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        path,
        {
            "launch": launch,
            "experiment-id": experiment_id,
            "host": hostname(),
            "pid": os.getpid(),
            "world-size": world_size,
            "timestamp": now(),
        },
    )


def publish_failure(experiments: Path, launch: str, reason: str) -> None:
    """Rank 0 could not start: let the others fail now rather than time out."""
    path = rendezvous_path(experiments, launch)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            path,
            {"launch": launch, "error": reason, "host": hostname(), "pid": os.getpid()},
        )
    except OSError:
        pass  # the other ranks time out instead; rank 0's own error says why


def timeout_from(environ: Any) -> float:
    try:
        return max(0.0, float(environ.get(ENV_RANK_TIMEOUT, DEFAULT_TIMEOUT_SECONDS)))
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS


def wait_for_main_rank(
    experiments: Path,
    launch: str,
    rank: int,
    *,
    expected_id: str | None,
    timeout: float,
) -> str:
    """Rank > 0: the experiment id rank 0 published for this launch."""
    path = rendezvous_path(experiments, launch)
    deadline = time.monotonic() + timeout
    started = time.time()
    delay = 0.05
    while True:
        document = read_json_object(path)
        if document is not None:
            written = _mtime(path)
            found = _usable(document, written, started, experiments, expected_id)
            if found is not None:
                return found
        if time.monotonic() >= deadline:
            raise RankJoinError(
                f"rank {rank} waited {timeout:g} s for rank 0 to publish its "
                f"experiment in {path} and gave up (did rank 0 start an Experiment? "
                f"set {ENV_RANK_TIMEOUT} to wait longer)"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _usable(
    document: dict[str, Any],
    written: float,
    started: float,
    experiments: Path,
    expected_id: str | None,
) -> str | None:
    """The id in ``document`` if it belongs to the live launch, else None."""
    error = document.get("error")
    if isinstance(error, str):
        if written < started - FAILURE_RECENCY_SECONDS:
            return None  # an earlier launch's failure
        raise RankJoinError(f"rank 0 could not start the experiment: {error}")
    if not _main_rank_alive(document, experiments):
        return None
    experiment_id = document.get("experiment-id")
    if not isinstance(experiment_id, str):
        return None
    folder = experiments / experiment_id
    status = read_status(folder)
    if status is None or status[0] != RUNNING:
        return None
    if expected_id is not None and experiment_id != expected_id:
        raise RankJoinError(
            f"rank 0 records experiment {experiment_id}, but this rank was given "
            f"experiment id {expected_id}: every rank must be given the same id"
        )
    return experiment_id


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _main_rank_alive(document: dict[str, Any], experiments: Path) -> bool:
    pid, host = document.get("pid"), document.get("host")
    if host == hostname() and type(pid) is int:
        return pid_is_alive(pid)
    experiment_id = document.get("experiment-id")
    if not isinstance(experiment_id, str):
        return True  # an error report from another host: believe it
    heartbeat = str(experiments / experiment_id / HEARTBEAT_FILE)
    if read_beat_file(heartbeat) is None:
        return False
    return death_of(heartbeat, host, pid, None, time.time(), hostname()) is None
