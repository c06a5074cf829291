"""What runs inside each job: the user's command, in its reserved folder.

submitit pickles one :class:`PointRunner` and hands it a :class:`PointSpec`
per array task. The runner starts the command as a subprocess in the sweep's
frozen checkout, with the variables of SPEC §5 so the recorder in the user's
script records into the reserved folder. Its output goes to the job's own
stdout/stderr (submitit's log files); the recorder tees it into the folder.

Requeueing. The runner is *checkpointable* in submitit's sense: on SLURM's
timeout warning (USR2, ``--signal``) or a preemption, submitit calls
:meth:`PointRunner.checkpoint`, which stops the command with SIGTERM (the
recorder then writes ``INTERRUPTED``) and hands back the same submission;
submitit requeues the job, up to ``max_requeues`` timeouts. A requeued job (also
after ``scontrol requeue``) starts again with the same job id, the recorder
finds its folder no longer ``QUEUED`` and resumes it: output appended, a
``resumes`` entry and ``slurm.restart-count`` in the metadata.

A job may start before the sweep has finished writing its folder (the
folders are written while sbatch runs, launch.py): it waits for the
folder's ``STATUS`` before it starts the command (SPEC §5).

Honest endings. After the command exits the runner checks the folder: if the
command never claimed it (still ``QUEUED``) or died without a final word
(still ``RUNNING``, e.g. killed by the OOM killer), it writes ``ERROR`` saying
so. When submitit refuses another requeue, the folder says ``ERROR`` with the
reason instead of a hopeful ``INTERRUPTED``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import submitit
from meticulous.reservation import (
    ENV_EXPERIMENT_ID,
    ENV_EXPERIMENTS_DIRECTORY,
    ENV_LAUNCHER,
)
from meticulous.status import ERROR, INTERRUPTED, QUEUED, RUNNING
from submitit.core.utils import UncompletedJobError

from .folders import read_status
from .pointspec import PointSpec

# How long a stopped command gets to record its INTERRUPTED status before it
# is killed; well under submitit's default 90 s between USR2 and the kill
# (METICULOUS_SLURM_STOP_GRACE_S overrides it, for a slow checkpoint).
STOP_GRACE_S = 30
# How long a job waits for its reserved folder to be whole: the launcher
# finishes writing the folders while sbatch runs (SPEC §5), within seconds.
RESERVATION_WAIT_S = 300


class PointFailed(RuntimeError):
    """The command exited unsuccessfully; submitit marks the job failed."""


class PointRunner(submitit.helpers.Checkpointable):
    """The callable submitted through ``map_array``; see the module docstring."""

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None

    def __call__(self, spec: PointSpec) -> int:
        wait_for_reservation(spec.folder)
        environment = dict(os.environ)
        launcher = json.dumps(launcher_metadata(spec), ensure_ascii=False)
        environment.update(
            {
                ENV_EXPERIMENTS_DIRECTORY: spec.experiments_directory,
                ENV_EXPERIMENT_ID: spec.experiment_id,
                ENV_LAUNCHER: launcher,
            }
        )
        print(
            f"meticulous-slurm: sweep {spec.sweep} point {spec.index} -> experiment "
            f"{spec.experiment_id}: {shlex.join(spec.argv)}",
            flush=True,
        )
        sys.stderr.flush()
        try:
            self._child = subprocess.Popen(
                list(spec.argv),
                cwd=spec.code_directory,
                env=environment,
                # The job process runs no threads, so preexec_fn is safe here.
                preexec_fn=_ignore_checkpoint_signal,  # noqa: PLW1509
            )
        except OSError as error:
            _write_status(spec.folder, ERROR, f"cannot start {spec.argv[0]!r}: {error}")
            raise PointFailed(f"cannot start {spec.argv[0]!r}: {error}") from None
        try:
            returncode = _wait_for_exit(self._child)
        except UncompletedJobError as error:
            # submitit decided not to requeue (too many timeouts).
            self._stop_child()
            _record_not_requeued(spec.folder, str(error))
            raise
        except KeyboardInterrupt:
            # The local executor cancels with SIGINT and kills us a second
            # later: pass the stop on to the command so it records it.
            self._stop_child()
            raise
        if os.environ.get("SLURM_PROCID", "0") == "0":
            # Only the main task's end is the folder's (spec section 10);
            # another task's command records its own end under ranks/.
            _settle_status(spec.folder, returncode)
        if returncode != 0:
            raise PointFailed(
                f"point {spec.index} (experiment {spec.experiment_id}) failed: "
                f"{describe_returncode(returncode)}"
            )
        return returncode

    def checkpoint(self, spec: PointSpec) -> submitit.helpers.DelayedSubmission:
        """Stop the command so it records INTERRUPTED, and requeue the same point."""
        self._stop_child()
        return submitit.helpers.DelayedSubmission(PointRunner(), spec)

    def _stop_child(self) -> None:
        child = self._child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(
                timeout=float(
                    os.environ.get("METICULOUS_SLURM_STOP_GRACE_S", STOP_GRACE_S)
                )
            )
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def __getstate__(self) -> dict:
        return {}  # a running child never travels in a pickle

    def __setstate__(self, state: dict) -> None:
        self._child = None


def wait_for_reservation(folder: Path, timeout_s: float = RESERVATION_WAIT_S) -> None:
    """Return once the reserved folder is whole (its ``STATUS`` exists).

    A sweep submits its jobs while the last folders are still being written
    (SPEC §5), so a job that starts at once waits for its own here, before
    the command's recorder can look at it. A folder that is gone was
    released because writing the folders failed; its job is being cancelled.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.01
    while not os.path.lexists(folder / "STATUS"):
        if not folder.is_dir():
            raise PointFailed(
                f"its reserved folder {folder} is gone: the submission was undone"
            )
        if time.monotonic() > deadline:
            raise PointFailed(
                f"its reserved folder {folder} was never completed "
                f"(no STATUS after {timeout_s:.0f} s)"
            )
        if pause == 0.01:
            print(
                f"meticulous-slurm: waiting for its reserved folder {folder} "
                "to be written",
                flush=True,
            )
        time.sleep(pause)
        pause = min(2 * pause, 0.5)


