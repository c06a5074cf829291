"""meticulous.current() (spec §14.2), from a script run as a separate process."""

from __future__ import annotations

import json
from pathlib import Path

import meticulous
from meticulous import Experiment
from record_helpers import run, status_of, write_script

SCRIPT = """
import meticulous
from meticulous import Experiment

def deep_library_code(value):
    run = meticulous.current()
    if run is not None:
        run.log({"from_library": value})

print("before", meticulous.current())
with Experiment({"lr": 0.1}) as outer:
    print("outer", meticulous.current() is outer)
    deep_library_code(1.0)
    inner = Experiment({"lr": 0.2})
    print("inner", meticulous.current() is inner)
    deep_library_code(2.0)
    inner.finish()
    print("after inner", meticulous.current() is outer)
print("after", meticulous.current())
off = Experiment({}, norecord=True)
print("norecord", meticulous.current() is off)
"""


def test_current_follows_the_innermost_running_experiment(project: Path):
    write_script(project, "train.py", SCRIPT)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "before None",
        "outer True",
        "inner True",
        "after inner True",
        "after None",
        "norecord True",
    ]
    for experiment_id, value in (("1", 1.0), ("2", 2.0)):
        folder = project / "experiments" / experiment_id
        assert status_of(folder)[0] == "SUCCESS"
        (line,) = (folder / "metrics.jsonl").read_text().splitlines()
        assert json.loads(line)["from_library"] == value


def test_current_is_public_and_cleared_by_a_norecord_with_block():
    assert "current" in meticulous.__all__
    with Experiment({}, norecord=True) as experiment:
        assert meticulous.current() is experiment
    assert meticulous.current() is None
