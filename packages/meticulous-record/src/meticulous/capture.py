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

While the capture runs, a block-buffered ``sys.stdout`` hands the pipe
64 KiB at a time instead of 8 KiB, and the pipe holds 1 MiB: every write
wakes tee, and the wake-ups were most of what printing cost recorded.

Stopping flushes Python's and C's buffers, restores the descriptor and
waits (briefly) for ``tee`` to write everything, so the files are complete
when the experiment's ``finish`` returns.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .atomic import write_fully
from .exceptions import MeticulousError

# How long ``stop`` waits for tee: it only waits longer than an instant when
# a child process that outlives the run still holds the pipe open.
STOP_TIMEOUT_SECONDS = 2.0

# While a child still holds the pipe: how long the file must stay the same
# size, with the pipe empty, for tee to be taken as done with our output.
SETTLE_SECONDS = 0.02

_TEE_SCRIPT = 'trap "" INT TERM HUP; exec tee -a {options} "$1"'


class MissingTeeError(MeticulousError, RuntimeError):
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
        self._unread_probe: Any = None
        self._tee: Any = None
        self._chunks: _LargerChunks | None = None

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
            _widen_pipe(write_end)
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
        # Our copy of tee's read end (children do not inherit it): it tells
        # how much tee has not read yet; holding it does not delay tee's EOF.
        self._unread_probe = read_end
        os.dup2(write_end, self.fd)
        os.close(write_end)
        self._chunks = _LargerChunks.install(self.fd)

    def stop(self) -> None:
        if self._saved is None:
            return
        flush_python_streams()
        flush_c_streams()
        chunks, self._chunks = self._chunks, None
        if chunks is not None:
            chunks.uninstall()
        probe, self._unread_probe = self._unread_probe, None
        os.dup2(self._saved, self.fd)
        os.close(self._saved)
        self._saved = None
        try:
            self._wait_for_tee(probe)
        finally:
            os.close(probe)

    def _wait_for_tee(self, probe: int) -> None:
        """Until tee has written everything we wrote, at most STOP_TIMEOUT_SECONDS.

        tee ends at once when we held the last write end. When a child that
        outlives the run still holds it, tee keeps running: then it is done
        with our output once the pipe is empty and the file stops growing.
        """
        import subprocess
        import time

        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        size = -1
        while time.monotonic() < deadline:
            try:
                self._tee.wait(timeout=SETTLE_SECONDS)
                return
            except subprocess.TimeoutExpired:
                pass
            grown = _size(self.path)
            if grown == size and _unread_bytes(probe) == 0:
                return  # a surviving child holds the pipe; tee ends when it does
            size = grown


# Linux's F_SETPIPE_SZ, and the size asked for: a full pipe would make the
# process wait for tee, and a bigger one lets tee read in larger pieces.
_F_SETPIPE_SZ = 1031
_PIPE_BYTES = 1 << 20
# What Python's stdout hands to the pipe at once when it is block-buffered:
# one write (and one wake-up of tee) per 64 KiB instead of per 8 KiB.
_CHUNK_BYTES = 1 << 16


def _widen_pipe(fd: int) -> None:
    if sys.platform.startswith("linux"):
        import fcntl

        try:
            fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
        except OSError:
            pass  # above the system's pipe-max-size: the default size works


