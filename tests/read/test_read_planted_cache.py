"""Caches planted in a shared folder: never code, never a blow-up, never a write outside.

Issue 11, point 6: a 1.4 KB pickle whose shared references expand to 2^40
values hung every listing; a ``.meticulous/cache`` symlink made the reader
write into its target and delete 11 files there.
"""

from __future__ import annotations

import json
import os
import pickle
import time
import warnings
from pathlib import Path

import pytest
from helpers.synth import age_folder, write_experiment
from meticulous_read import Experiments, MeticulousReadWarning
from meticulous_read.cli import main

CACHE = Path(".meticulous") / "cache"


def settled(directory: Path, count: int = 3) -> None:
    for number in range(1, count + 1):
        folder = write_experiment(directory, number, summary={"loss": number / 10})
        age_folder(folder)


def billion_laughs() -> bytes:
    """A small pickle whose shared references make 2^40 leaves when expanded."""
    level: list = ["lol"]
    for _ in range(40):
        level = [level, level]
    return pickle.dumps({"format": 1, "entries": {"1": level}}, protocol=4)


def listing(directory: Path, capsys, *options: str) -> tuple[int, str, str]:
    code = main([str(directory), "--width", "0", *options])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_planted_billion_laughs_is_never_expanded(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    directory = tmp_path / "experiments"
    settled(directory)
    bomb = billion_laughs()
    assert len(bomb) < 1500
    (directory / CACHE).mkdir(parents=True)
    for name in ("listing-v1.pickle", "snapshots-v2.json", "output-v1-0.pickle"):
        (directory / CACHE / name).write_bytes(bomb)
    started = time.monotonic()
    code, out, _ = listing(directory, capsys)
    assert code == 0 and "0.3" in out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        frame = Experiments(directory).as_dataframe()
    assert list(frame.index) == ["1", "2", "3"]
    assert time.monotonic() - started < 30
    assert (directory / CACHE / "listing-v1.pickle").read_bytes() == bomb  # not ours


def _planted_entry(directory: Path, text: str) -> None:
    """A snapshot cache of the right shape whose JSON texts are hostile."""
    key = os.stat(directory / "1")
    texts = {"metadata": "{}", "args": text, "summary": None}
    entry = [key.st_mtime_ns, key.st_ctime_ns, key.st_ino, "SUCCESS", "", texts]
    payload = {
        "format": "meticulous-read snapshots",
        "version": 3,
        "directory": str(directory.resolve()),
        "entries": {"1": entry},
    }
    (directory / CACHE).mkdir(parents=True, exist_ok=True)
    (directory / CACHE / "snapshots-v2.json").write_text(json.dumps(payload))


@pytest.mark.parametrize(
    "text",
    [
        "[" * 50_000 + "]" * 50_000,  # deep: a RecursionError when walked
        '{"a":' * 900 + "1" + "}" * 900,  # under the recursion limit, over ours
        json.dumps({f"k{i}": i for i in range(200_000)}),  # 200,000 columns
        "not json",
        "[1, 2]",
    ],
    ids=["deep-array", "deep-objects", "wide", "garbage", "not-an-object"],
)
def test_planted_snapshot_entries_are_read_again_from_the_folder(tmp_path, text):
    from meticulous_read import cache

    assert cache.CACHE_VERSION == 3  # the shape planted below
    directory = tmp_path / "experiments"
    settled(directory)
    _planted_entry(directory, text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        frame = Experiments(directory).as_dataframe()
    assert frame.at["1", "summary.loss"] == 0.1  # read from the folder, not the cache
    assert frame.at["1", "status"] == "SUCCESS"
    assert len(frame.columns) < 100


def _plant_target(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """Eleven files of someone else's, some named as the reader names its own."""
    target = tmp_path / "elsewhere"
    target.mkdir()
    names = [f"listing-v2-{i:024x}.json" for i in range(9)]
    names += ["snapshots-v2.json", "precious.txt"]
    files = {name: f"not yours {name}".encode() for name in names}
    for name, data in files.items():
        (target / name).write_bytes(data)
    return target, files


@pytest.mark.parametrize("link", [".meticulous", ".meticulous/cache"])
def test_a_symlinked_cache_folder_is_never_written_or_pruned(
    tmp_path, capsys, monkeypatch, link
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    directory = tmp_path / "experiments"
    settled(directory)
    target, files = _plant_target(tmp_path)
    if link == ".meticulous":
        (directory / ".meticulous").symlink_to(target)
    else:
        (directory / ".meticulous").mkdir()
        (directory / ".meticulous" / "cache").symlink_to(target)
    outputs = set()
    for width in range(20):  # more option sets than are kept: pruning runs
        code, out, _ = listing(
            directory, capsys, "--columns", "all", "--tail", str(width)
        )
        assert code == 0
        outputs.add(out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        Experiments(directory).as_dataframe()
    assert {path.name: path.read_bytes() for path in target.iterdir()} == files
    stored = list((tmp_path / "xdg" / "meticulous").iterdir())
    assert any("snapshots-v2.json" in path.name for path in stored)
    assert any("listing-v2-" in path.name for path in stored)


def test_pruning_removes_only_files_the_reader_wrote(tmp_path, capsys):
    directory = tmp_path / "experiments"
    settled(directory)
    folder = directory / CACHE
    folder.mkdir(parents=True)
    foreign = {}
    for number in range(10):
        path = folder / f"listing-v2-{number:024x}.json"
        path.write_bytes(b'{"someone": "else"}')
        old = time.time() - 86400
        os.utime(path, (old, old))  # oldest: first in line for pruning
        foreign[path.name] = path.read_bytes()
    for tail in range(12):
        assert listing(directory, capsys, "--tail", str(tail))[0] == 0
    present = {path.name: path.read_bytes() for path in folder.iterdir()}
    for name, data in foreign.items():
        assert present[name] == data
    ours = [
        name
        for name, data in present.items()
        if name.startswith("listing-v2-") and data.startswith(b'{"format"')
    ]
    assert len(ours) == 8  # the newest option sets, as before


def test_a_planted_entry_of_the_right_shape_is_used(tmp_path):
    """The control for the test above: the planted shape is the real one."""
    directory = tmp_path / "experiments"
    settled(directory)
    _planted_entry(directory, '{"lr": 42}')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        frame = Experiments(directory).as_dataframe()
    assert frame.at["1", "args.lr"] == 42  # a cache can be wrong, never dangerous
