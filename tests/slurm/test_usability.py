"""What a user sees: paths, names, errors where they look, command-line sweeps,
exit codes, broken pipes, attempts, ``resume --code head``. All local runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from meticulous_slurm.cli import main
from slurm_helpers import (
    git,
    read_json,
    read_status,
    run_cli,
    sweep_record,
    wait_for_status,
)

LOCAL = "executor: local\n"


def dry_run(capsys, monkeypatch, cwd: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    code = main(["sweep", "--dry-run", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------ paths
def test_a_sweep_file_in_a_subfolder_runs_from_the_repository_root(
    project, capsys, monkeypatch
):
    (project.root / "sweeps").mkdir()
    sweep = project.write_sweep(
        LOCAL + "name: sub\ngrid:\n  lr: [0.1, 0.2]\n", name="sweeps/grid.yaml"
    )
    code, out, _ = dry_run(capsys, monkeypatch, project.root / "sweeps", str(sweep))
    assert code == 0
    assert f"project directory: {project.root}\n" in out
    assert f"experiments directory: {project.experiments}\n" in out
    assert f"sweep file: {sweep}\n" in out
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root / "sweeps")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [read_status(f)[0] for f in project.experiment_folders()] == ["SUCCESS"] * 2
    assert not (project.root / "sweeps" / "experiments").exists()


def test_dry_run_warns_when_the_script_is_not_in_the_project(
    project, capsys, monkeypatch
):
    sweep = project.write_sweep(
        f"command: {sys.executable} nothere.py\n" + LOCAL, name="missing.yaml"
    )
    sweep.write_text(sweep.read_text().split("\n", 1)[1])  # drop the helper's command
    project.commit("missing")
    code, out, _ = dry_run(capsys, monkeypatch, project.root, str(sweep))
    assert code == 0
    assert f"warning: nothere.py is not in the project directory {project.root}" in out


# ------------------------------------------------------------------ one column
def test_reserved_and_claimed_folders_record_the_same_names_and_types(project):
    project.hold(0.001)
    sweep = project.write_sweep(
        LOCAL + "name: cols\nmax_parallel: 1\n"
        f"args:\n  markers: {project.markers}\n"
        "grid:\n  lr: [1e-3, 2e-3]\n  batch-size: [32]\n"
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    first, second = project.experiment_folders()
    reserved = read_json(second / "args.json")  # not started: max_parallel 1
    assert read_status(second)[0] == "QUEUED"
    assert reserved == {"markers": str(project.markers), "lr": 0.002, "batch_size": 32}
    (project.markers / "lr-0.001.hold").unlink()
    wait_for_status(second, ("SUCCESS",))
    claimed = read_json(first / "args.json")
    assert {k: claimed[k] for k in reserved} == {
        "markers": str(project.markers),
        "lr": 0.001,
        "batch_size": 32,
    }


# ------------------------------------------------------------------ errors
def test_a_job_failing_before_it_records_shows_its_stderr_and_log(project):
    sweep = project.write_sweep(LOCAL + "name: typo\nargs:\n  lrr: 0.1\n")
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 1
    assert "unrecognized arguments: --lrr 0.1" in result.stdout
    (folder,) = project.experiment_folders()
    word, message = read_status(folder)
    assert word == "ERROR"
    assert "the end of its stderr:" in message
    log = message.rsplit("log: ", 1)[1].strip()
    assert "unrecognized arguments" in Path(log).read_text()
    stderr = (folder / "stderr").read_text()
    assert "unrecognized arguments: --lrr 0.1" in stderr and log in stderr
    assert read_json(folder / "metadata.json")["launcher"]["submitit-stderr"] == log
    status = run_cli("status", "typo", cwd=project.root)
    assert status.returncode == 1
    assert f"log: {log}" in status.stdout


# ------------------------------------------------------------------ command line
def test_a_sweep_without_a_file_expands_comma_lists_into_a_grid(project):
    result = run_cli(
        "sweep",
        "--wait",
        "--name",
        "cli",
        "--set",
        "executor=local",
        "--",
        sys.executable,
        "train.py",
        "--lr",
        "0.1,0.01",
        "--batch-size",
        "32,64",
        "--fast",
        cwd=project.root,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 points submitted to this machine" in result.stdout
    args = [read_json(f / "args.json") for f in project.experiment_folders()]
    assert [(a["lr"], a["batch_size"], a["fast"]) for a in args] == [
        (0.1, 32, True),
        (0.1, 64, True),
        (0.01, 32, True),
        (0.01, 64, True),
    ]
    record = sweep_record(project)
    assert record["sweep-file"] is None
    assert "grid:" in record["sweep-file-text"]


def test_slurm_and_set_options_override_the_file(project, capsys, monkeypatch):
    sweep = project.write_sweep("executor: slurm\ngrid:\n  lr: [0.1, 0.2]\n")
    code, out, _ = dry_run(
        capsys,
        monkeypatch,
        project.root,
        str(sweep),
        "--set",
        "grid.lr=[0.5]",
        "--slurm",
        "partition=debug,timeout_min=60",
    )
    assert code == 0
    assert "1 point, executor slurm" in out
    assert "--lr 0.5" in out
    assert "#SBATCH --time=60" in out
    assert "#SBATCH --partition=debug" in out
    code, _, err = dry_run(
        capsys, monkeypatch, project.root, str(sweep), "--slurm", "timeout_min=soon"
    )
    assert code == 2
    assert (
        "--set slurm.timeout_min: slurm.timeout_min: must be a positive integer" in err
    )


# ------------------------------------------------------------------ small items
def test_version_json_plurals_names_and_the_signal_delay_warning(
    project, capsys, monkeypatch
):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("meticulous-slurm 0.")
    sweep = project.write_sweep(
        "executor: slurm\nslurm:\n  timeout_min: 1\n  signal_delay_s: 90\n"
    )
    code, out, err = dry_run(capsys, monkeypatch, project.root, str(sweep))
    assert code == 0
    assert "1 point," in out and "1 points" not in out
    assert "signal_delay_s (90 s) is not shorter than the time limit (1 min)" in err
    job_name = next(
        line for line in out.splitlines() if line.startswith("#SBATCH --job-name=")
    )
    assert len(job_name.split("=", 1)[1]) <= 8  # squeue's default width
    code, out, err = dry_run(
        capsys, monkeypatch, project.root, str(sweep), "--name", "../../escape"
    )
    assert code == 2
    assert "invalid sweep name '../../escape'" in err


def test_status_json_and_exit_codes_follow_the_points(project):
    project.hold(0.1)
    sweep = project.write_sweep(
        LOCAL + f"name: codes\nargs:\n  markers: {project.markers}\n"
        "grid:\n  lr: [0.1, 0.2]\n"
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    running = run_cli("status", "codes", "--json", cwd=project.root)
    assert running.returncode == 3  # nothing failed, not done
    (project.markers / "lr-0.1.hold").unlink()
    project.fail(0.2)
    assert run_cli("resume", "codes", cwd=project.root).returncode == 2  # still running
    done = run_cli("sweep", str(sweep), "--name", "codes2", "--wait", cwd=project.root)
    assert done.returncode == 1
    report = json.loads(run_cli("status", "codes2", "--json", cwd=project.root).stdout)
    assert report["counts"]["succeeded"] == 1 and report["counts"]["failed"] == 1
    failed = next(p for p in report["points"] if p["category"] == "failed")
    assert failed["status"] == "ERROR" and "failing on purpose" in failed["message"]


def test_a_reader_that_goes_away_is_not_an_error(project):
    sweep = project.write_sweep(LOCAL + "name: pipe\ngrid:\n  lr: [0.1, 0.2, 0.3]\n")
    command = [sys.executable, "-m", "meticulous_slurm.cli"]
    for args in (
        ["sweep", str(sweep), "--wait"],
        ["status", "pipe", "--all"],
        ["sweep", str(sweep), "--dry-run", "--name", "other"],
    ):
        piped = subprocess.run(
            [
                "bash",
                "-c",
                " ".join(f"'{a}'" for a in command + args)
                + " | head -1 >/dev/null; echo ${PIPESTATUS[0]}",
            ],
            cwd=project.root,
            capture_output=True,
            text=True,
            check=False,
        )
        # status may still see running points (3); nothing may fail on the pipe
        assert piped.stdout.strip() in ("0", "3"), (args, piped.stdout, piped.stderr)
        assert piped.stderr == "", piped.stderr


# ------------------------------------------------------------------ attempts
LOGGING_TRAIN = """\
import argparse, os
from meticulous import Experiment
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--markers")
Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
print("train.py version", open("VERSION").read().strip(), flush=True)
for epoch in range(2):
    experiment.log({"loss": 1.0 / (epoch + 1)}, step=epoch)
