"""A recorded run: the folder, its files, and what they hold."""

from __future__ import annotations

import json
import sys

from record_helpers import (
    SPEC,
    git,
    read_json,
    run,
    start,
    status_of,
    wait_for,
    write_script,
)

TRAIN = """\
    import argparse
    from meticulous import Experiment

    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.01)
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    args = parser.parse_args()
    print("training with lr", args.lr, "batch", args.batch_size)
    for step in range(3):
        experiment.log({"loss": 1.0 / (step + 1), "accuracy": 0.5 + step / 10})
    experiment.summary({"loss": 0.33, "accuracy": 0.7})
    experiment.summary({"best_epoch": 2})
    with experiment.open("checkpoints/model.pkl", "wb") as f:
        f.write(b"weights")
    print("id", experiment.experiment_id, "dir", experiment.curexpdir)
"""


def test_a_run_gets_folder_1_with_every_file(project):
    """The first run of a script is recorded in experiments/1 with all its files."""
    write_script(project, "train.py", TRAIN)
    done = run(project, "train.py", "--lr", "0.1", "--description", "first try")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert status_of(folder) == ("SUCCESS", "")
    assert "training with lr 0.1 batch 64" in done.stdout  # terminal still shows it
    assert f"id 1 dir {folder}" in done.stdout
    assert (folder / "stdout").read_text() == done.stdout
    assert (folder / "stderr").read_text() == ""
    assert (folder / "checkpoints" / "model.pkl").read_bytes() == b"weights"
    assert read_json(folder / "summary.json") == {
        "loss": 0.33,
        "accuracy": 0.7,
        "best_epoch": 2,
    }
    rows = [
        json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
    ]
    assert [row["_step"] for row in rows] == [0, 1, 2]
    assert rows[1]["loss"] == 0.5
    assert all(isinstance(row["_time"], float) for row in rows)


def test_args_and_defaults_leave_out_meticulous_options(project):
    """args.json and default_args.json hold the user's arguments only."""
    write_script(project, "train.py", TRAIN)
    done = run(
        project, "train.py", "--lr", "0.1", "--description", "d", "--allow-dirty"
    )
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert read_json(folder / "args.json") == {"batch_size": 64, "lr": 0.1}
    assert read_json(folder / "default_args.json") == {"batch_size": 64, "lr": 0.01}


def test_metadata_records_commit_command_and_process(project):
    write_script(project, "train.py", TRAIN)
    sha = git(project, "rev-parse", "HEAD").strip()
    done = run(project, "train.py", "--lr", "0.1", "--description", "first try")
    assert done.returncode == 0, done.stderr
    metadata = read_json(project / "experiments" / "1" / "metadata.json")
    assert metadata["spec-version"] == 1
    assert metadata["githead-sha"] == sha
    assert metadata["githead-message"] == "Add train.py\n"
    assert metadata["dirty"] is False
    assert metadata["description"] == "first try"
    assert metadata["command"] == [
        "train.py",
        "--lr",
        "0.1",
        "--description",
        "first try",
    ]
    assert metadata["cwd"] == str(project)
    assert metadata["exit-code"] == 0
    assert metadata["end-timestamp"] >= metadata["timestamp"]
    assert metadata["timestamp"].endswith("+00:00")
    assert metadata["python-version"] == ".".join(map(str, sys.version_info[:3]))
    assert metadata["resumes"] == []
    assert "slurm" not in metadata


def test_each_run_gets_the_next_integer_id(project):
    write_script(project, "train.py", TRAIN)
    for expected in ("1", "2", "3"):
        done = run(project, "train.py")
        assert f"id {expected} " in done.stdout
    assert sorted(p.name for p in (project / "experiments").iterdir()) == [
        ".meticulous",
        "1",
        "2",
        "3",
    ]


def test_recorded_folder_matches_the_spec_example(project):
    """Conformance: the files, metadata keys and value types of spec example 1."""
    write_script(project, "train.py", TRAIN)
    assert run(project, "train.py").returncode == 0
    ours = project / "experiments" / "1"
    example = SPEC / "examples" / "experiments" / "1"
    example_files = {p.name for p in example.iterdir()} - {"model.pkl"}
    our_files = {p.name for p in ours.iterdir() if not p.name.startswith(".")}
    assert example_files <= our_files
    expected = read_json(example / "metadata.json")
    metadata = read_json(ours / "metadata.json")
    assert list(metadata) == list(expected)  # same keys, same order
    for key, value in expected.items():
        assert type(metadata[key]) is type(value), key
    assert (ours / "heartbeat").read_text().split()[1] == str(metadata["pid"])
    assert (ours / "STATUS").read_text() == (example / "STATUS").read_text()
    for name in ("metadata.json", "args.json", "summary.json"):
        text = (ours / name).read_text()
        assert text.startswith("{\n    "), name  # indent 4, like the example
        assert text.endswith("}\n"), name
    first_row = (ours / "metrics.jsonl").read_text().splitlines()[0]
    assert first_row.startswith('{"_step": 0, "_time": ')


