"""``experiment.tag``: tags.json as spec §15 says, never through a symlink."""

from __future__ import annotations

from record_helpers import read_json, run, write_script

TAGGING = """
    import os, sys
    from pathlib import Path
    from meticulous import Experiment

    experiment = Experiment({"lr": 0.1})
    experiment.tag({"best": True, "paper": Path("fig") / "3"})
    experiment.tag({"rank": 2, "loss": float("nan")})
    folder = Path(experiment.curexpdir)
    if sys.argv[1:] == ["plant"]:
        outside = folder.parent.parent / "outside.json"
        outside.write_text('{"kept": 1}')
        (folder / "tags.json").unlink()
        os.symlink(outside, folder / "tags.json")
        try:
            experiment.tag({"x": 1})
        except OSError as error:
            print("refused:", error)
    for bad in ("", "a\\x1bb", 3):
        try:
            experiment.tag({bad: 1})
        except ValueError as error:
            print("bad key:", type(error).__name__)
    """


def test_tags_are_merged_into_tags_json(project):
    write_script(project, "tagging.py", TAGGING)
    result = run(project, "tagging.py")
    assert result.returncode == 0, result.stderr
    folder = project / "experiments" / "1"
    assert read_json(folder / "tags.json") == {
        "best": True,
        "paper": "fig/3",  # a readable form (spec §2.6)
        "rank": 2,
        "loss": "NaN",
    }
    text = (folder / "tags.json").read_text()
    assert text.startswith("{\n    ") and text.endswith("}\n")
    assert (folder / ".tags.lock").exists()
    assert result.stdout.count("bad key: InvalidTagError") == 3
    assert not [p for p in folder.iterdir() if ".tmp-" in p.name]


def test_a_planted_symlink_is_refused_and_nothing_outside_changes(project):
    write_script(project, "tagging.py", TAGGING)
    result = run(project, "tagging.py", "plant")
    assert result.returncode == 0, result.stderr
    assert "refused:" in result.stdout and "tags.json" in result.stdout
    assert (project / "outside.json").read_text() == '{"kept": 1}'
