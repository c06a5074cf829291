"""The folder's claim: one runner per folder where ``flock`` is per client
(spec 12.4).

``flock`` on sshfs, on NFS mounted with ``local_lock``/``nolock`` and on
Lustre with ``localflock`` only excludes processes of one client: two
resumers of one id on two nodes both got the ``.lock``. Creating a file
with ``O_EXCL`` is atomic on all of them, so the claim is a file ``.claim``
that exactly one writer can create. A stale claim is removed only by the
writer that creates ``.claim-takeover-<its token>`` (again ``O_EXCL``, so
one per stale claim) and then finds the same token still in ``.claim``.
Every step opens files by name, which network filesystems revalidate;
nothing relies on a directory listing, which they cache.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from .atomic import write_fully
from .exceptions import ExperimentLockedException, StorageError
from .liveness import (
    DEFAULT_INTERVAL_SECONDS,
    beat_line,
    header_line,
    parse_beat,
    pid_is_alive,
    staleness_limit,
)
from .safepaths import open_directory

CLAIM = ".claim"
TAKEOVER_PREFIX = ".claim-takeover-"
_PATIENCE_SECONDS = 10.0  # for other writers' takeovers of a stale claim
_FLAGS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}


class Claim:
    """A claim this process holds; beaten by the heartbeat, removed at the end."""

    def __init__(self, folder: Path, header: str, interval: float) -> None:
        self.folder = folder
        self.interval = interval
        self.token = header.split()[2]
        self._offset = len(header.encode("utf-8"))

    def beat(self, line: bytes) -> bool:
        """Rewrite the beat line; False once the claim is no longer ours."""
        try:
            fd = os.open(self.folder / CLAIM, os.O_RDWR | _FLAGS)
        except FileNotFoundError:
            return False
        except OSError:
            return True  # a flaky filesystem: the next beat tries again
        try:
            if _token(os.pread(fd, 4096, 0)) != self.token:
                return False  # taken over: never write into another's claim
            os.pwrite(fd, line, self._offset)
        except OSError:
            pass
        finally:
            os.close(fd)
        return True

    def describe_loss(self) -> str:
        return (
            f"the claim of {self.folder} was taken over or deleted: another "
            f"process may now record into this folder too (spec 12.4)"
        )

    def release(self) -> None:
        """Delete the claim if it is still ours."""
        try:
            directory = open_directory(self.folder)
        except OSError:
            return
        try:
            found = _read(directory, CLAIM)
            if found is not None and _token(found[0]) == self.token:
                os.unlink(CLAIM, dir_fd=directory)
        except OSError:
            pass
        finally:
            os.close(directory)


def take_claim(folder: Path, host: str, pid: int, interval: float) -> Claim:
    """Claim ``folder`` for this process, or raise if a live process holds it."""
    header = header_line(host, pid, os.urandom(8).hex())
    directory = open_directory(folder)
    deadline = time.monotonic() + _PATIENCE_SECONDS
    delay = 0.001
    try:
        while time.monotonic() < deadline:
            if _create(folder, directory, header, interval):
                return Claim(folder, header, interval)
            found = _read(directory, CLAIM)
            if found is None:
                continue  # released since: try again
            if _is_alive(found, host):
                raise _in_use(folder, _owner_line(directory, found[0]))
            if not _take_over(directory, found, host, pid):
                time.sleep(delay)  # another writer is taking it over
                delay = min(delay * 2, 0.05)
    finally:
        os.close(directory)
    raise ExperimentLockedException(
        f"could not claim {folder} within {_PATIENCE_SECONDS:g} s: other writers "
        f"kept taking over its stale claim"
    )


def _create(folder: Path, directory: int, header: str, interval: float) -> bool:
    """Create ``.claim`` with our content; False when it exists already.

    The content is written to a temporary file first and linked to the name
    (``link`` fails if it exists, atomically, on NFS and SFTP as locally):
    the claim never exists empty, which a client caching its size would
    keep seeing. Where hard links are not supported, ``O_EXCL`` instead.
    """
    data = (header + beat_line("beat", 0, time.time(), interval)).encode("utf-8")
    temporary = f".claim.tmp-{os.urandom(6).hex()}"
    try:
        _write_new(directory, temporary, data)
        try:
            os.link(temporary, CLAIM, src_dir_fd=directory, dst_dir_fd=directory)
        except FileExistsError:
            # NFS may answer a retransmitted link that succeeded with EEXIST:
            # the temporary file then has two names, and the claim is ours.
            links = os.stat(temporary, dir_fd=directory, follow_symlinks=False)
            return links.st_nlink == 2
        except OSError as error:
            if error.errno not in _NO_LINKS:
                raise
            return _create_exclusive(directory, data)
        finally:
            os.unlink(temporary, dir_fd=directory)
    except OSError as error:
        raise StorageError(
            error.errno or 0,
            f"cannot claim {folder}: writing {CLAIM} failed: {error.strerror or error}",
        ) from None
    return True


def _write_new(directory: int, name: str, data: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS
    fd = os.open(name, flags, 0o666, dir_fd=directory)
    try:
        write_fully(fd, data)
    except BaseException:
        os.close(fd)
        os.unlink(name, dir_fd=directory)
        raise
    os.close(fd)


def _create_exclusive(directory: int, data: bytes) -> bool:
    try:
        _write_new(directory, CLAIM, data)
    except FileExistsError:
        return False
    return True


def _take_over(
    directory: int, stale: tuple[bytes, float, int], host: str, pid: int
) -> bool:
    """Remove the stale claim if this writer wins the right to (spec 12.4);
    False when another writer holds that right."""
    identity = _identity(stale)
    mutex = f"{TAKEOVER_PREFIX}{identity}"
    try:
        fd = os.open(
            mutex,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS,
            0o666,
            dir_fd=directory,
        )
    except FileExistsError:
        _clear_abandoned(directory, mutex, host)
        return False
    try:
        try:
            write_fully(fd, f"{host} {pid}\n".encode())  # who holds the right
        finally:
            os.close(fd)
        again = _read(directory, CLAIM)
        if again is not None and _identity(again) == identity:
            os.unlink(CLAIM, dir_fd=directory)
    finally:
        try:
            os.unlink(mutex, dir_fd=directory)
        except OSError:
            pass
    return True


def _clear_abandoned(directory: int, mutex: str, this_host: str) -> None:
    """A takeover whose writer died halfway leaves its mutex (spec 12.4):
    abandoned at once when its writer was on this host and is gone, else
    after L. By rule 1 of spec 12.3, as a claim is (``_is_alive``)."""
    found = _read(directory, mutex)
    if found is None:
        return  # finished meanwhile
    content, made, _ = found
    if _dead_here(content, this_host) or time.time() - made > staleness_limit():
        try:
            os.unlink(mutex, dir_fd=directory)
        except OSError:
            pass


def _read(directory: int, name: str) -> tuple[bytes, float, int] | None:
    """``(content, mtime, inode)`` of a claim, opened by name (revalidated)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | _FLAGS, dir_fd=directory)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        return os.read(fd, 4096), info.st_mtime, info.st_ino
    except OSError:
        return None
    finally:
        os.close(fd)