def _beat_form(content: bytes) -> list[object]:
    """What spec 2.7 fixes in a heartbeat or claim: sizes and fields, not values."""
    header, beat, rest = content.split(b"\n")
    state, counter, time, interval = beat.split(b" ")
    return [
        len(content),
        len(header),
        len(header.split()),
        state,
        len(counter),
        len(time),
        len(interval),
        rest,
    ]


def test_heartbeat_and_claim_have_the_form_of_the_spec_examples(project):
    """The content heartbeat of example 1 after a run, the ``.claim`` of
    example 4 while one runs (spec 2.7, 12.4)."""
    examples = SPEC / "examples" / "experiments"
    write_script(
        project,
        "hold.py",
        """
        import time
        from meticulous import Experiment
        experiment = Experiment({})
        print("started", flush=True)
        time.sleep(60)
        """,
    )
    process = start(project, "hold.py")
    try:
        folder = project / "experiments" / "1"
        wait_for(
            lambda: (
                (folder / "stdout").exists()
                and b"started" in (folder / "stdout").read_bytes()
            )
        )
        claim = (folder / ".claim").read_bytes()
        assert _beat_form(claim) == _beat_form((examples / "4" / ".claim").read_bytes())
        assert claim.split()[:2] == (folder / "heartbeat").read_bytes().split()[:2]
    finally:
        process.kill()
        process.communicate()
    write_script(project, "train.py", TRAIN)
    assert run(project, "train.py").returncode == 0
    beat = (project / "experiments" / "2" / "heartbeat").read_bytes()
    assert _beat_form(beat) == _beat_form((examples / "1" / "heartbeat").read_bytes())


def test_constructor_without_argparse(project):
    """Experiment(args_dict) with explicit directories and a non-integer id."""
    write_script(
        project,
        "config_run.py",
        """\
        from meticulous import Experiment
        experiment = Experiment(
            {"batch_size": 10, "learning_rate": 0.0001},
            default_args={"batch_size": 32, "learning_rate": 0.0001},
            project_directory="sub",
            experiments_directory="runs",
            experiment_id="my_special_experiment",
        )
        print(experiment.experiment_id, experiment.curexpdir)
        """,
        commit=False,
    )
    (project / "sub").mkdir()
    (project / "sub" / "keep").write_text("")
    (project / ".gitignore").write_text("experiments/\nruns/\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "config run")
    done = run(project, "config_run.py")
    assert done.returncode == 0, done.stderr
    folder = project / "sub" / "runs" / "my_special_experiment"
    assert done.stdout.split() == ["my_special_experiment", str(folder)]
    assert read_json(folder / "args.json") == {
        "batch_size": 10,
        "learning_rate": 0.0001,
    }
    assert read_json(folder / "default_args.json")["batch_size"] == 32
    assert status_of(folder)[0] == "SUCCESS"


def test_users_parse_args_still_works_after_from_parser(project):
    write_script(
        project,
        "parse_twice.py",
        """\
        import argparse
        from meticulous import Experiment
        parser = argparse.ArgumentParser()
        parser.add_argument("--epochs", type=int, default=3)
        Experiment.add_argument_group(parser, experiments_directory="runs")
        experiment = Experiment.from_parser(parser)
        args = parser.parse_args()
        print("epochs", args.epochs, "folder", experiment.curexpdir)
        """,
    )
    done = run(project, "parse_twice.py", "--epochs", "7")
    assert done.returncode == 0, done.stderr
    assert f"epochs 7 folder {project / 'runs' / '1'}" in done.stdout


def test_help_lists_the_meticulous_group(project):
    write_script(project, "train.py", TRAIN)
    done = run(project, "train.py", "--help")
    assert done.returncode == 0
    for option in (
        "--project-directory",
        "--experiments-directory",
        "--experiment-id",
        "--description",
        "--resume",
        "--norecord",
        "--allow-dirty",
    ):
        assert option in done.stdout
    assert not (project / "experiments").exists()  # --help exits before recording
