"""Fixtures of the shared-filesystem suite: one directory exported by a local
sshd and mounted twice with sshfs (.ci/sharedfs/setup.sh), as two cluster
nodes see one NFS export with different attribute caches.

Under ``CI=true`` missing mounts fail the suite; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from helpers.git import make_repo
from sharedfs_helpers import Mounts

ROOT = Path(os.environ.get("METICULOUS_SHAREDFS_ROOT", "/tmp/meticulous-sharedfs"))


def _mounted(point: Path) -> bool:
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            return any(
                line.split()[1] == str(point) and line.split()[2] == "fuse.sshfs"
                for line in mounts
            )
    except OSError:
        return False


@pytest.fixture(scope="session")
def sshfs_root() -> Path:
    missing = [p for p in (ROOT / "short", ROOT / "long") if not _mounted(p)]
    if missing:
        message = (
            f"the sshfs mounts {', '.join(map(str, missing))} are missing: run "
            f".ci/sharedfs/setup.sh as root"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return ROOT


@pytest.fixture
def mounts(sshfs_root: Path) -> Mounts:
    """A fresh folder on the export, seen through both mounts."""
    name = f"case-{uuid.uuid4().hex[:12]}"
    (sshfs_root / "export" / name).mkdir()
    return Mounts(
        export=sshfs_root / "export" / name,
        short=sshfs_root / "short" / name,
        long=sshfs_root / "long" / name,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A local git repository with one commit (the code being run)."""
    return make_repo(tmp_path / "project", {"model.py": "LAYERS = 2\n"}, ignore=())
