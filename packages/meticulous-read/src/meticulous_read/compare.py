"""``meticulous compare``: several runs side by side, as a reviewer reads them.

The args that differ, every summary value, each metric's final and best
value, and the commits. Where the repository is at hand (``--repo``, else
the runs' recorded ``cwd``, else the current directory) and GitPython is
installed (``meticulous-read[git]``), the commit messages between the
runs' commits are listed too; without either, the comparison says why.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .detail import _first_line, _same
from .series import curves_of, final_and_best, lower_is_better

if TYPE_CHECKING:
    import git

MAX_COMMITS = 50
GIT_EXTRA = "meticulous-read[git]"


@dataclass
class Comparison:
    table: pd.DataFrame  # index "field", one column per run (in the given order)
    commits: list[dict] = field(default_factory=list)  # one per pair of commits
    notes: list[str] = field(default_factory=list)  # why commits are missing


def _metric_rows(directory: str, ids: list[str]) -> dict[str, list[Any]]:
    per_run = [curves_of(directory, experiment_id) for experiment_id in ids]
    names: dict[str, None] = {}
    for found in per_run:
        names.update(dict.fromkeys(found))
    rows: dict[str, list[Any]] = {}
    for name in names:
        lower = lower_is_better(name)
        finals, bests = [], []
        for found in per_run:
            final, best = final_and_best(name, found.get(name))
            finals.append(final)
            bests.append(best)
        rows[f"metrics.{name}.final"] = finals
        rows[f"metrics.{name}.best ({'min' if lower else 'max'})"] = bests
    return rows


def _differs(values: list[Any]) -> bool:
    return not all(_same(values[0], value) for value in values[1:])


def compare_table(frame: pd.DataFrame, directory: str, ids: list[str]) -> pd.DataFrame:
    """The rows of a comparison; ``frame`` is the runs' listing DataFrame."""
    rows: dict[str, list[Any]] = {}

    def column(name: str) -> list[Any]:
        if name not in frame.columns:
            return [None] * len(ids)
        return [frame.at[experiment_id, name] for experiment_id in ids]

    rows["status"] = column("status")
    names = [str(name) for name in frame.columns]
    for name in names:
        if name.startswith("args.") and _differs(column(name)):
            rows[name] = column(name)
    for name in names:
        if name.startswith(("summary.", "tags.")):
            rows[name] = column(name)
    rows.update(_metric_rows(directory, ids))
    for name in ("duration", "sha", "dirty"):
        rows[name] = column(name)
    rows["commit message"] = [
        _first_line(v) for v in column("metadata.githead-message")
    ]
    values = list(zip(*rows.values()))
    return pd.DataFrame(
        {position: list(run) for position, run in enumerate(values)},
        index=pd.Index(list(rows), name="field", dtype=object),
        dtype=object,
    ).set_axis(ids, axis="columns")


def _repository(candidates: list[str], notes: list[str]) -> git.Repo | None:
    try:
        import git  # GitPython
    except ImportError as error:
        if "git" in str(error).lower() and "executable" in str(error).lower():
            notes.append("GitPython cannot run git (is it on PATH?)")
        else:
            notes.append(
                f"to list the commits between the runs, install {GIT_EXTRA}"
                f" (pip install '{GIT_EXTRA}')"
            )
        return None
    for candidate in candidates:
        if not candidate or not os.path.isdir(candidate):
            continue
        try:
            return git.Repo(candidate, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError, OSError):
            continue
    notes.append(
        "no git repository at hand to list the commits between the runs"
        " (give one with --repo)"
    )
    return None


def _log(repository: git.Repo, older: str, newer: str) -> list[dict]:
    found = []
    for commit in repository.iter_commits(f"{older}..{newer}", max_count=MAX_COMMITS):
        found.append(
            {
                "sha": commit.hexsha,
                "message": _first_line(str(commit.message)),
                "author": str(commit.author.name),
                "date": commit.committed_datetime.isoformat(),
            }
        )
    return found


def commits_between(
    shas: list[tuple[str, Any]], repository_option: str | None, cwds: list[Any]
) -> tuple[list[dict], list[str]]:
    """The commits between each pair of consecutive distinct run commits."""
    notes: list[str] = []
    distinct: list[tuple[str, str]] = []
    for experiment_id, sha in shas:
        if isinstance(sha, str) and sha and all(sha != seen for _, seen in distinct):
            distinct.append((experiment_id, sha))
    if len(distinct) < 2:
        return [], notes
    candidates = (
        [repository_option]
        if repository_option
        else [c for c in cwds if isinstance(c, str)] + [os.getcwd()]
    )
    repository = _repository(candidates, notes)
    if repository is None:
        return [], notes
    known = []
    for experiment_id, sha in distinct:
        try:
            repository.commit(sha)
        except Exception:  # noqa: BLE001 - BadName, ValueError, GitCommandError
            notes.append(
                f"commit {sha[:8]} of run {experiment_id} is not in"
                f" {repository.working_dir}"
            )
            continue
        known.append((experiment_id, sha))
    result = []
    for (first_id, first), (second_id, second) in itertools.pairwise(known):
        entry: dict[str, Any] = {
            "from": {"id": first_id, "sha": first},
            "to": {"id": second_id, "sha": second},
        }
        forward = _log(repository, first, second)
        backward = [] if forward else _log(repository, second, first)
        entry["direction"] = "forward" if forward or not backward else "backward"
        entry["commits"] = forward or backward
        result.append(entry)
    return result, notes


def commit_lines(commits: list[dict], notes: list[str]) -> list[str]:
    out: list[str] = []
    for entry in commits:
        first, second = entry["from"], entry["to"]
        arrow = "to" if entry["direction"] == "forward" else "back to"
        out += [
            "",
            (
                f"commits from {first['id']} ({first['sha'][:8]}) {arrow}"
                f" {second['id']} ({second['sha'][:8]}):"
            ),
        ]
        out += [f"  {c['sha'][:8]}  {c['message']}" for c in entry["commits"]]
        if len(entry["commits"]) == MAX_COMMITS:
            out.append(f"  … (the first {MAX_COMMITS} only)")
        if not entry["commits"]:
            out.append("  (none)")
    out += [f"note: {note}" for note in notes]
    return out
