"""The public API, and that importing it is cheap."""

from __future__ import annotations

import subprocess
import sys

import meticulous


def test_public_names():
    for name in (
        "Experiment",
        "MeticulousError",
        "DirtyRepoException",
        "MismatchedArgsException",
        "MismatchedCommitException",
        "ExperimentLockedException",
        "reserve_experiment",
    ):
        assert name in meticulous.__all__
        assert hasattr(meticulous, name)


def test_every_exception_is_a_meticulous_error():
    assert issubclass(meticulous.MeticulousError, Exception)
    for name in meticulous.__all__:
        value = getattr(meticulous, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            assert issubclass(value, meticulous.MeticulousError), name


def test_import_loads_neither_git_nor_pandas_nor_filelock():
    code = (
        "import sys, meticulous; "
        "print(sorted({'git', 'pandas', 'filelock', 'numpy'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
    assert done.stderr == ""  # no import-time output