class _LargerChunks:
    """Python's block-buffered ``sys.stdout`` writes larger pieces to the pipe.

    Every write to the pipe wakes tee, which preempts the writer: printing
    200,000 lines made 5x the context switches of the unrecorded run. A
    ``TextIOWrapper`` gathers text up to its ``_CHUNK_SIZE`` before writing,
    so a larger one means fewer writes; a stream that flushes at every line
    (a terminal, ``-u``) or at ``flush()`` writes exactly as before.
    """

    def __init__(self, stream: Any, previous: int) -> None:
        self.stream = stream
        self.previous = previous

    @classmethod
    def install(cls, fd: int) -> _LargerChunks | None:
        stream = sys.stdout if fd == 1 else sys.stderr if fd == 2 else None
        previous = getattr(stream, "_CHUNK_SIZE", None)
        if (
            not isinstance(previous, int)
            or previous >= _CHUNK_BYTES
            or getattr(stream, "line_buffering", True)
            or not writes_to_descriptor(stream, fd)
        ):
            return None
        try:
            stream._CHUNK_SIZE = _CHUNK_BYTES  # type: ignore[union-attr]
        except (AttributeError, TypeError, ValueError):
            return None
        return cls(stream, previous)

    def uninstall(self) -> None:
        try:
            if self.stream._CHUNK_SIZE == _CHUNK_BYTES:
                self.stream._CHUNK_SIZE = self.previous
        except (AttributeError, TypeError, ValueError):
            pass


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def _unread_bytes(read_end: int) -> int:
    """Bytes written to the pipe or pty that tee has not read yet."""
    try:
        import fcntl
        import termios

        count = fcntl.ioctl(read_end, termios.FIONREAD, b"\0\0\0\0")
        return int.from_bytes(count, sys.byteorder)
    except (ImportError, OSError):
        return 0


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
    capture ended and be missing from the files. Skipped when no C code but
    the interpreter's and the standard library's has been loaded: nothing
    else can have used libc's buffers, and ``ctypes`` costs 2-3 ms to import.
    """
    if not _foreign_c_code_loaded():
        return
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (ImportError, OSError, AttributeError, TypeError):
        pass


# Standard modules that do write through libc's stdio buffers.
_STDIO_MODULES = ("ctypes", "readline", "_curses")


def _foreign_c_code_loaded() -> bool:
    """An extension module from outside the standard library, or ctypes."""
    if any(name in sys.modules for name in _STDIO_MODULES):
        return True
    # The standard library's extension modules; site-packages may lie
    # beside it (an interpreter used without a virtualenv).
    standard = os.path.join(os.path.dirname(os.__file__), "lib-dynload", "")
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if (
            isinstance(path, str)
            and not path.endswith((".py", ".pyc"))
            and not path.startswith(standard)
        ):
            return True  # an extension module (.so, .pyd) of a package
    return False


def writes_to_descriptor(stream: Any, fd: int) -> bool:
    """Whether what ``stream`` writes goes through descriptor ``fd`` itself.

    Jupyter's and IPython's streams, pytest's capture, an IDE console or a
    user's replacement write elsewhere (their ``fileno`` is another
    descriptor, or raises): the descriptor-level tee never sees them.
    """
    try:
        return stream.fileno() == fd
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation too
        return False


class StreamTee:
    """Copies what Python writes to ``sys.stdout``/``sys.stderr`` into a file,
    when that stream does not write to file descriptor 1/2.

    The descriptor-level :class:`DescriptorTee` still runs alongside for C
    extensions and child processes; since this tee is installed only when the
    Python stream bypasses the descriptor, no line reaches the file twice.
    """

    def __init__(self, name: str, fd: int, path: Path) -> None:
        self.name = name  # "stdout" or "stderr": the attribute of sys
        self.fd = fd
        self.path = path
        self._proxy: _TeeStream | None = None

    def start(self) -> None:
        stream = getattr(sys, self.name)
        if stream is None or writes_to_descriptor(stream, self.fd):
            return
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._proxy = _TeeStream(stream, os.open(self.path, flags, 0o666))
        setattr(sys, self.name, self._proxy)

    def stop(self) -> None:
        proxy, self._proxy = self._proxy, None
        if proxy is None:
            return
        if getattr(sys, self.name) is proxy:
            setattr(sys, self.name, proxy.wrapped)
        # else someone (a nested experiment that outlives us) wraps us: keep
        # passing their writes on, but stop copying into our finished file.
        proxy.detach()


class _TeeStream:
    """A text stream that writes to ``wrapped`` and appends to a file.

    Whole lines go to the file at once (a partial line waits for its end or
    a ``flush``), so output printed in pieces by ``print`` is not torn by
    what the descriptor-level tee appends meanwhile.
    """

    def __init__(self, wrapped: Any, fd: int) -> None:
        self.wrapped = wrapped
        self._fd: int | None = fd
        self._pending = ""

    def write(self, text: Any) -> Any:
        written = self.wrapped.write(text)
        if self._fd is not None and isinstance(text, str) and text:
            pending = self._pending + text
            end = pending.rfind("\n") + 1
            self._pending = pending[end:]
            if end:
                self._copy(pending[:end])
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.wrapped.flush()
        self._copy_pending()

    def detach(self) -> None:
        """Write out what is pending and stop copying (the file is closed)."""
        self._copy_pending()
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _copy_pending(self) -> None:
        pending, self._pending = self._pending, ""
        if pending:
            self._copy(pending)

    def _copy(self, text: str) -> None:
        fd = self._fd
        if fd is None:
            return
        data = text.encode("utf-8", "replace")
        try:
            write_fully(fd, data)
        except OSError:
            pass  # a full disk must not break the program's own output

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def append_output(path: Path, text: str) -> None:
    """Add ``text`` to an output file, whole (a short write is retried).

    The traceback that ends a ``with`` block reaches the terminal after the
    capture has stopped; the ``stderr`` file gets its copy this way.
    """
    data = text.encode("utf-8", "replace")
    from .safepaths import open_file

    fd = open_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        write_fully(fd, data)
    finally:
        os.close(fd)
