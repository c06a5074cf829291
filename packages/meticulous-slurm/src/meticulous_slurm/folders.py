"""Read what a launcher needs from an experiment folder (SPEC §2.1, §2.2).

The launcher only ever looks at ``STATUS`` and ``metadata.json`` and writes
``STATUS`` through the recorder's own ``write_status``; everything else in
the folder belongs to the recorder.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

TERMINAL_WORDS = ("SUCCESS", "ERROR", "INTERRUPTED", "CANCELLED")
HEARTBEAT_LIMIT_S = 60  # SPEC §2.7: the reader's limit for a stale heartbeat


def read_status(folder: Path) -> tuple[str, str]:
    """``(word, message)``; ``("MISSING", why)`` when STATUS cannot be read."""
    try:
        text = (folder / "STATUS").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "MISSING", "no STATUS file"
    except OSError as error:
        return "MISSING", f"cannot read STATUS: {error}"
    word, _, message = text.partition("\n")
    return word.strip() or "MISSING", message.rstrip("\n")


def was_claimed(folder: Path) -> bool:
    """True once a recorder started a run in the folder.

    A reservation's metadata holds only ``spec-version``, ``launcher`` and
    ``githead-sha``; the recorder adds ``timestamp`` when it claims it.
    """
    try:
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and "timestamp" in metadata


def death_of_run(folder: Path) -> str | None:
    """None while a RUNNING run looks alive, else why it is dead.

    The one place this package decides that a run died without a word. It
    must say what ``meticulous`` (the reader) says, or ``meticulous-slurm
    status`` and ``meticulous`` disagree about the same folder: the pid on
    its own host, else the heartbeat's age, else (no heartbeat file) the
    start time, each against the 60 s limit of SPEC §2.7. The recorder's
    public ``meticulous.liveness`` module replaces this body once it lands.
    """
    import socket

    try:
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    host, pid = metadata.get("host"), metadata.get("pid")
    mine = host == socket.gethostname() and type(pid) is int and pid > 0
    if mine and not pid_is_alive(pid):
        return f"process {pid} on {host} is gone"
    now = time.time()
    try:
        beat = (folder / "heartbeat").stat().st_mtime
    except OSError:
        beat = None
    if beat is not None:
        if now - beat > HEARTBEAT_LIMIT_S:
            return f"no heartbeat for more than {HEARTBEAT_LIMIT_S} s"
        return None
    started = _timestamp(metadata.get("timestamp"))
    if started is not None and now - started > HEARTBEAT_LIMIT_S:
        return "no heartbeat file"
    return None


def _timestamp(text: object) -> float | None:
    import datetime

    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def pid_is_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
