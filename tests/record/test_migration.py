"""meticulous-ml's users switching: its names, its reader's new home, its scripts."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import meticulous
import pytest
from record_helpers import read_json, run, status_of, write_script


def test_meticulous_experiment_keeps_the_exception_names():
    from meticulous.experiment import (
        DirtyRepoException,
        MismatchedArgsException,
        MismatchedCommitException,
    )

    assert DirtyRepoException is meticulous.DirtyRepoException
    assert MismatchedArgsException is meticulous.MismatchedArgsException
    assert MismatchedCommitException is meticulous.MismatchedCommitException


@pytest.mark.parametrize("name", ["Experiments", "ExperimentReader"])
def test_the_old_reader_names_say_where_the_reader_went(name):
    code = f"from meticulous import {name}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("meticulous.compat.ReaderMovedError: ")
    assert "pip install meticulous-read" in last
    assert f"meticulous_read.{name}" in last
    assert name not in dir(meticulous)
    with pytest.raises(ImportError, match="meticulous-read"):
        getattr(meticulous, name)
    with pytest.raises(AttributeError, match="no attribute"):
        meticulous.NoSuchThing  # noqa: B018


def test_import_loads_no_optional_library():
    code = (
        "import sys, meticulous; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'numpy', 'pandas', 'PIL', 'matplotlib', 'torch', 'keras', 'pickle', 'git'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"


# meticulous-ml's getting-started script, unchanged (its docs' "Code snippet"),
# plus the other calls of its API a script may make.
METICULOUS_ML_SCRIPT = """
import argparse
import pickle as pkl
from meticulous import Experiment
from meticulous.experiment import DirtyRepoException

parser = argparse.ArgumentParser()
parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                    help='input batch size for training (default: 64)')
Experiment.add_argument_group(parser)
print(sorted(Experiment.extract_meticulous_args(parser, ['--description', 'x'])))
experiment = Experiment.from_parser(parser)
args = parser.parse_args()
loss, accuracy, weights = 0.25, 0.9, [1, 2, 3]
experiment.summary({'loss': loss, 'accuracy': accuracy})
with experiment.open('model.pkl', 'wb') as f:
    pkl.dump(weights, f)
print(experiment.curexpdir, experiment.metadata['githead-sha'][:7], args.batch_size)
"""


def test_a_meticulous_ml_script_runs_unchanged(project: Path):
    write_script(project, "train.py", METICULOUS_ML_SCRIPT)
    done = run(project, "train.py", "--batch-size", "32", "--description", "first")
    assert done.returncode == 0, done.stderr
    options, printed = done.stdout.splitlines()
    curexpdir, sha, batch = printed.split()
    assert "description" in options
    folder = project / "experiments" / "1"
    assert curexpdir == str(folder)
    assert batch == "32"
    assert status_of(folder)[0] == "SUCCESS"
    assert read_json(folder / "args.json") == {"batch_size": 32}
    assert read_json(folder / "default_args.json") == {"batch_size": 64}
    assert read_json(folder / "summary.json") == {"loss": 0.25, "accuracy": 0.9}
    assert read_json(folder / "metadata.json")["description"] == "first"
    assert read_json(folder / "metadata.json")["githead-sha"].startswith(sha)
    assert pickle.loads((folder / "model.pkl").read_bytes()) == [1, 2, 3]


FINISH = """
from meticulous import Experiment
experiment = Experiment({'a': 1}, {'a': 0}, project_directory='', description='d')
experiment.finish("ERROR\\nsomething went wrong")
"""


def test_meticulous_ml_finish_with_a_status(project: Path):
    write_script(project, "train.py", FINISH)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert status_of(folder) == ("ERROR", "something went wrong\n")
    assert read_json(folder / "metadata.json")["exit-code"] == 1
