"""What the README promises about tables, diff and groupby, as a user sees it."""

from __future__ import annotations

import json

import pytest
from cli_runner import meticulous
from helpers.synth import SHA, write_experiment

LONG_ID = "sweep-" + "lr0.001-wd0.0001-" * 4 + "seed7"
LONG_MESSAGE = "RuntimeError: " + "CUDA out of memory while allocating a tensor " * 3
LONG_DESCRIPTION = "baseline with the new tokenizer and " + "warm restarts, " * 6


@pytest.fixture
def long_cells(tmp_path):
    write_experiment(
        tmp_path,
        LONG_ID,
        status="ERROR",
        message=LONG_MESSAGE,
        metadata={"description": LONG_DESCRIPTION},
        summary={"loss": 0.5},
    )
    write_experiment(tmp_path, 1, summary={"loss": 0.4})
    return tmp_path


def test_piped_output_never_cuts_a_cell(long_cells):
    result = meticulous(long_cells)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert LONG_ID in result.stdout
    assert LONG_MESSAGE.strip() in result.stdout
    assert LONG_DESCRIPTION.strip() in result.stdout
    assert meticulous(long_cells, "--width", "0", columns=40).stdout == result.stdout


def test_ids_are_never_cut_even_in_a_narrow_terminal(long_cells):
    result = meticulous(long_cells, "--width", "40")
    assert result.returncode == 0, result.stderr
    ids = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert ids == ["1", LONG_ID]
    shown = meticulous("show", long_cells, ids[1])  # copied from the table
    assert shown.returncode == 0 and LONG_MESSAGE.strip() in shown.stdout


def test_diff_of_a_run_with_itself(tmp_path):
    write_experiment(tmp_path, 1, summary={"loss": 0.4})
    result = meticulous("diff", tmp_path, "1", "1")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert set(rows) == {"field", "status", "sha"}  # nothing else differs
    assert rows["sha"] == [SHA, SHA]
    records = json.loads(meticulous("diff", tmp_path, "1", "1", "--json").stdout)
    assert {record["field"] for record in records} == {"status", "sha"}


def test_diff_json_is_typed_and_the_sha_whole(tmp_path):
    write_experiment(tmp_path, 1, args={"lr": 0.1}, summary={"loss": 0.4, "ok": True})
    write_experiment(
        tmp_path,
        2,
        args={"lr": 0.25},
        summary={"loss": 0.125, "ok": False},
        dirty_patch="+x\n",
        duration_seconds=90.5,
    )
    result = meticulous("diff", tmp_path, "1", "2", "--json")
    assert result.returncode == 0, result.stderr
    fields = {row["field"]: row for row in json.loads(result.stdout)}
    assert fields["summary.loss"] == {"field": "summary.loss", "1": 0.4, "2": 0.125}
    assert fields["args.lr"]["2"] == 0.25
    assert fields["summary.ok"]["1"] is True and fields["dirty"]["2"] is True
    assert fields["duration"] == {"field": "duration", "1": 60.0, "2": 90.5}
    assert fields["sha"]["1"] == SHA  # all 40 characters, no "…"
    text = meticulous("diff", tmp_path, "1", "2", columns=60).stdout
    assert SHA in text and "…" not in text


def test_diff_of_three_runs(tmp_path):
    for i, lr in enumerate((0.1, 0.1, 0.3), start=1):
        write_experiment(tmp_path, i, args={"lr": lr, "wd": 0})
    result = meticulous("diff", tmp_path, "1", "2", "3")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert rows["field"] == ["1", "2", "3"]
    assert rows["args.lr"] == ["0.1", "0.1", "0.3"]
    assert "args.wd" not in rows


