"""What a fork changes for a running experiment (spec 2.5 and 3).

A forked child (a data-loading worker, ``multiprocessing`` with the fork
start method, a user's ``os.fork()``) inherits the experiment object, its
hooks and its open files. Its end is not the run's end: every end-of-run
path checks the pid of the process that started the experiment. What the
child *does* record is shared with its parent: its output goes through the
same descriptors, and its ``log`` rows go into the same ``metrics.jsonl``,
so from the first fork on, automatic steps are taken from the file under a
lock rather than from a per-process counter that both sides would share.

``os.register_at_fork`` handlers cannot be unregistered, so one handler is
registered on first use, and it only acts on the metrics logs of runs still
running.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .metrics import MetricsLog

_running: set[MetricsLog] = set()  # emptied by unwatch when each run stops
_registered = False


def watch(metrics: MetricsLog) -> None:
    """Make ``metrics`` share its steps (``share_steps``) from the next fork on."""
    global _registered
    if not _registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_parent=_after_fork, after_in_child=_after_fork)
        _registered = True
    _running.add(metrics)


def unwatch(metrics: MetricsLog) -> None:
    _running.discard(metrics)


def _after_fork() -> None:
    """This process or its parent just forked: share steps via the file."""
    for metrics in list(_running):
        metrics.share_steps()


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` of ``path`` through a descriptor of our own.

    A descriptor inherited across a fork shares its lock with the other
    process (flock locks belong to the open file description), so each
    holder opens the file anew.
    """
    import fcntl

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # drops the lock
