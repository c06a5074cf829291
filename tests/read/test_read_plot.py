"""Learning curves as pictures: checked through matplotlib's objects and the file."""

from __future__ import annotations

import math
import sys
import warnings

import pytest
from cli_runner import meticulous
from helpers.synth import write_experiment

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from meticulous_read import Experiments, MeticulousReadWarning
from meticulous_read.plot import PlotError, smoothed

LRS = {1: 0.1, 2: 0.01, 3: 0.1, 4: 0.001}


def loss(lr: float, step: int) -> float:
    return 1.0 / (1.0 + lr * step)


@pytest.fixture
def runs(tmp_path):
    for i, lr in LRS.items():
        write_experiment(
            tmp_path,
            i,
            args={"lr": lr},
            status="SUCCESS" if i != 3 else "ERROR",
            metrics=[{"loss": loss(lr, step), "acc": step / 10} for step in range(10)],
        )
    write_experiment(tmp_path, 5, args={"lr": 0.5})  # logged nothing
    return tmp_path


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def experiments(directory) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory)


def test_overlay_coloured_by_an_arg(runs):
    ax = experiments(runs).plot("loss", by="args.lr")
    lines = ax.get_lines()
    assert len(lines) == 4  # run 5 logged no loss
    by_run = {line.get_gid(): line for line in lines}
    assert list(by_run["1"].get_ydata()) == [loss(0.1, s) for s in range(10)]
    assert list(by_run["1"].get_xdata()) == [float(s) for s in range(10)]
    assert by_run["1"].get_color() == by_run["3"].get_color()  # same lr, same colour
    assert len({by_run[i].get_color() for i in ("1", "2", "4")}) == 3
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "args.lr"
    assert [t.get_text() for t in legend.get_texts()] == ["0.001", "0.01", "0.1"]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"


def test_facets_one_panel_per_value(runs):
    grid = experiments(runs).plot("loss", "acc", by="args.lr", facet=True)
    assert grid.shape == (2, 3)  # metrics by rows, values of lr by columns
    assert [ax.get_title() for ax in grid[0]] == [
        "args.lr = 0.001",
        "args.lr = 0.01",
        "args.lr = 0.1",
    ]
    assert sorted(line.get_gid() for line in grid[0, 2].get_lines()) == ["1", "3"]
    assert grid[1, 0].get_ylabel() == "acc"


def test_time_axis_smoothing_and_log_scale(runs):
    ax = experiments(runs).plot("loss", x="time", smooth=0.6, log=True, ids=[1, 2])
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "time (s)"
    lines = [line for line in ax.get_lines() if line.get_gid() == "1"]
    (smooth,) = lines  # the raw curve is drawn faintly, without an id
    raw = [loss(0.1, s) for s in range(10)]
    assert list(smooth.get_ydata()) == pytest.approx(smoothed(raw, 0.6))
    assert list(smooth.get_xdata()) == [float(s) for s in range(10)]  # 1 s a step
    assert len(ax.get_lines()) == 4  # two runs, raw and smoothed each
    assert smoothed([1.0, 1.0, 1.0], 0.9) == pytest.approx([1.0, 1.0, 1.0])  # debiased


def test_draws_into_a_given_axes(runs):
    _, ax = plt.subplots()
    assert experiments(runs).plot("acc", ax=ax) is ax
    assert len(ax.get_lines()) == 4
    with pytest.raises(PlotError, match="unknown column args.nope"):
        experiments(runs).plot("loss", by="args.nope")
    with pytest.raises(PlotError, match="no selected experiment logged nope"):
        experiments(runs).plot("nope")


@pytest.mark.parametrize(
    ("suffix", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")]
)
def test_command_writes_the_file(runs, tmp_path_factory, suffix, magic):
    target = tmp_path_factory.mktemp("out") / f"curves.{suffix}"
    result = meticulous("plot", runs, "loss", "--by", "args.lr", "-o", target)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(magic)
    assert "wrote 4 curves of 4 experiments" in result.stderr
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


def test_command_selection_filter_and_ids(runs, tmp_path_factory):
    target = tmp_path_factory.mktemp("out") / "curves.svg"
    result = meticulous(
        "plot",
        runs,
        "loss",
        "acc",
        "--filter",
        'status == "SUCCESS"',
        "--smooth",
        "0.5",
        "--log",
        "--x",
        "time",
        "--facet",
        "--by",
        "args.lr",
        "-o",
        target,
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 6 curves of 3 experiments" in result.stderr  # 3 failed, 5 no curve
    result = meticulous("plot", runs, "loss", "--ids", "2,4", "-o", target)
    assert "wrote 2 curves of 2 experiments" in result.stderr
    assert target.read_text().count('id="line2d_') >= 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["loss", "-o", "out.gif"], "use one of .png, .svg, .pdf"),
        (["loss", "--by", "args.nope", "-o", "out.png"], "unknown column args.nope"),
        (["nope", "-o", "out.png"], "no selected experiment logged nope"),
        (["loss", "--smooth", "1.5", "-o", "out.png"], "smoothing is a weight"),
        (["loss", "--ids", "1,99", "-o", "out.png"], "no experiment 99"),
        (["loss", "--filter", "summary.nope > 1", "-o", "out.png"], "summary.nope"),
        (["loss"], "give -o FILE"),
    ],
)
def test_command_errors(runs, tmp_path, arguments, message):
    result = meticulous("plot", runs, *arguments, cwd=tmp_path, env={"DISPLAY": ""})
    assert result.returncode == 2
    assert message in result.stderr
    assert not list(tmp_path.glob("out.*"))


