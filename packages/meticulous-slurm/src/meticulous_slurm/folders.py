"""Read what a launcher needs from an experiment folder (SPEC §2.1, §2.2).

The launcher only ever looks at ``STATUS`` and ``metadata.json`` and writes
``STATUS`` through the recorder's own ``write_status``; everything else in
the folder belongs to the recorder.
"""

from __future__ import annotations

import json
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


def heartbeat_is_stale(folder: Path) -> bool:
    try:
        age = time.time() - (folder / "heartbeat").stat().st_mtime
    except OSError:
        return False  # no heartbeat to judge by: do not call the run dead
    return age > HEARTBEAT_LIMIT_S
