"""The Python API: ExperimentReader properties, Experiments, the DataFrame."""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from helpers.synth import UTC, write_experiment
from meticulous_read import ExperimentReader, Experiments


def test_reader_properties(tmp_path):
    folder = write_experiment(
        tmp_path,
        1,
        args={"lr": 0.1, "layers": [64, 32]},
        default_args={"lr": 0.01, "layers": [128]},
        summary={"loss": 0.25},
        metrics=[{"loss": 1.0}, {"loss": 0.5, "acc": 0.7}],
        stdout="hello\n",
        stderr="careful\n",
    )
    (folder / "model.pkl").write_bytes(b"\x80weights")
    experiment = Experiments(tmp_path)[1]
    assert experiment.id == "1"
    assert experiment.path == folder
    assert experiment.args == {"lr": 0.1, "layers": [64, 32]}
    assert experiment.default_args == {"lr": 0.01, "layers": [128]}
    assert experiment.summary == {"loss": 0.25}
    assert experiment.metadata["host"] == "node017"
    assert experiment.status == "SUCCESS"
    assert experiment.status_message == ""
    assert experiment.stdout == "hello\n"
    assert experiment.stderr == "careful\n"
    assert experiment.dirty_patch is None
    assert list(experiment.metrics.columns) == ["_step", "_time", "loss", "acc"]
    assert list(experiment.metrics["loss"]) == [1.0, 0.5]
    with experiment.open("model.pkl", "rb") as handle:
        assert handle.read() == b"\x80weights"


def test_open_refuses_writing_and_escaping(tmp_path):
    write_experiment(tmp_path, 1)
    experiment = Experiments(tmp_path)["1"]
    with pytest.raises(ValueError, match="reading only"):
        experiment.open("summary.json", "w")
    with pytest.raises(ValueError, match="not inside"):
        experiment.open("../../etc/passwd")
    assert (tmp_path / "1" / "summary.json").exists() is False


def test_reader_alone_reads_a_folder_lazily(tmp_path):
    folder = write_experiment(tmp_path, "solo", summary={"loss": 1.5})
    experiment = ExperimentReader(folder)
    assert experiment.summary == {"loss": 1.5}
    assert experiment.status == "SUCCESS"


def test_len_iteration_membership_and_indexing(tmp_path):
    for experiment_id in ("10", "2", "b", "a", "1"):
        write_experiment(tmp_path, experiment_id)
    experiments = Experiments(tmp_path)
    assert len(experiments) == 5
    assert experiments.ids == ["1", "2", "10", "a", "b"]
    assert [experiment.id for experiment in experiments] == experiments.ids
    assert 10 in experiments and "a" in experiments and "c" not in experiments
    assert experiments[10].id == "10"
    with pytest.raises(KeyError, match="no experiment '3'"):
        experiments[3]


def test_dataframe_columns_and_types(tmp_path):
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    write_experiment(
        tmp_path,
        1,
        args={"lr": 0.1, "epochs": 10, "model": "mlp", "layers": [64, 32]},
        summary={"loss": 0.5, "best": 3, "ok": True},
        started=started,
        duration_seconds=90,
        metadata={"description": "first", "slurm": {"partition": "gpu"}},
    )
    write_experiment(
        tmp_path,
        2,
        args={"lr": 1, "epochs": 20, "model": "cnn", "layers": [8]},
        summary={"loss": "Infinity"},
        status="RUNNING",
    )
    frame = Experiments(tmp_path).as_dataframe()
    assert frame.index.name == "id"
    assert list(frame.columns[:9]) == [
        "status",
        "status_message",
        "start",
        "end",
        "duration",
        "sha",
        "dirty",
        "description",
        "host",
    ]
    assert frame.loc["1", "start"] == pd.Timestamp(started)
    assert str(frame["start"].dt.tz) == "UTC"
    assert frame.loc["1", "duration"] == pd.Timedelta(seconds=90)
    assert pd.isna(frame.loc["2", "end"])  # still running
    assert frame["args.lr"].dtype == "float64"  # 0.1 and 1 together
    assert frame["args.epochs"].dtype == "int64"
    assert frame.loc["1", "args.layers"] == [64, 32]
    assert frame.loc["2", "summary.loss"] == math.inf
    assert frame.loc["1", "summary.best"] == 3
    assert pd.isna(frame.loc["2", "summary.best"])
    assert frame.loc["1", "metadata.slurm.partition"] == "gpu"
    assert frame.loc["1", "description"] == "first"
    assert not frame.loc["1", "dirty"]
    assert frame.loc["2", "status"] == "RUNNING"
    selected = frame[frame["summary.loss"] < 1]
    assert list(selected.index) == ["1"]