def test_without_matplotlib_the_message_names_the_extra(runs, tmp_path):
    saved = {
        name: module
        for name, module in sys.modules.items()
        if name.startswith("matplotlib")
    }
    sys.modules["matplotlib"] = None  # import matplotlib raises ImportError
    try:
        result = meticulous("plot", runs, "loss", "-o", tmp_path / "out.png")
        with pytest.raises(PlotError, match=r"meticulous-read\[plot\]"):
            experiments(runs).plot("loss")
    finally:
        sys.modules.update(saved)
    assert result.returncode == 2
    assert "pip install 'meticulous-read[plot]'" in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_long_curves_are_drawn_decimated_with_their_extremes(tmp_path):
    values = [1.0 + (step % 97) / 97 for step in range(10_000)]
    values[7_777] = 5.0  # a spike must survive
    write_experiment(tmp_path, 1, metrics=[{"loss": value} for value in values])
    (line,) = experiments(tmp_path).plot("loss").get_lines()
    drawn = list(line.get_ydata())
    width = line.figure.bbox.width  # in pixels: a bucket a pixel column
    assert len(drawn) <= 4 * width < len(values)
    assert max(drawn) == 5.0 and min(drawn) == min(values)
    assert list(line.get_xdata()) == sorted(line.get_xdata())


def test_curves_survive_bad_lines(tmp_path):
    from meticulous_read.series import curves

    folder = write_experiment(tmp_path, 1, metrics=[{"loss": 3.0}, {"loss": 2.0}])
    with open(folder / "metrics.jsonl", "a") as handle:
        handle.write('{"_step": 2, "loss": 1.0}, {"_step": 9, "loss": 9.0}\n')
        handle.write("garbage\n")
        handle.write('{"_step": 3, "loss": "NaN", "acc": [1]}\n')
        handle.write('{"_step": 4, "loss": 0.5}\n')
        handle.write('{"_step": 5, "loss": 0.')  # unterminated: a crash
    found = curves(folder)
    assert found["loss"].steps == [0.0, 1.0, 3.0, 4.0]
    assert found["loss"].values[:2] == [3.0, 2.0] and found["loss"].values[3] == 0.5
    assert math.isnan(found["loss"].values[2])
    assert "acc" not in found  # not a number


def test_curves_of_a_clean_file_with_list_values_and_a_too_deep_one(tmp_path):
    """The one-parse fast path meets list values: it used to call a function
    safeio no longer has, so any metrics file with a list crashed plots."""
    from meticulous_read.series import curves

    rows = [{"loss": 2.0, "hist": [1, 2]}, {"loss": 1.0, "hist": [3]}]
    folder = write_experiment(tmp_path, 1, metrics=rows)
    found = curves(folder)
    assert found["loss"].values == [2.0, 1.0]
    assert "hist" not in found  # not a number
    deep = "[" * 40 + "]" * 40  # deeper than the reader accepts (spec limit)
    with open(folder / "metrics.jsonl", "a") as handle:
        handle.write('{"_step": 2, "loss": 0.5, "deep": ' + deep + "}\n")
    assert curves(folder)["loss"].values == [2.0, 1.0]  # the deep line is skipped


def test_parallel_reading_gives_what_serial_reading_gives(tmp_path):
    from meticulous_read.plot import PARALLEL_MIN, collect

    for i in range(1, PARALLEL_MIN + 3):
        write_experiment(
            tmp_path,
            i,
            args={"lr": i % 3},
            metrics=[{"loss": i / (s + 1)} for s in range(20)],
        )
    frame = experiments(tmp_path).as_dataframe()
    serial = collect(str(tmp_path), frame, ["loss"], "args.lr", workers=1)
    parallel = collect(str(tmp_path), frame, ["loss"], "args.lr", workers=2)
    assert [(r.id, r.group, list(r.curves["loss"].values)) for r in parallel] == [
        (r.id, r.group, list(r.curves["loss"].values)) for r in serial
    ]


