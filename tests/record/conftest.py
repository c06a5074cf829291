"""Fixtures for the recorder's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from record_helpers import commit_all, git


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repository with one commit; ``experiments/`` is git-ignored."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("experiments/\n")
    (repo / "model.py").write_text("LAYERS = 2\n")
    commit_all(repo, "Initial commit")
    return repo