def launcher_metadata(spec: PointSpec) -> dict[str, Any]:
    """The reservation's launcher info plus what only the running job knows:
    its submitit job id and log files."""
    info = dict(spec.launcher)
    try:
        environment = submitit.JobEnvironment()
        paths = environment.paths
    except (RuntimeError, KeyError):
        return info  # not under submitit (a direct call)
    info.update(
        {
            "executor": environment.cluster,
            "job-id": environment.job_id,
            "submitit-stdout": str(paths.stdout),
            "submitit-stderr": str(paths.stderr),
        }
    )
    return info


def _wait_for_exit(child: subprocess.Popen) -> int:
    """Wait for the command without ``Popen.wait``.

    ``Popen.wait()`` holds a non-reentrant lock while it blocks, so a
    checkpoint signal handler (running in this same thread) that waits for
    the stopped command would deadlock on it. A bare ``os.waitpid`` holds
    nothing; if the handler reaped the command meanwhile, its return code is
    already on the Popen object.
    """
    while True:
        try:
            _, status = os.waitpid(child.pid, 0)
        except ChildProcessError:
            return child.returncode if child.returncode is not None else -1
        except InterruptedError:  # pragma: no cover - retried by Python itself
            continue
        child.returncode = os.waitstatus_to_exitcode(status)
        return child.returncode


def describe_returncode(returncode: int) -> str:
    if returncode == -signal.SIGKILL:
        # Nothing can catch SIGKILL, so the run could not record its end; the
        # usual sender is a memory limit, which users should think of first.
        return "killed by SIGKILL: out of memory (the kernel's OOM killer) or killed by hand"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _ignore_checkpoint_signal() -> None:
    """Runs in the child before exec: SLURM's ``--signal`` goes to every process
    of the job, but the timeout warning is for submitit, which then stops the
    command with SIGTERM (a signal the recorder records). Ignoring it in the
    child keeps the default action (death without a status) from firing first."""
    name = "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    number = getattr(signal, name, None)
    if number is not None:
        signal.signal(number, signal.SIG_IGN)


def _settle_status(folder: Path, returncode: int) -> None:
    word, _ = read_status(folder)
    if word == QUEUED:
        message = (
            f"the command ended ({describe_returncode(returncode)}) without recording"
            " into its reserved folder"
        )
        log = _own_log()
        tail = log_tail(log) if log else ""
        if tail:
            message += f"; the end of its stderr:\n{tail}"
        else:
            message += "; does it use Experiment.from_parser?"
        if log:
            message += f"\nlog: {log}"
            _keep_stderr(folder, tail, log)
        _write_status(folder, ERROR, message)
    elif word == RUNNING:
        _write_status(
            folder,
            ERROR,
            f"the command ended ({describe_returncode(returncode)}) without writing"
            " a final status",
        )


def _record_not_requeued(folder: Path, reason: str) -> None:
    word, message = read_status(folder)
    if word in (QUEUED, RUNNING, INTERRUPTED):
        ended = f"{word}: {message}" if message else word
        _write_status(folder, ERROR, f"{reason} (the run's last status: {ended})")


def _write_status(folder: Path, word: str, message: str) -> None:
    from meticulous.status import write_status

    write_status(folder, word, message)


LOG_TAIL_LINES = 20
LOG_TAIL_BYTES = 8192


def _own_log() -> Path | None:
    """This job's stderr file (submitit's ``*_log.err``), where the command's
    own stderr went since it never claimed its folder."""
    try:
        return Path(submitit.JobEnvironment().paths.stderr)
    except (RuntimeError, KeyError):
        return None


def log_tail(path: Path) -> str:
    """The last lines of a log, without submitit's own traceback of our
    PointFailed, which is not the user's error."""
    sys.stderr.flush()
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - LOG_TAIL_BYTES))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _keep_stderr(folder: Path, tail: str, log: Path) -> None:
    """A folder no recorder claimed gets ``stderr`` (SPEC §2: the captured
    error output) and the log paths, so ``meticulous show`` has them."""
    from meticulous.atomic import write_text_atomic

    if (folder / "stderr").exists():
        return
    write_text_atomic(
        folder / "stderr", (tail + "\n" if tail else "") + f"[full log: {log}]\n"
    )
    try:
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        launcher = metadata.setdefault("launcher", {})
        launcher["submitit-stderr"] = str(log)
        launcher["submitit-stdout"] = str(log.with_suffix(".out"))
        from meticulous.atomic import write_json_atomic

        write_json_atomic(folder / "metadata.json", metadata)
    except (OSError, ValueError, AttributeError):
        pass
