"""The `meticulous` command, called in-process (see cli_runner), as a user sees it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from cli_runner import meticulous
from helpers.synth import write_experiment


def ids_of(stdout: str) -> list[str]:
    return [line.split()[0] for line in stdout.splitlines()[1:] if line.strip()]


def header_of(stdout: str) -> list[str]:
    return stdout.splitlines()[0].split()


# -- the listing ---------------------------------------------------------------------------


def test_listing_of_the_spec_examples(examples, tmp_path):
    result = meticulous(examples, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert header_of(result.stdout)[:5] == [
        "id",
        "sha",
        "start",
        "status",
        "status_message",
    ]
    assert ids_of(result.stdout) == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "my_special_run",
    ]
    by_id = {line.split()[0]: line for line in lines[1:]}
    assert "3f6c1a0e  2026-11-20 10:00  SUCCESS" in by_id["1"]
    assert "FloatingPointError: loss is NaN at step 3" in by_id["2"]  # not "Traceback"
    assert "INTERRUPTED" in by_id["3"] and "signal SIGTERM" in by_id["3"]
    for experiment_id, word in (("4", "DEAD"), ("5", "QUEUED"), ("6", "BROKEN")):
        assert word in by_id[experiment_id]
    assert "UNSUPPORTED" in by_id["7"]
    assert "\x1b[" not in result.stdout  # no colours into a pipe
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 2
    assert "notes" in warnings[0] and "stray" not in result.stderr
    assert "BROKEN" in warnings[1] and warnings[1].endswith(": 6")


def test_default_directory_is_experiments_in_the_working_directory(examples):
    result = meticulous(cwd=examples.parent)
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout)[0] == "1"


def test_console_script_is_installed(examples):
    script = Path(sys.executable).with_name("meticulous")
    if not script.exists():
        pytest.skip("console script not installed next to the interpreter")
    result = subprocess.run(
        [str(script), str(examples), "--columns", "status"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0
    assert "SUCCESS" in result.stdout


def _process_environment() -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("COLUMNS", "NO_COLOR") and not key.startswith("GIT_")
    }
    environment.update({"TZ": "UTC", "PATH": os.devnull})
    return environment


def test_a_cache_hit_never_imports_pandas(tmp_path):
    """The listing cache's promise, seen from a real interpreter."""
    for i in (1, 2):
        write_experiment(tmp_path, i, summary={"loss": 0.5})
    old = time.time() - 60  # outside the spec's 2 s window
    for folder in tmp_path.iterdir():
        os.utime(folder, (old, old))
    probe = (
        "import sys; from meticulous_read.cli import main; code = main(sys.argv[1:]);"
        " print('PANDAS' if 'pandas' in sys.modules else 'NO-PANDAS', file=sys.stderr);"
        " sys.exit(code)"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path)],
            env=_process_environment(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0]
    assert runs[0].stdout == runs[1].stdout and "0.5" in runs[0].stdout
    assert runs[0].stderr.strip().endswith("PANDAS")  # the first one builds it
    assert runs[1].stderr.strip() == "NO-PANDAS"


def test_a_closed_pipe_is_not_an_error(tmp_path):
    """`meticulous DIR | head -1`: no traceback, exit 0."""
    for i in range(1, 300):  # some 200 KB of JSON: more than a pipe holds
        write_experiment(tmp_path, i, summary={"loss": i / 1000})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meticulous_read",
            str(tmp_path),
            "--json",
            "--columns",
            "all",
        ],
        env=_process_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()  # the reader has gone
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_missing_directory_is_an_error(tmp_path):
    result = meticulous(tmp_path / "nope")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "does not exist" in result.stderr


def test_empty_directory(tmp_path):
    result = meticulous(tmp_path)
    assert result.returncode == 0
    assert "no experiments" in result.stderr


# -- filter, sort, tail, columns ------------------------------------------------------------


def test_filter_with_dotted_names(examples):
    result = meticulous(examples, "--filter", "summary.loss < 0.3 and args.lr <= 0.1")
    assert result.returncode == 0, result.stderr
    assert ids_of(result.stdout) == ["1", "my_special_run"]


def test_filter_on_status_and_strings(examples):
    result = meticulous(examples, "--filter", 'status == "DEAD" or args.model == "cnn"')
    assert ids_of(result.stdout) == ["3", "4"]


