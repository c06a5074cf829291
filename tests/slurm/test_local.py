"""Sweeps on this machine through submitit's local executor, end to end.

The same sweep file works on a laptop: ``executor: local`` (or ``auto``
without sbatch) runs the points as local jobs, at most ``max_parallel`` at
once, each recorded into the folder reserved for it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from slurm_helpers import (
    read_json,
    read_status,
    run_cli,
    sweep_record,
    wait_for,
    wait_for_status,
)


def test_every_point_is_recorded_in_its_reserved_folder(project):
    sweep = project.write_sweep(
        """\
        name: lr-grid
        executor: local
        max_parallel: 2
        args:
          fast: true
          layers: [8, 4]
        grid:
          lr: [0.1, 0.01]
          batch-size: [32, 64]
        """
    )
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sweep lr-grid: 4 points submitted" in result.stdout
    assert "all 4 points succeeded" in result.stdout

    record = sweep_record(project)
    folders = project.experiment_folders()
    assert [f.name for f in folders] == [p["experiment-id"] for p in record["points"]]
    expected = [(0.1, 32), (0.1, 64), (0.01, 32), (0.01, 64)]
    for index, (folder, (lr, batch_size)) in enumerate(zip(folders, expected)):
        assert f"point {index}  experiment {folder.name}" in result.stdout
        assert read_status(folder)[0] == "SUCCESS"
        args = read_json(folder / "args.json")
        assert (args["lr"], args["batch_size"], args["fast"]) == (lr, batch_size, True)
        assert args["layers"] == [8, 4]
        metadata = read_json(folder / "metadata.json")
        launcher = metadata["launcher"]
        assert launcher["sweep"] == "lr-grid"
        assert launcher["point"] == index
        assert launcher["executor"] == "local"
        assert "train.py version 1" in Path(launcher["submitit-stdout"]).read_text()
        assert metadata["githead-sha"] == record["githead-sha"]
        assert "done" in (folder / "stdout").read_text()


def test_jobs_run_the_submitted_commit_not_later_edits(project):
    project.hold(0.1)  # keep the first point running while we edit
    sweep = project.write_sweep(
        f"""\
        executor: local
        max_parallel: 1
        args:
          markers: {project.markers}
        grid:
          lr: [0.1, 0.2]
        """
    )
    result = run_cli("sweep", str(sweep), cwd=project.root)
    assert result.returncode == 0, result.stderr
    first, second = project.experiment_folders()
    wait_for_status(first, ("RUNNING",))
    # The user edits (and even commits) train.py while the sweep waits.
    train = project.root / "train.py"
    train.write_text(train.read_text().replace("version 1", "version 2"))
    project.commit("edit")
    (project.markers / "lr-0.1.hold").unlink()
    wait_for_status(second, ("SUCCESS", "ERROR"))
    for folder in (first, second):
        assert read_status(folder)[0] == "SUCCESS"
        assert "train.py version 1" in (folder / "stdout").read_text()


def test_a_failing_point_fails_the_wait_and_resume_reruns_only_it(project):
    project.fail(0.01)
    sweep = project.write_sweep(
        f"""\
        executor: local
        args:
          markers: {project.markers}
        grid:
          lr: [0.1, 0.01]
        """
    )
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 1
    assert re.search(r"point 1 \(experiment \d+\) ERROR", result.stdout)
    # --wait returns once the local queue itself has ended, so that a resume
    # right after is taken (not "still running locally")
    sweeps = project.experiments / ".meticulous" / "sweeps"
    queue = read_json(sweeps / sweep_record(project)["name"] / "local-queue.json")
    assert queue["finished"] is True
    good, bad = project.experiment_folders()
    word, message = read_status(bad)
    assert word == "ERROR"
    assert "failing on purpose" in message
    good_metadata = (good / "metadata.json").read_text()

    status = run_cli(
        "status",
        sweep_record(project)["name"],
        "--experiments-directory",
        str(project.experiments),
        cwd=project.root,
    )
    assert status.returncode == 1  # a point did not succeed (cli.py's exit codes)
    assert "1 succeeded, 1 failed" in status.stdout

    (project.markers / "lr-0.01.fail").unlink()
    resumed = run_cli(
        "resume", sweep_record(project)["name"], "--wait", cwd=project.root
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (
        "1 points submitted" in resumed.stdout or "1 point submitted" in resumed.stdout
    )
    assert read_status(bad)[0] == "SUCCESS"
    # the same folder: the first run's output is kept, the resume appended
    stdout = (bad / "stdout").read_text()
    assert stdout.count("train.py version 1") == 2
    assert len(read_json(bad / "metadata.json")["resumes"]) == 1
    # the point that had succeeded was left alone
    assert (good / "metadata.json").read_text() == good_metadata
    assert [f.name for f in project.experiment_folders()] == [good.name, bad.name]


def test_cancel_stops_running_and_queued_points(project):
    project.hold(0.1)
    project.hold(0.2)
    sweep = project.write_sweep(
        f"""\
        name: to-cancel
        executor: local
        max_parallel: 1
        args:
          markers: {project.markers}
        grid:
          lr: [0.1, 0.2]
        """
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    running, queued = project.experiment_folders()
    wait_for_status(running, ("RUNNING",))
    result = run_cli("cancel", "to-cancel", cwd=project.root)
    assert result.returncode == 0, result.stderr
    assert "cancelled 2 points" in result.stdout
    for folder in (running, queued):
        assert read_status(folder)[0] == "CANCELLED"
    assert "the run had reached INTERRUPTED" in read_status(running)[1]
    status = run_cli("status", "to-cancel", cwd=project.root)
    assert "2 cancelled" in status.stdout


def test_a_dirty_repo_is_refused_with_the_changed_files(project):
    sweep = project.write_sweep("executor: local\ngrid:\n  lr: [0.1]\n")
    (project.root / "train.py").write_text(
        "# edited\n" + (project.root / "train.py").read_text()
    )
    result = run_cli("sweep", str(sweep), cwd=project.root)
    assert result.returncode == 2
    assert "uncommitted changes" in result.stderr and "train.py" in result.stderr
    assert project.experiment_folders() == []


def test_allow_dirty_runs_the_working_tree_and_says_so(project):
    sweep = project.write_sweep(
        "executor: local\nallow_dirty: true\ngrid:\n  lr: [0.1]\n"
    )
    train = project.root / "train.py"
    train.write_text(train.read_text().replace("version 1", "version dirty"))
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = project.experiment_folders()
    assert "train.py version dirty" in (folder / "stdout").read_text()
    assert read_json(folder / "metadata.json")["dirty"] is True
    assert "version dirty" in (folder / "dirty.patch").read_text()


def test_dry_run_prints_points_and_sbatch_script_and_reserves_nothing(project):
    sweep = project.write_sweep(
        """\
        executor: slurm
        slurm:
          cpus_per_task: 1
          timeout_min: 10
          array_parallelism: 2
        grid:
          lr: [0.1, 0.01]
          batch-size: [32, 64]
        """
    )
    result = run_cli("sweep", str(sweep), "--dry-run", cwd=project.root)
    assert result.returncode == 0, result.stderr
    assert "nothing reserved, nothing submitted" in result.stdout
    assert "point 3: " in result.stdout and "--lr 0.01 --batch-size 64" in result.stdout
    assert "#SBATCH --array=0-3%2" in result.stdout
    assert "#SBATCH --cpus-per-task=1" in result.stdout
    assert "#SBATCH --time=10" in result.stdout
    assert not project.experiments.exists()


def test_status_of_an_unknown_sweep_is_a_clear_error(project):
    result = run_cli("status", "nope", cwd=project.root)
    assert result.returncode == 2
    assert "no sweep 'nope'" in result.stderr


def test_sweep_returns_at_once_and_status_follows_it(project):
    """Without --wait, sweep returns after submitting; status tells the rest."""
    sweep = project.write_sweep("name: quick\nexecutor: local\ngrid:\n  lr: [0.1]\n")
    result = run_cli("sweep", str(sweep), cwd=project.root)
    assert result.returncode == 0
    assert "follow it: meticulous-slurm status quick" in result.stdout
    (folder,) = project.experiment_folders()
    wait_for_status(folder, ("SUCCESS",))
    status = wait_for(
        lambda: (
            (r := run_cli("status", "quick", cwd=project.root)).stdout.count(
                "1 succeeded"
            )
            and r
        )
    )
    assert (
        "0 queued, 0 running, 1 succeeded, 0 failed, 0 cancelled (of 1)"
        in status.stdout
    )


def test_max_parallel_caps_the_points_running_at_once(project):
    sweep = project.write_sweep(
        "executor: local\nmax_parallel: 1\ngrid:\n  lr: [0.1, 0.2, 0.3]\n"
    )
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = sorted(
        (meta["timestamp"], meta["end-timestamp"])
        for meta in (
            read_json(f / "metadata.json") for f in project.experiment_folders()
        )
    )
    for index in range(1, len(runs)):
        previous_end, start = runs[index - 1][1], runs[index][0]
        assert datetime.fromisoformat(previous_end) <= datetime.fromisoformat(start)


def fake_path(tmp_path: Path, with_sbatch: bool) -> dict:
    """An environment whose PATH holds git (and a fake sbatch when asked)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "git").symlink_to(shutil.which("git"))
    if with_sbatch:
        (bin_dir / "sbatch").write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / "sbatch").chmod(0o755)
    return dict(os.environ, PATH=str(bin_dir))


