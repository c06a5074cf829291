"""Images given to log() go to media/, big lists are refused (spec §13.3-13.4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from meticulous import Experiment
from meticulous.media import MAX_LOGGED_NUMBERS, LoggedValueTooLargeError
from record_helpers import run, status_of, write_script

IMAGES = """
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image
from meticulous import Experiment

experiment = Experiment({})
experiment.log({"loss": 1.0})
experiment.log({"loss": 0.5})
experiment.log({
    "sample_png": np.zeros((224, 224, 3), dtype=np.uint8),
    "val_loss": 0.7,
})
experiment.log({"photo": Image.new("RGB", (8, 8)), "heat": np.ones((80, 80)) * 0.5})
experiment.log({"train/mask_img": np.eye(4, dtype=bool), "confusion": np.eye(3)})
experiment.log({"fig": plt.figure(figsize=(1, 1))})
experiment.log({"sample_png": np.zeros((2, 2), dtype=np.uint8)}, step=0)
"""


def lines_of(folder: Path) -> list[dict]:
    return [
        json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
    ]


def test_images_become_png_files_and_rows_hold_their_paths(project: Path):
    write_script(project, "train.py", IMAGES)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert status_of(folder)[0] == "SUCCESS"
    rows = lines_of(folder)
    assert rows[2]["sample_png"] == "media/sample_png_0.png"
    assert rows[2]["val_loss"] == 0.7
    assert rows[3]["photo"] == "media/photo_0.png"
    assert rows[3]["heat"] == "media/heat_0.png"  # image-shaped and over the bound
    assert rows[4]["train/mask_img"] == "media/train/mask_img_0.png"
    assert rows[4]["confusion"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert rows[5]["fig"] == "media/fig_0.png"
    # the same name at the same step again is a new version, never an overwrite
    assert rows[6]["sample_png"] == "media/sample_png_0.1.png"
    from PIL import Image

    with Image.open(folder / "media" / "sample_png_0.png") as image:
        assert image.size == (224, 224) and image.mode == "RGB"
    with Image.open(folder / "media" / "train" / "mask_img_0.png") as image:
        assert image.mode == "L"
        assert image.getpixel((0, 0)) == 255 and image.getpixel((1, 0)) == 0
    with Image.open(folder / "media" / "heat_0.png") as image:
        assert image.getpixel((0, 0)) == 128
    assert (folder / "metrics.jsonl").stat().st_size < 2000
    assert not list(folder.rglob(".*tmp*"))


NO_PILLOW = """
import sys
import numpy as np
from meticulous import Experiment
sys.modules["PIL"] = None  # as if Pillow were not installed
experiment = Experiment({})
experiment.log({"loss": 1.0})
try:
    experiment.log({"sample_png": np.zeros((4, 4), dtype=np.uint8), "loss": 0.5})
except ImportError as error:
    print(type(error).__name__, error)
experiment.log({"sample_png": np.zeros((4, 4), dtype=np.uint8)})
"""


def test_without_pillow_an_image_is_a_clear_error_naming_it(project: Path):
    write_script(project, "train.py", NO_PILLOW)
    done = run(project, "train.py")
    assert done.returncode == 1
    assert done.stdout.startswith(
        "MissingDependencyError logging an image needs Pillow"
    )
    assert "pip install Pillow" in done.stdout
    assert "MissingDependencyError" in done.stderr  # the uncaught second one
    folder = project / "experiments" / "1"
    word, message = status_of(folder)
    assert word == "ERROR" and "Pillow" in message
    assert lines_of(folder) == [
        {"_step": 0, "_time": lines_of(folder)[0]["_time"], "loss": 1.0}
    ]
    assert not (folder / "media").exists()


@pytest.fixture
def recorded(project: Path, monkeypatch):
    """An experiment recorded in-process (capture restored at its end)."""
    monkeypatch.chdir(project)
    experiment = Experiment({})
    yield experiment
    experiment.finish()


def test_a_big_plain_list_is_refused_before_the_line_is_written(recorded):
    folder = Path(recorded.curexpdir)
    recorded.log({"loss": 1.0})
    for value in (
        [0.5] * (MAX_LOGGED_NUMBERS + 1),
        [[0] * 100] * 50,
        np.zeros(MAX_LOGGED_NUMBERS + 1),
        np.zeros((70, 70, 2)),  # not image-shaped
    ):
        with pytest.raises(LoggedValueTooLargeError, match=r"experiment\.save"):
            recorded.log({"loss": 2.0, "hist": value})
    recorded.log({"hist": [0.5] * MAX_LOGGED_NUMBERS})
    rows = lines_of(folder)
    assert [row.get("loss") for row in rows] == [1.0, None]
    assert len(rows[1]["hist"]) == MAX_LOGGED_NUMBERS


@pytest.mark.parametrize("name", ["../x_png", ".hidden_png", "a//b_png"])
def test_image_names_that_would_leave_media_are_refused(recorded, name):
    from meticulous import InvalidExperimentError

    with pytest.raises(InvalidExperimentError):
        recorded.log({name: np.zeros((4, 4), dtype=np.uint8)})
    folder = Path(recorded.curexpdir)
    assert not (folder / "media").exists()
    assert not (folder / "x_png_0.png").exists()


def test_integer_images_outside_0_255_are_refused(recorded):
    from meticulous import InvalidSummaryError

    with pytest.raises(InvalidSummaryError, match="0-255"):
        recorded.log({"sample_png": np.full((4, 4), 300, dtype=np.int32)})
    recorded.log({"sample_png": np.full((4, 4), 200, dtype=np.int32)})
    assert (
        lines_of(Path(recorded.curexpdir))[0]["sample_png"] == "media/sample_png_0.png"
    )


def test_norecord_log_writes_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Experiment({}, norecord=True).log({"sample_png": np.zeros((4, 4), dtype=np.uint8)})
    assert list(tmp_path.iterdir()) == []
