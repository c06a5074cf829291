"""Experiment ids: validity, and distinct consecutive allocation under concurrency."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from meticulous import MeticulousError
from meticulous.ids import allocate_id, allocate_ids, expected_ids, validate_id

BAD_IDS = [
    "",
    ".",
    "..",
    "../x",
    "a/b",
    "a\\b",
    ".hidden",
    " padded",
    "trail ",
    "tab\there",
    "nul\0",
    "x" * 201,
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError, match="invalid experiment id") as caught:
        validate_id(bad)
    assert isinstance(caught.value, MeticulousError)


@pytest.mark.parametrize(
    "good", ["1", "42", "my_special_run", "lr=0.1 bs=32", "é", "x" * 200]
)
def test_good_ids_are_accepted(good):
    assert validate_id(good) == good


def test_allocation_is_consecutive_and_keeps_a_hint(tmp_path):
    experiments = tmp_path / "experiments"
    assert [allocate_id(experiments) for _ in range(3)] == ["1", "2", "3"]
    assert (experiments / ".meticulous" / "last-id").read_text().strip() == "3"
    assert all((experiments / name).is_dir() for name in ("1", "2", "3"))


def test_ids_are_never_reused_after_deletion(tmp_path):
    experiments = tmp_path / "experiments"
    allocate_id(experiments)
    allocate_id(experiments)
    (experiments / "2").rmdir()
    assert allocate_id(experiments) == "3"


def test_without_a_hint_the_largest_id_is_found(tmp_path):
    experiments = tmp_path / "experiments"
    for name in ("3", "10", "my_run", "notes"):
        (experiments / name).mkdir(parents=True)
    assert allocate_id(experiments) == "11"
    (experiments / ".meticulous" / "last-id").write_text("garbage")
    assert allocate_id(experiments) == "12"


def test_a_folder_made_behind_the_locks_back_is_skipped(tmp_path):
    """mkdir is the real guarantee: a writer ignoring the lock cannot collide."""
    experiments = tmp_path / "experiments"
    allocate_id(experiments)
    (experiments / "2").mkdir()
    assert allocate_id(experiments) == "3"


def test_the_expected_ids_are_the_ones_the_next_allocation_gives(tmp_path):
    experiments = tmp_path / "experiments"
    assert expected_ids(experiments, 3) == ["1", "2", "3"]  # no directory yet
    assert not experiments.exists()  # a forecast creates nothing
    assert allocate_ids(experiments, 3) == ["1", "2", "3"]
    assert expected_ids(experiments, 2) == allocate_ids(experiments, 2) == ["4", "5"]
    (experiments / ".meticulous" / "last-id").unlink()
    (experiments / "9").mkdir()
    assert expected_ids(experiments, 1) == allocate_ids(experiments, 1) == ["10"]


def test_the_expected_ids_can_be_wrong_so_launchers_compare(tmp_path):
    """Read without the lock: an allocation in between, or a folder in the
    way, gives other ids than forecast."""
    experiments = tmp_path / "experiments"
    allocate_id(experiments)
    forecast = expected_ids(experiments, 2)
    allocate_id(experiments)  # another launcher, first
    assert forecast == ["2", "3"]
    assert allocate_ids(experiments, 2) == ["3", "4"]
    (experiments / "5").mkdir()  # behind the lock's back
    assert expected_ids(experiments, 2) == ["5", "6"]
    assert allocate_ids(experiments, 2) == ["6", "7"]


ALLOCATE = """\
import sys, time
from meticulous.ids import allocate_id
start_at = float(sys.argv[2])
while time.time() < start_at:
    time.sleep(0.001)
print(allocate_id(sys.argv[1]))
"""


def test_many_processes_at_once_get_distinct_consecutive_ids(tmp_path):
    """40 processes released at the same instant: ids 1..40, none failing."""
    import time

    experiments = tmp_path / "shared" / "experiments"
    script = tmp_path / "allocate.py"
    script.write_text(ALLOCATE)
    count = 40
    start_at = str(time.time() + 3.0)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(experiments), start_at],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), results
    ids = sorted(int(out) for out, _ in results)
    assert ids == list(range(1, count + 1))
    assert (
        sorted(
            int(p.name) for p in Path(experiments).iterdir() if p.name != ".meticulous"
        )
        == ids
    )


HOLD_IDS_LOCK = """\
import fcntl, os, sys, time
lock = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(lock, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(1.0)
open(sys.argv[2], "w").close()
os.close(lock)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="holds the lock with fcntl")
def test_allocation_waits_for_the_ids_lock_instead_of_failing(tmp_path):
    """A process holding ids.lock delays an allocation; it never makes it fail."""
    experiments = tmp_path / "experiments"
    (experiments / ".meticulous").mkdir(parents=True)
    released = tmp_path / "released"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD_IDS_LOCK,
            str(experiments / ".meticulous" / "ids.lock"),
            str(released),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    assert allocate_id(experiments) == "1"
    assert released.exists()  # allocated only once the holder had let go
    assert holder.wait(timeout=60) == 0


def test_a_batch_allocation_is_consecutive_and_moves_the_hint_once(tmp_path):
    experiments = tmp_path / "experiments"
    assert allocate_id(experiments) == "1"
    (experiments / "3").mkdir()  # made behind the lock's back: skipped
    assert allocate_ids(experiments, 3) == ["2", "4", "5"]
    assert (experiments / ".meticulous" / "last-id").read_text().strip() == "5"
    assert allocate_ids(experiments, 0) == []
    assert allocate_id(experiments) == "6"
