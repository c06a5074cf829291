"""Curves in the terminal: `--spark` columns and the metrics section of `show`."""

from __future__ import annotations

import json
import os

import pytest
from cli_runner import meticulous
from helpers.synth import write_experiment
from meticulous_read.spark import sparkline


def test_sparkline_shapes():
    assert sparkline([3.0, 2.0, 1.0, 0.0]) == "█▆▃▁"
    assert sparkline(list(range(1000)), width=8) == "▁▂▃▄▅▆▇█"
    assert sparkline([1.0, 1.0]) == "▄▄"  # flat: the middle, not a floor
    assert sparkline([1.0, float("nan"), 0.0]) == "█!▁"  # a diverged run shows
    assert sparkline([]) == ""


@pytest.fixture
def curves(tmp_path):
    write_experiment(
        tmp_path,
        1,
        metrics=[{"loss": 1.0 / (step + 1), "acc": step} for step in range(50)],
    )
    write_experiment(tmp_path, 2, metrics=[{"loss": 1.0}, {"loss": "NaN"}])
    write_experiment(tmp_path, 3)  # no metrics at all
    return tmp_path


def test_spark_column_in_the_listing(curves):
    result = meticulous(curves, "--spark", "loss,acc", "--columns", "status")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "status", "spark.loss", "spark.acc"]
    first = lines[1].split()
    assert len(first[2]) == 20 and first[2].endswith("▁▁▁")
    assert first[2] == sparkline([1.0 / (step + 1) for step in range(50)])
    assert first[3] == sparkline([float(step) for step in range(50)])
    assert lines[2].split()[2] == "▄!"
    assert lines[3].split() == ["3", "SUCCESS"]
    records = json.loads(meticulous(curves, "--spark", "loss", "--json").stdout)
    assert records[0]["spark.loss"] == first[2]


def test_spark_sees_appended_metrics_despite_the_caches(curves):
    old = 1e9
    for folder in curves.iterdir():
        os.utime(folder, (old, old))
    before = meticulous(curves, "--spark", "loss", "--columns", "status").stdout
    with open(curves / "3" / "metrics.jsonl", "a") as handle:  # appends keep the key
        handle.write('{"_step": 0, "_time": 1, "loss": 2}\n')
        handle.write('{"_step": 1, "_time": 2, "loss": 1}\n')
    after = meticulous(curves, "--spark", "loss", "--columns", "status").stdout
    assert before.splitlines()[3].split() == ["3", "SUCCESS"]
    assert after.splitlines()[3].split() == ["3", "SUCCESS", "█▁"]


def test_spark_with_groupby_is_an_error(curves):
    result = meticulous(curves, "--spark", "loss", "--groupby", "status")
    assert result.returncode == 2 and "--spark" in result.stderr


def test_show_draws_every_metric_with_first_min_max_last(curves):
    text = meticulous("show", curves, "1").stdout
    lines = {line.split()[0]: line for line in text.splitlines() if "points)" in line}
    assert set(lines) == {"loss", "acc"}
    assert "first 1  min 0.02  max 1  last 0.02  (50 points)" in lines["loss"]
    assert "first 0  min 0  max 49  last 49" in lines["acc"]
    diverged = meticulous("show", curves, "2").stdout
    assert "▄!" in diverged and "last nan" in diverged.lower()
    assert "metrics:" not in meticulous("show", curves, "3").stdout
