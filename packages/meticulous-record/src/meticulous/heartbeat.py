"""The ``heartbeat`` file: proof of life readable from any host (spec 2.7).

A pid check only works on the host that ran the process; a reader on a login
node needs something it can see through the shared filesystem. A daemon
thread touches the file every few seconds; when the process is SIGKILLed or
its node dies, the mtime stops moving and readers report the run as DEAD.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .atomic import write_text_atomic

INTERVAL_SECONDS = 5.0


class Heartbeat:
    def __init__(self, folder: Path, host: str, pid: int) -> None:
        self.path = folder / "heartbeat"
        self._text = f"{host} {pid}\n"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        write_text_atomic(self.path, self._text)
        self._thread = threading.Thread(
            target=self._beat, name="meticulous-heartbeat", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _beat(self) -> None:
        while not self._stop.wait(INTERVAL_SECONDS):
            try:
                os.utime(self.path)
            except FileNotFoundError:  # someone deleted it: recreate
                write_text_atomic(self.path, self._text)
            except OSError:
                # A flaky network filesystem must not kill the run; the next
                # beat tries again and a long outage shows up as DEAD.
                continue
