"""Spec §16: each resume of a folder is a new attempt, and its metrics rows say so."""

from __future__ import annotations

import json

from record_helpers import run, write_script

SCRIPT = """\
    import argparse
    from meticulous import Experiment
    parser = argparse.ArgumentParser()
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    for epoch in range(2):
        experiment.log({"loss": 1.0 / (epoch + 1)}, step=epoch)
"""


def test_rows_of_a_resumed_run_carry_its_attempt_and_first_rows_do_not(project):
    write_script(project, "train.py", SCRIPT)
    for _ in range(3):
        result = run(project, "train.py", "--experiment-id", "long")
        assert result.returncode == 0, result.stderr
    folder = project / "experiments" / "long"
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").open()]
    assert [row["_step"] for row in rows] == [0, 1, 0, 1, 0, 1]  # given steps as given
    assert [row.get("_attempt") for row in rows] == [None, None, 2, 2, 3, 3]
    assert list(rows[2]) == ["_step", "_time", "_attempt", "loss"]
