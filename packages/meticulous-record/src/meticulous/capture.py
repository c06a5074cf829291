"""Tee the process's stdout and stderr into the experiment folder.

The capture works on file descriptors 1 and 2, not on ``sys.stdout``: what
C extensions write, and what child processes print, goes through the same
descriptors and is recorded too. Each descriptor is pointed (``dup2``) at
the write end of a pipe, or of a pseudo-terminal when it was a terminal, so
that ``isatty()`` answers as it would unrecorded (progress bars, colours).

The copying is done by a ``tee -a`` process, not a Python thread: it needs
no GIL, so printing costs the same as unrecorded, and it keeps draining the
pipe into the file after this process dies, even by SIGKILL, so the output
of a crash is not lost. It runs in its own session and ignores SIGINT,
SIGTERM and SIGHUP, so a Ctrl-C or a ``scancel`` aimed at the job cannot
kill it before the job has written its last words; it ends when the last
writer (this process and the children it started) has closed the pipe.

Stopping flushes Python's and C's buffers, restores the descriptor and
waits (briefly) for ``tee`` to write everything, so the files are complete
when the experiment's ``finish`` returns.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# How long ``stop`` waits for tee: it only waits longer than an instant when
# a child process that outlives the run still holds the pipe open.
STOP_TIMEOUT_SECONDS = 2.0

_TEE_SCRIPT = 'trap "" INT TERM HUP; exec tee -a {options} "$1"'


class MissingTeeError(RuntimeError):
    """The ``tee`` command is not installed."""


def require_tee() -> None:
    """Fail before anything is recorded if output cannot be captured."""
    import shutil

    if shutil.which("tee") is None or shutil.which("sh") is None:
        raise MissingTeeError(
            "meticulous captures output with the 'tee' and 'sh' commands, "
            "which were not found on PATH"
        )


class DescriptorTee:
    """Copies everything written to one descriptor into a file, while running."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path
        self._saved: int | None = None
        self._tee: Any = None

    def start(self) -> None:
        from .safepaths import open_file

        flush_python_streams()
        # Opened here, never through a link (spec 12.1), and handed to tee as
        # /dev/fd/N: tee opening the path itself would follow a planted link.
        # Created here too, as the file must exist once the run is running.
        output = open_file(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        if output <= 2:  # fd 1 or 2 was closed: keep them so for the checks below
            import fcntl

            moved = fcntl.fcntl(output, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(output)
            output = moved
        try:
            self._start_tee(output)
        finally:
            os.close(output)

    def _start_tee(self, output: int) -> None:
        import subprocess

        try:
            self._saved = os.dup(self.fd)
        except OSError:  # started with the descriptor closed (cmd >&-): no output
            return
        if os.isatty(self.fd):
            read_end, write_end = _raw_pty_like(self._saved)
        else:
            read_end, write_end = os.pipe()
        options = "-p" if sys.platform.startswith("linux") else ""
        try:
            self._tee = subprocess.Popen(
                [
                    "sh",
                    "-c",
                    _TEE_SCRIPT.format(options=options),
                    "tee",
                    f"/dev/fd/{output}",
                ],
                stdin=read_end,
                stdout=self._saved,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                pass_fds=(output,),
            )
        except BaseException:
            os.close(read_end)
            os.close(write_end)
            os.close(self._saved)
            self._saved = None
            raise
        os.close(read_end)
        os.dup2(write_end, self.fd)
        os.close(write_end)

    def stop(self) -> None:
        if self._saved is None:
            return
        flush_python_streams()
        flush_c_streams()
        os.dup2(self._saved, self.fd)
        os.close(self._saved)
        self._saved = None
        import subprocess

        try:
            self._tee.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            pass  # a surviving child still writes; tee ends when it does


def _raw_pty_like(terminal: int) -> tuple[int, int]:
    """A pseudo-terminal (master, slave) sized like ``terminal``, no output
    processing: the slave must not turn ``\\n`` into ``\\r\\n``, or the file
    would get carriage returns (the real terminal still translates)."""
    import fcntl
    import termios

    master, slave = os.openpty()
    attributes = termios.tcgetattr(slave)
    attributes[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attributes)
    try:
        size = fcntl.ioctl(terminal, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    except OSError:
        pass  # not every terminal reports a size
    return master, slave


def flush_python_streams() -> None:
    """Write out what Python buffered, so it lands on the right side of a dup2."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is None:
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stream has nothing left to flush


def flush_c_streams() -> None:
    """``fflush(NULL)``: C extensions' ``printf`` output is buffered in libc
    when stdout is a pipe; without this it would reach the terminal after the
    capture ended and be missing from the files."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (ImportError, OSError, AttributeError, TypeError):
        pass
