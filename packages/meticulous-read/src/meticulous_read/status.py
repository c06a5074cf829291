"""The status a reader reports, which can differ from the word in STATUS (spec §2.1).

A process killed by SIGKILL, an out-of-memory kill or a node that lost power
never writes its terminal word, so STATUS keeps saying RUNNING forever. A
reader therefore checks that a RUNNING experiment is still alive: on the same
host by its pid, on any host by the age of its heartbeat.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone

from .folder import Snapshot, spec_version

SUPPORTED_SPEC_VERSION = 1
HEARTBEAT_LIMIT_SECONDS = 60.0

RUNNING = "RUNNING"
DEAD = "DEAD"
BROKEN = "BROKEN"
UNSUPPORTED = "UNSUPPORTED"
DERIVED_WORDS = (DEAD, BROKEN, UNSUPPORTED)
DEATH_PREFIX = "STATUS says RUNNING but "
_UTC = timezone(timedelta(0))  # datetime.UTC needs Python 3.11


def pid_is_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host.

    Only asked on POSIX, where signal 0 probes without touching the process
    (on Windows os.kill would terminate it).
    """
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return True
    return True


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
        moment = moment.replace(tzinfo=_UTC)
    return moment


def describe_moment(epoch_seconds: float) -> str:
    """An absolute UTC time, not an age ("for 5 min").

    A message that names an age changes every minute while nothing on disk
    does, which would make every cached listing holding a dead run stale.
    """
    moment = datetime.fromtimestamp(epoch_seconds, tz=_UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


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
    try:
        beat = os.stat(os.path.join(folder, "heartbeat")).st_mtime
    except OSError:
        beat = None
    if beat is not None:
        if now - beat > HEARTBEAT_LIMIT_SECONDS:
            return f"no heartbeat since {describe_moment(beat)}"
        return None
    started = parse_timestamp(timestamp)
    if started is not None and now - started.timestamp() > HEARTBEAT_LIMIT_SECONDS:
        return f"no heartbeat file, started {describe_moment(started.timestamp())}"
    return None


def running_inputs(snapshot: Snapshot) -> tuple | None:
    """(host, pid, timestamp) of a run whose status hangs on liveness, else None."""
    if snapshot["word"] != RUNNING or snapshot["problems"]:
        return None
    version = spec_version(snapshot)
    if version is not None and version > SUPPORTED_SPEC_VERSION:
        return None
    metadata = snapshot["metadata"]
    return metadata.get("host"), metadata.get("pid"), metadata.get("timestamp")


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
            metadata.get("timestamp"),
            now,
            this_host,
        )
        if death is not None:
            return DEAD, DEATH_PREFIX + death
    return word, message
