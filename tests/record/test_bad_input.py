"""Every bad input is a clear error raised before anything is written."""

from __future__ import annotations

import pytest
from meticulous import Experiment, InvalidExperimentError, MeticulousError
from record_helpers import run, snapshot, write_script


@pytest.fixture
def recorded(project):
    """A project with one recorded experiment, to prove it is left untouched."""
    write_script(
        project, "one.py", "from meticulous import Experiment\nExperiment({'a': 1})\n"
    )
    assert run(project, "one.py").returncode == 0
    return project


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "", ".hidden", "../../etc"])
def test_path_like_ids_are_refused(recorded, bad_id):
    before = snapshot(recorded / "experiments")
    with pytest.raises(InvalidExperimentError, match="invalid experiment id"):
        Experiment({"a": 1}, project_directory=recorded, experiment_id=bad_id)
    assert snapshot(recorded / "experiments") == before
    assert sorted(p.name for p in recorded.iterdir()) == [
        ".git",
        ".gitignore",
        "experiments",
        "model.py",
        "one.py",
    ]


def test_experiments_directory_that_is_a_file_is_refused(project):
    (project / "results").write_text("not a directory")
    with pytest.raises(InvalidExperimentError, match="is a file, not a directory"):
        Experiment({"a": 1}, project_directory=project, experiments_directory="results")
    assert (project / "results").read_text() == "not a directory"


def test_experiments_directory_below_a_file_is_refused(project):
    (project / "results").write_text("x")
    with pytest.raises(InvalidExperimentError, match="file"):
        Experiment(
            {"a": 1}, project_directory=project, experiments_directory="results/runs"
        )


def test_read_only_experiments_directory_is_refused(recorded, read_only):
    experiments = recorded / "experiments"
    before = snapshot(experiments)
    with (
        read_only(experiments),
        pytest.raises(InvalidExperimentError, match="not writable"),
    ):
        Experiment({"a": 2}, project_directory=recorded)
    assert snapshot(experiments) == before


def test_unserialisable_arg_is_refused(recorded):
    before = snapshot(recorded / "experiments")
    loop: dict = {}
    loop["loop"] = loop
    with pytest.raises(
        InvalidExperimentError, match="args cannot be recorded.*circular"
    ):
        Experiment({"a": loop}, project_directory=recorded)
    with pytest.raises(InvalidExperimentError, match="args must be a dict"):
        Experiment(["a", 1], project_directory=recorded)
    with pytest.raises(InvalidExperimentError, match="description must be a string"):
        Experiment({"a": 1}, project_directory=recorded, description=3)
    assert snapshot(recorded / "experiments") == before


def test_missing_project_directory_is_refused(tmp_path):
    with pytest.raises(InvalidExperimentError, match="is not a directory"):
        Experiment({"a": 1}, project_directory=tmp_path / "nowhere")


def test_unknown_default_for_the_argument_group_is_refused():
    import argparse

    with pytest.raises(MeticulousError, match="unknown meticulous option"):
        Experiment.add_argument_group(argparse.ArgumentParser(), experiment_dir="x")


def test_open_refuses_paths_outside_the_folder(project):
    write_script(
        project,
        "escape.py",
        """\
        from meticulous import Experiment, MeticulousError
        experiment = Experiment({})
        for path in ("../../model.py", "/etc/passwd", "sub/../../x"):
            try:
                experiment.open(path, "w")
            except MeticulousError as error:
                print("refused", path)
        with experiment.open("sub/../inside.txt", "w") as f:
            f.write("ok")
        """,
    )
    done = run(project, "escape.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "refused ../../model.py",
        "refused /etc/passwd",
        "refused sub/../../x",
    ]
    assert (project / "experiments" / "1" / "inside.txt").read_text() == "ok"
    assert (project / "model.py").read_text() == "LAYERS = 2\n"


def test_norecord_checks_nothing_and_writes_nothing(project):
    write_script(
        project,
        "dev.py",
        """\
        import argparse
        from meticulous import Experiment
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        Experiment.add_argument_group(parser)
        experiment = Experiment.from_parser(parser)
        experiment.log({"loss": 1.0})
        experiment.summary({"loss": 1.0})
        with experiment.open("out/model.txt", "w") as f:
            f.write("weights")
        print(experiment.experiment_id, experiment.curexpdir)
        experiment.finish()
        """,
    )
    (project / "model.py").write_text("LAYERS = 3\n")  # dirty: not checked
    done = run(project, "dev.py", "--norecord")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "None .\n"  # curexpdir joins like a folder (meticulous-ml)
    assert not (project / "experiments").exists()
    assert (project / "out" / "model.txt").read_text() == "weights"


def test_norecord_outside_a_git_repository(tmp_path):
    experiment = Experiment({"a": 1}, project_directory=tmp_path, norecord=True)
    assert experiment.experiment_id is None
    assert experiment.curexpdir == "."
    experiment.log({"x": 1})
    experiment.summary({"x": 1})
    experiment.finish()
    assert list(tmp_path.iterdir()) == []
