"""A full disk (spec 12.2), on a real small tmpfs: ``log`` records whole rows
or raises, a start that cannot write leaves no folder, and an end that
cannot write leaves a heartbeat readers call DEAD and one line on stderr."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from record_helpers import run, status_of, write_script

FILL = """\
    import errno, os
    def fill(directory, leave=0):
        '''Write a filler file until the disk refuses, then free ``leave`` bytes.'''
        path = os.path.join(directory, ".filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        for size in (1 << 16, 4096, 512, 64, 1):
            try:
                while True:
                    os.write(fd, b"\\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
        os.close(fd)
        return path
"""


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs of its own, unmounted afterwards (needs root, as CI is)."""
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("the disk-full tests need root to mount a tmpfs")
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", str(disk)],
        check=True,
    )
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _filler(project):
    write_script(project, "fill.py", FILL)


LOGS = """\
    import json, os, sys
    from meticulous import Experiment, StorageError
    from fill import fill
    experiment = Experiment({}, experiments_directory=sys.argv[1], experiment_id="run")
    experiment.log({"first": 1})
    filler = fill(sys.argv[1])
    outcomes = []
    for attempt in range(6):
        try:
            experiment.log({"big": "y" * 3000, "attempt": attempt})
            outcomes.append("ok")
        except StorageError as error:
            outcomes.append("refused: " + str(error))
    os.truncate(filler, 0)  # space comes back
    experiment.log({"after": 1})
    experiment.finish()
    print(json.dumps(outcomes))
"""


def test_log_on_a_full_disk_records_whole_rows_or_raises(project, small_disk):
    _filler(project)
    write_script(project, "logs.py", LOGS)
    done = run(project, "logs.py", str(small_disk))
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout.splitlines()[-1])
    refused = [o for o in outcomes if o.startswith("refused")]
    assert refused, outcomes  # the disk really was full
    assert "No space left on device" in refused[0]
    assert "that row is not in the file, the earlier ones are intact" in refused[0]
    raw = (small_disk / "run" / "metrics.jsonl").read_bytes()
    assert raw.endswith(b"\n")
    rows = [json.loads(line) for line in raw.splitlines()]  # every line parses
    assert rows[0]["first"] == 1
    assert rows[-1]["after"] == 1
    assert len(rows) == 2 + outcomes.count("ok")
    # Acknowledged rows are exactly the ones in the file, in order.
    attempts = [row["attempt"] for row in rows if "attempt" in row]
    assert attempts == [i for i, o in enumerate(outcomes) if o == "ok"]
    assert status_of(small_disk / "run") == ("SUCCESS", "")


STARTS = """\
    import sys
    from meticulous import Experiment
    from fill import fill
    fill(sys.argv[1], leave=int(sys.argv[2]))
    experiment_id = sys.argv[3] if len(sys.argv) > 3 else None
    experiment = Experiment(
        {"lr": 0.1}, experiments_directory=sys.argv[1], experiment_id=experiment_id
    )
    print("started", experiment.experiment_id, flush=True)
"""


@pytest.mark.parametrize("leave", [0, 4096, 3 * 4096, 6 * 4096])
@pytest.mark.parametrize("experiment_id", [None, "named"])
def test_a_start_on_a_full_disk_is_a_clear_error_or_a_whole_run(
    project, small_disk, leave, experiment_id
):
    """With no space at all, or a few pages, the start fails at a different
    step each time: either it runs, or it fails saying so and leaves no
    folder; an end the disk refuses leaves a heartbeat marked dead."""
    _filler(project)
    write_script(project, "starts.py", STARTS)
    args = [str(small_disk), str(leave)] + ([experiment_id] if experiment_id else [])
    done = run(project, "starts.py", *args)
    folders = [p for p in small_disk.iterdir() if not p.name.startswith(".")]
    if done.returncode != 0:
        assert "StorageError" in done.stderr, done.stderr
        assert "No space left on device" in done.stderr
        assert "nothing was recorded" in done.stderr
        assert folders == [], [os.listdir(f) for f in folders]
        return
    assert len(folders) == 1
    status = status_of(folders[0])[0]
    if status == "RUNNING":  # the end could not be written (spec 12.2)
        _assert_marked_dead(folders[0], done)
    else:
        assert status == "SUCCESS"


ENDS = """\
    import sys
    from meticulous import Experiment
    from fill import fill
    experiment = Experiment({}, experiments_directory=sys.argv[1], experiment_id="ends")
    experiment.log({"loss": 0.5})
    fill(sys.argv[1])
    print("filled", flush=True)
    if sys.argv[2] == "exit":
        sys.exit(3)
"""


@pytest.mark.parametrize("how", ["normal", "exit"])
def test_a_full_disk_at_exit_leaves_a_dead_heartbeat_and_one_line(
    project, small_disk, how
):
    _filler(project)
    write_script(project, "ends.py", ENDS)
    done = run(project, "ends.py", str(small_disk), how)
    assert done.returncode == (0 if how == "normal" else 3), done.stderr
    folder = small_disk / "ends"
    assert status_of(folder)[0] == "RUNNING"
    _assert_marked_dead(folder, done)
    word = "SUCCESS" if how == "normal" else "ERROR"
    assert f"could not record the end ({word}) of experiment ends" in done.stderr


def _assert_marked_dead(folder, done):
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if "meticulous:" in line]
    assert len(lines) == 1, done.stderr
    assert "No space left on device; readers will report it DEAD" in lines[0]
    beat = (folder / "heartbeat").read_text().splitlines()[1]
    assert beat.startswith("dead ")
    assert not [name for name in os.listdir(folder) if name.startswith(".claim")]
