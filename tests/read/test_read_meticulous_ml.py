"""Folders that meticulous-ml itself wrote read fully (issue 9).

The data and how it was made: ``data/meticulous-ml/README.md``.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from meticulous_read import Experiments, MeticulousReadWarning

DATA = Path(__file__).parent / "data" / "meticulous-ml" / "experiments"


@pytest.fixture
def written(tmp_path: Path) -> Path:
    target = tmp_path / "experiments"
    shutil.copytree(DATA, target)
    return target


def read(directory: Path) -> tuple[Experiments, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MeticulousReadWarning)
        experiments = Experiments(directory, cache=False)
    return experiments, [str(warning.message) for warning in caught]


def test_statuses_and_nothing_broken(written):
    experiments, messages = read(written)
    frame = experiments.as_dataframe()
    assert frame["status"].tolist() == [
        "SUCCESS",
        "SUCCESS",
        "SUCCESS",
        "ERROR",
        "DEAD",
    ]
    assert not any("BROKEN" in message for message in messages)
    assert frame.at["4", "status_message"].endswith("ValueError: loss is NaN")
    assert (
        "no heartbeat file, started 2026-12-01 21:49:54 UTC"
        in (frame.at["5", "status_message"])
    )


def test_start_end_and_duration_come_from_start_time_and_end_time(written):
    frame = read(written)[0].as_dataframe()
    assert frame.at["1", "start"] == pd.Timestamp("2026-12-01T21:49:05.742343Z")
    assert frame.at["1", "end"] == pd.Timestamp("2026-12-01T21:49:06.947915Z")
    assert frame.at["1", "duration"] == pd.Timedelta(microseconds=1_205_572)
    assert pd.isna(frame.at["5", "end"]) and pd.isna(frame.at["5", "duration"])
    assert "metadata.start-time" not in frame.columns
    assert frame["start"].notna().all()


def test_defaults_recorded_as_null_mean_no_defaults(written):
    experiments = read(written)[0]
    assert experiments["3"].default_args == {}
    assert experiments["3"].args["lr"] == 0.3
    assert experiments["1"].default_args["lr"] == 0.01
    # Run 3 has no defaults: it is compared with the others' (no_defaults False).
    assert set(experiments.deviating_args()) == {
        "args.lr",
        "args.model",
        "args.no_defaults",
        "args.fail",
        "args.hang",
    }


def test_the_command_lists_them(written, capsys):
    from meticulous_read.cli import main

    assert main([str(written), "--no-cache", "--width", "0", "--color", "never"]) == 0
    out = capsys.readouterr().out
    assert "BROKEN" not in out and "DEAD" in out and "2026-12-01" in out
