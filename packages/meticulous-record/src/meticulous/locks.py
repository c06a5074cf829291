"""Exclusive, non-blocking or blocking locks on a lock file.

The spec's ``.lock`` and ``.meticulous/ids.lock`` are ``filelock.FileLock``
files. On POSIX, ``filelock.FileLock`` is an exclusive ``flock`` on the
file, never deleted; this module takes exactly that lock, so it excludes
and is excluded by any process using ``filelock`` on the same path. It
exists because importing ``filelock`` costs about 60 ms, a third of the
recorder's whole start-up budget. Where ``flock`` is unavailable (Windows,
or an NFS mount without lock support) it falls back to ``filelock`` itself.

Waiting forever is a blocking ``flock``: the kernel hands the lock to the
next waiter the moment its holder lets go. Polling instead (try, sleep, try
again) leaves the lock idle between holders, which doubled the time 64
processes took to allocate ids at once. A finite timeout still polls,
because a blocking ``flock`` cannot be interrupted without a signal
handler, and the recorder installs none for that.
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any

from .safepaths import open_file

_CONTENDED = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES}
_UNSUPPORTED = {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP}


class LockFile:
    """One lock file; ``acquire`` returns False when another holder has it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._fd: int | None = None
        self._fallback: Any = None

    def acquire(self, timeout: float | None = 0) -> bool:
        """Take the lock; wait up to ``timeout`` seconds (None: forever).

        ``timeout=0`` tries once: the folder's ``.lock`` relies on that to
        refuse a second process at once rather than queue it.
        """
        if timeout is None:
            return self._take(blocking=True)
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not self._take(blocking=False):
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return True

    def release(self) -> None:
        if self._fallback is not None:
            self._fallback.release()
            self._fallback = None
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> None:
        self.acquire(timeout=None)

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _take(self, *, blocking: bool) -> bool:
        if self._fallback is not None:
            return self._acquire_fallback(blocking)
        try:
            import fcntl
        except ImportError:
            return self._use_filelock(blocking)
        fd = open_file(self.path, os.O_RDWR | os.O_CREAT)  # never through a link
        try:
            fcntl.flock(
                fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
            )
        except OSError as error:
            os.close(fd)
            if error.errno in _CONTENDED and not blocking:
                return False
            if error.errno in _UNSUPPORTED:
                return self._use_filelock(blocking)
            raise
        except BaseException:  # KeyboardInterrupt while waiting: no leaked fd
            os.close(fd)
            raise
        self._fd = fd
        return True

    def _use_filelock(self, blocking: bool) -> bool:
        import filelock

        self._fallback = filelock.FileLock(self.path)
        return self._acquire_fallback(blocking)

    def _acquire_fallback(self, blocking: bool) -> bool:
        import filelock

        try:
            self._fallback.acquire(timeout=-1 if blocking else 0)
        except filelock.Timeout:
            return False
        return True
