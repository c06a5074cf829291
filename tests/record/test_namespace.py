"""Experiment(parser.parse_args()): the meticulous options configure, not record."""

from __future__ import annotations

from pathlib import Path

from record_helpers import read_json, run, write_script

SCRIPT = """
import argparse
from meticulous import Experiment

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
Experiment.add_argument_group(parser, experiments_directory="runs")
args = parser.parse_args()
experiment = Experiment(args)
print(experiment.curexpdir)
"""


def test_namespace_options_are_used_and_left_out_of_args(project: Path):
    (project / ".gitignore").write_text("experiments/\nruns/\n")
    write_script(project, "train.py", SCRIPT)  # commits both
    done = run(
        project, "train.py", "--lr", "0.5", "--experiment-id", "x", "--description", "d"
    )
    assert done.returncode == 0, done.stderr
    folder = project / "runs" / "x"
    assert done.stdout.strip() == str(folder)
    assert read_json(folder / "args.json") == {"lr": 0.5}
    assert read_json(folder / "metadata.json")["description"] == "d"


def test_norecord_in_the_namespace_records_nothing(project: Path):
    write_script(project, "train.py", SCRIPT)
    (project / "model.py").write_text("LAYERS = 3\n")  # dirty: only norecord runs
    done = run(project, "train.py", "--norecord")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "."  # curexpdir is the current directory
    assert not (project / "runs").exists()


def test_an_explicit_keyword_wins_over_the_namespace(tmp_path: Path, monkeypatch):
    import argparse

    from meticulous import Experiment

    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", default=1)
    Experiment.add_argument_group(parser)
    experiment = Experiment(parser.parse_args([]), norecord=True)
    assert experiment.norecord
    assert experiment.args == {"lr": 1}
    assert not list(tmp_path.iterdir())
