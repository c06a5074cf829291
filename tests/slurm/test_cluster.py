"""Sweeps on a real SLURM cluster (the two-node cluster of .ci/slurm/setup.sh).

Every test here takes the ``slurm_cluster`` fixture: without a cluster they
are skipped on a workstation and fail in CI. The cluster has two CPUs, so the
jobs ask for one CPU each and the grids stay small. Experiments, sweep records
and submitit's logs all live under ``tmp_path``, which slurmd sees because it
runs on this machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from slurm_helpers import (
    final_sacct_states,
    read_json,
    read_status,
    release_requeued,
    run_cli,
    squeue_state,
    sweep_record,
    wait_for,
    wait_for_status,
    wait_until_train_py_runs,
)

pytestmark = pytest.mark.usefixtures("slurm_cluster")

SLURM_SECTION = """\
executor: slurm
slurm:
  cpus_per_task: 1
  timeout_min: 10
"""


def slurm_sweep(project, body: str, *, array_parallelism: int | None = None) -> Path:
    section = SLURM_SECTION
    if array_parallelism is not None:
        section += f"  array_parallelism: {array_parallelism}\n"
    return project.write_sweep(section + body)


def default_partition() -> str:
    out = subprocess.run(
        ["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, check=True
    ).stdout.split()
    return next(p.rstrip("*") for p in out if p.endswith("*"))


def test_a_grid_runs_as_one_job_array_and_records_its_slurm_jobs(
    project, slurm_cluster
):
    sweep = slurm_sweep(project, "name: array\ngrid:\n  lr: [0.1, 0.01, 0.001]\n")
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    record = sweep_record(project)
    array_job_id = record["submissions"][0]["slurm-job-id"]
    assert f"array job {array_job_id}" in result.stdout
    job_ids = [point["job-ids"] for point in record["points"]]
    assert job_ids == [[f"{array_job_id}_{index}"] for index in range(3)]

    states = final_sacct_states(array_job_id, 3)
    assert states == {f"{array_job_id}_{index}": "COMPLETED" for index in range(3)}

    for index, folder in enumerate(project.experiment_folders()):
        assert read_status(folder)[0] == "SUCCESS"
        metadata = read_json(folder / "metadata.json")
        slurm = metadata["slurm"]
        assert slurm["array-job-id"] == array_job_id
        assert str(slurm["array-task-id"]) == str(index)
        assert slurm["job-id"]
        assert slurm["node"] in slurm_cluster
        assert slurm["partition"] == default_partition()
        launcher = metadata["launcher"]
        assert launcher["sweep"] == "array"
        assert launcher["job-id"] == f"{array_job_id}_{index}"
        log = Path(launcher["submitit-stdout"])
        assert log.parent == Path(record["submitit-folder"])
        assert "train.py version 1" in log.read_text()


def start_held_point(project, name: str):
    """Submit a one-point sweep whose job holds while RUNNING; its job id and folder."""
    project.hold(0.1)
    sweep = slurm_sweep(
        project,
        f"name: {name}\nargs:\n  markers: {project.markers}\ngrid:\n  lr: [0.1]\n",
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    (job_id,) = sweep_record(project)["points"][0]["job-ids"]
    (folder,) = project.experiment_folders()
    wait_until_train_py_runs(folder)
    return job_id, folder


def release_and_expect_resumed(project, job_id: str, folder) -> None:
    """After the recorder said INTERRUPTED: let the requeued job run to SUCCESS
    in the same folder, as its first resume."""
    wait_for_status(folder, ("INTERRUPTED",), timeout=60)
    (project.markers / "lr-0.1.hold").unlink()
    # A requeued job waits ~150 s (BeginTime) unless released.
    release_requeued(job_id)
    wait_for_status(folder, ("SUCCESS", "ERROR"), timeout=180)
    assert read_status(folder)[0] == "SUCCESS"
    metadata = read_json(folder / "metadata.json")
    assert metadata["slurm"]["restart-count"] == 1
    assert len(metadata["resumes"]) == 1


def test_a_requeued_job_resumes_its_own_folder(project):
    job_id, folder = start_held_point(project, "requeue")
    # The recorder is stopped with SIGTERM and says so.
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    release_and_expect_resumed(project, job_id, folder)
    # one folder, output of both runs appended
    assert [f.name for f in project.experiment_folders()] == [folder.name]
    assert (folder / "stdout").read_text().count("train.py version 1") == 2
    # The recorder writes SUCCESS before the job ends: status asks SLURM.
    final_sacct_states(job_id, 1)
    status = run_cli("status", "requeue", cwd=project.root)
    assert "1 succeeded" in status.stdout


EPOCHS_PY = """\
import argparse, os, time
from meticulous import Experiment
parser = argparse.ArgumentParser()
parser.add_argument("--markers")
Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
markers = parser.parse_args().markers
restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0"))
# no checkpoint: every run trains from epoch 0, as the spec's attempts expect
for epoch in range(2):
    experiment.log({"loss": 1.0 / (epoch + 1) + restarts}, step=epoch)
