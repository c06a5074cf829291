"""A sweep's folders reserved in a child process (reserving.py), and the
thread that replaces it where forking is not safe: the same folders, the
same errors, nothing left behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from meticulous import reservation
from meticulous_slurm.errors import SubmissionError
from meticulous_slurm.reserving import (
    ForkedReservation,
    ThreadReservation,
    start_reservation,
)

KINDS = [ForkedReservation, ThreadReservation]
ARGS = [{"lr": 0.1}, {"lr": 0.2}, {"lr": 0.3}]


def reserve(kind, directory: Path, args_list=ARGS):
    return kind(directory, args_list, {"note": "sweep s", "launcher": {"name": "t"}})


def folders(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name.isdigit())


def whole(folder: Path) -> bool:
    return (
        (folder / "STATUS").read_text().startswith("QUEUED\nsweep s")
        and (folder / "args.json").is_file()
        and (folder / "metadata.json").is_file()
    )


@pytest.mark.parametrize("kind", KINDS)
def test_every_folder_is_reserved_and_whole(kind, tmp_path):
    experiments = tmp_path / "experiments"
    batch = reserve(kind, experiments)
    assert batch.ids() == ["1", "2", "3"]
    batch.wait()
    batch.wait()  # as often as asked
    assert folders(experiments) == ["1", "2", "3"]
    assert all(whole(experiments / name) for name in "123")
    assert '"lr": 0.2' in (experiments / "2" / "args.json").read_text()


def test_the_child_is_reaped(tmp_path):
    batch = reserve(ForkedReservation, tmp_path)
    batch.wait()
    with pytest.raises(ChildProcessError):
        os.waitpid(batch._pid, os.WNOHANG)


def test_a_sweep_forks_only_without_other_threads(tmp_path):
    started = threading.Event()
    stop = threading.Event()

    def other_thread():
        started.set()
        stop.wait()

    expected = ForkedReservation if threading.active_count() == 1 else None
    if expected is not None:
        alone = start_reservation(tmp_path / "a", ARGS)
        alone.wait()
        assert isinstance(alone, expected)
    thread = threading.Thread(target=other_thread)
    thread.start()
    started.wait()
    try:
        with_thread = start_reservation(tmp_path / "b", ARGS)
        with_thread.wait()
        assert isinstance(with_thread, ThreadReservation)
    finally:
        stop.set()
        thread.join()
    assert folders(tmp_path / "b") == ["1", "2", "3"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_args_reserve_nothing_and_say_which_point(kind, tmp_path):
    experiments = tmp_path / "experiments"
    with pytest.raises(SubmissionError) as raised:
        batch = reserve(kind, experiments, [{"lr": 0.1}, ["not", "a", "dict"]])
        batch.ids()
    assert "reserving experiments for the sweep's points failed" in str(raised.value)
    assert "args of point 1 must be a dict" in str(raised.value)
    assert folders(experiments) == []


def test_a_failed_allocation_keeps_failing_and_cancels_quietly(tmp_path):
    """What submit_sweep does after the error: cancel(), which asks again."""
    batch = reserve(ForkedReservation, tmp_path, [["not", "a", "dict"]])
    for _ in range(2):
        with pytest.raises(SubmissionError, match="must be a dict"):
            batch.ids()
    batch.cancel()
    assert folders(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_removes_a_whole_batch(kind, tmp_path):
    batch = reserve(kind, tmp_path)
    batch.cancel()
    assert folders(tmp_path) == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_failed_fill_removes_every_folder(kind, tmp_path, monkeypatch):
    from meticulous.exceptions import StorageError

    real_fill = reservation._fill_new_folder

    def full_at_the_second(folder, contents):
        if folder.name == "2":
            raise StorageError(28, f"writing {folder / 'args.json'}: No space left")
        real_fill(folder, contents)

    monkeypatch.setattr(reservation, "_fill_new_folder", full_at_the_second)
    experiments = tmp_path / "experiments"
    batch = reserve(kind, experiments)
    assert batch.ids() == ["1", "2", "3"]
    with pytest.raises(SubmissionError, match="No space left"):
        batch.wait()
    assert folders(experiments) == []


def slow_fill(monkeypatch, seconds: float) -> None:
    real_fill = reservation._fill_new_folder

    def slow(folder, contents):
        time.sleep(seconds)
        real_fill(folder, contents)

    monkeypatch.setattr(reservation, "_fill_new_folder", slow)


def test_a_killed_child_leaves_no_folder(tmp_path, monkeypatch):
    slow_fill(monkeypatch, 2)
    experiments = tmp_path / "experiments"
    batch = reserve(ForkedReservation, experiments)
    assert batch.ids() == ["1", "2", "3"]
    os.kill(batch._pid, signal.SIGKILL)
    with pytest.raises(SubmissionError, match="ended without a word"):
        batch.wait()
    assert folders(experiments) == []


def test_a_ctrl_c_leaves_the_folders_whole(tmp_path, monkeypatch):
    """The terminal's SIGINT reaches the child too; it finishes the folders
    (the parent's Ctrl-C handling waits for them)."""
    slow_fill(monkeypatch, 0.2)
    experiments = tmp_path / "experiments"
    batch = reserve(ForkedReservation, experiments)
    batch.ids()
    os.kill(batch._pid, signal.SIGINT)
    batch.wait()
    assert folders(experiments) == ["1", "2", "3"]
    assert all(whole(experiments / name) for name in "123")


# The job's side (job.py): a job may start before its folder is whole.


def test_a_job_waits_for_its_folder_to_be_written_and_says_so(tmp_path, capsys):
    from meticulous_slurm.job import wait_for_reservation

    folder = tmp_path / "7"
    folder.mkdir()
    writer = threading.Timer(0.3, lambda: (folder / "STATUS").write_text("QUEUED\n"))
    writer.start()
    started = time.monotonic()
    wait_for_reservation(folder, timeout_s=30)
    assert time.monotonic() - started >= 0.3
    assert f"waiting for its reserved folder {folder}" in capsys.readouterr().out
    capsys.readouterr()
    wait_for_reservation(folder, timeout_s=30)  # whole: no wait, no word
    assert capsys.readouterr().out == ""


def test_a_job_whose_folder_is_gone_or_never_written_does_not_start(tmp_path):
    from meticulous_slurm.job import PointFailed, wait_for_reservation

    with pytest.raises(PointFailed, match="is gone: the submission was undone"):
        wait_for_reservation(tmp_path / "8", timeout_s=30)
    (tmp_path / "9").mkdir()
    with pytest.raises(PointFailed, match=r"never completed \(no STATUS after 1 s\)"):
        wait_for_reservation(tmp_path / "9", timeout_s=1)
