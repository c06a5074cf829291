"""experiment.save / load / add_saver (spec §13.1-13.2), from scripts run as processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from meticulous import Experiment, InvalidExperimentError, UnserialisableValueError
from meticulous.savers import UnsafeLoadError
from record_helpers import read_json, run, status_of, write_script

SAVING = """
import sys
import numpy as np
import pandas as pd
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image
from meticulous import Experiment

class Weights:
    def __init__(self, values):
        self.values = values

experiment = Experiment({"lr": 0.1})
written = [
    experiment.save({"layers": 2}, "config"),
    experiment.save({"layers": 3}, "config"),
    experiment.save({"layers": 4}, "config.json"),
    experiment.save([1, 2.5, "x"], "history"),
    experiment.save(np.arange(6, dtype=np.float32).reshape(2, 3), "weights"),
    experiment.save(pd.DataFrame({"a": [1, 2]}), "table"),
    experiment.save(Image.new("RGB", (4, 3), (255, 0, 0)), "red"),
    experiment.save(plt.figure(figsize=(1, 1)), "plots/curve"),
    experiment.save(Weights([1, 2]), "model"),
    experiment.save(Weights([3]), "model"),
    experiment.save("some notes", "notes"),
    experiment.save(b"\\x00\\x01", "blob"),
    experiment.save({"layers": 9}, "config", overwrite=True),
]
print("\\n".join(p.name for p in written))
"""


def test_savers_by_type_and_versions(project: Path):
    write_script(project, "train.py", SAVING)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert status_of(folder)[0] == "SUCCESS"
    assert done.stdout.split() == [
        "config.json",
        "config.1.json",
        "config.2.json",
        "history.json",
        "weights.npy",
        "table.csv",  # no pyarrow in this suite: csv (parquet: the roundtrip suite)
        "red.png",
        "curve.png",
        "model.pkl",
        "model.1.pkl",
        "notes.txt",
        "blob.bin",
        "config.json",
    ]
    assert read_json(folder / "config.json") == {"layers": 9}
    assert read_json(folder / "config.1.json") == {"layers": 3}
    assert read_json(folder / "config.2.json") == {"layers": 4}
    assert read_json(folder / "history.json") == [1, 2.5, "x"]
    weights = np.load(folder / "weights.npy", allow_pickle=False)
    assert weights.dtype == np.float32 and weights.shape == (2, 3)
    assert (folder / "table.csv").read_text().splitlines() == [",a", "0,1", "1,2"]
    for png in ("red.png", "plots/curve.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "notes.txt").read_text() == "some notes"
    assert (folder / "blob.bin").read_bytes() == b"\x00\x01"
    assert (folder / "model.1.pkl").read_bytes()[:1] == b"\x80"  # a pickle
    leftovers = [p.name for p in folder.rglob(".*tmp*")]
    assert leftovers == []


LOADING = """
import sys
from meticulous import Experiment
from meticulous.savers import UnsafeLoadError

class Vocabulary:
    def __init__(self, words):
        self.words = words

Experiment.add_saver(
    Vocabulary,
    lambda vocabulary, path: path.write_text("\\n".join(vocabulary.words)),
    ".vocab",
    loader=lambda path: Vocabulary(path.read_text().split("\\n")),
)
experiment = Experiment({"lr": 0.1}, experiment_id="run")
if sys.argv[1] == "save":
    experiment.save({"epoch": 1}, "checkpoint")
    experiment.save({"epoch": 2}, "checkpoint")
    experiment.save(set([1]), "model")
    print(experiment.save(Vocabulary(["a", "b"]), "words").name)
else:
    print(experiment.load("words").words)
    print(experiment.load("checkpoint")["epoch"])
    print(experiment.load("checkpoint.json")["epoch"])
    try:
        experiment.load("model")
    except UnsafeLoadError as error:
        print("refused:", error)
    print(experiment.load("model", allow_pickle=True))
