"""Names: Experiment(name=...) records into <experiments>/<name>/<id>/ (spec §14.4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from meticulous import Experiment, InvalidExperimentError
from record_helpers import read_json, run, snapshot, status_of, write_script

SCRIPT = """
import argparse
from meticulous import Experiment

parser = argparse.ArgumentParser()
parser.add_argument("--name", default="mine")   # the script's own --name is untouched
Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
print(experiment.curexpdir)
"""


def test_named_runs_get_their_own_ids_in_the_name_folder(project: Path):
    write_script(project, "train.py", SCRIPT)
    experiments = project / "experiments"
    outputs = []
    for name in ("dense_model", "dense_model", "conv_model"):
        done = run(project, "train.py", "--experiment-name", name)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs == [
        str(experiments / "dense_model" / "1"),
        str(experiments / "dense_model" / "2"),
        str(experiments / "conv_model" / "1"),
    ]
    folder = experiments / "dense_model" / "2"
    assert status_of(folder)[0] == "SUCCESS"
    assert read_json(folder / "metadata.json")["name"] == "dense_model"
    assert read_json(folder / "args.json") == {"name": "mine"}
    assert (
        experiments / "dense_model" / ".meticulous" / "last-id"
    ).read_text().strip() == "2"
    unnamed = run(project, "train.py")
    assert unnamed.stdout.strip() == str(experiments / "1")
    assert "name" not in read_json(experiments / "1" / "metadata.json")


@pytest.mark.parametrize("name", ["5", "../up", "a/b", ".hidden", "", " x"])
def test_bad_names_are_refused_before_anything_is_written(
    project: Path, monkeypatch, name
):
    monkeypatch.chdir(project)
    with pytest.raises(InvalidExperimentError, match="name"):
        Experiment({}, name=name)
    assert not (project / "experiments").exists()


def test_an_experiment_folder_cannot_become_a_name(project: Path, monkeypatch):
    monkeypatch.chdir(project)
    Experiment({}, experiment_id="taken").finish()
    before = snapshot(project / "experiments")
    with pytest.raises(InvalidExperimentError, match="is an experiment"):
        Experiment({}, name="taken")
    assert snapshot(project / "experiments") == before


def test_a_named_runs_metadata_has_the_examples_keys(project: Path):
    from record_helpers import SPEC

    write_script(project, "train.py", SCRIPT)
    assert run(project, "train.py", "--experiment-name", "dense_model").returncode == 0
    written = read_json(project / "experiments" / "dense_model" / "1" / "metadata.json")
    frozen = read_json(
        SPEC / "examples" / "features" / "dense_model" / "1" / "metadata.json"
    )
    assert set(written) == set(frozen)
    assert written["name"] == frozen["name"] == "dense_model"
