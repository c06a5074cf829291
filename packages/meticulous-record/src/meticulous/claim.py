"""The folder's claim: one runner per folder where ``flock`` is per client
(spec 12.4).

``flock`` on sshfs, on NFS mounted with ``local_lock``/``nolock`` and on
Lustre with ``localflock`` only excludes processes of one client: two
resumers of one id on two nodes both got the ``.lock``. Creating a file
with ``O_EXCL`` is atomic on all of them, so a claim is a numbered file
``.claim-<n>`` that exactly one writer can create; taking over a stale
claim means creating the next number, which again only one writer can.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .exceptions import ExperimentLockedException, StorageError
from .liveness import (
    DEFAULT_INTERVAL_SECONDS,
    beat_line,
    parse_beat,
    pid_is_alive,
    staleness_limit,
)
from .safepaths import CLAIM_PREFIX, open_directory

_MAX_ATTEMPTS = 1000  # each lost race means someone else won a generation


class Claim:
    """A claim this process holds; beaten by the heartbeat, removed at the end."""

    def __init__(
        self, folder: Path, generation: int, header: str, interval: float
    ) -> None:
        self.folder = folder
        self.name = f"{CLAIM_PREFIX}{generation}"
        self.interval = interval
        self._header = header
        self._offset = len(header.encode("utf-8"))

    def beat(self, line: bytes) -> bool:
        """Rewrite the beat line; False once the claim is gone (taken over)."""
        from .heartbeat import rewrite_line

        try:
            rewrite_line(self.folder / self.name, self._offset, line)
        except FileNotFoundError:
            return False
        except OSError:
            pass  # a flaky filesystem: the next beat tries again
        return True

    def describe_loss(self) -> str:
        return (
            f"the claim {self.name} of {self.folder} was taken over or deleted: "
            f"another process may now record into this folder too (spec 12.4)"
        )

    def release(self) -> None:
        """Delete the claim if it is still ours (a takeover made a newer one)."""
        try:
            directory = open_directory(self.folder)
        except OSError:
            return
        try:
            os.unlink(self.name, dir_fd=directory)
        except OSError:
            pass
        finally:
            os.close(directory)


def take_claim(folder: Path, host: str, pid: int, interval: float) -> Claim:
    """Claim ``folder`` for this process, or raise if a live process holds it."""
    header = f"{host} {pid} {os.urandom(8).hex()}\n"
    directory = open_directory(folder)
    try:
        for _ in range(_MAX_ATTEMPTS):
            current = _current_generation(directory)
            if current and _is_alive(directory, current, host):
                raise _in_use(folder, directory, current)
            generation = current + 1
            try:
                fd = os.open(
                    f"{CLAIM_PREFIX}{generation}",
                    os.O_WRONLY
                    | os.O_CREAT
                    | os.O_EXCL
                    | getattr(os, "O_NOFOLLOW", 0)
                    | getattr(os, "O_CLOEXEC", 0),
                    0o666,
                    dir_fd=directory,
                )
            except FileExistsError:
                continue  # another writer won this generation: judge it
            claim = Claim(folder, generation, header, interval)
            _write_claim(folder, directory, fd, claim.name, header, interval)
            _remove_older(directory, generation)
            return claim
    finally:
        os.close(directory)
    raise ExperimentLockedException(
        f"could not claim {folder}: {_MAX_ATTEMPTS} other writers claimed it first"
    )


def _write_claim(
    folder: Path, directory: int, fd: int, name: str, header: str, interval: float
) -> None:
    data = (header + beat_line("beat", 0, time.time(), interval)).encode("utf-8")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as error:
        try:
            os.unlink(name, dir_fd=directory)
        except OSError:
            pass
        raise StorageError(
            error.errno or 0,
            f"cannot claim {folder}: writing {name} failed: {error.strerror or error}",
        ) from None


def _current_generation(directory: int) -> int:
    best = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            number = entry.name[len(CLAIM_PREFIX) :]
            if entry.name.startswith(CLAIM_PREFIX) and number.isdigit():
                best = max(best, int(number))
    return best


def _read(directory: int, generation: int) -> tuple[bytes, float] | None:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(f"{CLAIM_PREFIX}{generation}", flags, dir_fd=directory)
    except OSError:
        return None
    try:
        return os.read(fd, 4096), os.fstat(fd).st_mtime
    finally:
        os.close(fd)


def _is_alive(directory: int, generation: int, this_host: str) -> bool:
    """Rules 1 and 2 of spec 12.3, applied to the claim's own content."""
    found = _read(directory, generation)
    if found is None:
        return False  # gone since it was listed: its holder released it
    content, mtime = found
    owner = content.split(b"\n", 1)[0].split()
    if len(owner) >= 2 and owner[1].isdigit():
        host = owner[0].decode("utf-8", "replace")
        if host == this_host and not pid_is_alive(int(owner[1])):
            return False
    beat = parse_beat(content)
    if beat is not None and beat.state != "beat":
        return False
    last, interval = (
        (beat.time, beat.interval) if beat else (mtime, DEFAULT_INTERVAL_SECONDS)
    )
    return time.time() - last <= staleness_limit(interval)


def _in_use(folder: Path, directory: int, generation: int) -> ExperimentLockedException:
    found = _read(directory, generation)
    owner = (found[0] if found else b"").split(b"\n", 1)[0].split()
    who = (
        f"process {owner[1].decode('ascii', 'replace')} on "
        f"{owner[0].decode('utf-8', 'replace')}"
        if len(owner) >= 2
        else "another process"
    )
    return ExperimentLockedException(
        f"experiment {folder.name} in {folder.parent} is being run by {who} "
        f"(its claim {CLAIM_PREFIX}{generation} is fresh); two processes cannot "
        f"record into one folder"
    )


def _remove_older(directory: int, generation: int) -> None:
    with os.scandir(directory) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        number = name[len(CLAIM_PREFIX) :]
        if (
            name.startswith(CLAIM_PREFIX)
            and number.isdigit()
            and int(number) < generation
        ):
            try:
                os.unlink(name, dir_fd=directory)
            except OSError:
                pass
