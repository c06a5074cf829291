"""Statuses as a reader reports them: DEAD, BROKEN, UNSUPPORTED (spec §2.1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import warnings
from datetime import datetime, timedelta

import pytest
from helpers.synth import UTC, write_experiment
from meticulous_read import Experiments, MeticulousReadWarning


def read(directory) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory)


def dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_running_with_fresh_heartbeat_is_running(tmp_path):
    write_experiment(tmp_path, 1, status="RUNNING", heartbeat_age=1)
    assert read(tmp_path)[1].status == "RUNNING"


def test_running_on_this_host_with_a_dead_pid_is_dead(tmp_path):
    pid = dead_pid()
    write_experiment(
        tmp_path,
        1,
        status="RUNNING",
        host=socket.gethostname(),
        pid=pid,
        heartbeat_age=0,
    )
    experiment = read(tmp_path)[1]
    assert experiment.status == "DEAD"
    assert str(pid) in experiment.status_message


def test_running_on_this_host_with_a_live_pid_is_running(tmp_path):
    write_experiment(
        tmp_path, 1, status="RUNNING", host=socket.gethostname(), pid=os.getpid()
    )
    assert read(tmp_path)[1].status == "RUNNING"


def test_dead_pid_on_another_host_is_not_checked(tmp_path):
    write_experiment(
        tmp_path, 1, status="RUNNING", host="elsewhere", pid=dead_pid(), heartbeat_age=5
    )
    assert read(tmp_path)[1].status == "RUNNING"


def test_stale_heartbeat_on_any_host_is_dead(tmp_path):
    write_experiment(
        tmp_path, 1, status="RUNNING", host="elsewhere", heartbeat_age=71
    )  # > L(5) = 70 s
    experiment = read(tmp_path)[1]
    assert experiment.status == "DEAD"
    assert "heartbeat" in experiment.status_message


def test_no_heartbeat_and_an_old_start_is_dead(tmp_path):
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    write_experiment(
        tmp_path,
        1,
        status="RUNNING",
        host="elsewhere",
        heartbeat_age=None,
        started=long_ago,
    )
    write_experiment(
        tmp_path,
        2,
        status="RUNNING",
        host="elsewhere",
        heartbeat_age=None,
        started=datetime.now(UTC),
    )
    experiments = read(tmp_path)
    assert experiments[1].status == "DEAD"
    assert experiments[2].status == "RUNNING"


def test_terminal_words_are_never_derived(tmp_path):
    write_experiment(tmp_path, 1, status="SUCCESS", heartbeat_age=7200)
    assert read(tmp_path)[1].status == "SUCCESS"


def test_unknown_status_word_is_shown_as_it_is(tmp_path):
    write_experiment(tmp_path, 1, status="PAUSED", message="by the operator")
    experiment = read(tmp_path)[1]
    assert experiment.status == "PAUSED"
    assert experiment.status_message == "by the operator"


def test_error_message_is_the_traceback(tmp_path):
    trace = 'Traceback (most recent call last):\n  File "x.py"\nValueError: bad'
    write_experiment(tmp_path, 1, status="ERROR", message=trace)
    assert read(tmp_path)[1].status_message == trace


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (
            lambda f: (f / "metadata.json").write_text('{"spec-version": 1, "git'),
            "truncated",
        ),
        (lambda f: (f / "metadata.json").unlink(), "metadata.json is missing"),
        (lambda f: (f / "STATUS").unlink(), "STATUS is missing"),
        (lambda f: (f / "STATUS").write_text(""), "STATUS is empty"),
        (lambda f: (f / "summary.json").write_bytes(b'{"loss": "\xff"}'), "not UTF-8"),
        (
            lambda f: (f / "args.json").write_text("[1, 2]"),
            "args.json is not a JSON object",
        ),
        (
            lambda f: (f / "metadata.json").write_text('{"spec-version": "1"}'),
            "spec-version",
        ),
        (
            lambda f: ((f / "summary.json").unlink(), (f / "summary.json").mkdir()),
            "summary.json cannot be read",
        ),
    ],
)
def test_broken_folders_say_which_file_and_why(tmp_path, damage, reason):
    folder = write_experiment(tmp_path, 1, summary={"loss": 1.0})
    write_experiment(tmp_path, 2)
    damage(folder)
    with pytest.warns(
        MeticulousReadWarning, match=r"1 of 2 experiments .*BROKEN.*: 1$"
    ):
        experiments = Experiments(tmp_path)
    assert experiments[1].status == "BROKEN"
    assert reason in experiments[1].status_message
    assert experiments[2].status == "SUCCESS"


def test_many_broken_folders_give_one_warning(tmp_path):
    for experiment_id in range(1, 8):
        folder = write_experiment(tmp_path, experiment_id)
        if experiment_id % 2:
            (folder / "STATUS").unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Experiments(tmp_path)
    messages = [str(w.message) for w in caught]
    assert messages == [
        "4 of 7 experiments could not be read fully (status BROKEN): 1, 3, 5, 7"
    ]


def test_integer_folder_being_created_is_an_experiment(tmp_path):
    (tmp_path / "5").mkdir()
    (tmp_path / "scratch").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        experiments = Experiments(tmp_path)
    assert experiments.ids == ["5"]
    assert experiments[5].status == "BROKEN"
    assert "being created" in experiments[5].status_message
    assert any("scratch" in str(w.message) for w in caught)


def test_newer_spec_version_is_unsupported_even_if_files_are_odd(tmp_path):
    folder = write_experiment(tmp_path, 1, spec_version=2, summary={"loss": 0.5})
    (folder / "STATUS").unlink()
    experiments = read(tmp_path)
    assert experiments[1].status == "UNSUPPORTED"
    assert experiments.as_dataframe().loc["1", "summary.loss"] == 0.5


def test_queued_reservation(tmp_path):
    write_experiment(tmp_path, 1, status="QUEUED", message="slurm job 12_3")
    experiment = read(tmp_path)[1]
    assert (experiment.status, experiment.status_message) == (
        "QUEUED",
        "slurm job 12_3",
    )
    assert experiment.default_args == {}
