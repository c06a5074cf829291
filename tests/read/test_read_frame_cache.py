"""The cached DataFrame (issue 9): the same frame, never stale, never planted."""

from __future__ import annotations

import os
import pickle
import struct
import warnings
from pathlib import Path

import pandas as pd
import pytest
from helpers.synth import age_folder, write_experiment, write_json
from meticulous_read import ExperimentReader, Experiments, MeticulousReadWarning
from meticulous_read.frame_cache import MAGIC

FRAME = Path(".meticulous") / "cache" / "frame-v1.bin"


def frame_of(directory: Path, **options) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory, **options).as_dataframe()


@pytest.fixture
def varied(tmp_path: Path) -> Path:
    """Every column kind: ints with gaps, booleans with gaps, lists, text, times."""
    directory = tmp_path / "experiments"
    write_experiment(
        directory,
        1,
        args={"lr": 0.1, "layers": [64, [32, 16]], "name": "é ☃", "flag": True},
        summary={"loss": 0.25, "epoch": 3, "note": "ok"},
        metadata={"slurm": {"job-id": "7", "restart-count": 0}},
    )
    write_experiment(
        directory, 2, args={"lr": 0.01, "layers": []}, summary={"loss": "NaN"}
    )
    write_experiment(
        directory, 3, status="ERROR", message="Traceback ...\nValueError: x"
    )
    write_experiment(directory, "named", status="RUNNING", host="elsewhere")
    write_experiment(directory / "group", 1, summary={"epoch": 9})
    for folder in ("1", "2", "3", "named", "group/1", "group"):
        age_folder(directory / folder)
    return directory


def test_the_cached_frame_is_the_frame(varied):
    built = frame_of(varied, cache=False)
    first = frame_of(varied)
    assert (varied / FRAME).is_file()
    again = frame_of(varied)
    pd.testing.assert_frame_equal(again, built)
    pd.testing.assert_frame_equal(first, built)
    again.loc["1", "summary.loss"] = 99.0  # a caller's edit stays the caller's
    assert frame_of(varied).loc["1", "summary.loss"] == 0.25


def test_a_changed_folder_is_read_again(varied):
    frame_of(varied)
    write_json(varied / "2" / "summary.json", {"loss": 0.125})
    age_folder(varied / "2")
    assert frame_of(varied).loc["2", "summary.loss"] == 0.125
    write_experiment(varied / "group", 2, summary={"epoch": 1})
    age_folder(varied / "group" / "2")
    age_folder(varied / "group")
    assert "group/2" in frame_of(varied).index


def test_liveness_is_checked_before_every_reuse(varied):
    assert frame_of(varied).loc["named", "status"] == "RUNNING"
    old = 1_700_000_000
    os.utime(varied / "named" / "heartbeat", (old, old))  # no folder change at all
    frame = frame_of(varied)
    assert frame.loc["named", "status"] == "DEAD"
    assert "2023-11-14" in frame.loc["named", "status_message"]


def test_reader_subclasses_get_their_columns(varied):
    class Reader(ExperimentReader):
        @property
        def doubled(self) -> float:
            return self.summary.get("epoch", 0) * 2

    frame_of(varied)  # a plain frame in the cache
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        frame = Experiments(varied, reader=Reader).as_dataframe()
    assert frame.loc["group/1", "doubled"] == 18


def _valid(directory: Path) -> bytes:
    frame_of(directory)
    return (directory / FRAME).read_bytes()


def _planted_header(data: bytes, change) -> bytes:
    import json

    magic = data[: data.index(b"\n") + 1]
    (length,) = struct.unpack_from("<Q", data, len(magic))
    start = len(magic) + 8
    header = json.loads(data[start : start + length])
    change(header)
    head = json.dumps(header).encode()
    return magic + struct.pack("<Q", len(head)) + head + data[start + length :]


def _bigger_column(header: dict) -> None:
    for column in header["columns"]:
        column["parts"] = [[0, 10**12]]


def _wrong_rows(header: dict) -> None:
    header["rows"] = 10**9


def _pickled_kind(header: dict) -> None:
    header["columns"][0]["kind"] = "pickle"


@pytest.mark.parametrize(
    "plant",
    [
        lambda data: b"garbage",
        lambda data: pickle.dumps({"format": 1}),
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: _planted_header(data, _bigger_column),
        lambda data: _planted_header(data, _wrong_rows),
        lambda data: _planted_header(data, _pickled_kind),
        lambda data: MAGIC + struct.pack("<Q", 2**62) + data[len(MAGIC) + 8 :],
    ],
    ids=["garbage", "pickle", "truncated", "sizes", "rows", "kind", "header-length"],
)
def test_a_planted_frame_is_ignored(varied, plant):
    built = frame_of(varied, cache=False)
    data = _valid(varied)
    (varied / FRAME).write_bytes(plant(data))
    pd.testing.assert_frame_equal(frame_of(varied), built)
