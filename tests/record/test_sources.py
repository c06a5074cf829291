"""Every source file the run imports, and the environment (spec section 11)."""

from __future__ import annotations

from record_helpers import read_json, run, status_of, write_script

SCRIPT = """
import argparse, sys
sys.path.insert(0, "vendor/lib/site-packages")
import helper
import installed_thing  # under a site-packages folder inside the repo
import json, numpy  # the standard library and an installed package
from meticulous import Experiment
parser = argparse.ArgumentParser()
parser.add_argument("--late", action="store_true")
Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
print(helper.VALUE, flush=True)
if parser.parse_args().late:
    import pkg.late_helper
"""


def project_with_helper(project, *, ignore_helper: bool = False):
    (project / "pkg").mkdir()
    (project / "pkg" / "__init__.py").write_text("")  # committed with train.py
    site = project / "vendor" / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "installed_thing.py").write_text("")
    ignored = "experiments/\nvendor/\n" + ("helper.py\n" if ignore_helper else "")
    (project / ".gitignore").write_text(ignored)
    write_script(project, "train.py", SCRIPT)  # commits train.py and .gitignore
    (project / "helper.py").write_text("VALUE = 42\n")  # never committed
    return project


def test_an_untracked_imported_module_refuses_the_run_and_is_named(project):
    project_with_helper(project)
    done = run(project, "train.py")
    assert done.returncode == 1
    assert "DirtyRepoException" in done.stderr
    assert "imported source files that git does not track" in done.stderr
    assert "  helper.py" in done.stderr
    assert "installed_thing" not in done.stderr
    assert not (project / "experiments").exists() or not any(
        p for p in (project / "experiments").iterdir() if not p.name.startswith(".")
    )


def test_an_ignored_imported_module_is_untracked_too(project):
    project_with_helper(project, ignore_helper=True)
    done = run(project, "train.py")
    assert done.returncode == 1 and "  helper.py" in done.stderr


def test_allow_dirty_copies_the_untracked_sources_and_says_so(project):
    project_with_helper(project)
    done = run(project, "train.py", "--allow-dirty")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert (folder / "sources" / "helper.py").read_text() == "VALUE = 42\n"
    assert sorted(p.name for p in (folder / "sources").rglob("*") if p.is_file()) == [
        "helper.py"
    ]  # never the standard library, numpy or a site-packages folder
    metadata = read_json(folder / "metadata.json")
    assert metadata["untracked-sources"] == ["helper.py"]
    assert metadata["reproducible-from-commit"] is False
    assert metadata["dirty"] is False  # no tracked file changed
    assert "numpy" in metadata["packages"]
    assert all(isinstance(v, str) for v in metadata["packages"].values())


def test_a_module_imported_later_is_copied_at_the_end(project):
    project_with_helper(project)
    (project / "pkg" / "late_helper.py").write_text("LATE = 1\n")
    done = run(project, "train.py", "--allow-dirty", "--late")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    metadata = read_json(folder / "metadata.json")
    assert metadata["untracked-sources"] == ["helper.py", "pkg/late_helper.py"]
    assert (folder / "sources" / "pkg" / "late_helper.py").read_text() == "LATE = 1\n"
    assert not (folder / "sources" / "pkg" / "__init__.py").exists()


def test_a_clean_run_has_no_sources_and_records_its_environment(project):
    write_script(
        project,
        "clean.py",
        """
        import model
        from meticulous import Experiment
        experiment = Experiment({})
        """,
    )
    done = run(project, "clean.py", env={"CUDA_VISIBLE_DEVICES": "1,3"})
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert status_of(folder)[0] == "SUCCESS"
    assert not (folder / "sources").exists()
    metadata = read_json(folder / "metadata.json")
    assert metadata["untracked-sources"] == []
    assert metadata["reproducible-from-commit"] is True
    assert metadata["cuda-visible-devices"] == "1,3"
    assert isinstance(metadata["cpu"], str) and metadata["cpu"]
    assert isinstance(metadata["gpus"], list)
    assert (
        "meticulous_record" in metadata["packages"]
        or "meticulous-record" in (metadata["packages"])
    )
