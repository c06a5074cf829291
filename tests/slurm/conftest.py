"""Shared helpers for the meticulous-slurm tests.

Every test builds its own throwaway git repository under ``tmp_path`` holding
``train.py``, a script that records itself with ``Experiment.from_parser``
exactly as a user's would, and drives the ``meticulous-slurm`` command as a
separate process, the way a researcher does.

The tests that need a real SLURM cluster take the ``slurm_cluster`` fixture:
without a reachable cluster they are skipped on a workstation, but in CI
(``CI=true``) they fail, because there the cluster is part of the test setup
(``.ci/slurm/setup.sh``) and its absence is a bug, not a reason to pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from slurm_helpers import Project, cluster_problem


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh git repo holding train.py, committed."""
    return Project(tmp_path / "project")


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Require the real cluster: fail in CI, skip elsewhere, when it is missing."""
    problem = cluster_problem()
    if problem is None:
        return
    message = (
        f"no SLURM cluster reachable: {problem}. Start the one-node cluster with "
        "'bash .ci/slurm/setup.sh' (as root)."
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires the cluster tests to run, but {message}")
    pytest.skip(message)
