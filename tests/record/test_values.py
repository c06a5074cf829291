"""Values that are not JSON are recorded readably; failed writes never truncate."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from meticulous import MeticulousError
from meticulous.atomic import write_json_atomic
from meticulous.jsonable import readable
from record_helpers import read_json, run, write_script


@dataclasses.dataclass
class Optimiser:
    name: str
    betas: tuple


class Colour(enum.Enum):
    RED = "red"


class Opaque:
    __slots__ = ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Path("/data/train.csv"), "/data/train.csv"),
        (PurePosixPath("a/b"), "a/b"),
        ((1, 2), [1, 2]),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        (np.float32(0.5), 0.5),
        (np.int64(7), 7),
        (np.bool_(True), True),
        (np.arange(4).reshape(2, 2), [[0, 1], [2, 3]]),
        (Optimiser("adam", (0.9, 0.99)), {"name": "adam", "betas": [0.9, 0.99]}),
        (Colour.RED, "red"),
        (b"caf\xc3\xa9 \xff", "café \ufffd"),
        (datetime.date(2026, 11, 23), "2026-11-23"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (-math.inf, "-Infinity"),
        ({1: "a", None: "b"}, {"1": "a", "null": "b"}),
    ],
)
def test_readable_forms(value, expected):
    assert readable(value) == expected
    json.dumps(readable(value), allow_nan=False)


def test_object_without_a_form_is_its_repr():
    assert readable(Opaque()).startswith("<test_values.Opaque object at")


def test_circular_structure_is_an_error():
    loop: list = []
    loop.append(loop)
    with pytest.raises(MeticulousError, match="circular"):
        readable({"a": loop})


def test_non_json_args_summary_and_metrics_are_recorded_readably(project):
    write_script(
        project,
        "values.py",
        """\
        import dataclasses, pathlib
        import numpy as np
        from meticulous import Experiment

        @dataclasses.dataclass
        class Config:
            layers: tuple = (64, 64)

        experiment = Experiment({
            "data": pathlib.Path("data/train.csv"),
            "sizes": (1, 2),
            "config": Config(),
            "scale": np.float64(0.5),
        })
        experiment.summary({"best": np.float32(0.25), "weights": np.ones(2),
                            "loss": float("nan")})
        experiment.log({"loss": np.float32(0.5), "grad": float("inf"), "tags": {"b", "a"}})
        """,
    )
    done = run(project, "values.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert read_json(folder / "args.json") == {
        "data": "data/train.csv",
        "sizes": [1, 2],
        "config": {"layers": [64, 64]},
        "scale": 0.5,
    }
    assert read_json(folder / "summary.json") == {
        "best": 0.25,
        "weights": [1.0, 1.0],
        "loss": "NaN",
    }
    row = json.loads((folder / "metrics.jsonl").read_text())
    assert (row["loss"], row["grad"], row["tags"]) == (0.5, "Infinity", ["a", "b"])


def test_failed_write_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "summary.json"
    write_json_atomic(target, {"loss": 1.0})
    before = target.read_bytes()
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(MeticulousError):
        write_json_atomic(target, {"loss": loop})
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temp file left


def test_unserialisable_summary_keeps_the_previous_summary(project):
    write_script(
        project,
        "bad_summary.py",
        """\
        from meticulous import Experiment, MeticulousError
        experiment = Experiment({})
        experiment.summary({"loss": 0.5})
        loop = []
        loop.append(loop)
        try:
            experiment.summary({"loss": loop})
        except MeticulousError as error:
            print("refused:", error)
        try:
            experiment.summary([("loss", 1)])
        except TypeError as error:
            print("refused:", error)
        try:
            experiment.log({"_step": 3})
        except MeticulousError as error:
            print("refused:", error)
        """,
    )
    done = run(project, "bad_summary.py")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "circular" in lines[0]
    assert "summary() takes a dict" in lines[1]
    assert "'_step' is not allowed" in lines[2]
    folder = project / "experiments" / "1"
    assert read_json(folder / "summary.json") == {"loss": 0.5}
    assert (
        not (folder / "metrics.jsonl").exists()
        or (folder / "metrics.jsonl").read_text() == ""
    )
    assert not [p for p in folder.iterdir() if ".tmp-" in p.name]


def test_metrics_survive_a_crash_and_explicit_steps(project):
    write_script(
        project,
        "crash.py",
        """\
        import os
        from meticulous import Experiment
        experiment = Experiment({})
        experiment.log({"loss": 1.0})
        experiment.log({"loss": 0.9}, step=10)
        experiment.log({"loss": 0.8})
        os._exit(9)  # no cleanup at all
        """,
    )
    done = run(project, "crash.py")
    assert done.returncode == 9
    rows = (project / "experiments" / "1" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["_step"] for r in rows] == [0, 10, 11]
