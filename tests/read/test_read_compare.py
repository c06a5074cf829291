"""`meticulous compare`: args, results, metrics' final and best, and commits."""

from __future__ import annotations

import json
import os
import sys

import pytest
from cli_runner import meticulous
from helpers.git import git
from helpers.synth import write_experiment


@pytest.fixture
def project(tmp_path):
    """A repository with three commits and two runs, of the first and the third."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    shas = []
    for message in ("Baseline model", "Add dropout", "Cosine schedule"):
        (repo / "model.py").write_text(message)
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", message)
        shas.append(git(repo, "rev-parse", "HEAD").strip())
    experiments = tmp_path / "experiments"
    for i, (sha, lr) in enumerate(((shas[0], 0.1), (shas[2], 0.3)), start=1):
        write_experiment(
            experiments,
            i,
            args={"lr": lr, "epochs": 10},
            summary={"loss": lr / 2},
            metrics=[
                {"loss": 1.0, "acc": 0.2},
                {"loss": lr, "acc": 0.9},
                {"loss": lr * 2},
            ],
            metadata={"githead-sha": sha, "githead-message": "x\n", "cwd": str(repo)},
        )
    return experiments, repo, shas


def with_git() -> dict:
    return {"PATH": os.environ["PATH"]}


def test_compare_side_by_side(project):
    experiments, _, shas = project
    result = meticulous("compare", experiments, "1", "2", env=with_git())
    assert result.returncode == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        if line.startswith("field"):
            rows["field"] = line.split()[1:]
        elif "  " in line and not line.startswith(" "):
            name, *values = line.split("  ")
            rows[name.strip()] = [v.strip() for v in values if v.strip()]
    assert rows["field"] == ["1", "2"]
    assert rows["args.lr"] == ["0.1", "0.3"]
    assert "args.epochs" not in rows  # the same in both
    assert rows["summary.loss"] == ["0.05", "0.15"]
    assert rows["metrics.loss.final"] == ["0.2", "0.6"]
    assert rows["metrics.loss.best (min)"] == ["0.1", "0.3"]
    assert rows["metrics.acc.best (max)"] == ["0.9", "0.9"]
    assert rows["sha"] == [shas[0], shas[2]]
    text = result.stdout
    assert f"commits from 1 ({shas[0][:8]}) to 2 ({shas[2][:8]}):" in text
    assert f"  {shas[2][:8]}  Cosine schedule" in text
    assert f"  {shas[1][:8]}  Add dropout" in text
    assert "Baseline model" not in text.split("commits from")[1]


def test_compare_json_is_typed_with_commits(project):
    experiments, _, shas = project
    result = meticulous("compare", experiments, "2", "1", "--json", env=with_git())
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ids"] == ["2", "1"]
    fields = {row["field"]: row for row in document["fields"]}
    assert fields["metrics.loss.final"] == {
        "field": "metrics.loss.final",
        "2": 0.6,
        "1": 0.2,
    }
    (entry,) = document["commits"]
    assert entry["direction"] == "backward"  # run 2 is newer than run 1
    assert [c["message"] for c in entry["commits"]] == [
        "Cosine schedule",
        "Add dropout",
    ]
    assert entry["commits"][0]["sha"] == shas[2]


def test_compare_without_a_repository_or_gitpython_says_why(project, tmp_path):
    experiments, _, _ = project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = meticulous(
        "compare", experiments, "1", "2", "--repo", elsewhere, env=with_git()
    )
    assert result.returncode == 0, result.stderr
    assert "no git repository at hand" in result.stdout
    saved = sys.modules.get("git")
    sys.modules["git"] = None  # import git raises ImportError
    try:
        result = meticulous("compare", experiments, "1", "2", env=with_git())
    finally:
        if saved is None:
            del sys.modules["git"]
        else:
            sys.modules["git"] = saved
    assert result.returncode == 0
    assert "install meticulous-read[git]" in result.stdout


def test_compare_needs_two_runs_and_known_ids(project):
    experiments, _, _ = project
    assert meticulous("compare", experiments, "1").returncode == 2
    missing = meticulous("compare", experiments, "1", "9")
    assert missing.returncode == 2 and "no experiment '9'" in missing.stderr
