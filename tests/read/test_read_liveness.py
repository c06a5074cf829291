"""Liveness judged by the heartbeat's content, not a cached stat (spec 12.3),
and folders whose start was cut off judged by age (spec 12.5)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from helpers.synth import write_experiment
from meticulous_read import Experiments, MeticulousReadWarning


def read(directory) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory)


def beat(
    folder, *, age: float, interval: float = 5.0, state: str = "beat", mtime_age=0
):
    """Write a heartbeat of spec 2.7 whose content is ``age`` seconds old and
    whose mtime is ``mtime_age`` seconds old (what a stale cache would say)."""
    moment = time.time() - age
    text = f"node017 4242\n{state} {7:012d} {moment:014.3f} {interval:g}\n"
    path = folder / "heartbeat"
    path.write_text(text)
    stamp = time.time() - mtime_age
    os.utime(path, (stamp, stamp))


@pytest.mark.parametrize(
    ("age", "mtime_age", "interval", "word"),
    [
        (1, 3600, 5, "RUNNING"),  # an old mtime does not matter: the content is fresh
        (65, 0, 5, "RUNNING"),  # within L(5) = 70 s
        (71, 0, 5, "DEAD"),  # a fresh mtime does not matter: the content is old
        (63, 0, 0.5, "DEAD"),  # L(0.5) = 61 s
        (100, 0, 30, "RUNNING"),  # L(30) = 120 s: a slow beat is judged by its interval
    ],
)
def test_heartbeat_content_decides(tmp_path, age, mtime_age, interval, word):
    folder = write_experiment(tmp_path, 1, status="RUNNING", host="elsewhere")
    beat(folder, age=age, mtime_age=mtime_age, interval=interval)
    experiment = read(tmp_path)[1]
    assert experiment.status == word, experiment.status_message
    if word == "DEAD":
        assert "no heartbeat since" in experiment.status_message


def test_a_heartbeat_marked_dead_is_dead_at_once(tmp_path):
    folder = write_experiment(tmp_path, 1, status="RUNNING", host="elsewhere")
    beat(folder, age=0, state="dead")
    experiment = read(tmp_path)[1]
    assert experiment.status == "DEAD"
    assert "without writing STATUS" in experiment.status_message


def test_a_fifo_as_heartbeat_does_not_hang_and_counts_as_missing(tmp_path):
    folder = write_experiment(
        tmp_path, 1, status="RUNNING", host="elsewhere", heartbeat_age=None
    )
    os.mkfifo(folder / "heartbeat")
    experiment = read(tmp_path)[1]
    assert experiment.status == "DEAD"  # started long ago, no usable heartbeat
    assert "no heartbeat file" in experiment.status_message


def test_an_unreaped_zombie_on_this_host_is_dead(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while b") Z " not in Path(f"/proc/{child.pid}/stat").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        folder = write_experiment(
            tmp_path, 1, status="RUNNING", host=os.uname().nodename, pid=child.pid
        )
        beat(folder, age=0)
        experiment = read(tmp_path)[1]
        assert experiment.status == "DEAD"
        assert f"process {child.pid}" in experiment.status_message
    finally:
        child.wait()


@pytest.mark.parametrize(("age", "word"), [(5, "BROKEN"), (3600, "DEAD")])
def test_a_folder_without_status_is_dead_once_old(tmp_path, age, word):
    folder = tmp_path / "3"
    folder.mkdir()
    (folder / ".lock").touch()
    stamp = time.time() - age
    os.utime(folder, (stamp, stamp))
    experiment = read(tmp_path)[3]
    assert experiment.status == word
    if word == "DEAD":
        assert "never started" in experiment.status_message
    else:
        assert "being created" in experiment.status_message


def test_a_folder_killed_after_its_args_is_dead_once_old(tmp_path):
    folder = tmp_path / "4"
    folder.mkdir()
    (folder / "args.json").write_text("{}")
    (folder / "default_args.json").write_text("{}")
    stamp = time.time() - 3600
    os.utime(folder, (stamp, stamp))
    experiment = read(tmp_path)[4]
    assert experiment.status == "DEAD"
    assert "never started" in experiment.status_message


def test_a_folder_killed_after_its_metadata_is_judged_by_liveness(tmp_path):
    folder = write_experiment(tmp_path, 5, status=None, host="elsewhere")
    beat(folder, age=3600)
    experiment = read(tmp_path)[5]
    assert experiment.status == "DEAD"
    assert "killed while starting" in experiment.status_message
    beat(folder, age=0)
    assert read(tmp_path)[5].status == "BROKEN"  # alive: it may still start
