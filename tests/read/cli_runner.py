"""Run the ``meticulous`` command in-process, as a test sees a user's terminal.

Importing pandas in a fresh interpreter for every call made the CLI suite
take minutes; calling :func:`meticulous_read.cli.main` with the streams,
environment and working directory swapped costs milliseconds. The few
behaviours that need a real process (the console script, the rule that a
cache hit never imports pandas, a broken pipe) keep subprocess tests.
"""

from __future__ import annotations

import io
import os
import time
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from meticulous_read.cli import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class _Pipe(io.StringIO):
    """A captured stream that is not a terminal, like a pipe."""

    def isatty(self) -> bool:
        return False


def meticulous(*args, cwd=None, columns=None, env=None) -> Result:
    """The command's exit code and output, with TZ=UTC and no git on PATH."""
    saved_environment = dict(os.environ)
    saved_directory = os.getcwd()
    for key in list(os.environ):
        if key in ("COLUMNS", "NO_COLOR") or key.startswith("GIT_"):
            del os.environ[key]
    os.environ.update({"TZ": "UTC", "PATH": os.devnull})
    if columns is not None:
        os.environ["COLUMNS"] = str(columns)
    os.environ.update(env or {})
    time.tzset()
    stdout, stderr = _Pipe(), _Pipe()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                code = main([str(arg) for arg in args])
            except SystemExit as exit_:  # argparse: --help, --version, bad usage
                code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        os.chdir(saved_directory)
        os.environ.clear()
        os.environ.update(saved_environment)
        time.tzset()
    return Result(code, stdout.getvalue(), stderr.getvalue())
