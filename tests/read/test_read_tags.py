"""Tags (spec §15): `meticulous tag`, tags.* columns, filters, and no symlinks."""

from __future__ import annotations

import json
import os
import warnings

import pytest
from cli_runner import meticulous
from helpers.synth import write_experiment
from meticulous_read import Experiments, MeticulousReadWarning


def frame_of(directory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(directory).as_dataframe()


def test_the_spec_example_has_tags(examples, expected):
    frame = frame_of(examples)
    facts = expected["experiments"]["my_special_run"]
    assert frame.loc["my_special_run", "tags.best"] == facts["tags.best"]
    assert frame.loc["my_special_run", "tags.paper"] == facts["tags.paper"]
    assert frame["tags.best"].isna().sum() == len(frame) - 1


@pytest.fixture
def runs(tmp_path):
    for i, lr in enumerate((0.1, 0.2, 0.3), start=1):
        write_experiment(tmp_path, i, args={"lr": lr}, summary={"loss": lr})
    return tmp_path


def test_tag_then_filter_and_columns(runs):
    result = meticulous("tag", runs, "2", "best=true", "note=rerun of 1", "rank=1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == '2: best=true, note="rerun of 1", rank=1\n'
    assert json.loads((runs / "2" / "tags.json").read_text()) == {
        "best": True,
        "note": "rerun of 1",
        "rank": 1,
    }
    assert meticulous("tag", runs, "3", "best=False").returncode == 0
    table = meticulous(runs)
    header = table.stdout.splitlines()[0].split()
    assert {"tags.best", "tags.note", "tags.rank"} <= set(header)
    chosen = meticulous(runs, "--filter", "tags.best == True")
    assert chosen.returncode == 0, chosen.stderr
    assert [line.split()[0] for line in chosen.stdout.splitlines()[1:]] == ["2"]
    records = json.loads(meticulous(runs, "--json").stdout)
    assert [record["tags.best"] for record in records] == [None, True, False]
    frame = frame_of(runs)
    assert frame.loc["2", "tags.rank"] == 1
    assert "tags" in meticulous("show", runs, "2").stdout


def test_untag_and_retag(runs):
    meticulous("tag", runs, "1", "best=True", "keep=1")
    result = meticulous("tag", runs, "1", "--untag", "best", "--untag", "nope")
    assert result.returncode == 0, result.stderr
    assert json.loads((runs / "1" / "tags.json").read_text()) == {"keep": 1}
    meticulous("tag", runs, "1", "--untag", "keep")
    assert json.loads((runs / "1" / "tags.json").read_text()) == {}
    assert "tags.keep" not in meticulous(runs).stdout


def test_a_listing_sees_new_tags_at_once(runs):
    old = 1e9
    for folder in runs.iterdir():
        os.utime(folder, (old, old))  # settled: cached by both caches
    first = meticulous(runs)
    assert "tags." not in first.stdout
    meticulous("tag", runs, "1", "best=true")
    assert "tags.best" in meticulous(runs).stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["1"], "nothing to do"),
        (["1", "=x"], "non-empty"),
        (["1", "a\x1bb=1"], "control character"),
        (["99", "x=1"], "no experiment '99'"),
    ],
)
def test_bad_tags_are_errors(runs, arguments, message):
    result = meticulous("tag", runs, *arguments)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (runs / "1" / "tags.json").exists()


def test_planted_symlinks_are_refused(runs, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    victim = outside / "victim.json"
    victim.write_text('{"kept": true}')
    os.symlink(victim, runs / "1" / "tags.json")
    result = meticulous("tag", runs, "1", "x=1")
    assert result.returncode == 2 and "symlink" in result.stderr
    assert victim.read_text() == '{"kept": true}'
    os.symlink(outside / "lock", runs / "2" / ".tags.lock")
    result = meticulous("tag", runs, "2", "x=1")
    assert result.returncode == 2 and "symlink" in result.stderr
    assert not (outside / "lock").exists()
    assert not (runs / "2" / "tags.json").exists()
    os.symlink(runs / "3", runs / "4")  # a folder that is a link
    result = meticulous("tag", runs, "4", "x=1")
    assert result.returncode == 2 and "symlink" in result.stderr
    assert not (runs / "3" / "tags.json").exists()


def test_a_tags_file_that_is_not_an_object_is_kept(runs):
    (runs / "1" / "tags.json").write_text("[1, 2]")
    result = meticulous("tag", runs, "1", "x=1")
    assert result.returncode == 2 and "not a JSON object" in result.stderr
    assert (runs / "1" / "tags.json").read_text() == "[1, 2]"
    listing = meticulous(runs)
    assert "BROKEN" in listing.stdout  # like summary.json (spec §15)


def test_tags_survive_the_snapshot_cache(runs):
    meticulous("tag", runs, "2", "best=true")
    old = 1e9
    for folder in runs.iterdir():
        os.utime(folder, (old, old))  # settled: the snapshot cache keeps them
    first = frame_of(runs)
    assert (runs / ".meticulous" / "cache").is_dir()
    again = frame_of(runs)  # from the cache
    assert bool(first.loc["2", "tags.best"]) and bool(again.loc["2", "tags.best"])
    assert Experiments(runs)["2"].tags == {"best": True}