if os.path.exists(os.path.join(parser.parse_args().markers, "fail")):
    raise RuntimeError("failing on purpose")
"""


def test_resume_is_a_new_attempt_and_says_when_head_moved(project):
    (project.root / "train.py").write_text(LOGGING_TRAIN)
    (project.root / "VERSION").write_text("1\n")
    (project.markers / "fail").write_text("")
    sweep = project.write_sweep(
        LOCAL + f"name: att\nargs:\n  markers: {project.markers}\n  lr: 0.1\n"
    )
    assert run_cli("sweep", str(sweep), "--wait", cwd=project.root).returncode == 1
    (project.root / "VERSION").write_text("2\n")
    head = project.commit("version 2")
    frozen = run_cli("resume", "att", "--wait", cwd=project.root)
    assert frozen.returncode == 1
    assert "HEAD has moved since the sweep was submitted" in frozen.stdout
    (folder,) = project.experiment_folders()
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").open()]
    assert [(r["_step"], r.get("_attempt")) for r in rows] == [
        (0, None),
        (1, None),
        (0, 2),
        (1, 2),
    ]
    assert "train.py version 1" in (folder / "stdout").read_text()

    (project.markers / "fail").unlink()
    moved = run_cli("resume", "att", "--code", "head", "--wait", cwd=project.root)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert f"the points run commit {head[:12]} (HEAD)" in moved.stdout
    old, new = project.experiment_folders()  # a run keeps its commit: a new folder
    assert old == folder
    assert read_status(new)[0] == "SUCCESS"
    assert "train.py version 2" in (new / "stdout").read_text()
    metadata = read_json(new / "metadata.json")
    assert metadata["githead-sha"] == head
    assert metadata["launcher"]["code-sha"] == head
    assert metadata["launcher"]["reruns"] == old.name
    point = sweep_record(project)["points"][0]
    assert point["experiment-id"] == new.name
    assert point["previous-experiment-ids"] == [old.name]
    assert git(project.root, "rev-parse", "HEAD").strip() == head
