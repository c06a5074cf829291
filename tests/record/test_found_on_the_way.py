"""Small promises of issue 7: ids after an explicit one, errors after finish."""

from __future__ import annotations

import meticulous
import pytest
from meticulous import Experiment
from record_helpers import run, write_script


def test_the_next_automatic_id_after_an_explicit_integer_id_is_largest_plus_one(
    project,
):
    write_script(
        project,
        "ids.py",
        """
        import argparse
        from meticulous import Experiment
        parser = argparse.ArgumentParser()
        Experiment.add_argument_group(parser)
        print(Experiment.from_parser(parser).experiment_id)
        """,
    )
    got = [run(project, "ids.py").stdout.strip()]
    got.append(run(project, "ids.py", "--experiment-id", "20").stdout.strip())
    got.append(run(project, "ids.py").stdout.strip())
    got.append(run(project, "ids.py", "--experiment-id", "5").stdout.strip())
    got.append(run(project, "ids.py").stdout.strip())
    assert got == ["1", "20", "21", "5", "22"]


def test_log_summary_and_open_after_finish_raise_a_clear_error(project):
    experiment = Experiment({}, project_directory=project)
    experiment.log({"loss": 1.0})
    experiment.finish()
    folder = project / "experiments" / "1"
    before = (folder / "metrics.jsonl").read_bytes()
    for call in (
        lambda: experiment.log({"loss": 2.0}),
        lambda: experiment.summary({"loss": 2.0}),
        lambda: experiment.open("late.txt", "w"),
    ):
        with pytest.raises(
            meticulous.ExperimentFinishedError, match="after experiment 1 finished"
        ):
            call()
    assert (folder / "metrics.jsonl").read_bytes() == before
    assert not (folder / "summary.json").exists()
    assert not (folder / "late.txt").exists()


def test_a_bad_log_argument_is_a_metrics_error(project):
    with Experiment({}, project_directory=project) as experiment:
        with pytest.raises(meticulous.InvalidMetricsError, match="log"):
            experiment.log([("loss", 1.0)])  # type: ignore[arg-type]
        with pytest.raises(meticulous.InvalidMetricsError):
            experiment.log({"_private": 1})
        with pytest.raises(meticulous.InvalidMetricsError):
            experiment.log({"loss": 1}, step="three")  # type: ignore[arg-type]
        assert not issubclass(
            meticulous.InvalidMetricsError, meticulous.InvalidSummaryError
        )


def test_norecord_curexpdir_joins_like_a_folder(tmp_path, monkeypatch):
    import os

    monkeypatch.chdir(tmp_path)
    experiment = Experiment({}, norecord=True)
    assert experiment.curexpdir == "."
    with open(os.path.join(experiment.curexpdir, "out.txt"), "w") as out:
        out.write("x")
    assert (tmp_path / "out.txt").read_text() == "x"


def test_missing_tee_error_is_a_meticulous_error():
    from meticulous.capture import MissingTeeError

    assert issubclass(MissingTeeError, meticulous.MeticulousError)
