"""Small faults of issue 11: ids too long in bytes, zombies, starts cut off
before STATUS (spec 1, 12.3, 12.5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from meticulous import Experiment, InvalidExperimentError
from meticulous.liveness import death_of, pid_is_alive
from record_helpers import read_json, run, status_of, write_script


@pytest.mark.parametrize(
    ("experiment_id", "problem"),
    [
        ("é" * 200, "it is 400 bytes in UTF-8, and a folder name can have at most 255"),
        ("a\udcff", "not valid Unicode"),
    ],
)
def test_ids_a_filesystem_cannot_hold_are_refused_clearly(
    project, experiment_id, problem
):
    with pytest.raises(InvalidExperimentError, match=problem):
        Experiment({}, project_directory=project, experiment_id=experiment_id)
    assert not (project / "experiments").exists()


def test_the_longest_id_in_bytes_is_recorded(project):
    write_script(project, "named.py", _NAMED)
    done = run(project, "named.py", "é" * 127)  # 254 bytes
    assert done.returncode == 0, done.stderr
    assert status_of(project / "experiments" / ("é" * 127)) == ("SUCCESS", "")


_NAMED = """\
    import sys
    from meticulous import Experiment
    Experiment({}, experiment_id=sys.argv[1])
"""


def test_an_unreaped_zombie_is_not_alive(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while not _is_zombie(child.pid):  # exited, not reaped: a zombie
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        os.kill(child.pid, 0)  # signal 0 still reaches it...
        assert not pid_is_alive(child.pid)  # ...but it is not alive
        host = os.uname().nodename
        death = death_of(str(tmp_path / "heartbeat"), host, child.pid, None, 0, host)
        assert death == f"process {child.pid} on {host} is gone"
    finally:
        child.wait()
    assert pid_is_alive(os.getpid())


def _is_zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat", "rb") as file:
        text = file.read()
    return text[text.rfind(b")") + 2 : text.rfind(b")") + 3] == b"Z"


KILLED_EARLY = """\
    import os, signal, sys
    import meticulous.folders as folders
    from meticulous import Experiment
    real = folders.choose_and_lock
    def choose_then_die(*args, **kwargs):
        real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # folder made, nothing written
    folders.choose_and_lock = choose_then_die
    Experiment({"lr": 0.1}, experiment_id=sys.argv[1])
"""

RUNS = """\
    import sys
    from meticulous import Experiment
    experiment = Experiment({"lr": 0.2}, experiment_id=sys.argv[1])
    experiment.log({"loss": 1.0})
"""


def test_a_folder_whose_start_was_killed_before_status_can_be_run_again(project):
    write_script(project, "killed.py", KILLED_EARLY)
    write_script(project, "runs.py", RUNS)
    done = run(project, "killed.py", "early")
    assert done.returncode == -signal.SIGKILL
    folder = project / "experiments" / "early"
    assert not (folder / "STATUS").exists()
    assert [n for n in os.listdir(folder) if not n.startswith(".")] == []
    again = run(project, "runs.py", "early")  # spec 12.5: a new run in it
    assert again.returncode == 0, again.stderr
    assert status_of(folder) == ("SUCCESS", "")
    assert read_json(folder / "args.json") == {"lr": 0.2}
    assert read_json(folder / "metadata.json")["resumes"] == []