PLANTED_METRICS = [
    b'{"_step": 0, "loss": 1.5}\n{"_step": 1, "loss": 1.25}\n',  # plain
    b'{"_step": 0, "loss": NaN}\n{"_step": 1, "loss": 1e400}\n',  # only json takes
    b'{"_step": 0, "loss": 2}\r\n{"_step": 1, "loss": 1}\r\n',  # CRLF
    b'{"_step": 0, "loss": 2}\n{"_step": 1, "loss": 1',  # unterminated last line
    b'{"a": 1, "b": 2}, {"a": 3}\n{"a": 4}\n',  # two objects on a line
    b'{"a": 1\n{"b": 2}\n',  # an object broken over lines
    b'{"a": 1,\n"b": 2}\n{"a": 3}\n',  # a line that does not start with `{`
    b'{"a": 1}\n\n   \n{"a": 2}\n',  # blank lines
    b'{"note": "{x}", "a": 1}\n{"a": 2}\n',  # a brace inside a string
    b'{"a": [1, {"b": 2}]}\n{"a": 2}\n',  # nested values
    b'{"a": [1], "b": NaN}\n{"a": 2}\n',  # nested, and only json takes it
    b'{"a": ' + b"[" * 40 + b"]" * 40 + b'}\n{"a": 2}\n',  # too deep a line
    b'{"a": ' + b"[" * 31 + b"]" * 31 + b'}\n{"a": 2}\n',  # deep, within bounds
    b'5\n{"a": 1}\n',  # a line that is not an object
    b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n',  # a byte order mark
    b'{"a": "\xff"}\n{"a": 2}\n',  # not UTF-8
    b'{"a": "\\ud800"}\n{"a": 2}\n',  # a lone surrogate: json takes it
    b"",
]


@pytest.mark.parametrize("parsers", ["installed", "json only"])
@pytest.mark.parametrize("content", PLANTED_METRICS)
def test_one_parse_reads_what_the_line_by_line_reader_reads(
    tmp_path, monkeypatch, parsers, content
):
    """The one-call parse of a whole file (orjson when installed, json) is
    only a faster way to the rows the line-by-line reader gives."""
    import json

    from meticulous_read import metrics, series

    if parsers == "json only":
        monkeypatch.setattr(series, "PARSERS", (json.loads,))
    folder = write_experiment(tmp_path, 1)
    (folder / "metrics.jsonl").write_bytes(content)
    expected = metrics.read_records(str(folder))[0]
    got = series.records(folder)
    assert repr(got) == repr(expected)  # NaN == NaN, and ints stay ints


def test_ints_beyond_64_bits_come_back_as_the_same_number(tmp_path):
    """orjson's one difference from json: such an int is a float of it."""
    from meticulous_read import series

    folder = write_experiment(tmp_path, 1)
    (folder / "metrics.jsonl").write_bytes(b'{"a": 123456789012345678901234567890}\n')
    (row,) = series.records(folder)
    assert row["a"] == pytest.approx(123456789012345678901234567890)


def test_orjson_is_used_when_installed():
    """The plot extra brings orjson (it parses several times faster)."""
    pytest.importorskip("orjson")
    import orjson
    from meticulous_read.series import PARSERS

    assert PARSERS[0] is orjson.loads


def test_decimation_keeps_each_buckets_first_min_max_and_last():
    import numpy as np
    from meticulous_read.plot import decimated

    rng = np.random.default_rng(7)
    for count, buckets in [(10_007, 640), (10_000, 1000), (50_000, 333)]:
        ys = rng.normal(size=count)
        ys[rng.random(count) < 0.02] = np.nan
        xs = np.arange(count, dtype=np.float64)
        drawn_x, drawn_y = decimated(xs, ys, buckets)
        size = -(-count // buckets)
        expected = set()
        for start in range(0, count, size):
            part = ys[start : start + size]
            expected.add(start)
            expected.add(start + len(part) - 1)
            if not np.isnan(part).all():
                expected.add(start + int(np.nanargmin(part)))
                expected.add(start + int(np.nanargmax(part)))
        assert drawn_x.tolist() == sorted(expected)
        assert len(drawn_x) <= 4 * buckets
        assert np.array_equal(drawn_y, ys[drawn_x.astype(int)], equal_nan=True)
    short = np.arange(100, dtype=np.float64)
    assert decimated(short, short, 100)[1].tolist() == short.tolist()  # as it is
