"""The SLURM backend: a sweep's points as one job array, through submitit."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backend import STOP_WAIT_S, Backend, Submitted
from .clustercheck import cluster_problems
from .errors import SweepError
from .slurmparams import signal_delay_warning
from .slurmstate import JobState, cancel_jobs, query_job_states

# submitit names a task's pickle ``uuid4().hex + ".pkl"`` until sbatch gives it a job id.
TEMPORARY_PICKLE = re.compile(r"[0-9a-f]{32}\.pkl")

if TYPE_CHECKING:
    from .record import SweepRecord
    from .slurm_executor import SweepExecutor


class SlurmBackend(Backend):
    name = "slurm"
    where = "SLURM"
    poll_s = 2.0

    def problems(self, slurm: dict[str, Any], count: int) -> list[str]:
        if not self.tools_present():
            return []  # nothing to ask; submitting says so (require_tools)
        return cluster_problems(slurm, count)

    @staticmethod
    def tools_present() -> bool:
        return shutil.which("sbatch") is not None and shutil.which("srun") is not None

    def require_tools(self) -> None:
        if not self.tools_present():
            raise SweepError(
                "executor is 'slurm' but sbatch/srun are not on PATH (use auto or local)"
            )

    def load(self) -> None:
        from . import job, slurm_executor  # noqa: F401 - submitit with them

    def warnings(self, slurm: dict[str, Any]) -> list[str]:
        warnings = [signal_delay_warning(slurm)]
        if not self.tools_present():
            warnings.append(
                "sbatch/srun are not on PATH: the cluster was not asked, and "
                "submitting will fail (use executor auto or local)"
            )
        return [warning for warning in warnings if warning]

    def describe(
        self,
        slurm: dict[str, Any],
        count: int,
        max_parallel: int,
        submitit_folder: Path,
    ) -> str:
        """The sbatch file submitit would write for this sweep's job array."""
        from submitit.slurm import slurm as submitit_slurm

        command = " ".join(
            [
                shlex.quote(sys.executable),
                "-u -m submitit.core._submit",
                shlex.quote(str(submitit_folder)),
            ]
        )
        script = submitit_slurm._make_sbatch_string(
            command=command, folder=submitit_folder, map_count=count, **slurm
        )
        return f"# sbatch script for the job array of {count} tasks\n{script}\n"

    def executor(
        self, record: SweepRecord, ready: Callable[[], None] | None = None
    ) -> SweepExecutor:
        """submitit's SlurmExecutor for the record; its parameters are checked here."""
        from .slurm_executor import SweepExecutor

        self.require_tools()
        try:
            executor = SweepExecutor(
                record.submitit_folder, record.max_requeues, ready=ready
            )
            executor.update_parameters(**record.slurm_parameters)
        except (ValueError, RuntimeError) as error:
            raise SweepError(f"invalid slurm parameters: {error}") from None
        return executor

    def submit(
        self,
        record: SweepRecord,
        sweep_folder: Path,
        indices: list[int],
        ready: Callable[[], None] | None = None,
    ) -> Submitted:
        """One ``map_array``: submitit pickles a task per point, and the
        executor calls ``ready`` between the pickling and ``sbatch``, so
        the two overlap."""
        from .job import PointRunner

        executor = self.executor(record, ready)
        folder = Path(record.submitit_folder)
        earlier = _temporary_pickles(folder)
        try:
            jobs = executor.map_array(
                PointRunner(), [record.point_spec(index) for index in indices]
            )
        except BaseException as error:
            if isinstance(error, Exception) or not executor.was_ready:
                # The tasks' pickles of a submission that never happened.
                for path in _temporary_pickles(folder) - earlier:
                    path.unlink(missing_ok=True)
            raise
        executor.wait_until_ready()  # done already; the record is written next
        job_ids = [job.job_id for job in jobs]
        # submitit submits a single point as a plain job, more as an array
        return Submitted(job_ids=job_ids, slurm_job_id=job_ids[0].split("_")[0])

    def states(self, record: SweepRecord, sweep_folder: Path) -> dict[int, JobState]:
        job_ids = {p.index: p.latest_job_id for p in record.points if p.latest_job_id}
        known = query_job_states(job_ids.values())
        return {
            index: known[job_id] for index, job_id in job_ids.items() if job_id in known
        }

    def stop(self, record: SweepRecord, sweep_folder: Path, indices: list[int]) -> None:
        import time

        job_ids = [
            job_id for i in indices if (job_id := record.points[i].latest_job_id)
        ]
        problem = cancel_jobs(job_ids)
        if problem:
            raise SweepError(f"could not cancel the jobs: {problem}")
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline:
            if not any(s.live for s in query_job_states(job_ids).values()):
                return
            time.sleep(1)

    def summary(self, record: SweepRecord) -> str:
        submission = record.submissions[-1]
        kind = "array job" if len(submission.points) > 1 else "job"
        return f"submitted to SLURM, {kind} {submission.slurm_job_id}"


def _temporary_pickles(folder: Path) -> set[Path]:
    """submitit's pickles not yet renamed after their job (``<uuid hex>.pkl``)."""
    try:
        with os.scandir(folder) as entries:
            return {
                Path(entry.path)
                for entry in entries
                if TEMPORARY_PICKLE.fullmatch(entry.name) and entry.is_file()
            }
    except FileNotFoundError:
        return set()
