"""Whether a RUNNING run is alive, by the rule of spec 12.3.

Network filesystem clients serve ``stat`` from an attribute cache (NFS
``acregmax`` 60 s, sshfs ``attr_timeout``): a live run's heartbeat mtime
seen through it can be older than any fixed limit, which made readers call
live runs DEAD. The heartbeat therefore carries its own time, and this
module judges the content read after opening the file (close-to-open
consistency makes it current); only a heartbeat of the older form is judged
by its mtime, taken with ``fstat`` of the open file. A zombie (killed, not
reaped) is not alive. The recorder holds the same rule for its claims and
launchers (``meticulous.liveness``); the reader keeps its own copy because
it never imports the recorder.
"""

from __future__ import annotations

import math
import os
import stat
from datetime import datetime, timezone

DEFAULT_INTERVAL_SECONDS = 5.0
CACHE_BOUND_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 0.05
MAX_INTERVAL_SECONDS = 3600.0
MAX_HEARTBEAT_BYTES = 4096


def staleness_limit(interval: float = DEFAULT_INTERVAL_SECONDS) -> float:
    """``L(I) = 2·I + A`` (spec 12.3): 70 s for the default 5 s beat."""
    clamped = min(max(interval, MIN_INTERVAL_SECONDS), MAX_INTERVAL_SECONDS)
    return 2 * clamped + CACHE_BOUND_SECONDS


def pid_is_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host; a zombie does not.

    Only asked on POSIX, where signal 0 probes without touching the process
    (on Windows os.kill would terminate it).
    """
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, owned by someone else
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            text = file.read()
    except OSError:
        return True  # no /proc (macOS): the probe said alive
    end = text.rfind(b")")
    return text[end + 2 : end + 3] not in (b"Z", b"X")


def read_heartbeat(path: str) -> tuple[bytes, float] | None:
    """``(content, mtime)`` read after opening; None when missing or not a
    regular file (``O_NONBLOCK``: a planted FIFO cannot hang the reader)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        return os.read(fd, MAX_HEARTBEAT_BYTES), info.st_mtime
    except OSError:
        return None
    finally:
        os.close(fd)


def parse_beat(content: bytes) -> tuple[str, float, float] | None:
    """``(state, time, interval)`` of the beat line; None for the older form."""
    lines = content.split(b"\n")
    fields = lines[1].split() if len(lines) > 1 else []
    if len(fields) != 4 or fields[0] not in (b"beat", b"dead"):
        return None
    try:
        moment, interval = float(fields[2]), float(fields[3])
        int(fields[1])
    except ValueError:
        return None
    if not (math.isfinite(moment) and math.isfinite(interval)):
        return None
    return fields[0].decode("ascii"), moment, interval


def heartbeat_death(path: str, started: float | None, now: float) -> str | None:
    """Rules 2 and 3 of spec 12.3: why the heartbeat says the run is dead."""
    found = read_heartbeat(path)
    if found is None:
        if started is not None and now - started > staleness_limit():
            return f"no heartbeat file, started {describe_moment(started)}"
        return None
    content, mtime = found
    beat = parse_beat(content)
    if beat is None:
        last, interval = mtime, DEFAULT_INTERVAL_SECONDS
    else:
        state, last, interval = beat
        if state == "dead":
            return f"it ended at {describe_moment(last)} without writing STATUS"
    if now - last > staleness_limit(interval):
        return f"no heartbeat since {describe_moment(last)}"
    return None


def describe_moment(epoch_seconds: float) -> str:
    """An absolute UTC time, not an age ("for 5 min").

    A message that names an age changes every minute while nothing on disk
    does, which would make every cached listing holding a dead run stale.
    """
    try:
        moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{epoch_seconds!r} (Unix time)"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