def test_filter_matching_nothing_says_so(examples):
    result = meticulous(examples, "--filter", "summary.loss > 100")
    assert result.returncode == 0
    assert ids_of(result.stdout) == []
    assert "no experiment matches" in result.stderr


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("summary.loss <", "bad filter"),
        ("summary.nope < 1", "unknown column summary.nope"),
        ("summary.loss", "must be a condition"),
        ("import os", "bad filter"),
    ],
)
def test_bad_filter_is_an_error_not_the_whole_table(examples, expression, message):
    result = meticulous(examples, "--filter", expression)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr


def test_sort_and_reverse(examples):
    result = meticulous(
        examples, "--sort", "summary.loss", "--filter", "summary.loss > 0"
    )
    assert ids_of(result.stdout) == ["my_special_run", "1", "3"]
    result = meticulous(
        examples, "--sort", "summary.loss", "--reverse", "--filter", "summary.loss > 0"
    )
    assert ids_of(result.stdout) == ["3", "1", "my_special_run"]


def test_reverse_alone_reverses_id_order(examples):
    result = meticulous(examples, "--reverse")
    assert ids_of(result.stdout)[:2] == ["my_special_run", "7"]


def test_sort_missing_values_go_last(examples):
    result = meticulous(examples, "--sort", "summary.loss", "--columns", "summary.loss")
    assert ids_of(result.stdout)[:3] == ["my_special_run", "1", "3"]


def test_sort_by_unknown_column_is_an_error(examples):
    result = meticulous(examples, "--sort", "summary.nope")
    assert result.returncode == 2
    assert "unknown column summary.nope" in result.stderr


def test_tail(examples):
    result = meticulous(examples, "--tail", "2")
    assert ids_of(result.stdout) == ["7", "my_special_run"]
    assert meticulous(examples, "--tail", "-1").returncode == 2


def test_columns_with_wildcards(examples):
    result = meticulous(examples, "--columns", "status,summary.*")
    assert header_of(result.stdout) == [
        "id",
        "status",
        "summary.loss",
        "summary.accuracy",
        "summary.best_epoch",
    ]


def test_unknown_column_is_an_error(examples):
    result = meticulous(examples, "--columns", "status,nope")
    assert result.returncode == 2
    assert "unknown column nope" in result.stderr
    assert result.stdout == ""


def test_args_modes(examples):
    shown = {
        mode: [
            name
            for name in header_of(meticulous(examples, "--args", mode).stdout)
            if name.startswith("args.")
        ]
        for mode in ("none", "non-default", "all")
    }
    assert shown["none"] == []
    assert "args.data" in shown["all"]
    # data never differs from its default; lr (1, 2) and model (3) do.
    assert "args.data" not in shown["non-default"]
    assert {"args.lr", "args.model", "args.epochs"} <= set(shown["non-default"])
    assert meticulous(examples, "--args", "some").returncode == 2


def test_non_default_is_per_listed_rows(tmp_path):
    write_experiment(
        tmp_path, 1, args={"lr": 0.1, "wd": 0}, default_args={"lr": 0.1, "wd": 0}
    )
    write_experiment(
        tmp_path, 2, args={"lr": 0.5, "wd": 0}, default_args={"lr": 0.1, "wd": 0}
    )
    header = header_of(meticulous(tmp_path).stdout)
    assert "args.lr" in header and "args.wd" not in header
    header = header_of(meticulous(tmp_path, "--filter", 'id == "1"').stdout)
    assert "args.lr" not in header


# -- groupby ----------------------------------------------------------------------------------


def test_groupby_mean_std_count(tmp_path):
    for i, (model, loss) in enumerate([("a", 1.0), ("a", 3.0), ("b", 5.0)], start=1):
        write_experiment(
            tmp_path,
            i,
            args={"model": model},
            default_args={"model": "a"},
            summary={"loss": loss},
        )
    result = meticulous(tmp_path, "--groupby", "args.model", "--json")
    assert result.returncode == 0, result.stderr
    groups = {row["args.model"]: row for row in json.loads(result.stdout)}
    assert groups["a"]["count"] == 2
    assert groups["a"]["summary.loss.mean"] == 2.0
    assert groups["a"]["summary.loss.std"] == pytest.approx(2**0.5)
    assert groups["a"]["summary.loss.count"] == 2
    assert groups["b"]["summary.loss.mean"] == 5.0
    table = meticulous(tmp_path, "--groupby", "args.model")
    assert header_of(table.stdout)[:3] == ["args.model", "count", "summary.loss.mean"]


