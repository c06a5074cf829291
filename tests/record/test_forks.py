"""Forked children never write the run's end, and log steps that stay unique."""

from __future__ import annotations

import json
import time

from record_helpers import read_json, run, status_of, write_script


def test_a_forked_child_exiting_0_after_the_parent_raised_leaves_the_error(project):
    write_script(
        project,
        "forking.py",
        """
        import os, sys, time
        from meticulous import Experiment
        with Experiment({}) as experiment:
            pid = os.fork()
            if pid == 0:  # the child outlives the parent's failure
                time.sleep(0.5)
                print("child done", flush=True)
                sys.exit(0)
            raise RuntimeError("parent fails")
        """,
    )
    done = run(project, "forking.py")
    assert done.returncode == 1
    folder = project / "experiments" / "1"
    time.sleep(1.0)  # the child has ended by now
    word, message = status_of(folder)
    assert word == "ERROR" and "RuntimeError: parent fails" in message
    assert read_json(folder / "metadata.json")["exit-code"] == 1


def test_a_forked_child_without_a_block_leaves_the_parents_end(project):
    write_script(
        project,
        "forking.py",
        """
        import os, signal, sys
        from meticulous import Experiment
        experiment = Experiment({})
        for how in ("exit", "raise", "signal"):
            pid = os.fork()
            if pid == 0:
                print("child", how, flush=True)
                if how == "exit":
                    sys.exit(0)
                if how == "raise":
                    raise ValueError("child raises")
                os.kill(os.getpid(), signal.SIGTERM)
            os.waitpid(pid, 0)
        sys.exit(4)
        """,
    )
    done = run(project, "forking.py")
    assert done.returncode == 4
    folder = project / "experiments" / "1"
    assert status_of(folder) == ("ERROR", "exit code 4\n")
    assert read_json(folder / "metadata.json")["exit-code"] == 4
    recorded = (folder / "stdout").read_text().splitlines()
    assert sorted(recorded) == ["child exit", "child raise", "child signal"]


def test_a_fork_pool_logs_unique_steps_and_the_run_succeeds(project):
    write_script(
        project,
        "pool.py",
        """
        import multiprocessing
        import sys
        from meticulous import Experiment
        experiment = Experiment({})
        experiment.log({"where": -1})

        def work(i):
            experiment.log({"where": i})
            sys.stdout.write(f"worker {i}\\n")  # one write: PYTHONUNBUFFERED may be set
            sys.stdout.flush()
            return i

        with multiprocessing.get_context("fork").Pool(2) as pool:
            assert sorted(pool.map(work, range(8))) == list(range(8))
        experiment.log({"where": 99})
        """,
    )
    done = run(project, "pool.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    assert status_of(folder)[0] == "SUCCESS"
    rows = [
        json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
    ]
    assert sorted(row["where"] for row in rows) == [-1, *range(8), 99]
    assert sorted(row["_step"] for row in rows) == list(range(10))
    assert rows[-1] == {**rows[-1], "where": 99, "_step": 9}
    assert sorted((folder / "stdout").read_text().splitlines()) == sorted(
        f"worker {i}" for i in range(8)
    )


def test_a_sigterm_ends_a_forked_child_at_once_wherever_it_reaches_it(project):
    """The cause of the fork pool's rare hang: ``Pool.terminate()`` sent
    SIGTERM to a worker still starting up under load, and the recorder's
    Python-level handler, inherited, let CPython lose it; the pool then
    waited for that worker forever. A child must die of a SIGTERM as it
    would unrecorded: while it is blocked in C code that does not return to
    Python (libc's ``system``, like a worker in ``sem_wait``), and when it
    arrives during the fork (sent here by an earlier fork handler; the race
    itself, inside CPython's after-fork code, cannot be staged from Python).
    """
    write_script(
        project,
        "terminate.py",
        """
        import ctypes, os, signal, time
        during_fork = []
        os.register_at_fork(  # before the recorder's own fork handlers
            after_in_child=lambda: during_fork and os.kill(os.getpid(), signal.SIGTERM)
        )
        from meticulous import Experiment
        experiment = Experiment({})
        libc = ctypes.CDLL(None)
        for case in ("during the fork", "blocked in C"):
            during_fork[:] = [True] if case == "during the fork" else []
            start = time.monotonic()
            pid = os.fork()
            if pid == 0:
                libc.system(b"touch ready; exec sleep 10 >/dev/null 2>&1")
                os._exit(0)
            if case == "blocked in C":
                while not os.path.exists("ready"):
                    time.sleep(0.01)
                os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            signalled = os.WIFSIGNALED(status) and os.WTERMSIG(status)
            print(f"{case}: {signalled} {time.monotonic() - start:.1f}", flush=True)
        """,
    )
    done = run(project, "terminate.py")
    assert done.returncode == 0, done.stderr
    ends = dict(line.split(": ") for line in done.stdout.splitlines())
    for case in ("during the fork", "blocked in C"):
        signalled, took = ends[case].split()
        assert (signalled, float(took) < 5) == ("15", True), (case, ends[case])
    assert status_of(project / "experiments" / "1") == ("SUCCESS", "")


def test_a_child_outliving_the_run_does_not_hold_up_its_exit(project):
    write_script(
        project,
        "outlive.py",
        """
        import subprocess, sys, time
        from meticulous import Experiment
        experiment = Experiment({})
        print("parent", flush=True)
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
        start = time.monotonic()
        experiment.finish()
        print(f"finish took {time.monotonic() - start:.3f}", file=sys.stderr)
        """,
    )
    done = run(project, "outlive.py")
    assert done.returncode == 0, done.stderr
    took = float(done.stderr.split("finish took ")[1].split()[0])
    assert took < 0.5, done.stderr
    assert (project / "experiments" / "1" / "stdout").read_text() == "parent\n"
