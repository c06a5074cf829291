"""Where a sweep's points run: one interface, a SLURM and a local backend.

As submitit's executors are, the two are subclasses of one base, so the
rest of the package never asks which one it has: it checks a request
(:meth:`Backend.problems`), describes it for a dry run, submits points,
asks for their scheduler states and stops them through whichever backend
the record names.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SweepError
from .slurmstate import JobState

if TYPE_CHECKING:
    from .record import SweepRecord

STOP_WAIT_S = 60  # how long a cancel waits for the points to end


@dataclass
class Submitted:
    """What a submission produced: a job id per point (or none, for jobs
    started later) and what the record keeps about it."""

    job_ids: list[str] = field(default_factory=list)
    slurm_job_id: str | None = None
    local_queue_pid: int | None = None


class Backend(ABC):
    name: str
    where: str  # how messages name it: "SLURM", "this machine"
    poll_s: float = 2.0

    @abstractmethod
    def problems(self, slurm: dict[str, Any], count: int) -> list[str]:
        """What would make the submission of ``count`` points fail."""

    @abstractmethod
    def describe(
        self,
        slurm: dict[str, Any],
        count: int,
        max_parallel: int,
        submitit_folder: Path,
    ) -> str:
        """For a dry run: what would be submitted."""

    @abstractmethod
    def submit(
        self,
        record: SweepRecord,
        sweep_folder: Path,
        indices: list[int],
        ready: Callable[[], None] | None = None,
    ) -> Submitted:
        """Start the points ``indices`` of ``record``; raise on refusal.

        ``ready``, when given, finishes what the points need (their folders,
        the frozen code) and raises if that failed; it is called once, as
        late as possible but before any point can start.
        """

    @abstractmethod
    def states(self, record: SweepRecord, sweep_folder: Path) -> dict[int, JobState]:
        """The scheduler's state of each point it knows, by point index."""

    @abstractmethod
    def stop(self, record: SweepRecord, sweep_folder: Path, indices: list[int]) -> None:
        """Stop the given queued or running points and wait until they ended."""

    def require_tools(self) -> None:
        """Raise SweepError when this machine cannot submit to the backend."""

    def load(self) -> None:
        """Import what submitting needs, ahead of time: a sweep does it
        while its folders are being reserved, not after."""

    def warnings(self, slurm: dict[str, Any]) -> list[str]:
        """What is allowed but probably not meant."""
        return []

    def refuse_resume(self, record: SweepRecord, sweep_folder: Path) -> None:
        """Raise SweepError when the sweep cannot be resubmitted now."""

    def settle(self, record: SweepRecord, sweep_folder: Path) -> None:
        """Once every point has ended (``--wait``): return when the backend
        is done with them too, so that a ``resume`` right after is taken."""

    def summary(self, record: SweepRecord) -> str:
        """One line for ``sweep`` and ``resume``, after the point count."""
        return f"submitted to {self.where}"


def backend_named(name: str) -> Backend:
    from .local_backend import LocalBackend
    from .slurm_backend import SlurmBackend

    backends: dict[str, type[Backend]] = {"slurm": SlurmBackend, "local": LocalBackend}
    try:
        return backends[name]()
    except KeyError:
        raise SweepError(f"unknown executor '{name}' in the sweep record") from None


def resolve_backend(choice: str) -> Backend:
    """``auto`` means SLURM where it can be used, so one file works on a laptop too.

    An explicit ``slurm`` is kept even without sbatch: a dry run can still show
    the script; submitting then fails with a clear message.
    """
    if choice == "auto":
        choice = "slurm" if shutil.which("sbatch") else "local"
    return backend_named(choice)
