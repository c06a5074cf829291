"""What the recorder writes, the reader reads back: the spec is the only thing they share."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import meticulous_read
from roundtrip_helpers import run_train


def test_every_outcome_reads_back_with_its_status_args_and_summary(project: Path):
    assert run_train(project, "--lr", "0.1").returncode == 0
    assert run_train(project, "--lr", "0.2", "--mode", "raise").returncode == 1
    assert run_train(project, "--lr", "0.3", "--mode", "exit3").returncode == 3

    experiments = meticulous_read.Experiments(project / "experiments")
    assert len(experiments) == 3
    frame = experiments.as_dataframe()
    assert list(frame["status"]) == ["SUCCESS", "ERROR", "ERROR"]
    assert list(frame["args.lr"]) == [0.1, 0.2, 0.3]
    assert list(frame["summary.loss"]) == [0.05, 0.1, 0.15]
    assert "RuntimeError: boom at the end" in experiments["2"].status_message
    assert "exit code 3" in experiments["3"].status_message
    sha = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    assert set(frame["sha"].str[:7]) == {sha[:7]}


def test_metrics_and_output_written_by_the_recorder_are_the_readers_metrics(
    project: Path,
):
    run_train(project, "--lr", "0.5")
    experiment = meticulous_read.Experiments(project / "experiments")["1"]
    metrics = experiment.metrics
    assert list(metrics["loss"]) == [0.5, 0.25, 0.5 / 3]
    assert "trained with 0.5" in experiment.stdout


def test_a_killed_run_is_reported_dead_never_running(project: Path):
    process = subprocess.Popen(
        [sys.executable, "train.py", "--mode", "hang"],
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().startswith("trained with")
        assert process.stdout.readline().strip() == "ready"
        running = meticulous_read.Experiments(project / "experiments", cache=False)
        assert running["1"].status == "RUNNING"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert (project / "experiments" / "1" / "STATUS").read_text().startswith("RUNNING")
    after = meticulous_read.Experiments(project / "experiments", cache=False)
    assert after["1"].status == "DEAD"


def test_listing_shows_a_new_summary_even_after_a_cached_listing(project: Path):
    run_train(project, "--lr", "0.1")
    folder = project / "experiments" / "1"
    # Age the folder so the first listing trusts (and caches) what it read.
    for path in [*folder.iterdir(), folder]:
        os.utime(path, (os.stat(path).st_atime, os.stat(path).st_mtime - 3600))
    first = subprocess.run(
        ["meticulous", "experiments", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    # A writer replaces summary.json atomically (spec §2); the cache must not hide it.
    assert [row["summary.loss"] for row in json.loads(first.stdout)] == [0.05]
    (folder / ".summary.json.tmp").write_text(json.dumps({"loss": 123.0}))
    os.replace(folder / ".summary.json.tmp", folder / "summary.json")
    second = subprocess.run(
        ["meticulous", "experiments", "--json"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == 0, second.stderr
    assert [row["summary.loss"] for row in json.loads(second.stdout)] == [123.0]
