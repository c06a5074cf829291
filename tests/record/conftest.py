"""Fixtures for the recorder's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.git import make_repo


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with one commit; ``experiments/`` is git-ignored."""
    return make_repo(tmp_path / "project", {"model.py": "LAYERS = 2\n"})
