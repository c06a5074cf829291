"""Planted symbolic links and special files (spec 12.1): the recorder never
writes, creates, appends or reads through them, and names them in its error
before anything is written."""

from __future__ import annotations

import os

import pytest
from meticulous import safepaths
from record_helpers import run, snapshot, status_of, write_script

TRAIN = """\
    import argparse
    from meticulous import Experiment
    parser = argparse.ArgumentParser()
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    print("run in", experiment.experiment_id, flush=True)
    experiment.log({"loss": 1.0})
    experiment.summary({"best": 1.0})
"""

# Every file of spec section 2 the recorder opens, and a claim (12.4).
RECORDER_FILES = [*sorted(safepaths.RECORDER_FILES), ".claim"]


@pytest.fixture
def recorded(project, tmp_path):
    """A finished experiment ``7`` and an ``outside`` folder holding a victim
    file per recorder file name."""
    write_script(project, "train.py", TRAIN)
    done = run(project, "train.py", "--experiment-id", "7")
    assert done.returncode == 0, done.stderr
    outside = tmp_path / "outside"
    outside.mkdir()
    return project, project / "experiments" / "7", outside


@pytest.mark.parametrize("name", RECORDER_FILES)
def test_resume_refuses_a_planted_link_before_writing_anything(recorded, name):
    project, folder, outside = recorded
    victim = outside / name
    if name != ".lock":  # a link to a missing target: following it would create it
        victim.write_text('{"stolen": true}\n')
    if (folder / name).exists():
        (folder / name).unlink()
    (folder / name).symlink_to(victim)
    before, outside_before = snapshot(folder), snapshot(outside)

    done = run(project, "train.py", "--experiment-id", "7")

    assert done.returncode == 1
    assert "UnsafePathError" in done.stderr
    assert f"{folder / name} is a symbolic link" in done.stderr
    assert snapshot(folder) == before
    assert snapshot(outside) == outside_before
    assert sorted(os.listdir(outside)) == ([] if name == ".lock" else [name])
    assert (folder / name).is_symlink()


@pytest.mark.parametrize("name", ["metrics.jsonl", "summary.json", "stdout"])
def test_resume_refuses_a_planted_fifo_without_hanging(recorded, name):
    project, folder, _ = recorded
    (folder / name).unlink()
    os.mkfifo(folder / name)
    before = snapshot(folder)
    done = run(project, "train.py", "--experiment-id", "7", timeout=30)
    assert done.returncode == 1
    assert f"{folder / name} is a FIFO, not a regular file" in done.stderr
    assert snapshot(folder) == before


def test_an_experiment_folder_that_is_a_link_is_refused(recorded):
    project, folder, outside = recorded
    elsewhere = outside / "7"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    before = snapshot(elsewhere)
    done = run(project, "train.py", "--experiment-id", "7")
    assert done.returncode == 1
    assert f"{folder} is a symbolic link" in done.stderr
    assert snapshot(elsewhere) == before


def test_a_dangling_link_as_experiment_folder_is_refused(project, tmp_path):
    write_script(project, "train.py", TRAIN)
    experiments = project / "experiments"
    experiments.mkdir()
    (experiments / "new").symlink_to(tmp_path / "nowhere")
    done = run(project, "train.py", "--experiment-id", "new")
    assert done.returncode == 1
    assert f"{experiments / 'new'} is a symbolic link" in done.stderr
    assert not (tmp_path / "nowhere").exists()


def test_an_experiments_directory_that_is_a_link_is_the_users_choice(project, tmp_path):
    write_script(project, "train.py", TRAIN)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (project / "experiments").symlink_to(scratch, target_is_directory=True)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    assert status_of(scratch / "1") == ("SUCCESS", "")


OPENS = """\
    import os, sys
    from meticulous import Experiment
    experiment = Experiment({}, experiment_id="opens")
    folder = experiment.curexpdir
    outside = sys.argv[1]
    os.symlink(outside, os.path.join(folder, "linked_dir"))
    os.symlink(os.path.join(outside, "victim.pkl"), os.path.join(folder, "model.pkl"))
    os.makedirs(os.path.join(folder, "deep", "er"))
    os.symlink(outside, os.path.join(folder, "deep", "er", "hop"))
    for path, mode in [
        ("linked_dir/f", "w"),
        ("linked_dir/new/f", "w"),
        ("model.pkl", "wb"),
        ("model.pkl", "a"),
        ("model.pkl", "r"),
        ("deep/er/hop/f", "x"),
        ("../escape", "w"),
        (os.path.join(outside, "abs"), "w"),
        ("ok/sub/file.txt", "w"),
        ("deep/er/../plain.txt", "w"),
    ]:
        try:
            with experiment.open(path, mode) as file:
                if "r" not in mode:
                    file.write(b"x" if "b" in mode else "x")
            print("opened", path)
        except Exception as error:
            print("refused", path, type(error).__name__, error)
    with experiment.open("ok/sub/file.txt") as file:
        print("reads", file.read())
"""


def test_experiment_open_never_follows_a_link(project, tmp_path):
    write_script(project, "opens.py", OPENS)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.pkl").write_bytes(b"precious")
    done = run(project, "opens.py", str(outside))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    folder = project / "experiments" / "opens"
    for path in ("linked_dir", "model.pkl", "deep/er/hop"):
        assert any(
            line.startswith("refused") and f"{folder / path} is a symbolic link" in line
            for line in lines
        ), (path, lines)
    assert sum(line.startswith("refused") for line in lines) == 8
    assert "opened ok/sub/file.txt" in lines
    assert "opened deep/er/../plain.txt" in lines
    assert "reads x" in lines
    assert (folder / "deep" / "plain.txt").read_text() == "x"
    assert sorted(os.listdir(outside)) == ["victim.pkl"]
    assert (outside / "victim.pkl").read_bytes() == b"precious"
    assert "outside the experiment folder" in done.stdout
