"""The status a reader reports, which can differ from the word in STATUS (spec §2.1).

A process killed by SIGKILL, an out-of-memory kill or a node that lost power
never writes its terminal word, so STATUS keeps saying RUNNING forever. A
reader therefore checks that a RUNNING experiment is still alive: on the same
host by its pid, on any host by its heartbeat's content (``liveness``, spec
12.3). A folder whose start was cut off before STATUS is judged by its age
(spec 12.5).
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timezone

from .folder import Snapshot, spec_version
from .liveness import describe_moment, heartbeat_death, pid_is_alive, staleness_limit
from .spec import (  # noqa: F401 - SUPPORTED_SPEC_VERSION, DERIVED_WORDS: API
    BROKEN,
    DEAD,
    DERIVED_WORDS,
    HEARTBEAT_FILE,
    METADATA_FILE,
    RUNNING,
    STATUS_FILE,
    SUPPORTED_SPEC_VERSION,
    UNSUPPORTED,
)

HEARTBEAT_LIMIT_SECONDS = staleness_limit()  # for the default 5 s beat

DEATH_PREFIX = "STATUS says RUNNING but "


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp with offset as an aware datetime, None when unusable."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def death_of(
    folder: str,
    host: object,
    pid: object,
    timestamp: object,
    now: float,
    this_host: str,
) -> str | None:
    """None while a RUNNING run looks alive, else why it is dead.

    Takes only the metadata values it needs (``host``, ``pid``,
    ``timestamp``), so that the listing cache can keep them and ask again.
    A distributed run is dead too when one of its ranks is (spec 10.4).
    """
    death = process_death(folder, host, pid, timestamp, now, this_host)
    if death is not None:
        return death
    from .ranks import dead_rank

    return dead_rank(folder, now, this_host)


def process_death(
    folder: str,
    host: object,
    pid: object,
    timestamp: object,
    now: float,
    this_host: str,
) -> str | None:
    """None while the process of ``folder`` (a run's or a rank's) looks alive."""
    if host == this_host and type(pid) is int and pid > 0 and not pid_is_alive(pid):
        return f"process {pid} on {host} is gone"
    started = parse_timestamp(timestamp)
    return heartbeat_death(
        os.path.join(folder, HEARTBEAT_FILE),
        started.timestamp() if started is not None else None,
        now,
    )


def never_started(folder: str, now: float) -> tuple[str, str] | None:
    """(word, message) for a folder without STATUS and metadata.json: a start
    cut off before them (spec 12.5), BROKEN while young, DEAD once older
    than the staleness limit; None if it has either file."""
    if any(
        os.path.lexists(os.path.join(folder, name))
        for name in (STATUS_FILE, METADATA_FILE)
    ):
        return None
    try:
        made = os.lstat(folder).st_mtime
    except OSError:
        return None
    if now - made <= staleness_limit():
        return BROKEN, (
            "STATUS and metadata.json are missing (the experiment is being "
            "created, or its start was cut off)"
        )
    return DEAD, (
        f"its run never started: the folder was last changed at "
        f"{describe_moment(made)} and has no STATUS or metadata.json"
    )


def _failed_start(
    snapshot: Snapshot, folder: str, now: float, this_host: str | None
) -> tuple[str, str] | None:
    """Why a folder without STATUS is a start that was cut off (spec 12.5):
    nothing in it and old, or a recorder's metadata whose process is dead."""
    if not _absent(os.path.join(folder, STATUS_FILE)):
        return None  # there but unreadable (a FIFO, a link, no access): BROKEN
    metadata = snapshot["metadata"]
    if metadata is None:
        return never_started(folder, now)
    if not isinstance(metadata, dict) or "timestamp" not in metadata:
        return None  # a launcher's reservation being written
    death = death_of(
        folder,
        metadata.get("host"),
        metadata.get("pid"),
        metadata.get("timestamp"),
        now,
        socket.gethostname() if this_host is None else this_host,
    )
    if death is None:
        return None
    return DEAD, f"STATUS is missing: its run was killed while starting ({death})"


def _absent(path: str) -> bool:
    """Known not to exist; a file that cannot even be looked up is not."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return False


def running_inputs(snapshot: Snapshot) -> tuple | None:
    """(host, pid, timestamp) of a run whose status hangs on liveness, else None."""
    if snapshot["word"] != RUNNING or snapshot["problems"]:
        return None
    version = spec_version(snapshot)
    if version is not None and version > SUPPORTED_SPEC_VERSION:
        return None
    metadata = snapshot["metadata"]
    return metadata.get("host"), metadata.get("pid"), start_of(metadata)


def start_of(metadata: dict) -> object:
    """When the run started: ``timestamp``, or meticulous-ml's ``start-time``."""
    started = metadata.get("timestamp")
    return started if started is not None else metadata.get("start-time")


def derive_status(
    snapshot: Snapshot, folder: str, now: float, this_host: str | None = None
) -> tuple[str, str]:
    """(word, message) as a reader reports them."""
    word, message = snapshot["word"], snapshot["message"]
    version = spec_version(snapshot)
    if version is not None and version > SUPPORTED_SPEC_VERSION:
        said = f"; STATUS says {word}" if word else ""
        return UNSUPPORTED, (
            f"written for spec-version {version}; this reader supports up to "
            f"{SUPPORTED_SPEC_VERSION}{said}"
        )
    problems = snapshot["problems"]
    if problems and not word:
        failed = _failed_start(snapshot, folder, now, this_host)
        if failed is not None:
            return failed
    if problems:
        said = f"; STATUS says {word}" if word else ""
        return BROKEN, "; ".join(problems) + said
    if word == RUNNING:
        if this_host is None:
            this_host = socket.gethostname()
        metadata = snapshot["metadata"]
        death = death_of(
            folder,
            metadata.get("host"),
            metadata.get("pid"),
            start_of(metadata),
            now,
            this_host,
        )
        if death is not None:
            return DEAD, DEATH_PREFIX + death
    return word, message
