"""A git project with a recorded training script, shared by the roundtrip tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.git import make_repo
from roundtrip_helpers import TRAIN


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "project", {"train.py": TRAIN}, message="train")