def _token(content: bytes) -> str | None:
    owner = content.split(b"\n", 1)[0].split()
    return owner[2].decode("ascii", "replace") if len(owner) >= 3 else None


def _identity(found: tuple[bytes, float, int]) -> str:
    """The token, or the inode of a claim cut off before its content."""
    token = _token(found[0])
    return token if token and token.isalnum() else f"inode{found[2]}"


def _is_alive(found: tuple[bytes, float, int], this_host: str) -> bool:
    """Rules 1 and 2 of spec 12.3, applied to the claim's own content."""
    content, mtime, _ = found
    if _dead_here(content, this_host):
        return False
    beat = parse_beat(content)
    if beat is not None and beat.state != "beat":
        return False
    last, interval = (
        (beat.time, beat.interval) if beat else (mtime, DEFAULT_INTERVAL_SECONDS)
    )
    return time.time() - last <= staleness_limit(interval)


def _dead_here(content: bytes, this_host: str) -> bool:
    """Rule 1 of spec 12.3: the first line's ``<host> <pid>`` name this host
    and a process that is gone."""
    owner = content.split(b"\n", 1)[0].split()
    return (
        len(owner) >= 2
        and owner[1].isdigit()
        and owner[0].decode("utf-8", "replace") == this_host
        and not pid_is_alive(int(owner[1]))
    )


def _owner_line(directory: int, content: bytes) -> bytes:
    """The claim's content, waiting a moment for a claim just created to get
    it, so the error can name its holder."""
    for _ in range(20):
        if b"\n" in content:
            return content
        time.sleep(0.01)
        found = _read(directory, CLAIM)
        content = found[0] if found else b""
    return content


def _in_use(folder: Path, content: bytes) -> ExperimentLockedException:
    owner = content.split(b"\n", 1)[0].split()
    who = (
        f"process {owner[1].decode('ascii', 'replace')} on "
        f"{owner[0].decode('utf-8', 'replace')}"
        if len(owner) >= 2
        else "another process"
    )
    return ExperimentLockedException(
        f"experiment {folder.name} in {folder.parent} is being run by {who} "
        f"(its {CLAIM} is fresh); two processes cannot record into one folder"
    )
