"""Resuming an experiment, refusing mismatched resumes, and the folder lock."""

from __future__ import annotations

import json

import pytest
from record_helpers import (
    commit_all,
    read_json,
    run,
    snapshot,
    start,
    status_of,
    wait_for,
    write_script,
)

SCRIPT = """\
    import argparse, sys, time
    from meticulous import Experiment
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--wait", action="store_true")
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    print("run in", experiment.experiment_id, flush=True)
    experiment.log({"loss": 1.0})
    experiment.log({"loss": 0.5})
    experiment.summary({"runs": experiment.experiment_id})
    if parser.parse_args().wait:
        time.sleep(60)
"""


@pytest.fixture
def trainer(project):
    write_script(project, "train.py", SCRIPT)
    return project


def test_existing_id_resumes_appending_output_and_metrics(trainer):
    first = run(trainer, "train.py", "--experiment-id", "baseline")
    assert first.returncode == 0, first.stderr
    folder = trainer / "experiments" / "baseline"
    started = read_json(folder / "metadata.json")["timestamp"]
    second = run(trainer, "train.py", "--experiment-id", "baseline")
    assert second.returncode == 0, second.stderr
    assert status_of(folder) == ("SUCCESS", "")
    assert (folder / "stdout").read_text() == "run in baseline\nrun in baseline\n"
    steps = [json.loads(line)["_step"] for line in (folder / "metrics.jsonl").open()]
    assert steps == [0, 1, 2, 3]  # continues after the resume
    metadata = read_json(folder / "metadata.json")
    assert metadata["timestamp"] == started  # the start of the first run is kept
    assert len(metadata["resumes"]) == 1
    resume = metadata["resumes"][0]
    assert set(resume) == {"timestamp", "host", "pid", "command"}
    assert resume["command"] == ["train.py", "--experiment-id", "baseline"]
    assert resume["timestamp"] > started
    assert metadata["exit-code"] == 0
    assert sorted(p.name for p in (trainer / "experiments").iterdir()) == ["baseline"]


def test_resume_with_other_args_is_refused_without_changing_a_file(trainer):
    assert run(trainer, "train.py", "--experiment-id", "7").returncode == 0
    before = snapshot(trainer / "experiments")
    done = run(trainer, "train.py", "--experiment-id", "7", "--lr", "0.5")
    assert done.returncode == 1
    assert "MismatchedArgsException" in done.stderr
    assert "lr: recorded 0.1, now 0.5" in done.stderr
    assert snapshot(trainer / "experiments") == before


def test_resume_at_another_commit_is_refused_without_changing_a_file(trainer):
    assert run(trainer, "train.py", "--experiment-id", "7").returncode == 0
    (trainer / "model.py").write_text("LAYERS = 5\n")
    commit_all(trainer, "Deeper")
    before = snapshot(trainer / "experiments")
    done = run(trainer, "train.py", "--experiment-id", "7")
    assert done.returncode == 1
    assert "MismatchedCommitException" in done.stderr
    assert snapshot(trainer / "experiments") == before


@pytest.mark.parametrize(
    "content", [b'{"githead-sha": "abc", "timest', b"[1, 2]", b"\xff\xfe{}"]
)
def test_resume_of_an_unreadable_metadata_is_refused_without_changing_a_file(
    trainer, content
):
    assert run(trainer, "train.py", "--experiment-id", "7").returncode == 0
    (trainer / "experiments" / "7" / "metadata.json").write_bytes(content)
    before = snapshot(trainer / "experiments")
    done = run(trainer, "train.py", "--experiment-id", "7")
    assert done.returncode == 1
    assert "InvalidExperimentError" in done.stderr
    assert "cannot resume experiment 7" in done.stderr
    assert str(trainer / "experiments" / "7" / "metadata.json") in done.stderr
    assert snapshot(trainer / "experiments") == before


def test_resume_flag_finds_the_matching_experiment_or_starts_one(trainer):
    assert run(trainer, "train.py", "--lr", "0.1").returncode == 0  # 1
    assert run(trainer, "train.py", "--lr", "0.2").returncode == 0  # 2
    again = run(trainer, "train.py", "--lr", "0.1", "--resume")
    assert again.stdout == "run in 1\n"
    fresh = run(trainer, "train.py", "--lr", "0.3", "--resume")
    assert fresh.stdout == "run in 3\n"
    (trainer / "model.py").write_text("LAYERS = 5\n")
    commit_all(trainer, "Deeper")
    other_commit = run(trainer, "train.py", "--lr", "0.1", "--resume")
    assert other_commit.stdout == "run in 4\n"
    assert (
        len(read_json(trainer / "experiments" / "1" / "metadata.json")["resumes"]) == 1
    )


def test_two_processes_never_run_the_same_folder(trainer):
    running = start(trainer, "train.py", "--experiment-id", "shared", "--wait")
    stdout = trainer / "experiments" / "shared" / "stdout"
    summary = stdout.parent / "summary.json"
    wait_for(summary.exists)  # the first run's last write before it sleeps
    before = snapshot(trainer / "experiments" / "shared")
    second = run(trainer, "train.py", "--experiment-id", "shared", "--wait")
    assert second.returncode == 1
    assert "ExperimentLockedException" in second.stderr
    after = snapshot(trainer / "experiments" / "shared")
    for beaten in ("heartbeat", ".claim"):  # the running process beats them
        after.pop(beaten, None)
        before.pop(beaten, None)
    assert after == before
    running.terminate()
    running.communicate(timeout=30)
    assert status_of(trainer / "experiments" / "shared")[0] == "INTERRUPTED"
    # Once the first process is gone, the folder can be resumed.
    resumed = start(trainer, "train.py", "--experiment-id", "shared", "--wait")
    wait_for(lambda: stdout.read_text().count("run in") == 2)
    resumed.terminate()
    resumed.communicate(timeout=30)
    metadata = read_json(trainer / "experiments" / "shared" / "metadata.json")
    assert metadata["resumes"][0]["pid"] == resumed.pid
