"""Whether a run is alive: the rule of spec 12.3, for the recorder's claims and
for launchers (meticulous-slurm judges its jobs' folders with it).

A network filesystem client caches file attributes (NFS ``acregmax`` 60 s,
sshfs ``attr_timeout``): a ``stat`` of a live run's heartbeat can return an
mtime a minute old. Opening the file revalidates it (close-to-open
consistency) and the content is current, so the heartbeat carries its own
time and is judged by what it says. Time the reader's clock and the
writer's disagree, and caches that do not revalidate, are what the bound
``CACHE_BOUND_SECONDS`` in the staleness limit allows for.

Public API: :func:`staleness_limit`, :func:`death_of`,
:func:`pid_is_alive`, :func:`parse_beat`, :func:`beat_line` and
:func:`heartbeat_interval`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import NamedTuple

__all__ = [
    "CACHE_BOUND_SECONDS",
    "DEFAULT_INTERVAL_SECONDS",
    "INTERVAL_VARIABLE",
    "Beat",
    "beat_line",
    "death_of",
    "header_line",
    "heartbeat_interval",
    "parse_beat",
    "pid_is_alive",
    "read_beat_file",
    "staleness_limit",
]

DEFAULT_INTERVAL_SECONDS = 5.0
CACHE_BOUND_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 0.05
MAX_INTERVAL_SECONDS = 3600.0
INTERVAL_VARIABLE = "METICULOUS_HEARTBEAT_SECONDS"
BEATING = "beat"
ENDED = "dead"
MAX_BEAT_FILE_BYTES = 4096
HEADER_WIDTH = 100  # bytes of the first line, newline included


class Beat(NamedTuple):
    state: str  # "beat" while running, "dead" after an end that STATUS missed
    counter: int
    time: float
    interval: float


def staleness_limit(interval: float = DEFAULT_INTERVAL_SECONDS) -> float:
    """``L(I) = 2·I + A``: how old a beat may be before its run counts as DEAD."""
    return 2 * _clamped(interval) + CACHE_BOUND_SECONDS


def heartbeat_interval(environ: Mapping[str, str]) -> float:
    """The beat interval: ``METICULOUS_HEARTBEAT_SECONDS``, else 5 s.

    A value that is not a number in 0.05–3600 is refused rather than
    ignored: a typo would otherwise make readers judge by the wrong limit.
    """
    text = environ.get(INTERVAL_VARIABLE)
    if not text:
        return DEFAULT_INTERVAL_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not MIN_INTERVAL_SECONDS <= value <= MAX_INTERVAL_SECONDS:
        from .exceptions import InvalidExperimentError

        raise InvalidExperimentError(
            f"{INTERVAL_VARIABLE}={text!r} must be a number of seconds from "
            f"{MIN_INTERVAL_SECONDS} to {MAX_INTERVAL_SECONDS:g}"
        )
    return value


def header_line(*fields: object) -> str:
    """The first line of a heartbeat or claim, padded with spaces to
    ``HEADER_WIDTH`` bytes: every such file then has the same size, so a
    client that caches a file's size (sshfs, NFS) never cuts a newer one
    short (spec 2.7)."""
    text = " ".join(str(field) for field in fields)
    padding = HEADER_WIDTH - 1 - len(text.encode("utf-8"))
    return text + " " * max(0, padding) + "\n"


def beat_line(state: str, counter: int, time: float, interval: float) -> str:
    """The second line of a heartbeat or claim, always ``BEAT_WIDTH`` bytes."""
    return f"{state} {counter:012d} {time:014.3f} {interval:010.3f}\n"


def parse_beat(content: bytes) -> Beat | None:
    """The beat in a heartbeat's or claim's content; None for the older form."""
    lines = content.split(b"\n")
    if len(lines) < 2:
        return None
    fields = lines[1].split()
    if len(fields) != 4 or fields[0] not in (b"beat", b"dead"):
        return None
    try:
        counter, time, interval = int(fields[1]), float(fields[2]), float(fields[3])
    except ValueError:
        return None
    if not (math.isfinite(interval) and math.isfinite(time)):
        return None
    return Beat(fields[0].decode("ascii"), counter, time, _clamped(interval))


def read_beat_file(path: str) -> tuple[bytes, float] | None:
    """``(content, mtime)`` of a heartbeat or claim, read after opening it.

    None when it is missing; a link or anything but a regular file counts
    as missing (it cannot be a writer's). ``O_NONBLOCK`` keeps a FIFO from
    hanging the caller.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        return os.read(fd, MAX_BEAT_FILE_BYTES), info.st_mtime
    except OSError:
        return None
    finally:
        os.close(fd)


def pid_is_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host; a zombie does not.

    Signal 0 probes without touching the process; a zombie (killed, not yet
    reaped by its parent) still answers it, so on Linux its state is read
    from ``/proc``.
    """
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive, owned by someone else
        pass
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            text = file.read()
    except OSError:
        return False  # no /proc (macOS), or it just ended: the probe said alive
    state = text[text.rfind(b")") + 2 : text.rfind(b")") + 3]
    return state in (b"Z", b"X")


def death_of(
    path: str,
    host: object,
    pid: object,
    started: float | None,
    now: float,
    this_host: str,
) -> str | None:
    """None while a run looks alive by spec 12.3, else why it is dead.

    ``path`` is its heartbeat (or claim) file, ``host`` and ``pid`` those in
    its metadata, ``started`` its start as Unix time when known.
    """
    if host == this_host and type(pid) is int and pid > 0 and not pid_is_alive(pid):
        return f"process {pid} on {host} is gone"
    found = read_beat_file(path)
    if found is not None:
        content, mtime = found
        beat = parse_beat(content)
        if beat is not None and beat.state == ENDED:
            return f"it ended at {_moment(beat.time)} without writing STATUS"
        last, interval = (
            (beat.time, beat.interval) if beat else (mtime, DEFAULT_INTERVAL_SECONDS)
        )
        if now - last > staleness_limit(interval):
            return f"no heartbeat since {_moment(last)}"
        return None
    if started is not None and now - started > staleness_limit():
        return f"no heartbeat file, started {_moment(started)}"
    return None


def _clamped(interval: float) -> float:
    return min(max(interval, MIN_INTERVAL_SECONDS), MAX_INTERVAL_SECONDS)


def _moment(epoch_seconds: float) -> str:
    from datetime import datetime, timedelta, timezone

    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone(timedelta(0)))
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
