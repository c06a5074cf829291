"""The listing cache is never stale and never dangerous (spec §8)."""

from __future__ import annotations

import os
import pickle
import time
import warnings

import pytest
from meticulous_read import Experiments, MeticulousReadWarning
from synth import age_folder, write_experiment, write_json

CACHE = os.path.join(".meticulous", "cache", "listing-v1.pickle")


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
    folders = settled_experiments(tmp_path, count=1, status="RUNNING", host="elsewhere")
    assert read(tmp_path)[1].status == "RUNNING"
    write_experiment(tmp_path, 1, status="SUCCESS", summary={"loss": 0.5})
    assert read(tmp_path)[1].status == "SUCCESS"
    assert folders


def test_corrupt_cache_is_ignored_and_rebuilt(tmp_path):
    settled_experiments(tmp_path)
    read(tmp_path)
    (tmp_path / CACHE).write_bytes(b"\x80\x05garbage")
    assert read(tmp_path).ids == ["1", "2", "3"]
    assert loss(tmp_path, 3) == 3.0
    with open(tmp_path / CACHE, "rb") as handle:
        assert isinstance(pickle.load(handle), dict)


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
    assert len(cached) == 1 and cached[0].name.endswith("listing-v1.pickle")
    write_json(experiments / "2" / "summary.json", {"loss": 0.5})
    assert loss(experiments, 2) == 0.5


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_experiments_folder_falls_back_to_user_cache(tmp_path, monkeypatch):
    experiments = tmp_path / "experiments"
    settled_experiments(experiments)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    experiments.chmod(0o555)
    try:
        assert read(experiments).ids == ["1", "2", "3"]
    finally:
        experiments.chmod(0o755)
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
