"""A listing keeps columns, not every run's files: a run's details are read when asked.

``Experiments(d)`` reads every folder once into the DataFrame's columns and
keeps no per-run copy of the files; ``experiments[id]`` and iteration read
the run's small files again when a property first asks. These tests pin
what a user sees: the same values as a reader of the folder, and, for a
run changed since the listing, its files and its status as they now are,
never a mix of the two moments.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import pytest
from helpers.synth import age_folder, write_atomically, write_experiment, write_json
from meticulous_read import ExperimentReader, Experiments, MeticulousReadWarning, scan

FIELDS = (
    "status",
    "status_message",
    "args",
    "default_args",
    "summary",
    "metadata",
    "tags",
    "parent",
)


def _mixed(directory):
    write_experiment(
        directory, 1, args={"lr": 0.1, "deep": {"width": 3}}, summary={"loss": 0.5}
    )
    write_experiment(
        directory,
        2,
        status="ERROR",
        message="Traceback (most recent call last):\nValueError: x",
    )
    write_experiment(
        directory, 3, status="RUNNING", heartbeat_age=3600, pid=999_999_999
    )
    write_experiment(directory, 4, status="QUEUED")
    write_experiment(directory, 5, metadata={"parent": "1"})
    (write_experiment(directory, 6) / "summary.json").write_text('{"loss": ')  # BROKEN
    write_json(directory / "1" / "tags.json", {"best": True})
    write_experiment(directory / "group", 7, summary={"acc": 0.9})


def _read(directory, **options) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory, **options)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_details_read_later_are_what_a_reader_of_the_folder_sees(
    tmp_path, monkeypatch, workers
):
    _mixed(tmp_path)
    monkeypatch.setattr(scan, "PARALLEL_FROM", 2)
    monkeypatch.setattr(scan, "CHUNK", 2)
    monkeypatch.setenv("METICULOUS_READ_WORKERS", workers)
    experiments = _read(tmp_path, cache=False)
    frame = experiments.as_dataframe()
    assert experiments.ids == ["1", "2", "3", "4", "5", "6", "group/7"]
    for run in experiments:
        alone = ExperimentReader(run.path, experiment_id=run.id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MeticulousReadWarning)
            for field in FIELDS:
                assert getattr(run, field) == getattr(alone, field), (run.id, field)
        assert run.status == frame.at[run.id, "status"]
        assert run.status_message == frame.at[run.id, "status_message"]
    assert experiments["3"].status == "DEAD"
    assert experiments["6"].status == "BROKEN"
    assert experiments["1"].args == {"lr": 0.1, "deep": {"width": 3}}
    assert experiments["group/7"].summary == {"acc": 0.9}
    assert experiments.children("1") == ["5"]


def test_a_run_changed_since_the_listing_is_read_as_it_now_is(tmp_path):
    write_experiment(tmp_path, 1, status="RUNNING", summary={"loss": 1.0})
    write_experiment(tmp_path, 2, summary={"loss": 2.0})
    experiments = _read(tmp_path, cache=False)
    assert experiments["1"].status == "RUNNING"  # the listing's word, folder unchanged
    # The run ends: its writer replaces summary.json and STATUS (spec §2).
    write_json(tmp_path / "1" / "summary.json.tmp", {"loss": 0.25})
    os.replace(tmp_path / "1" / "summary.json.tmp", tmp_path / "1" / "summary.json")
    write_atomically(tmp_path / "1" / "STATUS", b"SUCCESS\n")
    run = experiments["1"]
    assert run.summary == {"loss": 0.25}
    assert run.status == "SUCCESS"  # from the same read as the files, not the listing's
    assert experiments["2"].summary == {"loss": 2.0}
    frame = experiments.as_dataframe()  # the listing itself is a moment in time
    assert frame.at["1", "status"] == "RUNNING"
    assert frame.at["1", "summary.loss"] == 1.0


def test_a_status_asked_first_is_checked_against_the_folder(tmp_path):
    write_experiment(tmp_path, 1, status="RUNNING")
    experiments = _read(tmp_path, cache=False)
    write_atomically(tmp_path / "1" / "STATUS", b"ERROR\nboom\n")
    assert experiments["1"].status == "ERROR"
    assert experiments["1"].status_message == "boom"


def test_a_folder_swapped_for_a_link_after_the_listing_is_not_followed(tmp_path):
    write_experiment(tmp_path, 1, args={"lr": 0.1})
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    write_experiment(outside, 1, args={"secret": "planted"})
    experiments = _read(tmp_path, cache=False)
    shutil.rmtree(tmp_path / "1")
    os.symlink(outside / "1", tmp_path / "1")
    run = experiments["1"]
    assert run.args == {}  # never the planted folder's
    assert run.status == "BROKEN"
    assert run.status_message.startswith("the folder cannot be read")


def test_a_removed_run_reads_as_broken_not_as_its_old_self(tmp_path):
    write_experiment(tmp_path, 1, args={"lr": 0.1})
    write_experiment(tmp_path, 2)
    experiments = _read(tmp_path, cache=False)
    shutil.rmtree(tmp_path / "1")
    run = experiments["1"]
    assert run.args == {}
    assert run.status in ("BROKEN", "DEAD")


def test_details_of_a_frame_from_its_cache_are_read_from_the_folders(tmp_path):
    for number in range(1, 4):
        age_folder(write_experiment(tmp_path, number, args={"lr": number / 10}))
    Experiments(tmp_path).as_dataframe()  # stores the frame
    experiments = Experiments(tmp_path)  # from the frame cache
    assert experiments["2"].args == {"lr": 0.2}
    assert [run.status for run in experiments] == ["SUCCESS"] * 3
    metadata = json.loads((tmp_path / "3" / "metadata.json").read_text())
    assert experiments["3"].metadata == metadata


class LrReader(ExperimentReader):
    @property
    def doubled_lr(self):
        return self.args["lr"] * 2


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_reader_subclass_gets_its_columns_after_the_fixed_ones(
    tmp_path, monkeypatch, workers
):
    for number in range(1, 8):
        write_experiment(tmp_path, number, args={"lr": number / 10})
    write_experiment(tmp_path / "group", 1, args={"lr": 1.0})
    monkeypatch.setattr(scan, "PARALLEL_FROM", 2)
    monkeypatch.setattr(scan, "CHUNK", 3)
    monkeypatch.setenv("METICULOUS_READ_WORKERS", workers)
    frame = _read(tmp_path, reader=LrReader).as_dataframe()
    columns = list(frame.columns)
    assert columns[0] == "name"  # a run is in a group
    assert columns.index("doubled_lr") == columns.index("parent") + 1
    assert frame["doubled_lr"].tolist() == [n / 5 for n in range(1, 8)] + [2.0]
    assert not (tmp_path / ".meticulous" / "cache" / "frame-v1.bin").exists()
