"""The reader on spec/examples/features: per-metric steps, media, child runs (spec §13-14)."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import pytest
from meticulous_read import Experiments, MeticulousReadWarning

FEATURES = Path(__file__).parents[2] / "spec" / "examples" / "features"


@pytest.fixture
def features(tmp_path: Path) -> Path:
    target = tmp_path / "features"
    shutil.copytree(FEATURES, target)
    return target


@pytest.fixture
def facts() -> dict:
    path = FEATURES.parent / "features.expected.json"
    return json.loads(path.read_text(encoding="utf-8"))["experiments"]


def read_quietly(directory: Path) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", MeticulousReadWarning
        )  # dense_model/: helper engine
        return Experiments(directory)


def test_long_metrics_use_each_metrics_own_steps(features, facts):
    long = read_quietly(features).metrics()
    parent = long[long["id"] == "10"]
    for name, expected_steps in facts["10"]["metric_steps"].items():
        assert list(parent[parent["name"] == name]["step"]) == expected_steps
    # media paths and lists are not numbers: left out of the long table
    assert set(parent["name"]) == {"loss", "val_loss"}


def test_steps_of_a_file_with_one_counter_per_run_read_the_same_way(examples):
    long = read_quietly(examples).metrics()
    first = long[long["id"] == "1"]
    assert list(first[first["name"] == "lr"]["step"]) == [2]
    assert list(first[first["name"] == "loss"]["step"]) == [0, 1, 2]


def test_wide_metrics_keep_one_row_per_line(features):
    metrics = read_quietly(features)["10"].metrics
    assert list(metrics["_step"]) == [0, 1, 0, 2, 1, 3]
    assert metrics["sample_png"].dropna().tolist() == ["media/sample_png_0.png"]


def test_children_and_the_parent_column(features, facts):
    experiments = read_quietly(features)
    frame = experiments.as_dataframe()
    for experiment_id in ("10", "11", "10.fold0"):
        expected = facts[experiment_id]
        assert experiments.children(experiment_id) == sorted(
            expected["children"], key=lambda i: (not i.isdigit(), i)
        )
        assert experiments[experiment_id].parent == expected["parent"]
        value = frame.loc[experiment_id, "parent"]
        assert (value if isinstance(value, str) else None) == expected["parent"]
    assert "metadata.parent" not in frame.columns
    with pytest.raises(KeyError):
        experiments.children("nope")


def test_children_are_found_without_the_parents_list(features):
    import json as json_module

    metadata = features / "10" / "metadata.json"
    document = json_module.loads(metadata.read_text())
    del document["children"]  # the parent was killed before it listed them
    metadata.write_text(json_module.dumps(document))
    assert read_quietly(features).children(10) == ["11", "10.fold0"]


def test_children_are_found_when_the_frame_comes_from_its_cache(features):
    first = read_quietly(features)
    first.as_dataframe()  # stores the frame cache
    assert (
        read_quietly(features).children(10) == first.children(10) == ["11", "10.fold0"]
    )


def test_meticulous_ml_keywords_name_the_directory(features, tmp_path, monkeypatch):
    by_keyword = read_quietly_kwargs(experiments_directory=features)
    assert by_keyword.ids == read_quietly(features).ids
    project = tmp_path / "project"
    project.mkdir()
    (project / "experiments").symlink_to(features)
    assert read_quietly_kwargs(project_directory=project).ids == by_keyword.ids
    monkeypatch.chdir(tmp_path)
    assert read_quietly_kwargs(project_directory="project").directory == os.path.join(
        "project", "experiments"
    )
    with pytest.raises(TypeError, match="not both"):
        Experiments("somewhere", experiments_directory=features)


def read_quietly_kwargs(**kwargs) -> Experiments:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MeticulousReadWarning)
        return Experiments(**kwargs)


def test_a_grouped_childs_parent_is_its_sibling_in_the_group():
    from meticulous_read.experiments import _parent_of

    assert _parent_of("dense_model/3", "2") == "dense_model/2"
    assert _parent_of("3", "2") == "2"
    assert _parent_of("3", 2) is None  # not a string: ignored
    assert _parent_of("3", None) is None
