"""The sweep model: what a sweep is, once its file or command line was checked.

Every other module works from these frozen objects; where they came from (a
YAML file, ``sweep -- python train.py --lr 0.1,0.01``) no longer matters
after :mod:`yamlcheck` or :mod:`cmdline` built them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

EXECUTORS = ("auto", "slurm", "local")
DISTRIBUTIONS = ("choice", "uniform", "loguniform", "int")
DEFAULT_MAX_REQUEUES = 3  # submitit's own default for max_num_timeout
PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
SWEEP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Distribution:
    """One random parameter: ``kind`` is a name of DISTRIBUTIONS.

    ``values`` is the list of choices for ``choice`` and ``(low, high)``
    (both inclusive for ``int``) otherwise.
    """

    kind: str
    values: tuple


@dataclass(frozen=True)
class RandomSearch:
    n: int
    seed: int
    params: dict[str, Distribution]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep; paths are absolute, slurm names are sbatch's.

    ``path`` is the sweep file (None for a sweep given on the command line),
    ``text`` what the record keeps of it (the file, or the command line).
    """

    path: Path | None
    text: str
    command: list[str]
    args: dict[str, Any]
    grid: dict[str, list]
    random: RandomSearch | None
    points: list[dict[str, Any]]
    executor: str
    slurm: dict[str, Any]
    experiments_directory: Path
    project_directory: Path
    name: str | None
    max_requeues: int
    max_parallel: int | None
    allow_dirty: bool
    lines: dict[tuple, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def stem(self) -> str:
        """What a default sweep name starts with."""
        if self.path is not None:
            return self.path.stem
        script = next((a for a in self.command[1:] if not a.startswith("-")), "")
        return Path(script).stem or Path(self.command[0]).name

    def with_directories(self, experiments_directory: Path | None) -> Sweep:
        if experiments_directory is None:
            return self
        return replace(self, experiments_directory=experiments_directory.resolve())
