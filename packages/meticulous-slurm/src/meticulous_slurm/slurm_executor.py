"""submitit's SlurmExecutor, made to finish the sweep's preparations first.

A sweep's ids are allocated, and its code frozen, while submitit pickles
the tasks (see launch.py); a job can start as soon as ``sbatch`` returns,
so both must be done by then, and the ids be the ones the tasks were
pickled with. submitit calls ``_throttle`` on the executor right before
each ``sbatch``, after every task is pickled, for a job array
(``map_array``) and a single job alike, so that is where this executor
calls the sweep's ``ready``. (The folders' files may still be being
written: each job waits for its own, job.py.) The tests check what sbatch
sees (``test_scheduler.py::test_the_ids_and_the_code_are_ready_before_sbatch_runs``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import submitit


class SweepExecutor(submitit.SlurmExecutor):
    """``ready`` is called once, right before the first ``sbatch``; what it
    raises stops the submission."""

    def __init__(
        self,
        folder: str | Path,
        max_num_timeout: int,
        ready: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(folder=folder, max_num_timeout=max_num_timeout)
        self._ready = ready
        self.was_ready = ready is None  # True once ``ready`` returned

    def _throttle(self) -> None:
        self.wait_until_ready()
        super()._throttle()

    def wait_until_ready(self) -> None:
        """Call ``ready`` unless that was done (a no-op the second time)."""
        ready, self._ready = self._ready, None
        if ready is not None:
            ready()
            self.was_ready = True
