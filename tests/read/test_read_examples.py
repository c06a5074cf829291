"""The reader reports exactly what spec/examples/expected.json says."""

from __future__ import annotations

import math
import warnings

import pytest
from meticulous_read import Experiments, MeticulousReadWarning


def read_quietly(directory) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory)


def test_order_is_integer_ids_then_others(examples, expected):
    experiments = read_quietly(examples)
    assert experiments.ids == expected["order"]
    assert list(experiments.as_dataframe().index) == expected["order"]
    assert [experiment.id for experiment in experiments] == expected["order"]


def test_statuses_and_values(examples, expected):
    experiments = read_quietly(examples)
    frame = experiments.as_dataframe()
    for experiment_id, facts in expected["experiments"].items():
        experiment = experiments[experiment_id]
        assert experiment.status == facts["status"], experiment_id
        assert frame.loc[experiment_id, "status"] == facts["status"]
        if "status_message_contains" in facts:
            assert facts["status_message_contains"] in experiment.status_message
            assert (
                facts["status_message_contains"]
                in frame.loc[experiment_id, "status_message"]
            )
        for column in ("summary.loss", "args.lr"):
            if column in facts:
                assert frame.loc[experiment_id, column] == facts[column]
        if "dirty" in facts:
            assert bool(frame.loc[experiment_id, "dirty"]) is facts["dirty"]
        if "metrics_rows" in facts:
            assert len(experiment.metrics) == facts["metrics_rows"]
        if "resumes" in facts:
            assert len(experiment.metadata["resumes"]) == facts["resumes"]


def test_unterminated_metrics_line_is_ignored(examples):
    experiments = read_quietly(examples)
    long = experiments.metrics()
    second = long[long["id"] == "2"]
    assert list(second["step"]) == [0, 1]
    assert second["value"].iloc[0] == 5.2
    assert second["value"].iloc[1] == math.inf  # "Infinity" written as a string


def test_nan_string_in_summary_is_a_float(examples):
    frame = read_quietly(examples).as_dataframe()
    assert math.isnan(frame.loc["2", "summary.loss"])
    assert frame["summary.loss"].dtype == "float64"


def test_non_utf8_output_is_read_with_replacement(examples):
    experiment = read_quietly(examples)["3"]
    assert "\ufffd" in experiment.stdout
    assert experiment.stdout.startswith("loading\n")
    assert "DROPOUT = 0.3" in experiment.dirty_patch


def test_notes_folder_warns_once_and_stray_entries_are_silent(examples):
    with pytest.warns(MeticulousReadWarning) as caught:
        experiments = Experiments(examples)
    messages = [str(warning.message) for warning in caught]
    assert sum("notes" in message for message in messages) == 1
    assert sum("BROKEN" in message and "6" in message for message in messages) == 1
    assert len(messages) == 2
    assert not any(
        "stray" in message or ".meticulous" in message for message in messages
    )
    assert "notes" not in experiments and "stray.txt" not in experiments
    assert ".meticulous" not in experiments


def test_unsupported_shows_what_it_could_read(examples):
    frame = read_quietly(examples).as_dataframe()
    assert frame.loc["7", "args.lr"] == 0.5
    assert "spec-version 2" in frame.loc["7", "status_message"]


def test_broken_row_keeps_readable_args(examples):
    frame = read_quietly(examples).as_dataframe()
    assert frame.loc["6", "args.lr"] == 0.01
    assert "STATUS is missing" in frame.loc["6", "status_message"]
