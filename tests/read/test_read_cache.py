"""The listing cache is never stale and never dangerous (spec §8)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import time
import warnings

import pytest
from cli_runner import meticulous as run_in_process
from helpers.synth import age_folder, write_experiment, write_json
from meticulous_read import Experiments, MeticulousReadWarning

CACHE = os.path.join(".meticulous", "cache", "snapshots-v2.json")


def read(directory, **options) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory, **options)


def settled_experiments(directory, count=3, **options):
    folders = [
        write_experiment(directory, i, summary={"loss": float(i)}, **options)
        for i in range(1, count + 1)
    ]
    for folder in folders:
        age_folder(folder)
    return folders


def loss(directory, experiment_id, **options):
    return (
        read(directory, **options)
        .as_dataframe()
        .loc[str(experiment_id), "summary.loss"]
    )


def test_cache_is_written_in_the_experiments_folder(tmp_path):
    settled_experiments(tmp_path)
    read(tmp_path)
    assert (tmp_path / CACHE).is_file()
    assert read(tmp_path).ids == ["1", "2", "3"]  # and is read back


def test_cache_is_used_for_unchanged_folders(tmp_path):
    """An in-place edit (not an atomic replace) leaves the folder as it was.

    The cache then serves the old value: the proof it is used, and the reason
    writers must replace files atomically. cache=False reads the file.
    """
    folders = settled_experiments(tmp_path)
    assert loss(tmp_path, 2) == 2.0
    (folders[1] / "summary.json").write_text('{"loss": 9.0}')  # same file, in place
    assert loss(tmp_path, 2) == 2.0
    assert loss(tmp_path, 2, cache=False) == 9.0


def test_atomically_replaced_summary_is_read_again(tmp_path):
    folders = settled_experiments(tmp_path)
    assert loss(tmp_path, 2) == 2.0
    write_json(folders[1] / "summary.json", {"loss": 0.125})
    assert loss(tmp_path, 2) == 0.125


def test_new_and_removed_experiments(tmp_path):
    folders = settled_experiments(tmp_path)
    assert read(tmp_path).ids == ["1", "2", "3"]
    write_experiment(tmp_path, 4)
    for path in sorted(folders[0].iterdir()):
        path.unlink()
    folders[0].rmdir()
    assert read(tmp_path).ids == ["2", "3", "4"]


def test_recently_changed_folders_are_not_trusted(tmp_path):
    """A folder changed < 2 s before the scan may change again in the same tick."""
    folder = write_experiment(tmp_path, 1, summary={"loss": 1.0})
    assert loss(tmp_path, 1) == 1.0
    (folder / "summary.json").write_text('{"loss": 5.0}')  # in place
    assert loss(tmp_path, 1) == 5.0


def test_running_becomes_dead_without_any_folder_change(tmp_path):
    folders = settled_experiments(tmp_path, count=1, status="RUNNING", host="elsewhere")
    assert read(tmp_path)[1].status == "RUNNING"
    old = time.time() - 120
    os.utime(folders[0] / "heartbeat", (old, old))  # the recorder stopped beating
    assert read(tmp_path)[1].status == "DEAD"


def test_running_becomes_success_when_status_is_replaced(tmp_path):
    settled_experiments(tmp_path, count=1, status="RUNNING", host="elsewhere")
    assert read(tmp_path)[1].status == "RUNNING"
    write_experiment(tmp_path, 1, status="SUCCESS", summary={"loss": 0.5})
    assert read(tmp_path)[1].status == "SUCCESS"
    assert loss(tmp_path, 1) == 0.5  # the new summary, not the cached one


def test_corrupt_cache_is_ignored_and_rebuilt(tmp_path):
    settled_experiments(tmp_path)
    read(tmp_path)
    (tmp_path / CACHE).write_bytes(b"\x80\x05garbage")
    assert read(tmp_path).ids == ["1", "2", "3"]
    assert loss(tmp_path, 3) == 3.0
    assert isinstance(json.loads((tmp_path / CACHE).read_bytes()), dict)


class _Planted:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_a_planted_cache_never_runs_code(tmp_path):
    settled_experiments(tmp_path)
    read(tmp_path)
    target = str(tmp_path / "pwned")
    (tmp_path / CACHE).write_bytes(pickle.dumps(_Planted(target)))
    assert read(tmp_path).ids == ["1", "2", "3"]
    assert not os.path.exists(target)


def test_unwritable_experiments_folder_falls_back_to_user_cache(tmp_path, monkeypatch):
    experiments = tmp_path / "experiments"
    settled_experiments(experiments)
    (experiments / ".meticulous").write_text("not a folder")  # blocks .meticulous/cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert read(experiments).ids == ["1", "2", "3"]
    cached = list((tmp_path / "xdg" / "meticulous").iterdir())
    assert len(cached) == 1 and cached[0].name.endswith("snapshots-v2.json")
    write_json(experiments / "2" / "summary.json", {"loss": 0.5})
    assert loss(experiments, 2) == 0.5


def test_read_only_experiments_folder_falls_back_to_user_cache(
    tmp_path, monkeypatch, read_only
):
    experiments = tmp_path / "experiments"
    settled_experiments(experiments)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with read_only(experiments):
        assert read(experiments).ids == ["1", "2", "3"]
    assert not (experiments / ".meticulous").exists()
    assert len(list((tmp_path / "xdg" / "meticulous").iterdir())) == 1


def test_no_cache_option_writes_no_cache(tmp_path):
    settled_experiments(tmp_path)
    read(tmp_path, cache=False)
    assert not (tmp_path / ".meticulous").exists()


def test_broken_folders_are_read_again_once_repaired_in_place(tmp_path):
    folders = settled_experiments(tmp_path)
    (folders[0] / "metadata.json").write_text('{"spec-version": 1, "git')
    age_folder(folders[0])
    assert read(tmp_path)[1].status == "BROKEN"
    (folders[0] / "metadata.json").write_text('{"spec-version": 1}')  # in place
    assert read(tmp_path)[1].status == "SUCCESS"


# -- the command's listing cache: the finished output of `meticulous DIR` -------------


def meticulous(*args, columns=None):
    """The command as a user runs it, piped (so no terminal width, no colours).

    In-process (:mod:`cli_runner`): the rule that a cache hit never imports
    pandas, which needs a fresh process, is test_read_cli's.
    """
    return run_in_process(*args, columns=columns)


def listing_files(directory) -> list:
    folder = directory / ".meticulous" / "cache"
    return sorted(folder.glob("listing-v2-*.json")) if folder.is_dir() else []


def assert_fresh(directory, *options, columns=None):
    """The (maybe cached) listing is exactly what reading every folder gives."""
    listed = meticulous(directory, *options, columns=columns)
    fresh = meticulous(directory, *options, "--no-cache", columns=columns)
    assert (listed.returncode, listed.stdout, listed.stderr) == (
        fresh.returncode,
        fresh.stdout,
        fresh.stderr,
    )
    return listed


def test_repeated_listing_is_served_from_the_listing_cache(tmp_path):
    """Byte-identical to --no-cache; an in-place edit proves the cache answered."""
    folders = settled_experiments(tmp_path)
    first = assert_fresh(tmp_path)
    assert len(listing_files(tmp_path)) == 1
    again = assert_fresh(tmp_path)
    assert again.stdout == first.stdout
    (folders[1] / "summary.json").write_text('{"loss": 9.0}')  # in place: no new key
    cached = meticulous(tmp_path)
    assert cached.stdout == first.stdout
    assert "9" not in cached.stdout.splitlines()[2].split()[-1]
    assert "9" in meticulous(tmp_path, "--no-cache").stdout.splitlines()[2]


def test_listing_shows_an_atomically_replaced_summary(tmp_path):
    folders = settled_experiments(tmp_path)
    assert_fresh(tmp_path)
    write_json(folders[1] / "summary.json", {"loss": 0.125})
    age_folder(folders[1])  # settled again: only the folder key tells the change
    listed = assert_fresh(tmp_path)
    assert "0.125" in listed.stdout.splitlines()[2]


def test_listing_shows_new_and_drops_deleted_experiments(tmp_path):
    folders = settled_experiments(tmp_path)
    assert_fresh(tmp_path)
    age_folder(write_experiment(tmp_path, 4, summary={"loss": 4.0}))
    shutil.rmtree(folders[0])
    listed = assert_fresh(tmp_path)
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [
        "2",
        "3",
        "4",
    ]


@pytest.mark.parametrize(
    "options",
    [
        ("--sort", "summary.loss", "--reverse"),
        ("--filter", "summary.loss < 2.5"),
        ("--columns", "status,summary.*"),
        ("--json",),
        ("--args", "all", "--tail", "1"),
    ],
)
def test_each_option_set_gets_its_own_listing(tmp_path, options):
    settled_experiments(tmp_path)
    plain = assert_fresh(tmp_path)
    assert_fresh(tmp_path)
    listed = assert_fresh(tmp_path, *options)
    assert listed.stdout != plain.stdout
    assert assert_fresh(tmp_path, *options).stdout == listed.stdout
    assert len(listing_files(tmp_path)) == 2
    assert assert_fresh(tmp_path).stdout == plain.stdout


def test_a_different_width_gets_its_own_listing(tmp_path):
    settled_experiments(tmp_path, metadata={"description": "a long description " * 4})
    wide = assert_fresh(tmp_path)
    narrow = assert_fresh(tmp_path, columns=40)
    assert narrow.stdout != wide.stdout
    assert max(map(len, narrow.stdout.splitlines())) <= 40
    assert assert_fresh(tmp_path, columns=40).stdout == narrow.stdout
    assert assert_fresh(tmp_path, columns=60).stdout != narrow.stdout


def test_only_the_newest_option_sets_are_kept(tmp_path):
    settled_experiments(tmp_path)
    for tail in range(12):
        assert_fresh(tmp_path, "--tail", tail)
    assert len(listing_files(tmp_path)) == 8


def test_running_experiment_whose_process_died_turns_dead(tmp_path):
    """Liveness is checked again before a stored listing is reused."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        settled_experiments(
            tmp_path, status="RUNNING", host=socket.gethostname(), pid=process.pid
        )
        first = assert_fresh(tmp_path)
        assert "RUNNING" in first.stdout and "DEAD" not in first.stdout
        assert assert_fresh(tmp_path).stdout == first.stdout
    finally:
        process.kill()
        process.wait()
    listed = assert_fresh(tmp_path)
    assert "DEAD" in listed.stdout and "RUNNING  " not in listed.stdout
    assert f"process {process.pid}" in listed.stdout


