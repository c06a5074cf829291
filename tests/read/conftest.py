"""Fixtures for the reader's tests: the spec's example folder, ready to read."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "spec" / "examples"


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of spec/examples/experiments with experiment 4's heartbeat aged.

    git does not keep mtimes, so the heartbeat of the dead run must be made
    older than the spec's 60 s limit here.
    """
    target = tmp_path / "experiments"
    shutil.copytree(EXAMPLES / "experiments", target)
    old = time.time() - 3600
    os.utime(target / "4" / "heartbeat", (old, old))
    return target


@pytest.fixture
def expected() -> dict:
    return json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))
