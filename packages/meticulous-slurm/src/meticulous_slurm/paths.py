"""Where a sweep's project is: the git repository that holds its file.

A sweep file kept in ``sweeps/grid.yaml`` names ``train.py`` relative to the
project, not to its own folder, so the default project directory is the top
of the work tree that holds the file (the current directory's for a file
outside any repository, and for a sweep given on the command line).
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_root(directory: Path) -> Path | None:
    try:
        probe = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    if probe.returncode != 0 or not probe.stdout.strip():
        return None
    return Path(probe.stdout.strip()).resolve()


def default_project_directory(sweep_file: Path | None) -> Path:
    if sweep_file is not None:
        root = git_root(sweep_file.resolve().parent)
        if root is not None:
            return root
    cwd = Path.cwd()
    return git_root(cwd) or cwd.resolve()