def test_diff_with_the_default_directory(tmp_path):
    directory = tmp_path / "experiments"
    for i in (1, 2, 3):
        write_experiment(directory, i, args={"lr": i / 10})
    result = meticulous("diff", "1", "2", "3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["field", "1", "2", "3"]


@pytest.fixture
def grid(tmp_path):
    runs = [("a", 1.0, 10), ("a", 3.0, 20), ("b", 0.5, 30), ("c", 1.5, 40)]
    for i, (model, loss, epochs) in enumerate(runs, start=1):
        write_experiment(
            tmp_path,
            i,
            args={"model": model, "epochs": epochs},
            default_args={"model": "a", "epochs": 0},
            summary={"loss": loss},
        )
    return tmp_path


def test_groupby_aggregates_results_not_args(grid):
    result = meticulous(grid, "--groupby", "args.model", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert set(rows[0]) == {
        "args.model",
        "count",
        "summary.loss.mean",
        "summary.loss.std",
        "summary.loss.count",
    }


def test_sort_by_an_aggregate_and_by_the_group_key(grid):
    by_mean = meticulous(grid, "--groupby", "args.model", "--sort", "summary.loss.mean")
    assert by_mean.returncode == 0, by_mean.stderr
    assert [line.split()[0] for line in by_mean.stdout.splitlines()[1:]] == [
        "b",
        "c",
        "a",
    ]
    by_key = meticulous(
        grid, "--groupby", "args.model", "--sort", "args.model", "--reverse"
    )
    assert by_key.returncode == 0, by_key.stderr
    assert [line.split()[0] for line in by_key.stdout.splitlines()[1:]] == [
        "c",
        "b",
        "a",
    ]
    tail = meticulous(
        grid, "--groupby", "args.model", "--sort", "summary.loss.mean", "--tail", "1"
    )
    assert [line.split()[0] for line in tail.stdout.splitlines()[1:]] == ["a"]
    bad = meticulous(grid, "--groupby", "args.model", "--sort", "summary.nope.mean")
    assert bad.returncode == 2 and "unknown column summary.nope.mean" in bad.stderr


def test_one_experiments_folder_as_dir_says_what_to_type(grid):
    for command in ([grid / "2"], [grid / "2", "--no-cache"], ["show", grid / "2"]):
        result = meticulous(*command)
        assert result.returncode == 2, command
        assert result.stdout == ""
        assert "one experiment's folder" in result.stderr
        assert f"meticulous show {grid} 2" in result.stderr


@pytest.fixture
def curves_grid(tmp_path):
    """Two models, their loss curves (one diverged to NaN) and an accuracy."""
    runs = [("a", [3.0, 1.0, 2.0]), ("a", [4.0, 3.0]), ("b", [2.0, 0.5, "NaN"])]
    for i, (model, losses) in enumerate(runs, start=1):
        rows = [{"loss": loss, "acc": 0.1 * step} for step, loss in enumerate(losses)]
        write_experiment(
            tmp_path,
            i,
            args={"model": model},
            default_args={"model": "a"},
            summary={"loss": 1.0},
            metrics=rows,
        )
    return tmp_path


def test_metrics_become_final_and_best_columns(curves_grid):
    result = meticulous(curves_grid, "--metrics", "loss,acc", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["id"]: row for row in json.loads(result.stdout)}
    assert rows["1"]["metrics.loss.final"] == 2.0
    assert rows["1"]["metrics.loss.best"] == 1.0  # a loss: its minimum
    assert rows["2"]["metrics.acc.best"] == pytest.approx(0.1)  # else the maximum
    assert rows["3"]["metrics.loss.final"] is None  # NaN: it diverged
    assert rows["3"]["metrics.loss.best"] == 0.5
    table = meticulous(curves_grid, "--metrics", "loss", "--sort", "metrics.loss.best")
    assert "metrics.loss.best" in table.stdout.splitlines()[0]
    assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == [
        "3",
        "1",
        "2",
    ]
    kept = meticulous(
        curves_grid, "--metrics", "loss", "--filter", "metrics.loss.best < 2", "--json"
    )
    assert [row["id"] for row in json.loads(kept.stdout)] == ["1", "3"]


def test_groupby_aggregates_metrics_and_sorts_by_them(curves_grid):
    result = meticulous(
        curves_grid,
        "--groupby",
        "args.model",
        "--metrics",
        "loss",
        "--sort",
        "metrics.loss.best.mean",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["args.model"] for row in rows] == ["b", "a"]
    assert set(rows[0]) == {
        "args.model",
        "count",
        *(
            f"{column}.{statistic}"
            for column in ("summary.loss", "metrics.loss.final", "metrics.loss.best")
            for statistic in ("mean", "std", "count")
        ),
    }
    a = rows[1]
    assert a["metrics.loss.best.mean"] == 2.0  # (1 + 3) / 2
    assert a["metrics.loss.final.mean"] == 2.5  # (2 + 3) / 2
    assert rows[0]["metrics.loss.final.count"] == 0  # NaN is not counted


def test_metric_columns_follow_appends_the_cache_cannot_see(curves_grid):
    first = meticulous(curves_grid, "--metrics", "loss", "--json")
    with open(curves_grid / "2" / "metrics.jsonl", "a") as handle:
        handle.write('{"_step": 2, "loss": 0.25}\n')  # the folder's mtime stays
    again = meticulous(curves_grid, "--metrics", "loss", "--json")
    best = {row["id"]: row["metrics.loss.best"] for row in json.loads(again.stdout)}
    assert json.loads(first.stdout)[1]["metrics.loss.best"] == 3.0
    assert best["2"] == 0.25