deadline = time.time() + 120
while os.path.exists(os.path.join(markers, "epochs.hold")) and time.time() < deadline:
    time.sleep(0.2)
"""


def test_rows_logged_after_a_requeue_are_the_next_attempt(project):
    """A real ``scontrol requeue`` of a running point: the rows its second run
    appends carry ``_attempt: 2``, and the reader's ``metrics`` shows only
    that attempt, so the two runs' epochs 0 and 1 are not one garbled curve."""
    from meticulous_read import ExperimentReader

    (project.root / "epochs.py").write_text(EPOCHS_PY)
    hold = project.markers / "epochs.hold"
    hold.write_text("")
    sweep = project.root / "epochs.yaml"
    sweep.write_text(
        f"command: {sys.executable} epochs.py\nname: epochs\n"
        f"args:\n  markers: {project.markers}\n" + SLURM_SECTION
    )
    project.commit("epochs")
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    (job_id,) = sweep_record(project)["points"][0]["job-ids"]
    (folder,) = project.experiment_folders()
    metrics = folder / "metrics.jsonl"
    wait_for(
        lambda: metrics.exists() and metrics.read_text().count("\n") == 2,
        what="the first run to log two epochs",
    )
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    wait_for_status(folder, ("INTERRUPTED",), timeout=60)
    hold.unlink()
    release_requeued(job_id)
    wait_for_status(folder, ("SUCCESS", "ERROR"), timeout=180)
    assert read_status(folder)[0] == "SUCCESS"

    rows = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [(r["_step"], r.get("_attempt"), r["loss"]) for r in rows] == [
        (0, None, 1.0),
        (1, None, 0.5),
        (0, 2, 2.0),
        (1, 2, 1.5),
    ]
    assert len(read_json(folder / "metadata.json")["resumes"]) == 1
    latest = ExperimentReader(folder).metrics
    assert latest["_step"].tolist() == [0, 1]
    assert latest["loss"].tolist() == [2.0, 1.5]