def test_groupby_unknown_column_is_an_error(examples):
    result = meticulous(examples, "--groupby", "args.nope")
    assert result.returncode == 2
    assert "unknown column args.nope" in result.stderr


def test_groupby_on_a_list_valued_column(examples):
    result = meticulous(examples, "--groupby", "args.layers,status", "--json")
    assert result.returncode == 0, result.stderr
    groups = {row["args.layers, status"]: row for row in json.loads(result.stdout)}
    # The list is one group's key (a list cannot be hashed as it is) ...
    assert groups["[64, 32], INTERRUPTED"]["count"] == 1
    assert groups["[64, 32], INTERRUPTED"]["summary.loss.mean"] == 0.61
    # ... and the runs without layers group by their status alone.
    (success,) = [row for key, row in groups.items() if key.endswith(", SUCCESS")]
    assert success["count"] == 2
    assert sum(row["count"] for row in groups.values()) == 8


# -- json and export ----------------------------------------------------------------------------


def test_json_for_scripts(examples):
    result = meticulous(examples, "--json", "--columns", "all")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert records[0]["id"] == "1"
    first = records[0]
    assert first["status"] == "SUCCESS"
    assert first["start"] == "2026-11-20T10:00:00+00:00"
    assert first["duration"] == 330.25
    assert first["sha"] == "3f6c1a0e9b7d4c2a8e5f1b0d9c7a6e4f2b1d0c9a"  # full
    assert first["summary.loss"] == 0.231
    second = records[1]
    assert second["status_message"].startswith("Traceback")  # whole message
    assert second["summary.loss"] is None
    assert records[2]["args.layers"] == [64, 32]


def test_export_csv_has_one_header_row(examples, tmp_path):
    target = tmp_path / "out.csv"
    result = meticulous(examples, "--export", target)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "wrote 8 experiments" in result.stderr
    frame = pd.read_csv(target, index_col="id", dtype={"id": str})
    assert list(frame.index) == ["1", "2", "3", "4", "5", "6", "7", "my_special_run"]
    assert frame.loc["1", "summary.loss"] == 0.231
    assert frame.loc["4", "status"] == "DEAD"
    assert frame.loc["3", "args.layers"] == "[64, 32]"
    assert target.read_text().splitlines()[0].startswith("id,sha,start,status")


def test_export_json_md_tex(examples, tmp_path):
    for suffix in ("json", "md", "tex"):
        result = meticulous(
            examples,
            "--export",
            tmp_path / f"out.{suffix}",
            "--columns",
            "status,summary.loss,args.model",
        )
        assert result.returncode == 0, result.stderr
    records = json.loads((tmp_path / "out.json").read_text())
    assert records[0] == {
        "id": "1",
        "status": "SUCCESS",
        "summary.loss": 0.231,
        "args.model": "mlp",
    }
    markdown = (tmp_path / "out.md").read_text().splitlines()
    assert markdown[0] == "| id | status | summary.loss | args.model |"
    assert markdown[1] == "| --- | --- | --- | --- |"
    assert markdown[2] == "| 1 | SUCCESS | 0.231 | mlp |"
    assert len(markdown) == 10
    tex = (tmp_path / "out.tex").read_text()
    assert tex.startswith(r"\begin{tabular}{llll}")
    assert (
        r"summary.loss" in tex and r"my\_special\_run & SUCCESS & 0.12 & mlp \\" in tex
    )
    assert tex.rstrip().endswith(r"\end{tabular}")


def test_export_parquet(examples, tmp_path):
    pytest.importorskip("pyarrow")
    target = tmp_path / "out.parquet"
    result = meticulous(examples, "--export", target, "--columns", "all")
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(target)
    assert frame.loc["1", "summary.loss"] == 0.231
    assert str(frame["start"].dt.tz) == "UTC"


