"""Reading what a run left in its experiment folder, as a test checks it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def status_of(folder: Path) -> tuple[str, str]:
    """The STATUS file's word and the message after it."""
    word, _, message = (folder / "STATUS").read_text(encoding="utf-8").partition("\n")
    return word, message
