"""Launchers reserve folders; jobs claim them through environment variables."""

from __future__ import annotations

import json

import pytest
from meticulous import reserve_experiment, reserve_experiments
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


def test_a_batch_reserves_consecutive_queued_folders(tmp_path):
    """One call for a whole sweep: ids in order, each folder complete."""
    experiments = tmp_path / "experiments"
    assert reserve_experiment(experiments, {"lr": 1.0}) == "1"
    ids = reserve_experiments(
        experiments,
        [{"lr": 0.1}, {"lr": 0.01, "tags": ("a", "b")}, {"lr": float("nan")}],
        launcher=[{"name": "sweeper", "point": index} for index in range(3)],
        githead_sha="3f6c1a0e9b7d4c2a8e5f1b0d9c7a6e4f2b1d0c9a",
        description="grid",
        note=["point 0", "point 1", "point 2"],
    )
    assert ids == ["2", "3", "4"]
    assert (experiments / ".meticulous" / "last-id").read_text().strip() == "4"
    expected_args = [{"lr": 0.1}, {"lr": 0.01, "tags": ["a", "b"]}, {"lr": "NaN"}]
    for index, (experiment_id, args) in enumerate(zip(ids, expected_args)):
        folder = experiments / experiment_id
        assert status_of(folder) == ("QUEUED", f"point {index}\n")
        assert read_json(folder / "args.json") == args
        assert read_json(folder / "metadata.json") == {
            "spec-version": 1,
            "launcher": {"name": "sweeper", "point": index},
            "githead-sha": "3f6c1a0e9b7d4c2a8e5f1b0d9c7a6e4f2b1d0c9a",
            "description": "grid",
        }
        assert sorted(p.name for p in folder.iterdir()) == [
            "STATUS",
            "args.json",
            "metadata.json",
        ]
    assert reserve_experiment(experiments, {"lr": 2.0}) == "5"


def test_a_batch_shares_one_launcher_and_note(tmp_path):
    experiments = tmp_path / "experiments"
    ids = reserve_experiments(
        experiments, [{"a": 1}, {"a": 2}], launcher={"name": "x"}, note="waiting"
    )
    assert ids == ["1", "2"]
    for experiment_id in ids:
        folder = experiments / experiment_id
        assert read_json(folder / "metadata.json")["launcher"] == {"name": "x"}
        assert status_of(folder) == ("QUEUED", "waiting\n")


def test_an_empty_batch_reserves_nothing(tmp_path):
    assert reserve_experiments(tmp_path / "experiments", []) == []
    assert not (tmp_path / "experiments").exists()


def _circular() -> list:
    loop: list = []
    loop.append(loop)
    return loop


@pytest.mark.parametrize(
    ("args_list", "launcher", "message"),
    [
        ([{"a": 1}, {"a": _circular()}], None, "point 1: a circular structure"),
        ([{"a": 1}, ["not", "a", "dict"]], None, "args of point 1 must be a dict"),
        ([{"a": 1}, {"a": 2}], [{"point": 0}], "launcher has 1 entries for 2 points"),
        ([{"a": 1}], [["x"]], "launcher of point 0 must be a Mapping"),
        ({"a": 1}, None, "args_list must be a list"),
    ],
)
def test_a_bad_batch_reserves_nothing(tmp_path, args_list, launcher, message):
    """One unrecordable point refuses the whole batch before any folder exists."""
    experiments = tmp_path / "experiments"
    reserve_experiment(experiments, {"before": True})
    before = snapshot(experiments)
    folders = sorted(path.name for path in experiments.iterdir())
    with pytest.raises(ValueError, match=message):
        reserve_experiments(experiments, args_list, launcher=launcher)
    assert snapshot(experiments) == before
    assert sorted(path.name for path in experiments.iterdir()) == folders
    assert reserve_experiment(experiments, {"after": True}) == "2"


RESERVE_BATCH = """\
import json, sys, time
from meticulous import reserve_experiments
experiments, worker, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() < start_at:
    time.sleep(0.001)
ids = []
for batch in range(3):
    points = [{"worker": worker, "batch": batch, "point": p} for p in range(5)]
    ids += reserve_experiments(experiments, points)
print(json.dumps(ids))
"""


