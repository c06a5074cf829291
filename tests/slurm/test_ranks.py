"""``srun -n 2`` of a recorded script on the real cluster: one experiment.

The two tasks land on the cluster's two nodes (``-N 2``), so the ranks find
each other only through the shared experiments directory (spec section 10).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from slurm_helpers import read_json, read_status

pytestmark = pytest.mark.usefixtures("slurm_cluster")

RANKED = textwrap.dedent(
    """\
    import os, sys, time
    from meticulous import Experiment

    experiment = Experiment({"what": sys.argv[1]})
    rank = int(os.environ["SLURM_PROCID"])
    print(f"rank {experiment.rank} of {os.environ['SLURM_NTASKS']} on "
          f"{os.uname().nodename}", flush=True)
    experiment.log({"rank": rank})
    if rank == 1 and sys.argv[1] == "raise":
        raise RuntimeError("rank 1 fails on purpose")
    if rank == 1 and sys.argv[1] == "kill":
        os.kill(os.getpid(), 9)
    if rank == 0:
        time.sleep(1)
    """
)


def srun(project, what: str, *, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "METICULOUS_"))
    }
    env["METICULOUS_RANK_END_TIMEOUT"] = "5"
    return subprocess.run(
        ["srun", "-N", "2", "-n", "2", "--time=5", sys.executable, "ranked.py", what],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def ranked(project):
    (project.root / "ranked.py").write_text(RANKED)
    project.commit("ranked.py")
    return project


def only_experiment(project):
    folders = project.experiment_folders()
    assert len(folders) == 1, folders
    return folders[0]


def test_srun_two_tasks_on_two_nodes_record_one_experiment(ranked):
    done = srun(ranked, "ok")
    assert done.returncode == 0, done.stderr
    folder = only_experiment(ranked)
    assert read_status(folder)[0] == "SUCCESS"
    meta = read_json(folder / "metadata.json")
    assert meta["world-size"] == 2
    assert meta["launch"].startswith(f"slurm-{meta['slurm']['job-id']}.")
    assert [r["status"] for r in meta["ranks"]] == ["SUCCESS", "SUCCESS"]
    hosts = {r["host"] for r in meta["ranks"]}
    assert len(hosts) == 2, meta["ranks"]  # really two nodes
    rank1 = folder / "ranks" / "1"
    assert read_status(rank1)[0] == "SUCCESS"
    assert (folder / "stdout").read_text().startswith("rank 0 of 2 on ")
    assert (rank1 / "stdout").read_text().startswith("rank 1 of 2 on ")
    assert read_json(rank1 / "metadata.json")["host"] == meta["ranks"][1]["host"]
    assert '"rank": 0' in (folder / "metrics.jsonl").read_text()
    assert '"rank": 1' in (rank1 / "metrics.jsonl").read_text()


def test_rank_one_failing_makes_the_experiment_an_error(ranked):
    done = srun(ranked, "raise")
    assert done.returncode != 0
    folder = only_experiment(ranked)
    word, message = read_status(folder)
    assert word == "ERROR"
    assert "rank 1 ended ERROR: RuntimeError: rank 1 fails on purpose" in message
    assert "rank 1 fails on purpose" in (folder / "ranks" / "1" / "stderr").read_text()


def test_rank_one_killed_is_not_a_success_and_says_so(ranked):
    done = srun(ranked, "kill")
    assert done.returncode != 0
    folder = only_experiment(ranked)
    word, message = read_status(folder)
    assert word != "SUCCESS"
    if word == "ERROR":  # rank 0 outlived it: it names the rank
        assert "rank 1" in message
    assert read_status(folder / "ranks" / "1")[0] == "RUNNING"  # its end never came
    ranks = read_json(folder / "metadata.json")["ranks"]
    assert ranks[1]["status"] in ("RUNNING", "DEAD")


def test_a_sweep_with_two_tasks_per_node_records_one_experiment_per_point(project):
    from slurm_helpers import run_cli, wait_for_status

    sweep = project.write_sweep(
        """\
        executor: slurm
        slurm:
          cpus_per_task: 1
          tasks_per_node: 2
          timeout_min: 10
        grid:
          lr: [0.5]
        """
    )
    done = run_cli("sweep", str(sweep.name), cwd=project.root)
    assert done.returncode == 0, done.stderr
    (folder,) = project.experiment_folders()
    assert wait_for_status(folder, ("SUCCESS", "ERROR", "CANCELLED")) == "SUCCESS", (
        read_status(folder)
    )
    assert read_json(folder / "metadata.json")["world-size"] == 2
    assert read_status(folder / "ranks" / "1")[0] == "SUCCESS"
    assert "train.py version 1" in (folder / "ranks" / "1" / "stdout").read_text()
