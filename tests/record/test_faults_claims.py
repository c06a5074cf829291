"""The claim file (spec 12.4): a fresh claim refuses a second runner even when
flock would let it in; a stale one (dead pid here, old beat elsewhere) is
taken over; the heartbeat keeps it fresh; the end removes it."""

from __future__ import annotations

import os
import time

import pytest
from record_helpers import (
    read_json,
    run,
    snapshot,
    start,
    status_of,
    wait_for,
    write_script,
)

TRAIN = """\
    import sys, time
    from meticulous import Experiment
    experiment = Experiment({}, experiment_id="shared")
    print("running", flush=True)
    experiment.log({"loss": 1.0})
    if len(sys.argv) > 1:
        time.sleep(float(sys.argv[1]))
"""


@pytest.fixture
def shared(project):
    write_script(project, "train.py", TRAIN)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "shared"
    assert not (folder / ".claim").exists()  # removed at the end
    return project, folder


def plant_claim(folder, *, host: str, pid: int, age: float, state: str = "beat"):
    moment = time.time() - age
    (folder / ".claim").write_text(
        f"{host} {pid} 00112233aabbccdd\n{state} {3:012d} {moment:014.3f} 5\n"
    )


def test_a_fresh_claim_from_another_host_refuses_the_run(shared):
    """The .lock is free (as on a second sshfs or NFS client): the claim alone
    keeps the second runner out, and nothing changes."""
    project, folder = shared
    plant_claim(folder, host="node-b", pid=4242, age=1)
    before = snapshot(folder)
    done = run(project, "train.py")
    assert done.returncode == 1
    assert "ExperimentLockedException" in done.stderr
    assert "being run by process 4242 on node-b" in done.stderr
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    ("host", "age", "state"),
    [
        ("node-b", 71, "beat"),  # older than L(5) = 70 s
        ("node-b", 1, "dead"),  # its writer marked it ended
        (os.uname().nodename, 1, "beat"),  # this host, and the pid is gone
    ],
)
def test_a_stale_claim_is_taken_over(shared, host, age, state):
    project, folder = shared
    gone = 2**22 + 12345  # above the default pid_max: no such process
    plant_claim(folder, host=host, pid=gone, age=age, state=state)
    done = run(project, "train.py")
    assert done.returncode == 0, done.stderr
    assert len(read_json(folder / "metadata.json")["resumes"]) == 1
    assert not (folder / ".claim").exists()
    assert [n for n in os.listdir(folder) if n.startswith(".claim")] == []


def test_a_takeover_abandoned_by_a_killed_writer_does_not_block_the_folder(shared):
    """A writer SIGKILLed inside its takeover leaves .claim-takeover-<token>
    behind; naming a dead pid of this host, it is cleared at once, not after
    L(5) = 70 s (spec 12.4)."""
    project, folder = shared
    gone = 2**22 + 12345  # above the default pid_max: no such process
    plant_claim(folder, host=os.uname().nodename, pid=gone, age=1)
    (folder / ".claim-takeover-00112233aabbccdd").write_text(
        f"{os.uname().nodename} {gone}\n"
    )
    done = run(project, "train.py")  # gave up after 10 s of patience before
    assert done.returncode == 0, done.stderr
    assert len(read_json(folder / "metadata.json")["resumes"]) == 1
    assert [n for n in os.listdir(folder) if n.startswith(".claim")] == []


def test_the_heartbeat_keeps_the_claim_fresh(shared):
    project, folder = shared
    running = start(
        project, "train.py", "30", env={"METICULOUS_HEARTBEAT_SECONDS": "0.1"}
    )
    try:
        wait_for(lambda: (folder / ".claim").exists())
        first = (folder / ".claim").read_text().splitlines()
        assert first[0].split()[:2] == [os.uname().nodename, str(running.pid)]
        wait_for(lambda: (folder / ".claim").read_text().splitlines()[1] != first[1])
        line = (folder / ".claim").read_text().splitlines()[1].split()
        assert line[0] == "beat" and int(line[1]) >= 1 and float(line[3]) == 0.1
        heartbeat = (folder / "heartbeat").read_text().splitlines()[1].split()
        assert heartbeat[0] == "beat" and float(heartbeat[3]) == 0.1
        second = run(project, "train.py")
        assert second.returncode == 1
        assert "ExperimentLockedException" in second.stderr
    finally:
        running.terminate()
        running.communicate(timeout=30)
    assert status_of(folder)[0] == "INTERRUPTED"
    assert not (folder / ".claim").exists()


def test_a_bad_heartbeat_override_is_refused_before_anything_is_made(project):
    write_script(project, "train.py", TRAIN)
    done = run(project, "train.py", env={"METICULOUS_HEARTBEAT_SECONDS": "0"})
    assert done.returncode == 1
    assert "METICULOUS_HEARTBEAT_SECONDS='0' must be a number of seconds" in done.stderr
    assert not (project / "experiments" / "shared").exists()