def test_concurrent_batches_never_overlap_and_never_fail(tmp_path):
    """6 processes x 3 batches of 5: every id distinct, each batch consecutive,
    each folder holding the args of the point it was reserved for."""
    import subprocess
    import sys
    import time

    experiments = tmp_path / "shared" / "experiments"
    script = tmp_path / "reserve_batch.py"
    script.write_text(RESERVE_BATCH)
    start_at = str(time.time() + 2.0)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(experiments), str(worker), start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(6)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), results
    all_ids = []
    for worker, (out, _) in enumerate(results):
        ids = [int(experiment_id) for experiment_id in json.loads(out)]
        for batch in range(3):
            chunk = ids[batch * 5 : batch * 5 + 5]
            assert chunk == list(range(chunk[0], chunk[0] + 5))
            for point, experiment_id in enumerate(chunk):
                folder = experiments / str(experiment_id)
                assert read_json(folder / "args.json") == {
                    "worker": worker,
                    "batch": batch,
                    "point": point,
                }
                assert status_of(folder) == ("QUEUED", "")
        all_ids += ids
    assert sorted(all_ids) == list(range(1, 6 * 3 * 5 + 1))


def test_a_batch_without_sync_flushes_nothing_and_writes_whole_folders(
    tmp_path, monkeypatch
):
    """``sync=False`` (meticulous-slurm's sweeps): the same folders, no
    syncfs or fsync of the batch, and nothing left but the three files."""
    from meticulous import reservation

    def no_flush(*args, **kwargs):
        raise AssertionError("a batch with sync=False flushed the file system")

    monkeypatch.setattr(reservation, "_make_durable", no_flush)
    experiments = tmp_path / "experiments"
    ids = reserve_experiments(
        experiments, [{"lr": 0.1}, {"lr": 0.2}], launcher={"name": "x"}, sync=False
    )
    assert ids == ["1", "2"]
    for experiment_id, lr in zip(ids, (0.1, 0.2)):
        folder = experiments / experiment_id
        assert read_json(folder / "args.json") == {"lr": lr}
        assert read_json(folder / "metadata.json")["launcher"] == {"name": "x"}
        assert status_of(folder) == ("QUEUED", "")
        assert sorted(p.name for p in folder.iterdir()) == [
            "STATUS",
            "args.json",
            "metadata.json",
        ]


def test_a_batch_allocated_first_is_filled_later_or_not_at_all(tmp_path, monkeypatch):
    """``allocate_reservations`` takes the ids at once and leaves the folders
    empty (being created, spec 12.5) until ``fill``, which a launcher runs
    while it prepares its submission; a fill that fails removes every folder
    of the batch, whole or not, and the ids stay used."""
    from meticulous import allocate_reservations, reservation

    experiments = tmp_path / "experiments"
    batch = allocate_reservations(
        experiments, [{"lr": 0.1}, {"lr": 0.2}], launcher={"name": "x"}, note="n"
    )
    assert batch.ids == ["1", "2"]
    assert [sorted(p.name for p in (experiments / i).iterdir()) for i in batch.ids] == [
        [],
        [],
    ]
    batch.fill(sync=False)
    assert status_of(experiments / "2") == ("QUEUED", "n\n")
    assert read_json(experiments / "2" / "args.json") == {"lr": 0.2}

    failing = allocate_reservations(experiments, [{"a": 1}, {"a": 2}, {"a": 3}])
    real_fill = reservation._fill_new_folder
    filled = []

    def fill_then_fail(folder, contents):
        if len(filled) == 2:
            raise OSError(28, "No space left on device")
        real_fill(folder, contents)
        filled.append(folder.name)

    monkeypatch.setattr(reservation, "_fill_new_folder", fill_then_fail)
    with pytest.raises(OSError, match="No space left"):
        failing.fill()
    assert filled == ["3", "4"]
    assert sorted(p.name for p in experiments.iterdir()) == [".meticulous", "1", "2"]
    monkeypatch.setattr(reservation, "_fill_new_folder", real_fill)
    assert reserve_experiment(experiments, {"after": True}) == "6"
