"""The ``STATUS`` file: a status word on the first line, a message after it.

It is the one file a person checks first (``cat experiments/*/STATUS``), so
it stays plain text rather than JSON (spec section 2.1).
"""

from __future__ import annotations

import os
from pathlib import Path

from .atomic import write_text_atomic
from .filenames import STATUS_FILE
from .safepaths import read_file

QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUCCESS = "SUCCESS"
ERROR = "ERROR"
INTERRUPTED = "INTERRUPTED"
CANCELLED = "CANCELLED"
TERMINAL_WORDS = (SUCCESS, ERROR, INTERRUPTED, CANCELLED)  # the run has ended


def write_status(folder: str | os.PathLike[str], word: str, message: str = "") -> None:
    """Atomically replace ``folder/STATUS`` with ``word`` and ``message``."""
    text = word + "\n"
    if message:
        text += message if message.endswith("\n") else message + "\n"
    write_text_atomic(Path(folder) / STATUS_FILE, text)


def read_status(folder: str | os.PathLike[str]) -> tuple[str, str] | None:
    """``(word, message)``, or None when there is no readable STATUS."""
    try:
        data = read_file(Path(folder) / STATUS_FILE, 1 << 20)
    except (FileNotFoundError, NotADirectoryError):
        return None
    text = data.decode("utf-8", errors="replace")
    word, _, message = text.partition("\n")
    return word.strip(), message
