"""Per-metric steps (spec §2.5, §14.1), from scripts run as separate processes."""

from __future__ import annotations

import json
from pathlib import Path

from record_helpers import run, write_script

LOGGING = """
import sys
from meticulous import Experiment

experiment = Experiment({}, experiment_id="run")
if sys.argv[1] == "first":
    for i in range(5):
        experiment.log({"loss": i})
        if i % 2 == 1:
            experiment.log({"val_loss": i})
    experiment.log({"loss": 9, "val_loss": 9})   # both: the larger next step
    experiment.log({"acc": 1.0})                 # a new name starts at 0
    experiment.log({"acc": 2.0}, step=10)        # a given step moves acc on
    experiment.log({"acc": 3.0})
    experiment.log({})
else:
    experiment.log({"val_loss": 0})
    experiment.log({"loss": 0})
    experiment.log({"acc": 0})
    experiment.log({"new": 0})
"""


def steps(folder: Path) -> list[tuple[str, int]]:
    rows = [
        json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
    ]
    return [
        ("+".join(k for k in row if not k.startswith("_")), row["_step"])
        for row in rows
    ]


def test_each_metric_counts_its_own_steps_and_a_resume_continues_them(project: Path):
    write_script(project, "train.py", LOGGING)
    first = run(project, "train.py", "first")
    assert first.returncode == 0, first.stderr
    folder = project / "experiments" / "run"
    assert steps(folder) == [
        ("loss", 0),
        ("loss", 1),
        ("val_loss", 0),
        ("loss", 2),
        ("loss", 3),
        ("val_loss", 1),
        ("loss", 4),
        ("loss+val_loss", 5),
        ("acc", 0),
        ("acc", 10),
        ("acc", 11),
        ("", 12),
    ]
    second = run(project, "train.py", "second")
    assert second.returncode == 0, second.stderr
    assert steps(folder)[-4:] == [("val_loss", 6), ("loss", 6), ("acc", 12), ("new", 0)]