"""


def test_load_after_resume_takes_latest_version_and_refuses_pickle(project: Path):
    write_script(project, "train.py", LOADING)
    first = run(project, "train.py", "save")
    assert first.returncode == 0, first.stderr
    assert first.stdout == "words.vocab\n"
    second = run(project, "train.py", "load")
    assert second.returncode == 0, second.stderr
    vocabulary, *lines = second.stdout.splitlines()
    assert vocabulary == "['a', 'b']"
    assert lines[0] == "2"
    assert lines[1] == "1"
    assert lines[2].startswith("refused: ") and "runs code" in lines[2]
    assert "allow_pickle=True" in lines[2]
    assert lines[3] == "{1}"


def test_norecord_saves_relative_to_cwd(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment = Experiment({"a": 1}, norecord=True)
    path = experiment.save({"a": 1}, "out/config")
    assert path == tmp_path / "out" / "config.json"
    assert json.loads(path.read_text()) == {"a": 1}
    assert experiment.load("out/config") == {"a": 1}
    with pytest.raises(UnsafeLoadError):
        experiment.save(object(), "thing")
        experiment.load("thing")


class Model:
    def __init__(self, text: str) -> None:
        self.text = text


def test_add_saver_on_class_and_on_instance(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    class Recorded(Experiment):
        pass

    def write(obj: Model, path: Path) -> None:
        path.write_text(obj.text)

    Recorded.add_saver(Model, write, ".model", loader=lambda p: Model(p.read_text()))
    experiment = Recorded({}, norecord=True)
    assert experiment.save(Model("a"), "m").name == "m.model"
    assert experiment.load("m").text == "a"
    # The class's saver is not Experiment's own, nor another subclass's.
    assert Experiment({}, norecord=True).save(Model("b"), "m").name == "m.pkl"
    one = Experiment({}, norecord=True)
    one.add_saver(Model, lambda obj, path: path.write_text("!" + obj.text), ".txt")
    assert one.save(Model("c"), "n").read_text() == "!c"


@pytest.mark.parametrize(
    "name", ["../escape", "/abs", ".hidden", "a/../../b", "", "a//b", "bad\x01"]
)
def test_bad_names_are_refused_and_nothing_is_written(
    tmp_path: Path, monkeypatch, name
):
    monkeypatch.chdir(tmp_path)
    experiment = Experiment({}, norecord=True)
    with pytest.raises(InvalidExperimentError):
        experiment.save({"a": 1}, name)
    assert list(tmp_path.iterdir()) == []


def test_a_planted_symlink_is_not_followed(tmp_path: Path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "plots").symlink_to(outside)
    monkeypatch.chdir(work)
    experiment = Experiment({}, norecord=True)
    with pytest.raises(InvalidExperimentError, match="outside"):
        experiment.save({"a": 1}, "plots/x")
    assert list(outside.iterdir()) == []


def test_bad_add_saver_arguments(tmp_path: Path):
    experiment = Experiment({}, norecord=True)
    with pytest.raises(InvalidExperimentError, match="type"):
        experiment.add_saver("dict", lambda o, p: None, ".x")
    with pytest.raises(InvalidExperimentError, match="suffix"):
        experiment.add_saver(dict, lambda o, p: None, "x")


def test_load_of_a_missing_name_says_what_is_there(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment = Experiment({}, norecord=True)
    experiment.save([1], "present")
    with pytest.raises(FileNotFoundError, match="present.json"):
        experiment.load("absent")


def test_object_arrays_are_pickled_not_npy(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment = Experiment({}, norecord=True)
    path = experiment.save(np.array([{"a": 1}], dtype=object), "objects")
    assert path.suffix == ".pkl"
    assert os.path.exists(path)


def test_unpicklable_object_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    experiment = Experiment({}, norecord=True)
    with pytest.raises(UnserialisableValueError, match="add_saver"):
        experiment.save(lambda: None, "fn")
    assert list(tmp_path.iterdir()) == []


def test_torch_and_keras_objects_use_their_own_savers(tmp_path: Path, monkeypatch):
    """torch and keras are too big for the test extra: stand-ins with their class names."""
    import types

    monkeypatch.chdir(tmp_path)
    fake_torch = types.ModuleType("torch")
    calls = []
    fake_torch.save = lambda obj, path: (
        calls.append(obj),
        Path(path).write_bytes(b"pt"),
    )
    fake_torch.load = lambda path, weights_only: ("loaded", weights_only)
    monkeypatch.setitem(__import__("sys").modules, "torch", fake_torch)
    tensor = type("Tensor", (), {"__module__": "torch"})()
    model = type("Model", (), {"__module__": "keras.src.models.model"})()
    model.save = lambda path: Path(path).write_bytes(b"PK")
    experiment = Experiment({}, norecord=True)
    assert experiment.save(tensor, "weights").name == "weights.pt"
    assert calls == [tensor]
    assert experiment.load("weights") == ("loaded", True)  # weights_only unless allowed
    assert experiment.load("weights", allow_pickle=True) == ("loaded", False)
    path = experiment.save(model, "net")
    assert path.name == "net.keras" and path.read_bytes() == b"PK"
