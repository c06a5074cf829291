"""Shared helpers for the meticulous-slurm tests.

Every test builds its own throwaway git repository under ``tmp_path`` holding
``train.py``, a script that records itself with ``Experiment.from_parser``
exactly as a user's would, and drives the ``meticulous-slurm`` command as a
separate process, the way a researcher does.

The tests that need a real SLURM cluster take the ``slurm_cluster`` fixture,
and those that need both of its nodes the ``two_nodes`` fixture. Without a
reachable cluster they are skipped on a workstation, but in CI (``CI=true``)
every one of them fails as soon as either node is missing, because there the
two-node cluster is part of the test setup (``.ci/slurm/setup.sh``) and its
absence is a bug, not a reason to pass.
"""

from __future__ import annotations

import fcntl
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.cluster import cluster_nodes
from slurm_helpers import Project

# Every test holds this lock shared; a test that takes a node down holds it
# alone, so no other test's job is on the node it fails (pytest -n 2, and
# two sessions on one machine).
CLUSTER_LOCK = Path(tempfile.gettempdir()) / "meticulous-slurm-tests.lock"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "takes_a_node_down: runs while no other slurm test does (it fails a node)",
    )


@pytest.fixture(autouse=True)
def _cluster_share(request: pytest.FixtureRequest) -> Iterator[None]:
    alone = request.node.get_closest_marker("takes_a_node_down") is not None
    fd = os.open(CLUSTER_LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh git repo holding train.py, committed."""
    return Project(tmp_path / "project")


SETUP_HINT = "Start the two-node cluster with 'bash .ci/slurm/setup.sh' (as root)."


@pytest.fixture(scope="session")
def slurm_cluster() -> list[str]:
    """The usable node names, sorted; fail in CI unless both nodes answer,
    skip elsewhere when no node does."""
    nodes, problem = cluster_nodes()
    if problem is None and len(nodes) < 2:
        problem = f"only one node ({nodes[0]}); the CI cluster has two"
    if problem is None:
        return nodes
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"CI=true requires the cluster tests to run, but the SLURM cluster is "
            f"not fully up: {problem}. {SETUP_HINT}"
        )
    if not nodes:
        pytest.skip(f"no SLURM cluster reachable: {problem}. {SETUP_HINT}")
    return nodes


@pytest.fixture(scope="session")
def two_nodes(slurm_cluster: list[str]) -> tuple[str, str]:
    """(this host's node, the other node): the cluster's two nodes, with the
    one this test process runs on first."""
    if len(slurm_cluster) < 2:
        pytest.skip(
            f"needs two SLURM nodes, the cluster has {slurm_cluster}. {SETUP_HINT}"
        )
    here = socket.gethostname().split(".")[0]
    if here not in slurm_cluster:
        pytest.fail(f"this host ({here}) is not one of the nodes {slurm_cluster}")
    there = next(node for node in slurm_cluster if node != here)
    return here, there