def test_empty_directory_gives_an_empty_frame_with_the_fixed_columns(tmp_path):
    frame = Experiments(tmp_path).as_dataframe()
    assert len(frame) == 0
    assert "status" in frame.columns and "start" in frame.columns


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Experiments(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        Experiments(tmp_path / "file")


class AccuracyReader(ExperimentReader):
    """A project's reader: derived fields become columns."""

    @property
    def best_accuracy(self):
        return self.metrics["acc"].max()

    @functools.cached_property
    def steps(self):
        return len(self.metrics)

    @property
    def _private(self):
        return "not a column"

    def method(self):
        return "not a column either"


def test_subclass_properties_become_columns(tmp_path):
    write_experiment(tmp_path, 1, metrics=[{"acc": 0.5}, {"acc": 0.9}])
    write_experiment(tmp_path, 2, metrics=[{"acc": 0.7}])
    experiments = Experiments(tmp_path, reader=AccuracyReader)
    assert isinstance(experiments[1], AccuracyReader)
    frame = experiments.as_dataframe()
    assert list(frame["best_accuracy"]) == [0.9, 0.7]
    assert list(frame["steps"]) == [2, 1]
    assert "_private" not in frame.columns and "method" not in frame.columns
    assert list(frame.columns).index("best_accuracy") < list(frame.columns).index(
        "args.lr"
    )


class FragileReader(ExperimentReader):
    @property
    def first_loss(self):
        return self.metrics["loss"].iloc[0]


def test_a_failing_subclass_property_warns_once_and_leaves_blanks(tmp_path):
    write_experiment(tmp_path, 1, metrics=[{"loss": 0.5}])
    write_experiment(tmp_path, 2)
    write_experiment(tmp_path, 3)
    experiments = Experiments(tmp_path, reader=FragileReader)
    with pytest.warns(UserWarning, match=r"2 experiments where property first_loss"):
        frame = experiments.as_dataframe()
    assert frame.loc["1", "first_loss"] == 0.5
    assert pd.isna(frame.loc["2", "first_loss"])


def test_reader_must_be_an_experiment_reader(tmp_path):
    with pytest.raises(TypeError):
        Experiments(tmp_path, reader=dict)


def test_long_metrics_for_learning_curves(tmp_path):
    write_experiment(tmp_path, 1, metrics=[{"loss": 1.0, "note": "x"}, {"loss": "NaN"}])
    write_experiment(tmp_path, 2, metrics=[{"loss": 2.0, "acc": 0.1}])
    write_experiment(tmp_path, 3)
    long = Experiments(tmp_path).metrics()
    assert list(long.columns) == ["id", "step", "time", "name", "value"]
    assert list(zip(long["id"], long["step"], long["name"])) == [
        ("1", 0, "loss"),
        ("1", 1, "loss"),
        ("2", 0, "loss"),
        ("2", 0, "acc"),
    ]
    assert math.isnan(long["value"].iloc[1])
    assert long["time"].iloc[0] == pd.Timestamp(datetime(2026, 11, 20, 10, tzinfo=UTC))
    losses = long[long["name"] == "loss"]
    pivot = losses.pivot_table(index="step", columns="id", values="value")
    assert pivot.loc[0, "2"] == 2.0


def test_metrics_skip_a_garbled_middle_line_with_a_warning(tmp_path):
    folder = write_experiment(tmp_path, 1)
    (folder / "metrics.jsonl").write_text(
        '{"_step": 0, "loss": 1}\nnot json\n{"_step": 1, "loss": 0.5}\n'
    )
    experiment = Experiments(tmp_path)[1]
    with pytest.warns(UserWarning, match="1 line"):
        assert list(experiment.metrics["loss"]) == [1.0, 0.5]


def test_snapshot_in_time_and_refresh(tmp_path):
    write_experiment(tmp_path, 1)
    experiments = Experiments(tmp_path)
    write_experiment(tmp_path, 2)
    assert len(experiments) == 1
    experiments.refresh()
    assert experiments.ids == ["1", "2"]


def test_timestamps_of_several_offsets_become_one_utc_column(tmp_path):
    paris = timezone(timedelta(hours=2))
    write_experiment(tmp_path, 1, started=datetime(2026, 5, 1, 14, 0, tzinfo=paris))
    write_experiment(tmp_path, 2, metadata={"timestamp": "garbage"})
    frame = Experiments(tmp_path).as_dataframe()
    assert frame.loc["1", "start"] == pd.Timestamp("2026-05-01 12:00", tz="UTC")
    assert pd.isna(frame.loc["2", "start"])
