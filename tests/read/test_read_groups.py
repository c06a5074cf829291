"""Experiments in group folders (spec §1, issue 10): ``tt_runs/dense_model/1/``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from helpers.synth import age_folder, write_experiment
from meticulous_read import Experiments, MeticulousReadWarning
from meticulous_read.cli import main


def read(directory: Path, **options) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory, **options)


@pytest.fixture
def tt_runs(tmp_path: Path) -> Path:
    """A test_tube-like layout: runs under named groups, and one at the top."""
    directory = tmp_path / "tt_runs"
    made = [
        write_experiment(directory, 3, summary={"loss": 0.3}),
        write_experiment(directory / "dense_model", 1, summary={"loss": 0.1}),
        write_experiment(directory / "dense_model", 2, summary={"loss": 0.2}),
        write_experiment(directory / "dense_model", "named", summary={"loss": 0.4}),
        write_experiment(directory / "conv" / "small", 1, summary={"loss": 0.5}),
        write_experiment(directory / "a" / "b" / "c" / "d" / "e", 1),  # too deep
    ]
    (directory / "notes").mkdir()
    (directory / "notes" / "todo.txt").write_text("try a bigger lr")
    for folder in made:
        age_folder(folder)
    for group in ("dense_model", "conv/small", "conv", "notes"):
        age_folder(directory / group)
    return directory


EXPECTED = ["3", "conv/small/1", "dense_model/1", "dense_model/2", "dense_model/named"]


def test_groups_are_found_and_named(tt_runs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MeticulousReadWarning)
        experiments = Experiments(tt_runs)
    assert experiments.ids == EXPECTED
    frame = experiments.as_dataframe()
    assert list(frame.columns[:2]) == ["name", "status"]
    assert frame["name"].fillna("").tolist() == ["", "conv/small", *["dense_model"] * 3]
    assert frame.at["dense_model/2", "summary.loss"] == 0.2
    run = experiments["dense_model/1"]
    assert (run.id, run.name, run.summary) == (
        "dense_model/1",
        "dense_model",
        {"loss": 0.1},
    )
    assert run.path == tt_runs / "dense_model" / "1"
    assert experiments["3"].name is None
    messages = " ".join(str(w.message) for w in caught)
    assert "not experiments, skipped: " in messages and "notes" in messages


def test_a_folder_without_groups_has_no_name_column(tmp_path):
    write_experiment(tmp_path, 1)
    assert "name" not in read(tmp_path).as_dataframe().columns


def test_the_command_lists_shows_and_filters_groups(tt_runs, capsys):
    assert main([str(tt_runs), "--json", "--filter", "name == 'dense_model'"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == EXPECTED[2:]
    assert {row["name"] for row in rows} == {"dense_model"}
    assert main(["show", str(tt_runs), "dense_model/2"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("experiment dense_model/2: SUCCESS")
    for bad in ("dense_model/../3", "dense_model/9", "notes/todo.txt", "/3", "3/"):
        assert main(["show", str(tt_runs), bad]) == 2, bad
    capsys.readouterr()
    assert main([str(tt_runs), "--width", "0"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:2] == ["id", "name"]


def test_a_new_run_in_a_group_is_listed_from_a_warm_cache(tt_runs, capsys):
    for _ in range(2):  # the second listing comes from the listing cache
        assert main([str(tt_runs), "--json"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == len(EXPECTED)
    age_folder(write_experiment(tt_runs / "dense_model", 3))
    age_folder(tt_runs / "dense_model")
    assert main([str(tt_runs), "--json"]) == 0
    ids = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert "dense_model/3" in ids
    assert "dense_model/3" in read(tt_runs).ids
