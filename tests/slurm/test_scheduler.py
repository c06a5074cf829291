"""Final states that agree with SLURM, and checks before anything is reserved.

Every test here runs against the real cluster (``slurm_cluster``). Each
produces a scheduler ending for real: a partition that does not exist, an
array over MaxArraySize, a request sbatch itself refuses, a job killed by
``scancel`` from outside, one killed at its time limit (TIMEOUT), a batch
script that fails after the run recorded SUCCESS, and a command killed by
the kernel's OOM killer when a job goes over its ``--mem``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from slurm_helpers import (
    read_status,
    run_cli,
    sacct_states,
    sweep_record,
    wait_for,
    wait_for_status,
)

pytestmark = pytest.mark.usefixtures("slurm_cluster")

SLURM = "executor: slurm\nslurm:\n  cpus_per_task: 1\n  timeout_min: 10\n"


def no_reservation_left(project) -> None:
    assert project.experiment_folders() == []
    sweeps = project.experiments / ".meticulous" / "sweeps"
    assert not sweeps.exists() or list(sweeps.iterdir()) == []


def test_an_unknown_partition_is_refused_before_anything_is_reserved(project):
    sweep = project.write_sweep(
        "executor: slurm\nslurm:\n  partition: nosuch\ngrid:\n  lr: [0.1, 0.2]\n"
    )
    for extra in (["--dry-run"], []):
        result = run_cli("sweep", str(sweep), *extra, cwd=project.root)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "partition 'nosuch' does not exist" in result.stderr
        assert "debug" in result.stderr  # the partitions there are
        no_reservation_left(project)


def test_an_array_over_max_array_size_is_refused_in_a_dry_run_too(project):
    limit = int(
        next(
            line.split("=")[1]
            for line in subprocess.run(
                ["scontrol", "show", "config"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
            if line.startswith("MaxArraySize")
        )
    )
    side = int(limit**0.5) + 1  # side * side > limit
    values = ", ".join(str(v) for v in range(side))
    sweep = project.write_sweep(SLURM + f"grid:\n  a: [{values}]\n  b: [{values}]\n")
    for extra in (["--dry-run"], []):
        result = run_cli("sweep", str(sweep), *extra, cwd=project.root)
        assert result.returncode == 2, result.stderr
        assert f"{side * side} points do not fit one job array" in result.stderr
        assert f"MaxArraySize is {limit}" in result.stderr
        no_reservation_left(project)


def test_a_submission_sbatch_refuses_releases_every_reservation(project):
    sweep = project.write_sweep(
        SLURM + "  constraint: no-such-feature\ngrid:\n  lr: [0.1, 0.2, 0.3]\n"
    )
    result = run_cli("sweep", str(sweep), cwd=project.root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SLURM refused the submission" in result.stderr
    assert "3 reserved folders released" in result.stderr
    assert "Traceback" not in result.stderr
    no_reservation_left(project)
    # the ids are never reused: the next sweep's first folder is 4
    ok = project.write_sweep(SLURM + "grid:\n  lr: [0.1]\n", name="ok.yaml")
    assert run_cli("sweep", str(ok), "--wait", cwd=project.root).returncode == 0
    assert [f.name for f in project.experiment_folders()] == ["4"]


# Put first on PATH as ``sbatch``: before the real sbatch runs, it notes how
# many of the reserved folders exist and whether the frozen code is checked
# out. Both must be done before sbatch can start a job; the folders' files
# may still be being written (each job waits for its own, see below).
SBATCH_WITNESS = """\
#!{python}
import json, os, pathlib, sys
experiments = pathlib.Path({experiments!r})
folders = [p for p in experiments.iterdir() if p.name.isdigit()]
code = list(experiments.glob(".meticulous/sweeps/*/code/train.py"))
with open({report!r}, "a") as report:
    report.write(json.dumps({{"folders": len(folders), "code": len(code)}}) + "\\n")