def test_export_unknown_suffix_is_an_error(examples, tmp_path):
    result = meticulous(examples, "--export", tmp_path / "out.xlsx")
    assert result.returncode == 2
    assert "unknown suffix" in result.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_export_into_a_missing_folder_fails_cleanly(examples, tmp_path):
    result = meticulous(examples, "--export", tmp_path / "no" / "out.csv")
    assert result.returncode == 1
    assert "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


# -- terminal width and colour --------------------------------------------------------------------


def test_table_fits_the_given_width(examples):
    for width in (60, 100):
        result = meticulous(examples, columns=width)
        assert result.returncode == 0
        assert max(len(line) for line in result.stdout.splitlines()) <= width
        header = header_of(result.stdout)
        assert header[:2] == ["id", "status"]
        assert "summary.loss" in header  # results are kept before context
        assert "do not fit" in result.stderr


def test_width_option_and_piped_output_is_full_width(examples):
    piped = meticulous(examples)
    assert max(len(line) for line in piped.stdout.splitlines()) > 150
    assert "do not fit" not in piped.stderr
    narrow = meticulous(examples, "--width", "50")
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 50
    unlimited = meticulous(examples, "--width", "0", columns=60)
    assert unlimited.stdout == piped.stdout


def test_colour_only_when_asked_or_on_a_terminal(examples):
    result = meticulous(examples, "--color", "always")
    assert "\x1b[32m" in result.stdout  # SUCCESS in green
    assert "\x1b[" not in meticulous(examples, "--color", "never").stdout


# -- show and diff ------------------------------------------------------------------------------


def test_show_one_experiment(examples):
    result = meticulous("show", examples, "3")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("experiment 3: INTERRUPTED")
    assert "signal SIGTERM" in text
    assert "model" in text and "(default mlp)" in text
    assert "slurm" in text
    assert "+DROPOUT = 0.3" in text  # the dirty patch
    assert "scratch/plot.py" in text  # untracked files
    assert "\ufffd" in text  # non-UTF-8 stdout, replaced


def test_show_broken_and_errored(examples):
    result = meticulous("show", examples, "2", "--lines", "1")
    assert "FloatingPointError: loss is NaN at step 3" in result.stdout
    assert "earlier lines" in result.stdout
    broken = meticulous("show", examples, "6")
    assert broken.returncode == 0
    assert "BROKEN" in broken.stdout and "metadata.json" in broken.stdout


def test_show_with_the_default_directory(examples):
    result = meticulous("show", "my_special_run", cwd=examples.parent)
    assert result.returncode == 0
    assert "experiment my_special_run: SUCCESS" in result.stdout


@pytest.mark.parametrize(
    "experiment_id", ["99", "notes", ".meticulous", "../experiments"]
)
def test_show_unknown_id_is_an_error(examples, experiment_id):
    result = meticulous("show", examples, experiment_id)
    assert result.returncode == 2
    assert result.stdout == ""
    assert experiment_id in result.stderr


def test_diff_two_experiments(examples):
    result = meticulous("diff", examples, "1", "3")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}
    assert rows["field"] == ["1", "3"]
    assert rows["status"] == ["SUCCESS", "INTERRUPTED"]
    assert rows["args.model"] == ["mlp", "cnn"]
    assert rows["summary.loss"] == ["0.231", "0.61"]
    assert rows["dirty"] == ["False", "True"]
    assert "args.batch_size" not in rows  # equal values are left out
    assert "sha" in rows


def test_diff_json_and_commit(examples):
    result = meticulous("diff", examples, "1", "my_special_run", "--json")
    fields = {row["field"]: row for row in json.loads(result.stdout)}
    assert fields["sha"]["1"].startswith("3f6c1a0e")
    assert fields["sha"]["my_special_run"].startswith("a1b2c3d4")
    assert fields["metadata.githead-message"]["my_special_run"] == "Longer schedule"


def test_diff_unknown_id_is_an_error(examples):
    result = meticulous("diff", examples, "1", "42")
    assert result.returncode == 2
    assert "no experiment '42'" in result.stderr
    assert meticulous("diff", examples, "1").returncode == 2


def test_help_lists_the_options(tmp_path):
    result = meticulous("--help")
    assert result.returncode == 0
    for option in (
        "--filter",
        "--sort",
        "--columns",
        "--args",
        "--groupby",
        "--tail",
        "--export",
        "--json",
        "--no-cache",
        "--width",
    ):
        assert option in result.stdout
