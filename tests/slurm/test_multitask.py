"""Multi-task and multi-node sweep points: one experiment per point, every rank in it.

On the real two-node cluster: SLURM starting one task per rank (``nodes``,
``tasks_per_node``: each task is a submitit task running the command under
``srun``), and one task that starts its ranks itself, as torchrun does.
The GPU names only change the sbatch request (the test cluster has no
GPUs), so they are checked in the script a dry run prints.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from slurm_helpers import read_json, read_status, run_cli, sweep_record

pytestmark = pytest.mark.usefixtures("slurm_cluster")

RANKED = textwrap.dedent(
    """\
    import argparse, os, socket
    from meticulous import Experiment
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float)
    parser.add_argument("--fail-rank", type=int, default=-1)
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    args = parser.parse_args()
    print(f"rank {experiment.rank} on {socket.gethostname()}", flush=True)
    experiment.log({"rank": experiment.rank})
    if experiment.rank == args.fail_rank:
        raise RuntimeError(f"rank {experiment.rank} fails on purpose")
    """
)
# What torchrun does on one node, without torch: start N ranks of a script
# with torchrun's variables and wait for them all.
MINIRUN = textwrap.dedent(
    """\
    import os, subprocess, sys, uuid
    world = int(sys.argv[1])
    run_id = uuid.uuid4().hex[:8]
    children = [
        subprocess.Popen(
            [sys.executable, *sys.argv[2:]],
            env=dict(
                os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                MASTER_PORT="29511", TORCHELASTIC_RUN_ID=run_id,
            ),
        )
        for rank in range(world)
    ]
    sys.exit(max(child.wait() for child in children))
    """
)


@pytest.fixture
def ranked(project):
    (project.root / "ranked.py").write_text(RANKED)
    (project.root / "minirun.py").write_text(MINIRUN)
    project.commit("ranked")
    return project


def ranked_sweep(project, name: str, command: str, slurm: str, grid: str) -> str:
    path = project.root / f"{name}.yaml"
    path.write_text(
        f"command: {command}\nname: {name}\nexecutor: slurm\nslurm:\n"
        f"  timeout_min: 5\n{slurm}grid:\n{grid}"
    )
    project.commit(name)
    return str(path)


def assert_one_experiment_per_point_with_ranks(project, points: int, ranks: int):
    folders = project.experiment_folders()
    assert len(folders) == points  # no rank made its own experiment
    for folder in folders:
        assert read_status(folder)[0] == "SUCCESS", read_status(folder)
        for rank in range(1, ranks):
            assert (folder / "ranks" / str(rank)).is_dir()
            assert (
                f"rank {rank} on"
                in (folder / "ranks" / str(rank) / "stdout").read_text()
            )
        assert "rank 0 on" in (folder / "stdout").read_text()
        assert not (folder / "ranks" / str(ranks)).exists()
        entries = read_json(folder / "metadata.json")["ranks"]
        assert len(entries) == ranks


def test_two_nodes_one_task_each_make_one_experiment_per_point(ranked):
    sweep = ranked_sweep(
        ranked,
        "nodes",
        f"{sys.executable} ranked.py",
        "  nodes: 2\n  tasks_per_node: 1\n  cpus_per_task: 1\n",
        "  lr: [0.1, 0.2]\n",
    )
    result = run_cli("sweep", sweep, "--wait", cwd=ranked.root, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_one_experiment_per_point_with_ranks(ranked, points=2, ranks=2)
    hosts = {
        (folder / "stdout").read_text().split(" on ")[1].split()[0]
        for folder in ranked.experiment_folders()
    } | {
        (folder / "ranks" / "1" / "stdout").read_text().split(" on ")[1].split()[0]
        for folder in ranked.experiment_folders()
    }
    assert len(hosts) == 2  # the ranks ran on both nodes


def test_two_tasks_on_one_node_and_a_failing_rank_fails_its_point(ranked):
    sweep = ranked_sweep(
        ranked,
        "tasks",
        f"{sys.executable} ranked.py",
        "  tasks_per_node: 2\n  cpus_per_task: 1\n",
        "  lr: [0.1]\n  fail-rank: [-1, 1]\n",
    )
    result = run_cli("sweep", sweep, "--wait", cwd=ranked.root, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    good, bad = ranked.experiment_folders()
    assert read_status(good)[0] == "SUCCESS"
    word, message = read_status(bad)
    assert word == "ERROR"
    assert "rank 1" in message
    assert len(ranked.experiment_folders()) == 2
    status = run_cli("status", "tasks", cwd=ranked.root)
    assert status.returncode == 1
    assert "1 succeeded, 1 failed" in status.stdout


def test_one_task_starting_its_own_ranks_as_torchrun_does(ranked):
    sweep = ranked_sweep(
        ranked,
        "torchrun",
        f"{sys.executable} minirun.py 2 ranked.py",
        "  tasks_per_node: 1\n  cpus_per_task: 2\n",
        "  lr: [0.1, 0.2]\n",
    )
    result = run_cli("sweep", sweep, "--wait", cwd=ranked.root, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_one_experiment_per_point_with_ranks(ranked, points=2, ranks=2)
    launcher = read_json(ranked.experiment_folders()[0] / "metadata.json")["launcher"]
    assert launcher["sweep"] == "torchrun"
    assert sweep_record(ranked)["points"][0]["job-ids"]


def test_gpu_requests_reach_the_sbatch_script(ranked):
    sweep = ranked_sweep(
        ranked,
        "gpus",
        f"{sys.executable} ranked.py",
        "  nodes: 2\n  tasks_per_node: 4\n  gpus_per_node: 4\n  gpus_per_task: 1\n",
        "  lr: [0.1]\n",
    )
    result = run_cli("sweep", sweep, "--dry-run", cwd=ranked.root)
    assert result.returncode == 0, result.stderr
    for line in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --gpus-per-task=1",
    ):
        assert line in result.stdout
    assert "srun" in result.stdout
