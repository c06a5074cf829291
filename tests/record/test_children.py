"""Child runs (spec §14.3), from scripts run as separate processes."""

from __future__ import annotations

import signal
from pathlib import Path

from record_helpers import read_json, run, start, status_of, wait_for, write_script

FOLDS = """
import meticulous
from meticulous import Experiment

with Experiment({"folds": 2}) as parent:
    print("parent starts", flush=True)
    for fold in range(2):
        with parent.child({"fold": fold}, name=f"fold{fold}") as run:
            print(f"in fold {fold}", flush=True)
            run.log({"loss": fold})
            assert meticulous.current() is run
    with parent.child({"x": 1}, description="unnamed") as unnamed:
        print("unnamed", flush=True)
    assert meticulous.current() is parent
    parent.log({"loss": 0.1})
    print("parent ends", flush=True)
"""


def test_children_are_siblings_that_name_their_parent(project: Path):
    write_script(project, "train.py", FOLDS)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    experiments = project / "experiments"
    assert sorted(
        p.name for p in experiments.iterdir() if not p.name.startswith(".")
    ) == [
        "1",
        "1.fold0",
        "1.fold1",
        "2",
    ]
    parent = read_json(experiments / "1" / "metadata.json")
    assert parent["children"] == ["1.fold0", "1.fold1", "2"]
    assert "parent" not in parent
    for child in ("1.fold0", "1.fold1", "2"):
        folder = experiments / child
        assert status_of(folder)[0] == "SUCCESS"
        metadata = read_json(folder / "metadata.json")
        assert metadata["parent"] == "1"
        assert metadata["githead-sha"] == parent["githead-sha"]
    assert read_json(experiments / "1.fold1" / "args.json") == {"fold": 1}
    assert read_json(experiments / "2" / "metadata.json")["description"] == "unnamed"
    assert (experiments / "1.fold0" / "stdout").read_text() == "in fold 0\n"
    assert (experiments / "1" / "stdout").read_text() == (
        "parent starts\nin fold 0\nin fold 1\nunnamed\nparent ends\n"
    )
    assert done.stdout.count("in fold 0") == 1
    assert status_of(experiments / "1")[0] == "SUCCESS"


FAILING = """
from meticulous import Experiment

parent = Experiment({})
with parent.child({"fold": 0}, name="bad"):
    raise ValueError("fold 0 diverged")
"""


def test_an_exception_in_a_child_ends_both_with_the_traceback(project: Path):
    write_script(project, "train.py", FAILING)
    done = run(project, "train.py")
    assert done.returncode == 1
    for folder in ("1.bad", "1"):
        word, message = status_of(project / "experiments" / folder)
        assert word == "ERROR", folder
        assert "ValueError: fold 0 diverged" in message
    assert done.stderr.count("ValueError: fold 0 diverged") == 1


SLEEPING = """
import time
from meticulous import Experiment

parent = Experiment({})
with parent.child({"fold": 0}, name="slow"):
    print("ready", flush=True)
    time.sleep(60)
"""


def test_a_signal_while_a_child_runs_interrupts_child_then_parent(project: Path):
    write_script(project, "train.py", SLEEPING)
    process = start(project, "train.py")
    child = project / "experiments" / "1.slow"
    wait_for(
        lambda: (
            (child / "stdout").exists() and "ready" in (child / "stdout").read_text()
        )
    )
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGTERM
    for folder in (child, project / "experiments" / "1"):
        word, message = status_of(folder)
        assert (word, message.splitlines()[0]) == ("INTERRUPTED", "signal SIGTERM")
        assert read_json(folder / "metadata.json")["exit-code"] == -signal.SIGTERM


NORECORD = """
from meticulous import Experiment

parent = Experiment({}, norecord=True)
with parent.child({"fold": 0}, name="x") as run:
    print(run.norecord, run.experiment_id)
"""


def test_a_norecord_parent_has_norecord_children(project: Path):
    (project / "model.py").write_text("dirty = True\n")
    write_script(project, "train.py", NORECORD, commit=False)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "True None\n"
    assert not (project / "experiments").exists()


RESERVED = """
from meticulous import Experiment

parent = Experiment({})
with parent.child({"fold": 0}) as run:
    print(parent.experiment_id, run.experiment_id)
"""


def test_a_child_never_takes_its_parents_reservation(project: Path):
    write_script(project, "train.py", RESERVED)
    experiments = project / "experiments"
    env = {
        "METICULOUS_EXPERIMENTS_DIRECTORY": str(experiments),
        "METICULOUS_EXPERIMENT_ID": "7",
    }
    done = run(project, "train.py", env=env)
    assert done.returncode == 0, done.stderr
    parent_id, child_id = done.stdout.split()
    assert parent_id == "7" and child_id not in ("7", "")
    assert read_json(experiments / child_id / "metadata.json")["parent"] == "7"


def test_parent_and_children_keys_have_the_examples_types(project: Path):
    from record_helpers import SPEC

    write_script(project, "train.py", FOLDS)
    assert run(project, "train.py").returncode == 0
    examples = SPEC / "examples" / "features"
    for recorded, example in (("1.fold0", "10.fold0"), ("1", "10")):
        written = read_json(project / "experiments" / recorded / "metadata.json")
        frozen = read_json(examples / example / "metadata.json")
        assert set(written) == set(frozen), recorded
        assert {k: type(v) for k, v in written.items() if v is not None} == {
            k: type(v) for k, v in frozen.items() if v is not None
        }


CHDIR = """
import os
from meticulous import Experiment

parent = Experiment({})
os.chdir("/")  # the child still records from the parent's project
with parent.child({"fold": 0}, name="moved") as run:
    print(run.curexpdir)
"""


def test_a_child_uses_the_parents_project_whatever_the_cwd(project: Path):
    write_script(project, "train.py", CHDIR)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(project / "experiments" / "1.moved")
    assert status_of(project / "experiments" / "1.moved")[0] == "SUCCESS"
