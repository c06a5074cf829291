"""Columns built in chunks (one per worker process) are typed as one column would be.

Each worker turns its rows into compact parts; the parent joins them. The
column's type must not depend on where the chunks were cut: these cases
cut mixed columns so that each chunk alone would be typed differently.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from helpers.synth import age_folder, write_experiment
from meticulous_read import Experiments, MeticulousReadWarning, scan
from meticulous_read.column_parts import join, none_part, part_of
from meticulous_read.table import text_dtype

BIG = 2**70
CASES = [
    # (chunks, expected dtype, expected values: None where missing)
    ([[1, 2], [3]], "int64", [1, 2, 3]),
    ([[1, None], [3]], "Int64", [1, None, 3]),
    ([[1, 2], None], "Int64", [1, 2, None]),  # a chunk without the column
    ([[1, 2], [0.5]], "float64", [1.0, 2.0, 0.5]),
    ([[1, None], [0.5]], "float64", [1.0, None, 0.5]),
    ([["NaN"], [0.5, 2]], "float64", [math.nan, 0.5, 2.0]),
    ([["NaN", "Infinity"], None], "float64", [math.nan, math.inf, None]),
    ([["NaN"], ["text"]], "text", ["NaN", "text"]),
    ([["a", None], ["b"]], "text", ["a", None, "b"]),
    ([["a"], [1]], "object", ["a", 1]),
    ([[1.5, "NaN"], ["x"]], "object", [1.5, "NaN", "x"]),
    ([[True, False], [None]], "boolean", [True, False, None]),
    ([[True], [1]], "object", [True, 1]),
    ([[1], [BIG]], "object", [1, BIG]),
    ([[None], [None, None]], "object", [None, None, None]),
    ([[["a", "b"]], [[], None]], "object", [["a", "b"], [], None]),
]


def _parts(chunks: list) -> list:
    return [none_part(1) if rows is None else part_of(rows) for rows in chunks]


def _rows(chunks: list) -> list:
    return [value for rows in chunks for value in (rows if rows else [None])]


def _same(got: object, expected: object) -> bool:
    if expected is None:
        return got is None or got is pd.NA or (type(got) is float and math.isnan(got))
    if type(expected) is float and math.isnan(expected):
        return type(got) is float and math.isnan(got)
    return type(got) is type(expected) and got == expected


@pytest.mark.parametrize(("chunks", "dtype", "values"), CASES)
def test_a_column_in_chunks_is_typed_as_one(chunks, dtype, values):
    joined = pd.Series(join(_parts(chunks)))
    whole = pd.Series(join([part_of(_rows(chunks))]))
    if dtype == "text":
        assert joined.dtype == text_dtype()
    else:
        assert str(joined.dtype) == dtype
    assert joined.dtype == whole.dtype
    got = joined.astype(object).tolist()
    assert len(got) == len(values)
    for value, expected in zip(got, values):
        if isinstance(value, np.generic):
            value = value.item()
        assert _same(value, expected), (got, values)


def test_each_row_keeps_its_own_list_while_their_words_are_shared():
    rows = [["train.py", "--lr=0.1"], ["train.py", "--lr=0.1"]]
    column = join([part_of([list(row) for row in rows])])
    assert column[0] == column[1] == rows[0]
    assert column[0] is not column[1]  # a caller may change one row's list
    assert column[0][0] is column[1][0]  # but the words are one object


def test_deviating_args_as_the_rows_say(tmp_path, monkeypatch):
    """Runs with defaults deviate by their own; one without, by the others' defaults."""
    write_experiment(
        tmp_path, 1, args={"lr": 0.1, "depth": 2}, default_args={"lr": 0.1, "depth": 2}
    )
    write_experiment(
        tmp_path, 2, args={"lr": 0.3, "depth": 2}, default_args={"lr": 0.1, "depth": 2}
    )
    write_experiment(tmp_path, 3, status="QUEUED", args={"lr": 0.1, "width": 5})
    write_experiment(
        tmp_path, 4, args={"lr": 0.2, "depth": 2}, default_args={"lr": 0.2, "depth": 2}
    )
    for number in range(5, 12):  # enough rows for several chunks
        write_experiment(
            tmp_path,
            number,
            args={"lr": 0.1, "depth": 2},
            default_args={"lr": 0.1, "depth": 2},
        )
    monkeypatch.setattr(scan, "PARALLEL_FROM", 2)
    monkeypatch.setattr(scan, "CHUNK", 2)
    for workers in ("1", "2"):
        monkeypatch.setenv("METICULOUS_READ_WORKERS", workers)
        experiments = Experiments(tmp_path, cache=False)
        assert experiments.deviating_args() == ["args.lr", "args.width"]
        assert experiments.deviating_args(["1", "5"]) == []
        # 3 has no defaults: the last defaults of the others decide (4's lr 0.2)
        assert experiments.deviating_args(["1", "4", "3"]) == ["args.lr", "args.width"]
        assert experiments.deviating_args(["4", "1", "3"]) == ["args.width"]
        assert experiments.deviating_args(["3"]) == ["args.lr", "args.width"]
        with pytest.raises(KeyError):
            experiments.deviating_args(["99"])


def test_deviating_args_after_the_frame_came_from_its_cache(tmp_path):
    for number in range(1, 4):
        age_folder(
            write_experiment(
                tmp_path, number, args={"lr": number / 10}, default_args={"lr": 0.1}
            )
        )
    first = Experiments(tmp_path)
    first.as_dataframe()  # stores the frame
    assert (tmp_path / ".meticulous" / "cache" / "frame-v1.bin").exists()
    again = Experiments(tmp_path)
    assert again.deviating_args() == first.deviating_args() == ["args.lr"]
    assert again.deviating_args(["1"]) == []


def test_a_big_parallel_read_gives_the_frame_of_one_process(tmp_path, monkeypatch):
    """Mixed columns cut across chunks: the frame does not depend on the cut."""
    values = [1, 2.5, "NaN", None, "text", True, [1, 2], {"deep": 1}]
    for number in range(1, 25):
        summary = {"mixed": values[number % len(values)], "int": number}
        if number % 5:
            summary["sometimes"] = number
        write_experiment(tmp_path, number, summary=summary)
    monkeypatch.setattr(scan, "PARALLEL_FROM", 2)
    frames = {}
    for workers, chunk in (("1", 1000), ("2", 3), ("3", 1)):
        monkeypatch.setattr(scan, "CHUNK", chunk)
        monkeypatch.setenv("METICULOUS_READ_WORKERS", workers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MeticulousReadWarning)
            frames[workers] = Experiments(tmp_path, cache=False).as_dataframe()
    pd.testing.assert_frame_equal(frames["1"], frames["2"])
    pd.testing.assert_frame_equal(frames["1"], frames["3"])
    assert str(frames["1"]["summary.sometimes"].dtype) == "Int64"
    assert frames["1"]["summary.mixed"].dtype == object