def test_running_experiment_whose_heartbeat_stopped_turns_dead(tmp_path):
    folders = settled_experiments(tmp_path, count=2, status="RUNNING", host="elsewhere")
    assert "DEAD" not in assert_fresh(tmp_path).stdout
    old = 1_700_000_000  # 2023-11-14 22:13:20 UTC
    os.utime(folders[1] / "heartbeat", (old, old))  # no folder change at all
    listed = assert_fresh(tmp_path)
    assert "no heartbeat since 2023" in listed.stdout  # cut to the column width
    message = read(tmp_path, cache=False)[2].status_message
    assert message.endswith("no heartbeat since 2023-11-14 22:13:20 UTC")
    assert listed.stdout.count("DEAD") == 1


def test_corrupt_or_planted_listing_cache_is_ignored(tmp_path):
    settled_experiments(tmp_path)
    first = assert_fresh(tmp_path)
    (path,) = listing_files(tmp_path)
    path.write_bytes(b"\x80\x05garbage")
    assert assert_fresh(tmp_path).stdout == first.stdout
    target = tmp_path / "pwned"
    path.write_bytes(pickle.dumps(_Planted(str(target))))
    assert assert_fresh(tmp_path).stdout == first.stdout
    assert not target.exists()


def test_recent_or_broken_folders_keep_listings_out_of_the_cache(tmp_path):
    """A folder changed < 2 s ago, or with problems, may still change unseen."""
    write_experiment(tmp_path, 1)
    assert_fresh(tmp_path)
    assert listing_files(tmp_path) == []
    folders = settled_experiments(tmp_path)
    (folders[0] / "metadata.json").write_text('{"spec-version": 1, "git')
    age_folder(folders[0])
    listed = assert_fresh(tmp_path)
    assert "BROKEN" in listed.stdout
    assert listing_files(tmp_path) == []


