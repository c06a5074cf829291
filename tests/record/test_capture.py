"""Output capture at the file-descriptor level: files get everything, the
terminal still shows everything."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from record_helpers import child_env, run, status_of, wait_for, write_script


def test_c_printf_left_in_libc_buffers_reaches_the_file_at_the_end(project):
    """``printf`` into a pipe stays in libc's buffer until ``fflush``: the end
    of the run flushes it into the capture, not after it (C code loaded
    through ctypes here; an extension module's ``printf`` is the same)."""
    write_script(
        project,
        "printf.py",
        """\
        import ctypes
        from meticulous import Experiment
        experiment = Experiment({})
        ctypes.CDLL(None).printf(b"from C printf\\n")
        experiment.finish()
        print("after the run", flush=True)
        """,
    )
    done = run(project, "printf.py", env={"PYTHONUNBUFFERED": ""})  # libc buffers
    assert done.returncode == 0, done.stderr
    assert (project / "experiments" / "1" / "stdout").read_text() == "from C printf\n"
    assert done.stdout == "from C printf\nafter the run\n"


def test_python_c_level_and_child_output_are_all_captured(project):
    write_script(
        project,
        "outputs.py",
        """\
        import os, subprocess, sys
        from meticulous import Experiment
        Experiment({})
        print("from python", flush=True)
        os.write(1, b"from the fd\\n")
        subprocess.run(["echo", "from a child"], check=True)
        subprocess.run(["sh", "-c", "echo child error >&2"], check=True)
        print("python error", file=sys.stderr, flush=True)
        os.write(2, b"fd error\\n")
        """,
    )
    done = run(project, "outputs.py")
    assert done.returncode == 0, done.stderr
    folder = project / "experiments" / "1"
    expected_out = "from python\nfrom the fd\nfrom a child\n"
    expected_err = "child error\npython error\nfd error\n"
    assert (folder / "stdout").read_text() == expected_out
    assert (folder / "stderr").read_text() == expected_err
    assert done.stdout == expected_out  # the terminal still shows everything
    assert done.stderr == expected_err


def test_large_output_is_complete_in_file_and_terminal(project):
    write_script(
        project,
        "loud.py",
        """\
        from meticulous import Experiment
        Experiment({})
        for i in range(50000):
            print("line", i)
        """,
    )
    done = run(project, "loud.py")
    expected = "".join(f"line {i}\n" for i in range(50000))
    assert done.stdout == expected
    assert (project / "experiments" / "1" / "stdout").read_text() == expected


def test_output_file_is_readable_while_running(project):
    write_script(
        project,
        "slow.py",
        """\
        import sys, time
        from meticulous import Experiment
        Experiment({})
        print("epoch 1", flush=True)
        sys.stdin.readline()  # wait until the test has read the file
        print("epoch 2", flush=True)
        """,
    )
    process = subprocess.Popen(
        [sys.executable, "slow.py"],
        cwd=project,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    stdout = project / "experiments" / "1" / "stdout"
    wait_for(lambda: stdout.exists() and stdout.read_text() == "epoch 1\n")
    assert status_of(project / "experiments" / "1")[0] == "RUNNING"
    out, _ = process.communicate("go\n", timeout=30)
    assert out == "epoch 1\nepoch 2\n"
    assert stdout.read_text() == "epoch 1\nepoch 2\n"


def test_isatty_is_true_under_a_terminal_and_no_carriage_returns(project):
    """Under a (pseudo-)terminal the program still sees a terminal, and the
    file gets plain newlines."""
    write_script(
        project,
        "tty.py",
        """\
        import os, sys
        from meticulous import Experiment
        Experiment({})
        print("stdout isatty", sys.stdout.isatty(), os.isatty(1))
        print("stderr isatty", sys.stderr.isatty(), file=sys.stderr)
        """,
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: run the script on the pty
        os.chdir(project)
        os.execv(sys.executable, [sys.executable, "tty.py"])
    seen = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    _, wait_status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(wait_status) == 0, seen
    # Shown on the terminal; the two streams' tees write to it independently,
    # so stderr's line may land inside stdout's.
    shown = seen.replace(b"stderr isatty True\r\n", b"", 1)
    assert b"stdout isatty True True\r\n" in shown, seen
    assert b"stderr isatty True\r\n" in seen
    folder = project / "experiments" / "1"
    assert (folder / "stdout").read_bytes() == b"stdout isatty True True\n"
    assert (folder / "stderr").read_bytes() == b"stderr isatty True\n"


def test_without_a_terminal_isatty_stays_false(project):
    write_script(
        project,
        "notty.py",
        """\
        import sys
        from meticulous import Experiment
        Experiment({})
        print(sys.stdout.isatty())
        """,
    )
    done = run(project, "notty.py")
    assert done.stdout == "False\n"


def test_nested_and_sequential_experiments_capture_their_own_output(project):
    write_script(
        project,
        "nested.py",
        """\
        import os
        from meticulous import Experiment
        outer = Experiment({"level": "outer"})
        print("outer before")
        with Experiment({"level": "inner"}):
            print("inner only", flush=True)
            os.write(1, b"inner fd\\n")
        print("outer after")
        outer.finish()
        print("nobody")
        with Experiment({"level": "third"}):
            print("third")
        """,
    )
    done = run(project, "nested.py")
    assert done.returncode == 0, done.stderr
    experiments = project / "experiments"
    assert (experiments / "1" / "stdout").read_text() == (
        "outer before\ninner only\ninner fd\nouter after\n"
    )
    assert (experiments / "2" / "stdout").read_text() == "inner only\ninner fd\n"
    assert (experiments / "3" / "stdout").read_text() == "third\n"
    assert (
        done.stdout
        == "outer before\ninner only\ninner fd\nouter after\nnobody\nthird\n"
    )
    for name in ("1", "2", "3"):
        assert status_of(experiments / name) == ("SUCCESS", "")