def test_executor_auto_is_slurm_where_sbatch_exists_else_local(project, tmp_path):
    sweep = project.write_sweep("executor: auto\ngrid:\n  lr: [0.1]\n")
    for with_sbatch, expected in ((False, "executor local"), (True, "executor slurm")):
        environment = fake_path(tmp_path / str(with_sbatch), with_sbatch)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "meticulous_slurm.cli",
                "sweep",
                str(sweep),
                "--dry-run",
            ],
            cwd=project.root,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout


def test_points_wait_in_consecutive_queued_folders_naming_their_point(project):
    """All points are reserved at once, in order, before any of them runs."""
    project.hold(0.1)
    sweep = project.write_sweep(
        f"""\
        name: queued
        executor: local
        max_parallel: 1
        args:
          markers: {project.markers}
        grid:
          lr: [0.1, 0.2, 0.3]
        """
    )
    result = run_cli("sweep", str(sweep), cwd=project.root)
    assert result.returncode == 0, result.stderr
    folders = project.experiment_folders()
    assert [f.name for f in folders] == ["1", "2", "3"]
    assert [p["experiment-id"] for p in sweep_record(project)["points"]] == [
        "1",
        "2",
        "3",
    ]
    wait_for_status(folders[0], ("RUNNING",))
    for index in (1, 2):
        assert read_status(folders[index]) == (
            "QUEUED",
            f"sweep queued point {index}\n",
        )
        assert read_json(folders[index] / "args.json")["lr"] == [0.1, 0.2, 0.3][index]
        assert read_json(folders[index] / "metadata.json")["launcher"]["point"] == index
    assert run_cli("cancel", "queued", cwd=project.root).returncode == 0
    assert [read_status(folder)[0] for folder in folders[1:]] == ["CANCELLED"] * 2
