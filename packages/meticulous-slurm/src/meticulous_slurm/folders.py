"""Read what a launcher needs from an experiment folder (SPEC §2.1, §2.2).

The launcher only ever looks at ``STATUS`` and ``metadata.json`` and writes
``STATUS`` through the recorder's own ``write_status``; everything else in
the folder belongs to the recorder.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from meticulous import status

MISSING = "MISSING"  # the adapter's word for a folder without a readable STATUS


def read_status(folder: Path) -> tuple[str, str]:
    """``(word, message)``; ``("MISSING", why)`` when STATUS cannot be read.

    The recorder's reading of STATUS (spec 2.1), with a word for its absence
    so that every caller can compare words."""
    try:
        found = status.read_status(folder)
    except OSError as error:
        return MISSING, f"cannot read STATUS: {error}"
    if found is None:
        return MISSING, "no STATUS file"
    word, message = found
    return word or MISSING, message.rstrip("\n")


def was_claimed(folder: Path) -> bool:
    """True once a recorder started a run in the folder.

    A reservation's metadata holds only ``spec-version``, ``launcher`` and
    ``githead-sha``; the recorder adds ``timestamp`` when it claims it.
    """
    return "timestamp" in _metadata(folder)


def reserved_for(folder: Path, sweep_record: str, index: int) -> bool:
    """True when the folder was reserved for point ``index`` of the sweep
    whose record is ``sweep_record``, as its launcher metadata says (SPEC §5):
    a launcher removes no folder it cannot tell is its own."""
    launcher = _metadata(folder).get("launcher")
    return (
        isinstance(launcher, dict)
        and launcher.get("sweep-record") == sweep_record
        and launcher.get("point") == index
    )


def _metadata(folder: Path) -> dict:
    """``metadata.json``, or ``{}`` where it cannot be read as a JSON object."""
    try:
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def death_of_run(folder: Path) -> str | None:
    """None while a RUNNING run looks alive, else why it is dead.

    The recorder's rule (``meticulous.liveness``, spec 12.3), so that
    ``meticulous-slurm status`` and ``meticulous`` never disagree about a
    folder: the pid on its own host, else the heartbeat's content, else (no
    heartbeat file) the start time.
    """
    from meticulous.liveness import death_of
    from meticulous.runinfo import hostname

    metadata = _metadata(folder)
    return death_of(
        str(folder / "heartbeat"),
        metadata.get("host"),
        metadata.get("pid"),
        _timestamp(metadata.get("timestamp")),
        time.time(),
        hostname(),
    )


def _timestamp(text: object) -> float | None:
    import datetime

    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()
