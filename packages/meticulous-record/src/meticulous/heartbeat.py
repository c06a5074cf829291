"""The ``heartbeat`` file: proof of life readable from any host (spec 2.7, 12.3).

A pid check only works on the host that ran the process; a reader on a login
node needs something it can see through the shared filesystem. A daemon
thread rewrites the file's beat line every few seconds; when the process is
SIGKILLed or its node dies, the time in it stops moving and readers report
the run as DEAD. The time is in the content, not only the mtime, because
network filesystem clients serve a stale mtime from their attribute cache
for up to a minute; the line is rewritten in place with the same length so
that a cached file size never cuts it short. The same beat keeps the
folder's claim (spec 12.4) fresh.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import write_text_atomic
from .filenames import HEARTBEAT_FILE
from .liveness import (
    BEATING,
    DEFAULT_INTERVAL_SECONDS,
    ENDED,
    beat_line,
    header_line,
)
from .safepaths import open_file

if TYPE_CHECKING:
    from .claim import Claim

INTERVAL_SECONDS = DEFAULT_INTERVAL_SECONDS


class Heartbeat:
    def __init__(
        self, folder: Path, host: str, pid: int, claim: Claim | None = None
    ) -> None:
        self.path = folder / HEARTBEAT_FILE
        self.interval = claim.interval if claim is not None else INTERVAL_SECONDS
        self._claim = claim
        self._header = header_line(host, pid)
        self._counter = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Not synced: after a machine crash the run is dead whatever it says.
        write_text_atomic(self.path, self._header + self._line(BEATING), sync=False)
        self._thread = threading.Thread(
            target=self._beat, name="meticulous-heartbeat", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _line(self, state: str) -> str:
        return beat_line(state, self._counter, time.time(), self.interval)

    def _beat(self) -> None:
        _leave_signals_to_the_main_thread()
        while not self._stop.wait(self.interval):
            self._counter += 1
            line = self._line(BEATING).encode("ascii")
            try:
                rewrite_line(self.path, len(self._header.encode("utf-8")), line)
            except FileNotFoundError:  # someone deleted it: recreate
                self._recreate()
            except OSError:
                # A flaky network filesystem must not kill the run; the next
                # beat tries again and a long outage shows up as DEAD.
                pass
            if self._claim is not None and not self._claim.beat(line):
                print(
                    f"meticulous: {self._claim.describe_loss()}",
                    file=sys.stderr,
                    flush=True,
                )
                self._claim = None

    def _recreate(self) -> None:
        try:
            write_text_atomic(self.path, self._header + self._line(BEATING))
        except OSError:
            pass


def rewrite_line(path: Path, offset: int, line: bytes) -> None:
    """Overwrite ``line`` at ``offset`` in place: no new disk space, same size.

    Opened and closed every time: closing is what makes an NFS client send
    the write to the server, where other hosts can read it.
    """
    fd = open_file(path, os.O_WRONLY)
    try:
        os.pwrite(fd, line, offset)
    finally:
        os.close(fd)


def mark_ended(folder: Path) -> bool:
    """Turn the beat into ``dead`` in place: the run ended but STATUS could
    not say so (a full disk, spec 12.2); readers report DEAD at once."""
    path = folder / HEARTBEAT_FILE
    try:
        fd = open_file(path, os.O_RDWR)
    except OSError:
        return False
    try:
        header = os.pread(fd, 4096, 0).split(b"\n", 1)[0]
        os.pwrite(fd, ENDED.encode("ascii"), len(header) + 1)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


# Raised by the thread that faults: the kernel kills the process if one
# comes while blocked, so they stay unblocked.
_FAULTS = ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS")


def _leave_signals_to_the_main_thread() -> None:
    """Block in this thread the signals sent to the process (SIGINT, SIGTERM,
    submitit's SIGUSR2...), so the kernel hands them to the main thread.

    Python runs every handler in the main thread, but a signal the kernel
    gives to this thread does not interrupt the main thread's blocking call:
    a Ctrl-C during ``time.sleep(60)`` would wait for the sleep to end.
    """
    if not hasattr(signal, "pthread_sigmask"):
        return
    faults = {getattr(signal, name) for name in _FAULTS if hasattr(signal, name)}
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - faults)