def test_cancel_marks_running_and_pending_points_cancelled(project):
    project.hold(0.1)
    project.hold(0.2)
    sweep = slurm_sweep(
        project,
        f"name: cancel-me\nargs:\n  markers: {project.markers}\n"
        "grid:\n  lr: [0.1, 0.2]\n",
        array_parallelism=1,  # the second task is still pending when we cancel
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    running, pending = project.experiment_folders()
    wait_for_status(running, ("RUNNING",))
    assert read_status(pending)[0] == "QUEUED"

    result = run_cli("cancel", "cancel-me", cwd=project.root)
    assert result.returncode == 0, result.stderr
    assert "cancelled 2 points" in result.stdout
    assert read_status(running)[0] == "CANCELLED"
    assert read_status(pending)[0] == "CANCELLED"
    status = run_cli("status", "cancel-me", cwd=project.root)
    assert "2 cancelled" in status.stdout


def test_a_job_cancelled_behind_our_back_gets_an_honest_status(project):
    """A job SLURM ended before it ever ran leaves no QUEUED folder behind."""
    project.hold(0.1)
    sweep = slurm_sweep(
        project,
        f"name: scancelled\nargs:\n  markers: {project.markers}\n"
        "grid:\n  lr: [0.1, 0.2]\n",
        array_parallelism=1,
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    record = sweep_record(project)
    first, second = project.experiment_folders()
    wait_for_status(first, ("RUNNING",))
    subprocess.run(["scancel", record["points"][1]["job-ids"][0]], check=True)
    (project.markers / "lr-0.1.hold").unlink()
    wait_for_status(first, ("SUCCESS",))

    seen = []

    def reports_the_cancelled_job():
        seen.append(run_cli("status", "scancelled", cwd=project.root))
        return "1 cancelled" in seen[-1].stdout and seen[-1]

    try:
        status = wait_for(
            reports_the_cancelled_job, what="status to report the cancelled job"
        )
    except AssertionError as error:
        last = seen[-1] if seen else None
        raise AssertionError(
            f"{error}; status said last:\n{last.stdout if last else ''}"
            f"{last.stderr if last else ''}\nsacct: "
            + subprocess.run(
                [
                    "sacct",
                    "-n",
                    "-P",
                    "-o",
                    "JobID,State,ExitCode",
                    "-j",
                    str(record["points"][1]["job-ids"][0]).split("_")[0],
                ],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
        ) from None
    assert "1 succeeded" in status.stdout
    word, message = read_status(second)
    assert word == "CANCELLED"
    assert "was cancelled before it started" in message


def test_resume_resubmits_only_the_failed_points_into_their_folders(project):
    project.fail(0.01)
    sweep = slurm_sweep(
        project,
        f"name: flaky\nargs:\n  markers: {project.markers}\ngrid:\n  lr: [0.1, 0.01]\n",
    )
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 1
    good, bad = project.experiment_folders()
    assert read_status(good)[0] == "SUCCESS"
    assert read_status(bad)[0] == "ERROR"
    first_array = sweep_record(project)["submissions"][0]["slurm-job-id"]
    states = final_sacct_states(first_array, 2)
    assert states == {f"{first_array}_0": "COMPLETED", f"{first_array}_1": "FAILED"}
    good_metadata = (good / "metadata.json").read_text()

    (project.markers / "lr-0.01.fail").unlink()
    resumed = run_cli("resume", "flaky", "--wait", cwd=project.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    record = sweep_record(project)
    assert record["submissions"][-1]["points"] == [1]
    assert len(record["points"][1]["job-ids"]) == 2
    assert read_status(bad)[0] == "SUCCESS"
    metadata = read_json(bad / "metadata.json")
    assert len(metadata["resumes"]) == 1
    # a single resubmitted point is a plain job, not an array
    assert metadata["slurm"]["job-id"] == record["points"][1]["job-ids"][-1]
    assert (good / "metadata.json").read_text() == good_metadata
    assert [f.name for f in project.experiment_folders()] == [good.name, bad.name]


def test_a_preempted_job_is_checkpointed_requeued_and_resumed(project):
    """SLURM's warning signal (USR2, as before a preemption or the time limit)
    makes submitit checkpoint the job: the command is stopped so it records
    INTERRUPTED, the job is requeued and resumes the same folder."""
    job_id, folder = start_held_point(project, "preempt")
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    release_and_expect_resumed(project, job_id, folder)


def test_past_max_requeues_a_timed_out_job_says_it_was_not_requeued(project):
    project.hold(0.1)
    sweep = project.write_sweep(
        "executor: slurm\nmax_requeues: 0\n"
        # with a 1 minute limit submitit counts any warning signal as a timeout
        "slurm:\n  cpus_per_task: 1\n  timeout_min: 1\n"
        f"args:\n  markers: {project.markers}\ngrid:\n  lr: [0.1]\n"
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    (job_id,) = sweep_record(project)["points"][0]["job-ids"]
    (folder,) = project.experiment_folders()
    wait_until_train_py_runs(folder)

    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    wait_for_status(folder, ("ERROR",), timeout=60)
    _, message = read_status(folder)
    assert "not requeued" in message and "timed-out too many times" in message
    assert "INTERRUPTED" in message  # what the run itself recorded
    wait_for(lambda: squeue_state(job_id) is None, 60, "the job to end")
