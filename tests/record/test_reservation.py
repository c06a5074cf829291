"""Launchers reserve folders; jobs claim them through environment variables."""

from __future__ import annotations

import json

import pytest
from meticulous import reserve_experiment
from record_helpers import (
    commit_all,
    git,
    read_json,
    run,
    snapshot,
    status_of,
    write_script,
)

TRAIN = """\
    import argparse
    from meticulous import Experiment
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=64)
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    print("in", experiment.experiment_id, experiment.curexpdir)
"""


def job_env(experiments, experiment_id, launcher=None):
    env = {
        "METICULOUS_EXPERIMENTS_DIRECTORY": str(experiments),
        "METICULOUS_EXPERIMENT_ID": experiment_id,
    }
    if launcher is not None:
        env["METICULOUS_LAUNCHER"] = json.dumps(launcher)
    return env


def test_reservation_writes_a_queued_folder(tmp_path):
    experiments = tmp_path / "experiments"
    first = reserve_experiment(
        experiments,
        {"lr": 0.001, "batch-size": 32},
        launcher={"name": "meticulous-slurm", "sweep": "lr-sweep", "point": 3},
        githead_sha="3f6c1a0e9b7d4c2a8e5f1b0d9c7a6e4f2b1d0c9a",
        description="sweep point",
        note="slurm job 1300_3",
    )
    second = reserve_experiment(experiments, {"lr": 0.01})
    assert (first, second) == ("1", "2")
    folder = experiments / "1"
    assert (folder / "STATUS").read_text() == "QUEUED\nslurm job 1300_3\n"
    assert read_json(folder / "args.json") == {"lr": 0.001, "batch-size": 32}
    assert read_json(folder / "metadata.json") == {
        "spec-version": 1,
        "launcher": {"name": "meticulous-slurm", "sweep": "lr-sweep", "point": 3},
        "githead-sha": "3f6c1a0e9b7d4c2a8e5f1b0d9c7a6e4f2b1d0c9a",
        "description": "sweep point",
    }
    assert (experiments / "2" / "STATUS").read_text() == "QUEUED\n"


def test_bad_reservation_allocates_nothing(tmp_path):
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular"):
        reserve_experiment(tmp_path / "experiments", {"a": loop})
    assert not (tmp_path / "experiments").exists()


def test_a_job_claims_its_reservation_without_options(project, tmp_path):
    write_script(project, "train.py", TRAIN)
    sha = git(project, "rev-parse", "HEAD").strip()
    experiments = tmp_path / "sweep"
    experiment_id = reserve_experiment(
        experiments,
        {"lr": 0.1, "batch_size": 32},
        launcher={"name": "test-launcher"},
        githead_sha=sha,
        description="from the sweep",
    )
    env = job_env(experiments, experiment_id, launcher={"job": "1300_3"})
    done = run(project, "train.py", "--lr", "0.1", "--batch-size", "32", env=env)
    assert done.returncode == 0, done.stderr
    folder = experiments / experiment_id
    assert done.stdout == f"in {experiment_id} {folder}\n"
    assert status_of(folder) == ("SUCCESS", "")
    assert read_json(folder / "args.json") == {"lr": 0.1, "batch_size": 32}
    metadata = read_json(folder / "metadata.json")
    assert metadata["launcher"] == {"name": "test-launcher", "job": "1300_3"}
    assert metadata["description"] == "from the sweep"
    assert metadata["githead-sha"] == sha
    assert metadata["resumes"] == []
    assert (folder / "stdout").read_text() == done.stdout
    assert not (project / "experiments").exists()


def test_a_reservation_for_another_commit_is_refused(project, tmp_path):
    write_script(project, "train.py", TRAIN)
    old_sha = git(project, "rev-parse", "HEAD").strip()
    experiments = tmp_path / "sweep"
    experiment_id = reserve_experiment(experiments, {"lr": 0.1}, githead_sha=old_sha)
    (project / "model.py").write_text("LAYERS = 9\n")
    commit_all(project, "Changed after submitting")
    before = snapshot(experiments)
    done = run(
        project, "train.py", "--lr", "0.1", env=job_env(experiments, experiment_id)
    )
    assert done.returncode == 1
    assert "MismatchedCommitException" in done.stderr
    assert old_sha in done.stderr
    assert snapshot(experiments) == before


def test_a_requeued_job_resumes_its_folder(project, tmp_path):
    write_script(project, "train.py", TRAIN)
    experiments = tmp_path / "sweep"
    experiment_id = reserve_experiment(experiments, {"lr": 0.1, "batch_size": 64})
    env = job_env(experiments, experiment_id)
    assert run(project, "train.py", "--lr", "0.1", env=env).returncode == 0
    again = run(project, "train.py", "--lr", "0.1", env=env)  # requeued: same job
    assert again.returncode == 0, again.stderr
    folder = experiments / experiment_id
    assert len(read_json(folder / "metadata.json")["resumes"]) == 1
    assert (folder / "stdout").read_text() == again.stdout * 2


def test_slurm_variables_are_recorded(project):
    write_script(project, "train.py", TRAIN)
    env = {
        "SLURM_JOB_ID": "1234",
        "SLURM_ARRAY_JOB_ID": "1230",
        "SLURM_ARRAY_TASK_ID": "4",
        "SLURMD_NODENAME": "node003",
        "SLURM_JOB_PARTITION": "gpu",
        "SLURM_RESTART_COUNT": "2",
    }
    assert run(project, "train.py", env=env).returncode == 0
    metadata = read_json(project / "experiments" / "1" / "metadata.json")
    assert metadata["slurm"] == {
        "job-id": "1234",
        "array-job-id": "1230",
        "array-task-id": "4",
        "node": "node003",
        "partition": "gpu",
        "restart-count": 2,
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"METICULOUS_EXPERIMENT_ID": "../escape"}, "METICULOUS_EXPERIMENT_ID"),
        (
            {"METICULOUS_EXPERIMENT_ID": "5", "METICULOUS_LAUNCHER": "[1, 2]"},
            "METICULOUS_LAUNCHER must hold a JSON object",
        ),
    ],
)
def test_bad_launcher_environment_is_a_clear_error(project, env, message):
    write_script(project, "train.py", TRAIN)
    done = run(project, "train.py", env=env)
    assert done.returncode == 1
    assert message in done.stderr
    assert not (project / "experiments").exists()
