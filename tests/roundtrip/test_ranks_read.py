"""The reader shows a dead rank of a distributed run (spec 10.4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import meticulous_read
from helpers.git import git

RANKED = """
import os, time
from meticulous import Experiment
experiment = Experiment({"lr": 0.1})
print("ready", flush=True)
time.sleep(600)
"""


def start_rank(project: Path, rank: int, launch: str) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "METICULOUS_"))
    }
    env.update(RANK=str(rank), WORLD_SIZE="2", METICULOUS_LAUNCH_ID=launch)
    return subprocess.Popen(
        [sys.executable, "ranked.py"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_a_killed_rank_of_a_live_run_is_shown_dead(project: Path):
    (project / "ranked.py").write_text(RANKED)
    git(project, "add", ".")
    git(project, "commit", "-qm", "ranked")
    launch = uuid.uuid4().hex
    main, other = start_rank(project, 0, launch), start_rank(project, 1, launch)
    try:
        assert main.stdout.readline().strip() == "ready"
        assert other.stdout.readline().strip() == "ready"
        live = meticulous_read.Experiments(project / "experiments", cache=False)
        assert live["1"].status == "RUNNING"
        other.send_signal(signal.SIGKILL)
        other.wait()
        after = meticulous_read.Experiments(project / "experiments", cache=False)
        assert after["1"].status == "DEAD"
        assert "rank 1 is dead" in after["1"].status_message
        shown = subprocess.run(
            [sys.executable, "-m", "meticulous_read", "show", "1"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )
        assert "rank 1 is dead" in shown.stdout, shown.stdout + shown.stderr
        assert "rank 1  RUNNING" in shown.stdout
    finally:
        for process in (main, other):
            if process.poll() is None:
                process.kill()
                process.wait()
