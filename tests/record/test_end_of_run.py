"""The terminal STATUS of a run, however the process ends."""

from __future__ import annotations

import os
import signal
import sys

import pytest
from record_helpers import read_json, run, start, status_of, wait_for, write_script

SCRIPT = """\
    import os, signal, sys, time
    from meticulous import Experiment

    experiment = Experiment({"how": sys.argv[1]})
    print("started", flush=True)
    how = sys.argv[1]
    if how == "exception":
        raise ValueError("loss is NaN at step 3")
    if how == "exit0":
        sys.exit(0)
    if how == "exit3":
        sys.exit(3)
    if how == "exit-message":
        sys.exit("bad config")
    if how == "keyboard":
        raise KeyboardInterrupt
    if how == "wait":
        time.sleep(60)
    if how == "finish":
        experiment.finish()
        print("after finish")
"""


@pytest.fixture
def ends(project):
    write_script(project, "ends.py", SCRIPT)
    return project


def folder_of(project):
    return project / "experiments" / "1"


def test_normal_end_is_success(ends):
    done = run(ends, "ends.py", "normal")
    assert done.returncode == 0
    assert status_of(folder_of(ends)) == ("SUCCESS", "")
    metadata = read_json(folder_of(ends) / "metadata.json")
    assert metadata["exit-code"] == 0
    assert metadata["end-timestamp"] is not None


def test_exception_is_error_with_traceback_still_on_terminal(ends):
    done = run(ends, "ends.py", "exception")
    assert done.returncode == 1  # unchanged
    assert "ValueError: loss is NaN at step 3" in done.stderr  # still on the terminal
    word, message = status_of(folder_of(ends))
    assert word == "ERROR"
    assert message.startswith("Traceback (most recent call last):")
    assert "ValueError: loss is NaN at step 3" in message
    assert (
        "ValueError: loss is NaN at step 3" in (folder_of(ends) / "stderr").read_text()
    )
    assert read_json(folder_of(ends) / "metadata.json")["exit-code"] == 1


def test_sys_exit_0_is_success(ends):
    done = run(ends, "ends.py", "exit0")
    assert done.returncode == 0
    assert status_of(folder_of(ends)) == ("SUCCESS", "")


def test_sys_exit_3_is_error_with_its_code(ends):
    done = run(ends, "ends.py", "exit3")
    assert done.returncode == 3
    assert status_of(folder_of(ends)) == ("ERROR", "exit code 3\n")
    assert read_json(folder_of(ends) / "metadata.json")["exit-code"] == 3


def test_sys_exit_with_a_message_is_error_code_1(ends):
    done = run(ends, "ends.py", "exit-message")
    assert done.returncode == 1
    assert "bad config" in done.stderr
    assert status_of(folder_of(ends)) == ("ERROR", "exit code 1\n")


def test_uncaught_keyboard_interrupt_is_interrupted(ends):
    done = run(ends, "ends.py", "keyboard")
    assert done.returncode == -signal.SIGINT  # Python dies by SIGINT, as unrecorded
    word, message = status_of(folder_of(ends))
    assert word == "INTERRUPTED"
    assert message.startswith("signal SIGINT\nTraceback")
    assert "KeyboardInterrupt" in message


def test_finish_ends_the_recording_early(ends):
    done = run(ends, "ends.py", "finish")
    assert done.returncode == 0
    assert status_of(folder_of(ends)) == ("SUCCESS", "")
    stdout = (folder_of(ends) / "stdout").read_text()
    assert "started" in stdout
    assert "after finish" not in stdout  # printed after the capture ended
    assert "after finish" in done.stdout


def started(process, project):
    def ready():
        stdout = project / "experiments" / "1" / "stdout"
        return stdout.exists() and stdout.read_text().startswith("started")

    wait_for(ready)


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT", "SIGHUP"])
def test_signal_leaves_interrupted_and_the_process_dies_by_it(ends, signame):
    signum = getattr(signal, signame)
    process = start(ends, "ends.py", "wait")
    started(process, ends)
    process.send_signal(signum)
    process.communicate(timeout=30)
    assert process.returncode == -signum  # the parent sees death by that signal
    word, message = status_of(folder_of(ends))
    assert word == "INTERRUPTED"
    assert message.startswith(f"signal {signame}")
    metadata = read_json(folder_of(ends) / "metadata.json")
    assert metadata["exit-code"] == -signum
    assert metadata["end-timestamp"] is not None


def test_a_sigterm_the_moment_status_says_running_is_interrupted(ends):
    """A launcher may stop a run as soon as its folder says RUNNING: the exit
    hooks are in place by then, so the run is INTERRUPTED, never left RUNNING."""
    for attempt in range(1, 4):
        process = start(ends, "ends.py", "wait")
        status = ends / "experiments" / str(attempt) / "STATUS"
        wait_for(
            lambda status=status: (
                status.exists() and status.read_text().startswith("RUNNING")
            ),
            step=0.0005,
        )
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGTERM
        word, message = status_of(status.parent)
        assert word == "INTERRUPTED", (attempt, word, message)
        assert message.startswith("signal SIGTERM")


