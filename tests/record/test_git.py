"""The code must be committed; --allow-dirty records the difference instead."""

from __future__ import annotations

import subprocess
import sys

import pytest
from record_helpers import git, read_json, run, snapshot, status_of, write_script

SCRIPT = """\
    import argparse
    from meticulous import Experiment
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    print("recorded in", experiment.curexpdir)
"""


def test_dirty_repo_is_refused_listing_files_and_nothing_is_written(project):
    write_script(project, "train.py", SCRIPT)
    (project / "model.py").write_text("LAYERS = 3\n")  # tracked, modified
    (project / "new_module.py").write_text("")  # untracked: not a reason to refuse
    done = run(project, "train.py")
    assert done.returncode == 1
    assert "DirtyRepoException" in done.stderr
    assert "model.py" in done.stderr
    assert "new_module.py" not in done.stderr
    assert "--allow-dirty" in done.stderr
    assert not (project / "experiments").exists()


def test_staged_changes_also_count_as_dirty(project):
    write_script(project, "train.py", SCRIPT)
    (project / "model.py").write_text("LAYERS = 4\n")
    git(project, "add", "model.py")
    done = run(project, "train.py")
    assert done.returncode == 1
    assert "model.py" in done.stderr


def test_untracked_files_alone_are_not_dirty(project):
    write_script(project, "train.py", SCRIPT)
    (project / "notes.txt").write_text("scratch")
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert read_json(folder / "metadata.json")["dirty"] is False
    assert not (folder / "dirty.patch").exists()


def test_allow_dirty_records_patch_untracked_and_flag(project):
    write_script(project, "train.py", SCRIPT)
    (project / "model.py").write_text("LAYERS = 3\n")
    (project / "new_module.py").write_text("X = 1\n")
    before = git(project, "status", "--porcelain")
    done = run(project, "train.py", "--allow-dirty")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert read_json(folder / "metadata.json")["dirty"] is True
    patch = (folder / "dirty.patch").read_text()
    assert "-LAYERS = 2" in patch and "+LAYERS = 3" in patch
    assert (folder / "untracked.txt").read_text() == "new_module.py\n"
    assert status_of(folder)[0] == "SUCCESS"
    # The patch applies to the recorded commit and gives back the code that ran.
    git(project, "stash", "-q")
    git(project, "apply", str(folder / "dirty.patch"))
    assert (project / "model.py").read_text() == "LAYERS = 3\n"
    git(project, "checkout", "-q", "--", "model.py")
    git(project, "stash", "pop", "-q")
    assert git(project, "status", "--porcelain") == before


def test_recorder_never_changes_the_repository(project):
    write_script(project, "train.py", SCRIPT)
    (project / "model.py").write_text("LAYERS = 3\n")
    git_dir = project / ".git"
    before = snapshot(git_dir)
    assert run(project, "train.py", "--allow-dirty").returncode == 0
    assert run(project, "train.py", "--allow-dirty").returncode == 0
    assert snapshot(git_dir) == before  # not even the index's stat cache


def test_not_a_git_repository_is_a_clear_error(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("from meticulous import Experiment\nExperiment({'a': 1})\n")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "NotAGitRepositoryError" in done.stderr
    assert "not inside a usable git repository" in done.stderr
    assert not (tmp_path / "experiments").exists()


def test_repository_without_commits_is_a_clear_error(tmp_path):
    git(tmp_path, "init", "-q")
    script = tmp_path / "train.py"
    script.write_text("from meticulous import Experiment\nExperiment({'a': 1})\n")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no commit yet" in done.stderr
    assert not (tmp_path / "experiments").exists()


@pytest.mark.parametrize("packed", [False, True])
def test_the_commit_message_is_recorded_as_git_log_gives_it(project, packed):
    """Read from HEAD's loose object when it is one, else from ``git log``:
    the same text either way (a multi-line message, a non-ASCII subject)."""
    write_script(
        project, "train.py", "from meticulous import Experiment\nExperiment({})\n"
    )
    (project / "model.py").write_text("LAYERS = 3\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "Dropout à 0.1\n\nWhy: the loss\n  plateaued.\n")
    if packed:
        git(project, "gc", "-q")
        assert not list((project / ".git" / "objects").glob("[0-9a-f][0-9a-f]/*"))
    assert run(project, "train.py").returncode == 0
    logged = git(project, "log", "-1", "--format=%B").removesuffix("\n")
    metadata = read_json(project / "experiments" / "1" / "metadata.json")
    assert metadata["githead-message"] == logged
    assert metadata["githead-sha"] == git(project, "rev-parse", "HEAD").strip()
