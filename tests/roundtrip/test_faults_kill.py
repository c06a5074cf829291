"""SIGKILL at random moments of a run's start, logging, summaries and resumes
(issue 11): every file left behind parses, the reader says DEAD (or BROKEN
for a folder made moments ago with nothing in it), never RUNNING, and the
folder can be resumed afterwards with nothing recorded lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from helpers.git import write_script
from meticulous_read import Experiments, MeticulousReadWarning

KILLS_PER_PHASE = 6
SEED = int(os.environ.get("METICULOUS_FAULT_SEED", "11"))

VICTIM = """
import sys, time
from meticulous import Experiment
phase, experiment_id = sys.argv[1], sys.argv[2] or None
print("starting", flush=True)
experiment = Experiment({"lr": 0.1}, experiment_id=experiment_id)
print("ready", flush=True)
step = 0
while True:
    if phase in ("log", "start", "resume"):
        experiment.log({"loss": 1.0 / (step + 1), "text": "é" * (step % 50)})
    if phase in ("summary", "resume"):
        experiment.summary({"best": step, "nested": {"values": list(range(step % 20))}})
    step += 1
    if phase == "start" and step > 50:
        break
"""

JSON_FILES = ("metadata.json", "args.json", "default_args.json", "summary.json")
WORDS = {"RUNNING", "SUCCESS", "ERROR", "INTERRUPTED"}


@pytest.fixture
def victim(project: Path) -> Path:
    write_script(project, "victim.py", VICTIM)
    return project


def launch(project: Path, phase: str, experiment_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "victim.py", phase, experiment_id],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("METICULOUS_")},
    )


def kill_after(process: subprocess.Popen[str], delay: float, *, marker: str) -> None:
    """SIGKILL ``delay`` seconds after the victim printed ``marker``."""
    assert process.stdout is not None
    while (line := process.stdout.readline()) != marker + "\n":
        assert line, process.stderr.read() if process.stderr else ""
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)


def check_files(folder: Path) -> None:
    """Every file a SIGKILL can leave parses as the spec says."""
    for name in JSON_FILES:
        if (folder / name).exists():
            value = json.loads((folder / name).read_text(encoding="utf-8"))
            assert isinstance(value, dict), name
    if (folder / "STATUS").exists():
        assert (folder / "STATUS").read_text().split("\n")[0] in WORDS
    metrics = folder / "metrics.jsonl"
    if metrics.exists():
        lines = metrics.read_bytes().split(b"\n")
        for line in lines[:-1]:  # an unterminated last line may be cut (spec 2)
            assert isinstance(json.loads(line), dict)
    heartbeat = folder / "heartbeat"
    if heartbeat.exists():
        text = heartbeat.read_text()
        assert text == "" or text.split("\n")[1].split()[0] in ("beat", "dead")


def reader_says(directory: Path, experiment_id: str) -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        experiment = Experiments(directory)[experiment_id]
        experiment.metrics  # noqa: B018 - the reader must read them too
        experiment.summary  # noqa: B018
        return experiment.status, experiment.status_message


@pytest.mark.parametrize("phase", ["start", "log", "summary", "resume"])
def test_sigkill_at_random_moments_leaves_files_that_parse(victim, phase):
    rng = random.Random(f"{SEED}-{phase}")
    experiments = victim / "experiments"
    # A first, whole run: how long a start takes here, so that the kills of
    # the start and resume phases land inside it (interpreter start-up, git,
    # the folder, the start files), not only before or after.
    done = launch(victim, "start", "resumed" if phase == "resume" else "")
    assert done.stdout is not None and done.stdout.readline() == "starting\n"
    began = time.monotonic()
    assert done.stdout.readline() == "ready\n"
    startup = time.monotonic() - began  # Experiment(...) alone
    done.communicate(timeout=60)
    assert done.returncode == 0
    outcomes = []
    for index in range(KILLS_PER_PHASE):
        experiment_id = {"resume": "resumed", "start": ""}.get(
            phase, f"{phase}-{index}"
        )
        before = set(os.listdir(experiments)) if experiments.exists() else set()
        process = launch(victim, phase, experiment_id)
        if phase in ("start", "resume"):  # inside Experiment(...), or just after
            kill_after(process, rng.uniform(0.0, 1.3) * startup, marker="starting")
        else:
            kill_after(process, rng.uniform(0.0, 0.2), marker="ready")
        if phase == "start":  # the id it was allocated, if any
            made = (
                set(os.listdir(experiments)) - before if experiments.exists() else set()
            )
            experiment_id = made.pop() if made else ""
        folder = experiments / experiment_id
        if not experiment_id or not folder.exists():  # killed before the folder
            outcomes.append("none")
            continue
        check_files(folder)
        word, message = reader_says(experiments, experiment_id)
        if (folder / "STATUS").exists():
            assert word in ("DEAD", "SUCCESS"), (word, message)
        elif (folder / "metadata.json").exists():  # killed while starting (12.5)
            assert word == "DEAD" and "killed while starting" in message, message
        else:  # made moments ago, nothing in it yet (spec 12.5)
            assert word == "BROKEN" and "being created" in message, (word, message)
        outcomes.append(word)
    # Whatever the kills left, the folders can be run again, losing nothing.
    for experiment_id in sorted(
        {p.name for p in experiments.iterdir()} - {".meticulous"}
    ):
        folder = experiments / experiment_id
        rows_before = _complete_rows(folder)
        again = launch(victim, "start", experiment_id)
        _, stderr = again.communicate(timeout=60)
        assert again.returncode == 0, stderr
        assert reader_says(experiments, experiment_id)[0] == "SUCCESS"
        rows_after = _complete_rows(folder)
        assert rows_after[: len(rows_before)] == rows_before
        steps = [row["_step"] for row in rows_after]
        assert steps == list(range(len(steps)))
        assert not (folder / ".claim").exists()
    assert len(outcomes) == KILLS_PER_PHASE
    if phase != "resume":
        assert outcomes.count("none") < KILLS_PER_PHASE, outcomes  # some hit a run


def _complete_rows(folder: Path) -> list[dict]:
    path = folder / "metrics.jsonl"
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")[:-1]
    return [json.loads(line) for line in lines]