def test_warnings_and_exit_codes_are_replayed(tmp_path):
    settled_experiments(tmp_path)
    (tmp_path / "notes").mkdir()
    age_folder(tmp_path / "notes")
    first = assert_fresh(tmp_path)
    assert "not experiments, skipped: notes" in first.stderr
    assert assert_fresh(tmp_path).stderr == first.stderr
    bad = assert_fresh(tmp_path, "--sort", "summary.nope")
    assert bad.returncode == 2 and "unknown column" in bad.stderr
    assert assert_fresh(tmp_path, "--sort", "summary.nope").returncode == 2


def test_exports_are_written_every_time(tmp_path):
    experiments = tmp_path / "experiments"
    settled_experiments(experiments)
    target = tmp_path / "table.csv"
    for _ in range(2):
        target.unlink(missing_ok=True)
        assert meticulous(experiments, "--export", target).returncode == 0
        assert target.read_text().startswith("id,")
    assert listing_files(experiments) == []


def test_listing_cache_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    experiments = tmp_path / "experiments"
    folders = settled_experiments(experiments)
    (experiments / ".meticulous").write_text("not a folder")  # blocks .meticulous/cache
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = assert_fresh(experiments)
    stored = list((tmp_path / "xdg" / "meticulous").glob("*-listing-v2-*.json"))
    assert len(stored) == 1
    assert assert_fresh(experiments).stdout == first.stdout
    write_json(folders[2] / "summary.json", {"loss": 0.75})
    age_folder(folders[2])
    assert "0.75" in assert_fresh(experiments).stdout
