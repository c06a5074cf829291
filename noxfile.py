"""Developer tasks for the meticulous monorepo.

Each package is tested in a virtualenv that holds only that package, its
declared dependencies and the test tools, so a dependency missing from a
``pyproject.toml`` fails its tests instead of being hidden by a sibling.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ROOT / "packages"
RECORD = str(PACKAGES / "meticulous-record")
READ = str(PACKAGES / "meticulous-read")
SLURM = str(PACKAGES / "meticulous-slurm")

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

# What each test suite installs: the package(s) under test with their "test"
# extra. The roundtrip suite is the only one that has writer and reader together.
SUITES = {
    "record": [f"{RECORD}[test]"],
    "read": [f"{READ}[test]"],
    "roundtrip": [f"{RECORD}[test]", f"{READ}[test]"],
    # The reader too: a reader on one node judges a run on the other.
    "slurm": [f"{RECORD}[test]", f"{SLURM}[test]", READ],
    "sharedfs": [f"{RECORD}[test]", f"{READ}[test]"],  # on sshfs mounts, as root
}


def _cluster_is_up() -> bool:
    """Every node answers (a missing second node means: run setup.sh)."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from helpers.cluster import cluster_nodes  # the slurm suite's own check
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return cluster_nodes()[1] is None


def _ensure_slurm_cluster(session: nox.Session) -> None:
    """Start the two-node cluster when we are allowed to (root), else leave it to the tests."""
    if _cluster_is_up():
        return
    if os.geteuid() == 0:
        session.run("bash", str(ROOT / ".ci" / "slurm" / "setup.sh"), external=True)
    else:
        session.warn("no SLURM cluster and not root: the cluster tests will report it")


@nox.session
@nox.parametrize("suite", list(SUITES))
def tests(session: nox.Session, suite: str) -> None:
    """Run one package's test suite (all of them with plain ``nox -s tests``)."""
    session.install(*SUITES[suite])
    if suite == "slurm":
        _ensure_slurm_cluster(session)
    if suite == "sharedfs" and os.geteuid() == 0:  # idempotent: sshd + 2 sshfs mounts
        session.run("bash", str(ROOT / ".ci" / "sharedfs" / "setup.sh"), external=True)
    workers = "auto" if suite != "slurm" else "2"
    session.run(
        "pytest",
        "-n",
        workers,
        "-p",
        "no:cacheprovider",
        str(ROOT / "tests" / suite),
        *session.posargs,
        # Tests start many Python processes that import pandas: without
        # bytecode (a shell may set PYTHONDONTWRITEBYTECODE) each one compiles
        # it again, seconds a process on 2 cores.
        env={"PYTHONDONTWRITEBYTECODE": ""},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over every package, the tests, the benchmarks and this file."""
    session.install("ruff==0.17.6")
    # The packages' oldest Python (requires-python): ruff's
    # default would suggest 3.11-only names such as datetime.UTC.
    target = ("--target-version", "py39")
    paths = ("packages", "tests", "bench", "examples", "noxfile.py")
    session.run("ruff", "check", *target, *paths)
    session.run("ruff", "format", *target, "--check", *paths)


# mypy and the stubs of the packages' typed dependencies, pinned like ruff:
# a new release may report new errors, and CI must not change under us.
TYPECHECK_TOOLS = ["mypy==2.4.1", "pandas-stubs==3.1.0.261029"]


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the three packages' sources (settings in mypy.ini)."""
    # The packages themselves are read from packages/*/src (mypy.ini); only
    # their third-party dependencies come from the venv.
    session.install(
        *TYPECHECK_TOOLS, f"{RECORD}[test]", f"{READ}[test]", f"{SLURM}[test]"
    )
    session.run("mypy", "--config-file", str(ROOT / "mypy.ini"), *session.posargs)


@nox.session
def build(session: nox.Session) -> None:
    """A wheel and an sdist of every package, each built on its own into dist/."""
    session.install("build")
    dist = ROOT / "dist"
    for package in (RECORD, READ, SLURM):
        session.run("python", "-m", "build", "--outdir", str(dist), package)


@nox.session
def demo(session: nox.Session) -> None:
    """Record a few training runs in a scratch git repo, then list them with `meticulous`."""
    session.install(RECORD, READ)
    session.run("python", str(ROOT / "examples" / "demo.py"), *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against peers and the plain floor; writes bench/RESULTS.md."""
    # The reader as a plotting user has it: `meticulous plot` is measured.
    session.install(
        RECORD, f"{READ}[plot]", SLURM, "-r", str(ROOT / "bench" / "requirements.txt")
    )
    session.run("python", str(ROOT / "bench" / "run.py"), *session.posargs)
