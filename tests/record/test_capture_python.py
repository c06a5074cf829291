"""Capture wherever Python prints: notebooks, pytest's capture, tracebacks.

A Jupyter kernel and pytest replace ``sys.stdout`` by an object that does not
write to file descriptor 1, so a descriptor-level tee alone misses every
``print``. These run the real thing: a notebook executed by nbclient on an
ipykernel kernel, and pytest started as a subprocess on a generated test.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from record_helpers import child_env, commit_all, run, status_of, write_script


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


# ------------------------------------------------------------------ notebook
NOTEBOOK_CELLS = [
    """
    import os, subprocess, sys
    os.chdir(PROJECT)
    from meticulous import Experiment
    """,
    """
    first = Experiment({"n": 1})
    print("first: print")
    print("first: to stderr", file=sys.stderr)
    os.write(1, b"first: os.write\\n")
    subprocess.run(["echo", "first: child"], check=True)
    first.finish()
    print("between: not recorded")
    """,
    """
    second = Experiment({"n": 2})
    print("second: print", end="")
    print(" continued", flush=True)
    second.finish()
    """,
    """
    with Experiment({"n": 3}) as outer:
        print("outer: before")
        with Experiment({"n": 4}) as inner:
            print("inner: print")
        print("outer: after")
    print(outer.experiment_id, inner.experiment_id)
    """,
]


def test_a_notebook_records_each_experiments_prints_once(project, tmp_path):
    import nbformat  # nbclient, nbformat and ipykernel are in the test extra
    from nbclient import NotebookClient

    cells = [f"PROJECT = {str(project)!r}"] + [
        textwrap.dedent(c) for c in NOTEBOOK_CELLS
    ]
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells]
    )
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    shown = "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    # The notebook still shows what was printed.
    for line in (
        "first: print",
        "first: to stderr",
        "second: print continued",
        "outer: before",
        "inner: print",
        "outer: after",
        "3 4",
    ):
        assert line in shown, shown
    experiments = project / "experiments"
    first = lines_of(experiments / "1" / "stdout")
    assert sorted(first) == sorted(["first: print", "first: os.write", "first: child"])
    assert lines_of(experiments / "1" / "stderr") == ["first: to stderr"]
    assert lines_of(experiments / "2" / "stdout") == ["second: print continued"]
    assert lines_of(experiments / "3" / "stdout") == [
        "outer: before",
        "inner: print",
        "outer: after",
    ]
    assert lines_of(experiments / "4" / "stdout") == ["inner: print"]
    for n in "1234":
        assert status_of(experiments / n)[0] == "SUCCESS"


# ------------------------------------------------------- pytest's own capture
GENERATED_TEST = """
import os, subprocess, sys
from meticulous import Experiment

def test_recorded():
    experiment = Experiment({"capture": sys.argv[-1]})
    print("print from the test")
    print("stderr from the test", file=sys.stderr)
    os.write(1, b"os.write from the test\\n")
    subprocess.run(["echo", "child of the test"], check=True)
    experiment.finish()
"""


@pytest.mark.parametrize("mode", ["fd", "sys"])
def test_a_run_recorded_under_pytest_capture_gets_every_line_once(project, mode):
    write_script(project, "test_generated.py", GENERATED_TEST)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--capture={mode}",
            "test_generated.py",
        ],
        cwd=project,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    folder = project / "experiments" / "1"
    assert sorted(lines_of(folder / "stdout")) == sorted(
        ["print from the test", "os.write from the test", "child of the test"]
    )
    assert lines_of(folder / "stderr") == ["stderr from the test"]


def test_a_replaced_sys_stdout_is_captured_and_restored(project):
    write_script(
        project,
        "replaced.py",
        """
        import io, sys
        from meticulous import Experiment
        mine = io.StringIO()
        sys.stdout = mine
        experiment = Experiment({})
        print("into the replacement")
        experiment.finish()
        assert sys.stdout is mine, sys.stdout
        sys.stdout = sys.__stdout__
        print("shown:", mine.getvalue().strip())
        """,
    )
    done = run(project, "replaced.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "shown: into the replacement\n"
    assert lines_of(project / "experiments" / "1" / "stdout") == [
        "into the replacement"
    ]


# -------------------------------------------------- the traceback of the end
WITH_BLOCK = """
import os, signal, sys, time
from meticulous import Experiment
with Experiment({}) as experiment:
    print("started", flush=True)
    how = sys.argv[1]
    if how == "raise":
        raise RuntimeError("boom in the block")
    if how == "keyboard":
        raise KeyboardInterrupt
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
"""


@pytest.mark.parametrize(
    ("how", "word", "last_line", "returncode"),
    [
        ("raise", "ERROR", "RuntimeError: boom in the block", 1),
        ("keyboard", "INTERRUPTED", "KeyboardInterrupt", -signal.SIGINT),
        ("sigint", "INTERRUPTED", "KeyboardInterrupt", -signal.SIGINT),
    ],
)
def test_the_traceback_ending_a_with_block_is_in_the_stderr_file(
    project, how, word, last_line, returncode
):
    write_script(project, "block.py", WITH_BLOCK)
    done = run(project, "block.py", how)
    assert done.returncode == returncode
    assert done.stderr.count("Traceback (most recent call last)") == 1  # terminal
    folder = project / "experiments" / "1"
    assert status_of(folder)[0] == word
    recorded = (folder / "stderr").read_text()
    assert recorded.count("Traceback (most recent call last)") == 1, recorded
    assert recorded.splitlines()[-1] == last_line


def test_an_uncaught_exception_outside_a_block_is_in_the_stderr_file_once(project):
    write_script(
        project,
        "plain.py",
        """
        from meticulous import Experiment
        experiment = Experiment({})
        raise ValueError("uncaught")
        """,
    )
    commit_all(project)
    done = run(project, "plain.py")
    assert done.returncode == 1
    recorded = (project / "experiments" / "1" / "stderr").read_text()
    assert recorded.count("ValueError: uncaught") == 1, recorded
