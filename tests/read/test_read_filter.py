"""``--filter``: a language of its own, evaluated without pandas query/eval (issue 11.7)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from meticulous_read.cli import main
from meticulous_read.filterlang import FilterError, parse, select

RUNS = {
    "1": ("SUCCESS", {"lr": 0.1, "model": "resnet18", "use-bn": True}, {"loss": 0.2}),
    "2": ("SUCCESS", {"lr": 0.01, "model": "mlp", "use-bn": False}, {"loss": 0.5}),
    "3": ("ERROR", {"lr": 0.1, "model": "cnn", "use-bn": True}, {}),
    "7": ("SUCCESS", {"lr": 0.001, "model": "ResNet50"}, {"loss": 0.25}),
}


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    directory = tmp_path / "experiments"
    for experiment_id, (word, args, summary) in RUNS.items():
        folder = directory / experiment_id
        folder.mkdir(parents=True)
        (folder / "STATUS").write_text(f"{word}\n" + ("oom" if word == "ERROR" else ""))
        metadata = {
            "spec-version": 1,
            "timestamp": f"2026-11-0{experiment_id}T10:00:00Z",
        }
        (folder / "metadata.json").write_text(json.dumps(metadata))
        (folder / "args.json").write_text(json.dumps(args))
        if summary:
            (folder / "summary.json").write_text(json.dumps(summary))
    return directory


@pytest.fixture
def frame(runs: Path):
    from meticulous_read import Experiments

    return Experiments(runs, cache=False).as_dataframe()


@pytest.mark.parametrize(
    ("expression", "ids"),
    [
        ("summary.loss < 0.3", ["1", "7"]),
        ("summary.loss < 0.3 and args.lr == 0.1", ["1"]),
        ("args.lr == 0.1 or args.model == 'mlp'", ["1", "2", "3"]),
        (
            "not summary.loss >= 0.3",
            ["1", "3", "7"],
        ),  # missing: the comparison is false
        ("summary.loss == None", ["3"]),
        ("summary.loss != None", ["1", "2", "7"]),
        ('status == "ERROR"', ["3"]),
        ('status != "ERROR"', ["1", "2", "7"]),
        ("args.model in ['cnn', 'mlp']", ["2", "3"]),
        ("args.model not in ['cnn', 'mlp']", ["1", "7"]),
        ("'oom' in status_message", ["3"]),
        ("args.model.startswith('res')", ["1"]),
        ("args.model.lower().startswith('res')", ["1", "7"]),
        ("args.model.endswith('50') or args.model.contains('ml')", ["2", "7"]),
        ("args.use-bn", ["1", "3"]),  # a boolean column alone; hyphens in names
        ("args.use-bn == False", ["2"]),
        (
            "`args.use-bn` == True and (summary.loss < 1 or status == 'ERROR')",
            ["1", "3"],
        ),
        ("id == '7'", ["7"]),
        ("0.3 > summary.loss", ["1", "7"]),  # literal on the left
        ("start >= '2026-11-03'", ["3", "7"]),  # times compare with ISO strings
        ("args.lr >= 1e-2", ["1", "2", "3"]),
        ("True", ["1", "2", "3", "7"]),
    ],
)
def test_filters_select_the_rows_they_say(frame, expression, ids):
    assert list(select(frame, expression).index) == ids


@pytest.mark.parametrize(
    ("expression", "position", "reason"),
    [
        (
            "summary.los < 0.3",
            1,
            "unknown column summary.los (did you mean summary.loss?)",
        ),
        (
            "summary.loss < ",
            16,
            "expected a column, a number or a string, found the end",
        ),
        ("args.lr = 0.1", 9, "unexpected '=' (use == to compare)"),
        ("args.lr == 0.1 && 1", 16, "unexpected '&' (use 'and')"),
        ("status == 'ERROR", 11, 'unexpected "\'" (the string is not closed)'),
        ("0 < summary.loss < 1", 18, "chained comparisons are not supported"),
        ("summary.loss", 1, "summary.loss must be a condition"),
        ("args.model.startswith(1)", 1, "startswith takes a string"),
        ("args.model.upper", 1, "unknown column args.model.upper"),
        ("", 1, "the filter is empty"),
        ("args.lr == 0.1 args.model == 'x'", 16, "unexpected 'args.model'"),
    ],
)
def test_bad_filters_say_where_and_why(frame, expression, position, reason):
    with pytest.raises(FilterError) as caught:
        select(frame, expression)
    assert caught.value.position + 1 == position
    assert reason in caught.value.reason
    assert f"at position {position}" in str(caught.value)


INJECTIONS = [
    "@pd.io.common.os.system('touch pwned') == 0",
    "pd.io.common.os.system('touch pwned') == 0",
    "__import__('os').system('touch pwned') == 0",
    "args.lr.__class__.__mro__ == 0",
    "`a`.system('touch pwned')",
    "summary.loss.startswith('x') or os.system('touch pwned')",
    "(lambda: __import__('os').system('touch pwned'))() == 0",
    "args.lr == 0.1; import os; os.system('touch pwned')",
    "args.lr == [c for c in ().__class__.__base__.__subclasses__()]",
    "exec('import os; os.system(\"touch pwned\")')",
    "{'a': 1} == 1",
]


@pytest.mark.parametrize("expression", INJECTIONS)
def test_injections_fail_without_running_anything(
    runs, expression, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    code = main([str(runs), "--no-cache", "--filter", expression])
    assert code == 2
    assert "meticulous: error: bad filter at position" in capsys.readouterr().err
    assert not (tmp_path / "pwned").exists()


def test_the_command_filters_and_reports_errors_with_exit_2(runs, capsys):
    assert main([str(runs), "--no-cache", "--json", "--filter", "args.lr == 0.1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["id"] for row in rows] == ["1", "3"]
    assert main([str(runs), "--no-cache", "--filter", "args.lr =="]) == 2
    error = capsys.readouterr().err
    assert "bad filter at position 11" in error and "args.lr ==\n" in error


def test_nesting_is_bounded():
    with pytest.raises(FilterError, match="nested deeper"):
        parse("(" * 1000 + "True" + ")" * 1000)
    with pytest.raises(FilterError, match="nested deeper"):
        parse("not " * 1000 + "True")