def test_signals_to_the_process_go_to_the_main_thread(project):
    """The heartbeat thread blocks them, so a Ctrl-C or SIGTERM interrupts the
    main thread's blocking call (a sleep, a read) instead of waiting for it."""
    write_script(
        project,
        "masks.py",
        """\
        import signal, threading
        from meticulous import Experiment

        experiment = Experiment({})
        (beat,) = [t for t in threading.enumerate() if t.name == "meticulous-heartbeat"]
        with open(f"/proc/self/task/{beat.native_id}/status") as status:
            blocked = int(dict(line.split(":\t") for line in status)["SigBlk"], 16)
        print(*(bool(blocked >> (s - 1) & 1) for s in
                (signal.SIGINT, signal.SIGTERM, signal.SIGUSR2, signal.SIGSEGV)))
        """,
    )
    assert run(project, "masks.py").stdout.split() == ["True", "True", "True", "False"]


def test_sigkill_leaves_running_with_host_pid_and_heartbeat(ends):
    """SIGKILL cannot be caught: STATUS stays RUNNING, and readers can tell the
    run is dead from the recorded host and pid and the heartbeat file."""
    process = start(ends, "ends.py", "wait")
    started(process, ends)
    process.kill()
    process.communicate(timeout=30)
    folder = folder_of(ends)
    assert status_of(folder) == ("RUNNING", "")
    metadata = read_json(folder / "metadata.json")
    assert metadata["pid"] == process.pid
    assert metadata["host"] == os.uname().nodename
    assert metadata["end-timestamp"] is None
    assert metadata["exit-code"] is None
    header, beat = (folder / "heartbeat").read_text().splitlines()
    assert header.rstrip() == f"{metadata['host']} {process.pid}"
    assert beat.startswith("beat ")  # spec 2.7: judged by its content
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def test_context_manager_records_error_and_reraises(project):
    write_script(
        project,
        "with_block.py",
        """\
        from meticulous import Experiment
        try:
            with Experiment({"a": 1}) as experiment:
                print("inside", experiment.experiment_id)
                raise RuntimeError("diverged")
        except RuntimeError as error:
            print("caught", error)
        with Experiment({"a": 2}) as experiment:
            print("second", experiment.experiment_id)
        """,
    )
    done = run(project, "with_block.py")
    assert done.returncode == 0, done.stderr
    assert "caught diverged" in done.stdout
    word, message = status_of(project / "experiments" / "1")
    assert word == "ERROR"
    assert "RuntimeError: diverged" in message
    assert status_of(project / "experiments" / "2") == ("SUCCESS", "")


def test_context_manager_sees_raise_systemexit(project):
    write_script(
        project,
        "with_exit.py",
        """\
        from meticulous import Experiment
        with Experiment({"a": 1}):
            raise SystemExit(4)
        """,
    )
    done = run(project, "with_exit.py")
    assert done.returncode == 4
    assert status_of(project / "experiments" / "1") == ("ERROR", "exit code 4\n")


def test_hooks_are_restored_after_finish(project):
    write_script(
        project,
        "restore.py",
        """\
        import signal, sys
        from meticulous import Experiment
        before = (sys.excepthook, sys.exit, signal.getsignal(signal.SIGTERM),
                  signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGINT))
        experiment = Experiment({})
        during = signal.getsignal(signal.SIGTERM)
        experiment.finish()
        after = (sys.excepthook, sys.exit, signal.getsignal(signal.SIGTERM),
                 signal.getsignal(signal.SIGHUP), signal.getsignal(signal.SIGINT))
        print(before == after, during != before[2])
        """,
    )
    done = run(project, "restore.py")
    assert done.stdout.split() == ["True", "True"]


def test_a_users_own_sigterm_handler_is_left_alone(project):
    """A script that handles SIGTERM itself (checkpoint, then exit) keeps doing so."""
    write_script(
        project,
        "own_handler.py",
        """\
        import signal, sys, time
        from meticulous import Experiment
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        experiment = Experiment({})
        print("started", flush=True)
        time.sleep(60)
        """,
    )
    process = start(project, "own_handler.py")
    started(process, project)
    process.terminate()
    process.communicate(timeout=30)
    assert process.returncode == 0
    assert status_of(project / "experiments" / "1") == ("SUCCESS", "")


def test_forked_children_do_not_end_the_parents_experiment(project):
    write_script(
        project,
        "forks.py",
        """\
        import multiprocessing, os, signal, sys, time
        from meticulous import Experiment

        def child():
            time.sleep(60)

        if __name__ == "__main__":
            experiment = Experiment({})
            ctx = multiprocessing.get_context("fork")
            worker = ctx.Process(target=child)
            worker.start()
            time.sleep(0.2)
            worker.terminate()  # SIGTERM to the forked child
            worker.join()
            print("worker exit", worker.exitcode)
            print(open(os.path.join(experiment.curexpdir, "STATUS")).read().split()[0])
        """,
    )
    if sys.platform != "linux":
        pytest.skip("fork start method")
    done = run(project, "forks.py")
    assert done.returncode == 0, done.stderr
    assert "worker exit -15" in done.stdout
    assert "RUNNING" in done.stdout  # the parent's run was still going
    assert status_of(project / "experiments" / "1") == ("SUCCESS", "")


def test_heartbeat_is_refreshed_while_running(ends):
    """The heartbeat's mtime moves with every beat while the process lives
    (a beat every 0.2 s here instead of the default 5 s)."""
    process = start(
        ends, "ends.py", "wait", env={"METICULOUS_HEARTBEAT_SECONDS": "0.2"}
    )
    started(process, ends)
    heartbeat = folder_of(ends) / "heartbeat"
    first = heartbeat.stat().st_mtime_ns
    os.utime(heartbeat, ns=(first - 10**10, first - 10**10))  # make it look old
    try:
        wait_for(lambda: heartbeat.stat().st_mtime_ns >= first, timeout=5)
    finally:
        process.terminate()
        process.communicate(timeout=30)
