"""Recorder → reader for spec §13-14: saved objects, media, per-metric steps, children."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import meticulous_read
from helpers.git import git

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import pandas as pd
    from meticulous import Experiment

    with Experiment({"folds": 2}) as parent:
        for step in range(3):
            parent.log({"loss": 1.0 / (step + 1)})
            if step % 2 == 0:
                parent.log({"val_loss": 0.9 / (step + 1), "sample_png": np.zeros((8, 8, 3), np.uint8)})
        parent.save(pd.DataFrame({"a": [1, 2]}), "table")
        for fold in range(2):
            with parent.child({"fold": fold}, name=f"fold{fold}") as run:
                run.log({"loss": 0.5 * fold})
                run.summary({"loss": 0.5 * fold})
    """
)


def test_what_the_recorder_writes_the_reader_shows(project: Path):
    (project / "features.py").write_text(SCRIPT)
    git(project, "add", ".")
    git(project, "commit", "-qm", "features")
    done = subprocess.run(
        [sys.executable, "features.py"],
        check=False,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    experiments = meticulous_read.Experiments(project / "experiments")
    assert experiments.ids == ["1", "1.fold0", "1.fold1"]
    assert experiments.children("1") == ["1.fold0", "1.fold1"]
    frame = experiments.as_dataframe()
    assert frame.loc["1.fold1", "parent"] == "1"
    assert frame.loc["1.fold1", "summary.loss"] == 0.5
    long = experiments.metrics()
    parent = long[long["id"] == "1"]
    assert list(parent[parent["name"] == "loss"]["step"]) == [0, 1, 2]
    assert list(parent[parent["name"] == "val_loss"]["step"]) == [0, 1]
    wide = experiments["1"].metrics
    paths = wide["sample_png"].dropna().tolist()
    assert paths == ["media/sample_png_0.png", "media/sample_png_1.png"]
    with experiments["1"].open(paths[1], "rb") as image:
        assert image.read(8) == b"\x89PNG\r\n\x1a\n"
    with experiments["1"].open(
        "table.parquet", "rb"
    ) as table:  # pyarrow is installed here
        assert table.read(4) == b"PAR1"
