"""Tags written by the recorder during a run and by `meticulous tag` after it."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import meticulous_read
from helpers.git import git
from meticulous_read.cli import main

TAGGED = """
from meticulous import Experiment

experiment = Experiment({"lr": 0.1})
experiment.log({"loss": 1.0})
experiment.tag({"seed_ok": True, "note": "first try"})
"""


def test_recorder_and_reader_tags_meet_in_one_file(project: Path, capsys):
    (project / "tagged.py").write_text(TAGGED)
    git(project, "add", ".")
    git(project, "commit", "-qm", "tagged")
    done = subprocess.run(
        [sys.executable, "tagged.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    experiments = project / "experiments"
    assert main(["tag", str(experiments), "1", "best=true", "note=kept"]) == 0
    assert capsys.readouterr().out == '1: seed_ok=true, note="kept", best=true\n'
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", meticulous_read.MeticulousReadWarning)
        frame = meticulous_read.Experiments(experiments).as_dataframe()
    assert bool(frame.loc["1", "tags.seed_ok"]) and bool(frame.loc["1", "tags.best"])
    assert frame.loc["1", "tags.note"] == "kept"
    assert json.loads((experiments / "1" / "tags.json").read_text()) == {
        "seed_ok": True,
        "note": "kept",
        "best": True,
    }
    assert main([str(experiments), "--filter", "tags.best == True", "--json"]) == 0
    assert [row["id"] for row in json.loads(capsys.readouterr().out)] == ["1"]
