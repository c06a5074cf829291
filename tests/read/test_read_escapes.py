"""Control characters planted in a folder never reach the terminal raw (issue 11.8).

ESC starts the sequences that set a window title (``ESC ] 0 ; … BEL``),
clear the screen (``ESC [ 2 J``) or hide text; 0x9B is a one-byte CSI; a
right-to-left override reverses what follows. Every command's stdout and
stderr is checked for all of them.
"""

from __future__ import annotations

import json
import re

import pytest
from cli_runner import meticulous
from helpers.synth import write_experiment

TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NAME = f"run{TITLE}"


@pytest.fixture
def hostile(tmp_path):
    write_experiment(
        tmp_path,
        1,
        status="ERROR",
        message=f"boom{CLEAR}\x9b2J",
        args={f"lr{TITLE}": f"0.1{CLEAR}", "model": "mlp\u202egnp"},
        default_args={f"lr{TITLE}": 0.5, "model": "cnn"},
        summary={"loss\x07": 0.5, "note": f"x{TITLE}"},
        metadata={"description": f"desc{CLEAR}"},
        stdout=f"epoch 1{TITLE}\nepoch 2{CLEAR}\n",
        stderr="warn\x1b[8mhidden\n",
        metrics=[{"loss": 1.0}, {"loss": 0.5}],
    )
    write_experiment(tmp_path, NAME, summary={"loss\x07": 0.25})
    (tmp_path / f"notes{CLEAR}").mkdir()  # not an experiment: named in a warning
    return tmp_path


def assert_clean(result) -> None:
    for stream in (result.stdout, result.stderr):
        assert RAW.search(stream) is None, ascii(stream)


def test_the_table_escapes_everything(hostile):
    for options in ([], ["--columns", "all"], ["--width", "60"], ["--color", "always"]):
        result = meticulous(hostile, *options)
        assert result.returncode == 0, result.stderr
        if "--color" not in options:
            assert_clean(result)
        else:  # our own colours only: every ESC starts an SGR sequence of ours
            assert re.findall("\x1b[^[]", result.stdout) == []
            assert set(re.findall("\x1b\\[[0-9;]*m", result.stdout)) <= {
                "\x1b[0m",
                "\x1b[1m",
                "\x1b[31m",
                "\x1b[32m",
            }
    table = meticulous(hostile, "--columns", "all").stdout
    assert "run\\x1b]0;pwned\\x07" in table  # visible, as an escape
    assert "\\x9b2J" in table and "mlp\\u202egnp" in table
    assert "notes\\x1b[2J" in meticulous(hostile).stderr  # the warning


def test_json_keeps_the_values_and_escapes_them(hostile):
    result = meticulous(hostile, "--json", "--columns", "all")
    assert result.returncode == 0
    assert_clean(result)
    records = {record["id"]: record for record in json.loads(result.stdout)}
    assert NAME in records  # the same value, read back
    assert records["1"]["status_message"] == f"boom{CLEAR}\x9b2J"
    assert records["1"]["args.model"] == "mlp\u202egnp"


def test_show_escapes_every_section(hostile):
    for experiment_id in ("1", NAME):
        result = meticulous("show", hostile, experiment_id)
        assert result.returncode == 0, result.stderr
        assert_clean(result)
    text = meticulous("show", hostile, "1").stdout
    assert "epoch 1\\x1b]0;pwned\\x07" in text
    assert "warn\\x1b[8mhidden" in text
    assert "boom\\x1b[2J" in text


def test_diff_and_errors_escape(hostile):
    result = meticulous("diff", hostile, "1", NAME)
    assert result.returncode == 0, result.stderr
    assert_clean(result)
    assert_clean(meticulous("diff", hostile, "1", NAME, "--json"))
    compared = meticulous("compare", hostile, "1", NAME)
    assert compared.returncode == 0, compared.stderr
    assert_clean(compared)
    assert "loss\\x07" in compared.stdout
    assert_clean(meticulous("compare", hostile, "1", NAME, "--json"))
    spark = meticulous(hostile, "--spark", f"loss{TITLE}")
    assert spark.returncode == 0
    assert_clean(spark)
    plot = meticulous("plot", hostile, f"loss{TITLE}", "-o", hostile / "x.png")
    assert plot.returncode == 2
    assert_clean(plot)
    missing = meticulous("show", hostile, f"nope{TITLE}")
    assert missing.returncode == 2
    assert_clean(missing)
    assert "nope" in missing.stderr
    bad_filter = meticulous(hostile, "--filter", f"status == '{CLEAR}' and")
    assert bad_filter.returncode == 2
    assert_clean(bad_filter)


def test_undecodable_folder_names_are_shown_not_fatal(tmp_path):
    write_experiment(tmp_path, 1)
    write_experiment(  # in a parent folder first, renamed below
        tmp_path / "x", "unused", metrics=[{"loss": 2.0}, {"loss": 1.0}]
    )
    folder = tmp_path.joinpath("x", "unused")
    target = bytes(tmp_path) + b"/bad\xff"
    folder.rename(target.decode("utf-8", "surrogateescape"))
    result = meticulous(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bad\\xff" in result.stdout
    records = json.loads(meticulous(tmp_path, "--json").stdout)
    assert records[-1]["id"] == "bad\\xff"  # the id the reader gives it
    spark = meticulous(tmp_path, "--spark", "loss", "--columns", "status").stdout
    assert spark.splitlines()[-1].split() == ["bad\\xff", "SUCCESS", "█▁"]
    shown = meticulous("show", tmp_path, "bad\\xff")
    assert shown.returncode == 0 and "first 2  min 1  max 2  last 1" in shown.stdout
