"""Many folders are read by parallel processes: the same result as one process."""

from __future__ import annotations

import warnings

import pandas as pd
from helpers.synth import age_folder, write_experiment
from meticulous_read import Experiments, MeticulousReadWarning, scan


def test_parallel_reads_give_the_same_frame(tmp_path, monkeypatch):
    for number in range(1, 41):
        write_experiment(tmp_path, number, summary={"loss": number / 7})
    (tmp_path / "13" / "summary.json").write_text('{"loss": ')  # broken: a problem
    monkeypatch.setattr(scan, "PARALLEL_FROM", 2)
    monkeypatch.setattr(scan, "CHUNK", 3)
    frames = {}
    for workers in ("1", "3"):
        monkeypatch.setenv("METICULOUS_READ_WORKERS", workers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MeticulousReadWarning)
            frames[workers] = Experiments(tmp_path, cache=False).as_dataframe()
    pd.testing.assert_frame_equal(frames["1"], frames["3"])
    assert frames["3"].at["13", "status"] == "BROKEN"
    assert list(frames["3"].index) == [str(n) for n in range(1, 41)]


def test_snapshots_read_in_parallel_are_cached_as_read(tmp_path, monkeypatch):
    for number in range(1, 31):
        age_folder(write_experiment(tmp_path, number, args={"lr": number, "é": "ü"}))
    monkeypatch.setattr(scan, "PARALLEL_FROM", 2)
    monkeypatch.setattr(scan, "CHUNK", 4)
    monkeypatch.setenv("METICULOUS_READ_WORKERS", "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        expected = Experiments(tmp_path, cache=False).as_dataframe()
        Experiments(tmp_path).as_dataframe()  # reads, writes both caches
        cached = tmp_path / ".meticulous" / "cache"
        (cached / "frame-v1.bin").unlink()  # so the snapshot cache answers
        pd.testing.assert_frame_equal(Experiments(tmp_path).as_dataframe(), expected)
    text = (cached / "snapshots-v2.json").read_text(encoding="ascii")
    assert "\\u00fc" in text  # the files' texts, escaped: the cache is ASCII
