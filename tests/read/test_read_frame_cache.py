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


def _corrupt_part(data: bytes, kind: str, part: int, payload: bytes) -> bytes:
    """The file with the start of one part of the first ``kind`` column replaced."""
    import json

    magic = data[: data.index(b"\n") + 1]
    (length,) = struct.unpack_from("<Q", data, len(magic))
    base = len(magic) + 8 + length
    header = json.loads(data[len(magic) + 8 : base])
    column = next(c for c in header["columns"] if c["kind"] == kind)
    offset, size = column["parts"][part]
    assert len(payload) <= size
    at = base + offset
    return data[:at] + payload + data[at + len(payload) :]


@pytest.mark.parametrize(
    "plant",
    [
        # text offsets that run backwards, then past the column's bytes
        lambda data: _corrupt_part(data, "utf8", 1, struct.pack("<q", 1)),
        lambda data: _corrupt_part(data, "utf8", 1, struct.pack("<qqq", 0, 9, 3)),
        lambda data: _corrupt_part(data, "utf8", 1, struct.pack("<qq", 0, 2**40)),
        # a row naming a distinct value that does not exist
        lambda data: _corrupt_part(data, "objects", 0, struct.pack("<i", 10**6)),
        lambda data: _corrupt_part(data, "objects", 0, struct.pack("<i", -1)),
    ],
    ids=["offsets-start", "offsets-backwards", "offsets-outside", "code", "negative"],
)
def test_a_frame_with_lying_columns_is_ignored(varied, plant):
    built = frame_of(varied, cache=False)
    valid = _valid(varied)
    planted = plant(valid)
    assert planted != valid
    (varied / FRAME).write_bytes(planted)
    pd.testing.assert_frame_equal(frame_of(varied), built)
    assert (varied / FRAME).read_bytes() == valid  # refused, and built again


def test_a_frame_whose_rows_all_name_one_huge_value_is_refused():
    from meticulous_read.frame_cache import _decode_objects

    huge = ("[" + ",".join(["[" + ",".join(["1"] * 1000) + "]"]) + "]").encode()
    rows = 100_000  # each row would copy a 1,000-item list
    codes = bytes(4 * rows)
    with pytest.raises(ValueError, match="expands"):
        _decode_objects([memoryview(codes), memoryview(huge)], rows, budget=10**6)
    column = _decode_objects([memoryview(codes[:40]), memoryview(huge)], 10, 10**6)
    assert column[0] == column[1] and column[0] is not column[1]  # own copies
