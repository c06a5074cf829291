"""One run, one experiment, however many processes (spec section 10).

The launcher here does what torchrun does for a single node: it starts N
copies of the script with RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT and TORCHELASTIC_RUN_ID set, and waits for them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from record_helpers import child_env, read_json, status_of, write_script

RANKED = """
    import os, sys, time
    from meticulous import Experiment

    rank = int(os.environ["RANK"])
    with Experiment({"lr": 0.1}) as experiment:
        print(f"hello from rank {experiment.rank} main={experiment.is_main}", flush=True)
        print(f"rank {rank} to stderr", file=sys.stderr, flush=True)
        experiment.log({"loss": 1.0 / (rank + 1)})
        experiment.summary({"rank": rank})
        with experiment.open(f"shard-{rank}.txt", "w") as shard:
            shard.write(str(rank))
        what = os.environ.get("FAIL_RANK_HOW", "")
        if what and int(os.environ.get("FAIL_RANK", "-1")) == rank:
            if what == "raise":
                raise RuntimeError(f"rank {rank} fails on purpose")
            if what == "exit":
                sys.exit(3)
            if what == "kill":
                os.kill(os.getpid(), 9)
        if rank == 0:
            time.sleep(float(os.environ.get("MAIN_DELAY", "0")))
"""


def torchrun_like(
    repo: Path, script: str, world_size: int, extra: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess]:
    """Start ``world_size`` ranks of ``script`` as torchrun would, wait for all."""
    run_id = uuid.uuid4().hex[:8]
    processes = []
    for rank in range(world_size):
        env = child_env(
            {
                "RANK": str(rank),
                "LOCAL_RANK": str(rank),
                "WORLD_SIZE": str(world_size),
                "LOCAL_WORLD_SIZE": str(world_size),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": "29500",
                "TORCHELASTIC_RUN_ID": run_id,
                "TORCHELASTIC_RESTART_COUNT": "0",
                "METICULOUS_RANK_END_TIMEOUT": "20",
                **(extra or {}),
            }
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, script],
                cwd=repo,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    done = []
    for process in processes:
        out, err = process.communicate(timeout=90)
        done.append(
            subprocess.CompletedProcess(process.args, process.returncode, out, err)
        )
    return done


def folders_of(repo: Path) -> list[Path]:
    return sorted(
        p for p in (repo / "experiments").iterdir() if not p.name.startswith(".")
    )


def test_three_torchrun_ranks_record_one_experiment(project):
    write_script(project, "train.py", RANKED)
    ends = torchrun_like(project, "train.py", 3)
    assert [end.returncode for end in ends] == [0, 0, 0], [end.stderr for end in ends]
    (folder,) = folders_of(project)
    assert status_of(folder)[0] == "SUCCESS"
    assert (folder / "stdout").read_text() == "hello from rank 0 main=True\n"
    assert "rank 0 to stderr" in (folder / "stderr").read_text()
    for rank in (1, 2):
        own = folder / "ranks" / str(rank)
        assert status_of(own)[0] == "SUCCESS"
        assert (own / "stdout").read_text() == f"hello from rank {rank} main=False\n"
        assert f"rank {rank} to stderr" in (own / "stderr").read_text()
        assert read_json(own / "summary.json") == {"rank": rank}
        row = json.loads((own / "metrics.jsonl").read_text())
        assert row["loss"] == pytest.approx(1 / (rank + 1)) and row["_step"] == 0
        meta = read_json(own / "metadata.json")
        assert meta["rank"] == rank and meta["world-size"] == 3
        assert meta["local-rank"] == rank and meta["exit-code"] == 0
        assert (folder / f"shard-{rank}.txt").read_text() == str(rank)
    assert read_json(folder / "summary.json") == {"rank": 0}
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 1
    meta = read_json(folder / "metadata.json")
    assert meta["world-size"] == 3
    assert [r["rank"] for r in meta["ranks"]] == [0, 1, 2]
    assert [r["status"] for r in meta["ranks"]] == ["SUCCESS"] * 3
    assert {r["pid"] for r in meta["ranks"]} == {
        read_json(folder / "ranks" / str(n) / "metadata.json")["pid"] for n in (1, 2)
    } | {meta["pid"]}
    assert all(r["host"] == meta["host"] for r in meta["ranks"])


def test_a_second_launch_with_the_same_port_gets_its_own_experiment(project):
    write_script(project, "train.py", RANKED)
    extra = {"TORCHELASTIC_RUN_ID": "none"}  # torchrun's default: keyed by the port
    for _ in range(2):
        ends = torchrun_like(project, "train.py", 2, extra)
        assert [end.returncode for end in ends] == [0, 0], [e.stderr for e in ends]
    first, second = folders_of(project)
    for folder in (first, second):
        assert status_of(folder)[0] == "SUCCESS"
        assert status_of(folder / "ranks" / "1")[0] == "SUCCESS"


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("raise", "rank 1 ended ERROR: RuntimeError: rank 1 fails on purpose"),
        ("exit", "rank 1 ended ERROR: exit code 3"),
        ("kill", "died without recording an end"),
    ],
)
def test_a_failing_rank_makes_the_run_an_error(project, how, expected):
    write_script(project, "train.py", RANKED)
    ends = torchrun_like(
        project,
        "train.py",
        2,
        {"FAIL_RANK": "1", "FAIL_RANK_HOW": how, "MAIN_DELAY": "1"},
    )
    assert ends[0].returncode == 0
    assert ends[1].returncode == {"raise": 1, "exit": 3, "kill": -9}[how]
    (folder,) = folders_of(project)
    word, message = status_of(folder)
    assert word == "ERROR" and expected in message
    ranks = read_json(folder / "metadata.json")["ranks"]
    assert ranks[1]["status"] == ("DEAD" if how == "kill" else "ERROR")
    if how == "raise":
        assert (
            "RuntimeError: rank 1 fails on purpose"
            in (folder / "ranks" / "1" / "stderr").read_text()
        )


def one_rank(project: Path, rank: int, **extra: str) -> subprocess.CompletedProcess:
    """Only one rank of a two-rank launch (the other never comes)."""
    env = {
        "RANK": str(rank),
        "WORLD_SIZE": "2",
        "METICULOUS_LAUNCH_ID": uuid.uuid4().hex,
    }
    return subprocess.run(
        [sys.executable, "train.py"],
        cwd=project,
        env=child_env({**env, **extra}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_rank_that_never_joins_is_reported_after_the_bound(project):
    write_script(project, "train.py", RANKED)
    done = one_rank(project, 0, METICULOUS_RANK_END_TIMEOUT="0.5")
    assert done.returncode == 0
    (folder,) = folders_of(project)
    assert status_of(folder) == ("ERROR", "rank 1 never joined\n")


def test_a_rank_without_its_rank_zero_times_out_and_writes_nothing(project):
    write_script(project, "train.py", RANKED)
    done = one_rank(project, 1, METICULOUS_RANK_TIMEOUT="0.3")
    assert done.returncode == 1
    assert "RankJoinError" in done.stderr and "METICULOUS_RANK_TIMEOUT" in done.stderr
    assert not (project / "experiments").exists() or folders_of(project) == []


def test_rank_zero_refused_makes_the_other_ranks_fail_at_once(project):
    write_script(project, "train.py", RANKED)
    (project / "model.py").write_text("LAYERS = 3\n")  # dirty: rank 0 refuses
    ends = torchrun_like(project, "train.py", 2, {"METICULOUS_RANK_TIMEOUT": "60"})
    assert ends[0].returncode == 1 and "DirtyRepoException" in ends[0].stderr
    assert ends[1].returncode == 1
    assert "rank 0 could not start the experiment" in ends[1].stderr
    assert folders_of(project) == []


def test_a_rank_outside_the_world_is_refused(project):
    write_script(project, "train.py", RANKED)
    done = one_rank(project, 2)
    assert done.returncode == 1 and "RANK=2 is not below WORLD_SIZE=2" in done.stderr


def test_rank_detection_follows_the_launchers_conventions():
    from meticulous.ranks import detect_rank

    torch = detect_rank(
        {
            "RANK": "1",
            "WORLD_SIZE": "4",
            "LOCAL_RANK": "1",
            "MASTER_ADDR": "n1",
            "MASTER_PORT": "29500",
        }
    )
    assert (torch.rank, torch.world_size, torch.local_rank) == (1, 4, 1)
    assert torch.launch == "master-n1-29500-0"
    srun = detect_rank(
        {
            "SLURM_PROCID": "1",
            "SLURM_NTASKS": "2",
            "SLURM_STEP_ID": "0",
            "SLURM_JOB_ID": "81",
            "SLURM_LOCALID": "0",
        }
    )
    assert (srun.rank, srun.world_size, srun.launch) == (1, 2, "slurm-81.0-0")
    batch = detect_rank(
        {"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_ID": "81"}
    )
    assert not batch.distributed  # the batch script itself is one process
    mpi = detect_rank(
        {
            "OMPI_COMM_WORLD_RANK": "3",
            "OMPI_COMM_WORLD_SIZE": "8",
            "PMIX_NAMESPACE": "prterun-h-1@1",
        }
    )
    assert (mpi.rank, mpi.launch) == (3, "pmix-prterun-h-1_1")
    assert detect_rank({"PMI_RANK": "0", "PMI_SIZE": "1"}).world_size == 1
    assert not detect_rank({}).distributed