os.execv({sbatch!r}, ["sbatch", *sys.argv[1:]])
"""


def test_the_ids_and_the_code_are_ready_before_sbatch_runs(project, tmp_path):
    import shutil

    shim = tmp_path / "shim"
    shim.mkdir()
    report = tmp_path / "sbatch-report.jsonl"
    (shim / "sbatch").write_text(
        SBATCH_WITNESS.format(
            python=sys.executable,
            experiments=str(project.experiments),
            report=str(report),
            sbatch=shutil.which("sbatch"),
        )
    )
    (shim / "sbatch").chmod(0o755)
    values = ", ".join(str(v) for v in range(300))
    sweep = project.write_sweep(
        SLURM + "  additional_parameters: {hold: true}\n"
        f"name: witnessed\ngrid:\n  lr: [{values}]\n"
    )
    environment = dict(os.environ, PATH=f"{shim}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(
        [sys.executable, "-m", "meticulous_slurm.cli", "sweep", str(sweep)],
        cwd=project.root,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    for line in result.stdout.splitlines():
        if ", array job " in line:  # held: cancel it, nothing needs to run
            subprocess.run(["scancel", line.rsplit(" ", 1)[-1]], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [json.loads(line) for line in report.read_text().splitlines()] == [
        {"folders": 300, "code": 1}
    ]
    # and every folder is whole once the command has returned
    assert [read_status(f)[0] for f in project.experiment_folders()] == ["QUEUED"] * 300


def queued_sweep(name: str) -> bool:
    """Whether squeue lists a job of the sweep ``name`` (by its comment)."""
    listed = subprocess.run(
        ["squeue", "-h", "-o", "%k"], capture_output=True, text=True, check=True
    ).stdout
    return f"meticulous-slurm sweep {name}" in listed.splitlines()


def slow_fill(monkeypatch, seconds: float, fail_at: int | None = None) -> None:
    """Each reserved folder takes ``seconds`` to write, so jobs start while
    the last ones are written; the ``fail_at``-th fails as on a full disk."""
    import time

    from meticulous import reservation
    from meticulous.exceptions import StorageError

    real_fill = reservation._fill_new_folder
    filled = []

    def slowly(folder, contents):
        time.sleep(seconds)
        if len(filled) + 1 == fail_at:
            raise StorageError(28, f"writing {folder / 'args.json'}: No space left")
        real_fill(folder, contents)
        filled.append(folder)

    monkeypatch.setattr(reservation, "_fill_new_folder", slowly)


def test_a_job_that_starts_before_its_folder_is_whole_waits_for_it(
    project, monkeypatch, capsys
):
    """sbatch runs while the last folders are written (launch.py): a job
    started meanwhile waits for its folder before its command can look at
    it, and says so in its log."""
    from meticulous_slurm.cli import main

    slow_fill(monkeypatch, 2.0)
    sweep = project.write_sweep(
        SLURM + "name: early\ngrid:\n  lr: [0.1, 0.2, 0.3, 0.4]\n"
    )
    monkeypatch.chdir(project.root)
    assert main(["sweep", str(sweep), "--wait"]) == 0, capsys.readouterr().err
    folders = project.experiment_folders()
    assert [read_status(folder)[0] for folder in folders] == ["SUCCESS"] * 4
    lrs = [json.loads((f / "args.json").read_text())["lr"] for f in folders]
    assert lrs == [0.1, 0.2, 0.3, 0.4]
    logs = project.experiments.glob(".meticulous/sweeps/early/submitit/*_log.out")
    waited = [
        log for log in logs if "waiting for its reserved folder" in log.read_text()
    ]
    assert waited  # at least the last point's job started before its folder was whole


@pytest.mark.parametrize("seconds", [0, 1.0], ids=["at once", "after sbatch"])
def test_a_folder_that_cannot_be_written_leaves_no_folder_and_no_job(
    project, monkeypatch, capsys, seconds
):
    """The third folder's write fails (a full disk). Written at once, that
    comes before sbatch or after it; at a second a folder, the array is
    submitted by then and its jobs are cancelled. Either way no folder and
    no job are left, and the command says why."""
    from meticulous_slurm.cli import main

    slow_fill(monkeypatch, seconds, fail_at=3)
    name = f"full{seconds:.0f}"
    sweep = project.write_sweep(
        SLURM + f"name: {name}\ngrid:\n  lr: [0.1, 0.2, 0.3, 0.4]\n"
    )
    monkeypatch.chdir(project.root)
    code = main(["sweep", str(sweep)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "reserving experiments for the sweep's points failed" in err
    assert "No space left" in err
    if seconds:
        assert "the 4 submitted jobs were cancelled" in err
    no_reservation_left(project)
    # cancelled: the ones that had started end within seconds (COMPLETING)
    wait_for(lambda: not queued_sweep(name), 60, "no job of the sweep")


def interrupt_the_import(monkeypatch) -> None:
    from meticulous_slurm.slurm_backend import SlurmBackend

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(SlurmBackend, "load", interrupted)


def interrupt_the_pickling(monkeypatch) -> None:
    from meticulous_slurm.record import SweepRecord

    real_point_spec = SweepRecord.point_spec

    def interrupted_at_the_third(self, index):
        if index == 2:
            raise KeyboardInterrupt
        return real_point_spec(self, index)

    monkeypatch.setattr(SweepRecord, "point_spec", interrupted_at_the_third)


@pytest.mark.parametrize(
    "interrupt",
    [interrupt_the_import, interrupt_the_pickling],
    ids=["importing submitit", "pickling the tasks"],
)
def test_a_ctrl_c_before_sbatch_releases_every_folder_and_says_so(
    project, monkeypatch, capsys, interrupt
):
    """A Ctrl-C while submitit is still being imported, or while it pickles
    the tasks (the folders are being reserved meanwhile, reserving.py):
    nothing was submitted, so the reservations and the sweep's folder go.
    During the pickling it used to say "the jobs go on" and leave them."""
    from meticulous_slurm.cli import main

    interrupt(monkeypatch)
    sweep = project.write_sweep(
        SLURM + "name: stopped\ngrid:\n  lr: [0.1, 0.2, 0.3, 0.4]\n"
    )
    monkeypatch.chdir(project.root)
    assert main(["sweep", str(sweep)]) == 130
    assert capsys.readouterr().err == (
        "meticulous-slurm: interrupted before anything was submitted; "
        "the reserved folders were removed\n"
    )
    no_reservation_left(project)
    assert not list(project.experiments.glob(".meticulous/sweeps/stopped"))
    assert not queued_sweep("stopped")


def test_a_job_killed_from_outside_is_cancelled_not_failed(project):
    project.hold(0.1)
    sweep = project.write_sweep(
        SLURM + f"name: killed\nargs:\n  markers: {project.markers}\n  lr: 0.1\n"
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    (folder,) = project.experiment_folders()
    wait_for_status(folder, ("RUNNING",))
    job_id = sweep_record(project)["points"][0]["job-ids"][0]
    subprocess.run(["scancel", job_id], check=True)
    status = wait_for(
        lambda: (
            (r := run_cli("status", "killed", cwd=project.root))
            and "1 cancelled" in r.stdout
            and r
        ),
        what="status to see the scancel",
    )
    assert status.returncode == 1
    word, message = read_status(folder)
    assert word == "CANCELLED"
    assert f"slurm job {job_id} was cancelled while it ran" in message


STUBBORN = """\
import argparse, signal, time
from meticulous import Experiment
parser = argparse.ArgumentParser()
Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # will not stop before the limit
print("working", flush=True)
time.sleep(600)
"""


def test_a_job_killed_at_its_time_limit_ends_timeout_never_success(project):
    (project.root / "stubborn.py").write_text(STUBBORN)
    project.commit("stubborn")
    sweep = project.root / "timeout.yaml"
    sweep.write_text(
        f"command: {sys.executable} stubborn.py\nname: slow\nexecutor: slurm\n"
        "max_requeues: 0\nslurm:\n  timeout_min: 1\n  signal_delay_s: 5\n"
        # the runner waits for the stubborn command past the limit, so SLURM
        # (not submitit) ends the job
        "  setup: ['export METICULOUS_SLURM_STOP_GRACE_S=600']\n"
    )
    project.commit("timeout sweep")
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "(slurm: TIMEOUT)" in result.stdout
    (folder,) = project.experiment_folders()
    word, message = read_status(folder)
    assert word == "ERROR"
    assert "TIMEOUT" in message
    status = run_cli("status", "slow", "--json", cwd=project.root)
    assert status.returncode == 1
    (point,) = json.loads(status.stdout)["points"]
    assert (point["category"], point["status"], point["scheduler"]) == (
        "failed",
        "ERROR",
        "TIMEOUT",
    )


def test_a_job_that_fails_after_the_run_recorded_success_is_not_a_success(project):
    # submitit's teardown runs after the job's step in the batch script; its
    # failure fails the job in SLURM while the folder already says SUCCESS.
    sweep = project.write_sweep(
        SLURM + "  teardown: ['exit 3']\nname: late\nargs:\n  lr: 0.1\n"
    )
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 1, result.stdout + result.stderr
    (folder,) = project.experiment_folders()
    word, message = read_status(folder)
    assert word == "ERROR"
    assert "ended FAILED" in message and "after the run recorded SUCCESS" in message
    job_id = sweep_record(project)["points"][0]["job-ids"][0]
    assert sacct_states(job_id)[job_id] == "FAILED"
    status = run_cli("status", "late", cwd=project.root)
    assert status.returncode == 1
    assert "ERROR (slurm: FAILED)" in status.stdout


HOG = """\
import argparse
from meticulous import Experiment
parser = argparse.ArgumentParser()
Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
print("allocating", flush=True)
hog = bytearray(1024 * 1024 * 1024)  # 1 GiB, four times the job's --mem
print("survived", len(hog), flush=True)
"""


def test_a_job_over_its_memory_is_oom_killed_and_ends_out_of_memory(project):
    """A real OOM kill: the cluster enforces each job's ``--mem`` with a
    memory cgroup (task/cgroup, ConstrainRAMSpace, .ci/slurm/setup.sh), the
    kernel kills the command, and SLURM records OUT_OF_MEMORY."""
    config = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, check=True
    ).stdout
    if "task/cgroup" not in config:
        missing = "the cluster does not enforce memory (TaskPlugin is not task/cgroup)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the OOM test to run: {missing}")
        pytest.skip(missing)
    (project.root / "hog.py").write_text(HOG)
    project.commit("hog")
    sweep = project.root / "oom.yaml"
    sweep.write_text(
        f"command: {sys.executable} hog.py\nname: oom\nexecutor: slurm\n"
        "max_requeues: 0\nslurm:\n  mem_gb: 0.25\n"
    )
    project.commit("oom sweep")
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "(slurm: OUT_OF_MEMORY)" in result.stdout
    (folder,) = project.experiment_folders()
    job_id = sweep_record(project)["points"][0]["job-ids"][0]
    word, message = read_status(folder)
    assert word == "ERROR"
    assert message.startswith(f"slurm job {job_id} ended OUT_OF_MEMORY (step 0)")
    assert "killed by SIGKILL" in message and "out of memory" in message
    assert "survived" not in (folder / "stdout").read_text()
    steps = subprocess.run(
        ["sacct", "-n", "-P", "-j", job_id, "-o", "JobID,State"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # the step the command ran in; the job itself says FAILED (its batch
    # step failed after it), which the adapter reads past
    assert f"{job_id}.0|OUT_OF_MEMORY" in steps.splitlines(), steps
    status = run_cli("status", "oom", "--json", cwd=project.root)
    assert status.returncode == 1
    (point,) = json.loads(status.stdout)["points"]
    assert (point["category"], point["status"], point["scheduler"]) == (
        "failed",
        "ERROR",
        "OUT_OF_MEMORY",
    )
    shown = run_cli("status", "oom", cwd=project.root)
    assert shown.returncode == 1 and "ERROR (slurm: OUT_OF_MEMORY)" in shown.stdout


def test_a_job_failing_before_it_records_puts_its_stderr_where_users_look(
    project, capsys
):
    sweep = project.write_sweep(SLURM + "name: typo\nargs:\n  lrr: 0.1\n")
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 1
    (folder,) = project.experiment_folders()
    word, message = read_status(folder)
    assert word == "ERROR"
    assert "unrecognized arguments: --lrr 0.1" in message
    log = message.rsplit("log: ", 1)[1].strip()
    assert Path(log).is_file() and log.endswith(".err")
    assert "unrecognized arguments" in (folder / "stderr").read_text()
    status = run_cli("status", "typo", cwd=project.root)
    assert f"log: {log}" in status.stdout
    # the reader's view of the same folder: the log's path and the error
    from meticulous_read.cli import main as meticulous

    assert meticulous(["show", str(project.experiments), folder.name]) == 0
    shown = capsys.readouterr().out
    assert "ERROR" in shown
    assert log in shown
    stderr_part = shown.split("stderr", 1)[1]
    assert "unrecognized arguments: --lrr 0.1" in stderr_part


def test_an_account_or_qos_the_cluster_does_not_know_is_refused_first(project):
    for key, value, expected in (
        ("account", "nosuchaccount", "account 'nosuchaccount' is not one of yours"),
        ("qos", "nosuchqos", "QOS 'nosuchqos' does not exist"),
    ):
        sweep = project.write_sweep(
            f"executor: slurm\nslurm:\n  {key}: {value}\ngrid:\n  lr: [0.1]\n",
            name=f"{key}.yaml",
        )
        for extra in (["--dry-run"], []):
            result = run_cli("sweep", str(sweep), *extra, cwd=project.root)
            assert result.returncode == 2, result.stdout + result.stderr
            assert expected in result.stderr
            no_reservation_left(project)


def other_launchers_reservations(directory: Path, count: int) -> list[str]:
    from meticulous import reserve_experiments

    return reserve_experiments(
        str(directory),
        [{"other": index} for index in range(count)],
        launcher={"name": "another-launcher"},
    )


def another_launcher_comes_first(monkeypatch) -> list[str]:
    """Right after the sweep's forecast of its ids, another launcher reserves
    two folders; returns their ids (filled in once that has happened)."""
    from meticulous_slurm import launch

    forecast = launch.expected_ids
    others: list[str] = []

    def another_launcher_first(directory, count):
        expected = forecast(directory, count)
        others.extend(other_launchers_reservations(directory, 2))
        return expected

    monkeypatch.setattr(launch, "expected_ids", another_launcher_first)
    return others


def test_ids_another_launcher_took_meanwhile_are_never_used(
    project, monkeypatch, capsys
):
    """The tasks are pickled with the ids the allocation is expected to give
    while it runs (launch.py). Here another launcher reserves two folders
    between that forecast and the allocation: the tasks are pickled again,
    every job runs in its own sweep's folder, and the other launcher's
    reservations are left as they were."""
    from meticulous_slurm.cli import main

    others = another_launcher_comes_first(monkeypatch)
    sweep = project.write_sweep(SLURM + "name: raced\ngrid:\n  lr: [0.1, 0.2, 0.3]\n")
    monkeypatch.chdir(project.root)
    assert main(["sweep", str(sweep), "--wait"]) == 0, capsys.readouterr().err
    assert others == ["1", "2"]
    record = sweep_record(project)
    assert [p["experiment-id"] for p in record["points"]] == ["3", "4", "5"]
    for experiment_id in others:
        folder = project.experiments / experiment_id
        assert read_status(folder)[0] == "QUEUED"
        assert json.loads((folder / "args.json").read_text())["other"] in (0, 1)
    for experiment_id, lr in zip(["3", "4", "5"], [0.1, 0.2, 0.3]):
        folder = project.experiments / experiment_id
        assert read_status(folder)[0] == "SUCCESS"
        assert json.loads((folder / "args.json").read_text())["lr"] == lr
    submitit = Path(record["submitit-folder"])
    pickles = sorted(path.name for path in submitit.glob("*.pkl"))
    # one task per point, and none left over from the first pickling
    assert len([name for name in pickles if name.endswith("_submitted.pkl")]) == 3
    assert all(
        name.startswith(record["points"][0]["job-ids"][0].split("_")[0] + "_")
        for name in pickles
    ), pickles


def test_a_failed_allocation_removes_no_folder_of_another_launcher(
    project, monkeypatch, capsys
):
    """The record holds the expected ids until the allocation answers; when
    it fails instead, the release after it must not take the folders those
    ids name, which here are another launcher's reservations."""
    from meticulous import reservation
    from meticulous.exceptions import StorageError
    from meticulous_slurm import launch
    from meticulous_slurm.cli import main

    others = other_launchers_reservations(project.experiments, 2)
    # The forecast names them, as if they had been reserved just after it.
    monkeypatch.setattr(launch, "expected_ids", lambda directory, count: others)

    def disk_full(directory, count):
        raise StorageError(28, "allocating ids: No space left on device")

    monkeypatch.setattr(reservation, "allocate_ids", disk_full)
    sweep = project.write_sweep(SLURM + "name: full\ngrid:\n  lr: [0.1, 0.2]\n")
    monkeypatch.chdir(project.root)
    assert main(["sweep", str(sweep)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert [folder.name for folder in project.experiment_folders()] == others
    assert all(
        read_status(project.experiments / name)[0] == "QUEUED" for name in others
    )
    assert not list(project.experiments.glob(".meticulous/sweeps/full"))


def test_a_ctrl_c_after_sbatch_lets_the_jobs_go_on_and_keeps_track_of_them(
    project, monkeypatch, capsys
):
    """A Ctrl-C while the last folders are written, once sbatch has run:
    the jobs go on, so the record gets their ids and every folder is
    written all the same (the child ignores the Ctrl-C)."""
    from meticulous_slurm import reserving
    from meticulous_slurm.cli import main

    slow_fill(monkeypatch, 0.5)

    def interrupted(self):
        raise KeyboardInterrupt

    for kind in (reserving.ForkedReservation, reserving.ThreadReservation):
        monkeypatch.setattr(kind, "wait", interrupted)
    sweep = project.write_sweep(
        SLURM + "name: goeson\ngrid:\n  lr: [0.1, 0.2, 0.3, 0.4]\n"
    )
    monkeypatch.chdir(project.root)
    assert main(["sweep", str(sweep)]) == 130
    assert "stopped waiting; the jobs go on" in capsys.readouterr().err
    points = sweep_record(project)["points"]
    assert all(len(point["job-ids"]) == 1 for point in points), points
    for point in points:
        folder = project.experiments / point["experiment-id"]
        assert wait_for_status(folder, ("SUCCESS", "ERROR")) == "SUCCESS"


def test_a_failure_after_another_launcher_came_first_releases_the_real_folders(
    project, monkeypatch, capsys
):
    """Freezing the code fails (here, on purpose) in a sweep whose expected
    ids another launcher took: the folders released are the ones really
    reserved, and the other launcher's are left."""
    from meticulous_slurm import launch
    from meticulous_slurm.cli import main
    from meticulous_slurm.errors import SweepError

    others = another_launcher_comes_first(monkeypatch)

    def cannot_freeze(*args, **kwargs):
        raise SweepError("cannot freeze the code: on purpose")

    monkeypatch.setattr(launch, "make_snapshot", cannot_freeze)
    sweep = project.write_sweep(SLURM + "name: nocode\ngrid:\n  lr: [0.1, 0.2]\n")
    monkeypatch.chdir(project.root)
    assert main(["sweep", str(sweep)]) == 2
    assert "cannot freeze the code: on purpose" in capsys.readouterr().err
    assert [folder.name for folder in project.experiment_folders()] == others
    assert not queued_sweep("nocode")
