"""Helpers shared by the benchmark scripts.

Every benchmark is a standalone script that prints one markdown section. The
figures that matter are whole-process wall times and peak memory of child
processes. Peak memory needs care: Linux's ``ru_maxrss`` of a child includes
the image it had *before* ``exec``, which is a copy of (or, with vfork, the
same as) its parent's, so any child reaped straight from a benchmark process
reports at least that process's own size. The child is therefore started by
GNU ``time`` (a 2 MB process) and its ``%M`` is the figure; without GNU time
the helpers fall back to ``os.wait4`` and say that the figure is an upper bound.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

GNU_TIME = "/usr/bin/time"
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
SCRIPTS_ROOT = BENCH_DIR / "scripts"  # the measured programs, one folder a benchmark
# The synthetic-folder writer and the cluster check are the tests' own
# (tests/helpers), so a benchmark measures what the tests verify.
if str(ROOT / "tests") not in sys.path:
    sys.path.append(str(ROOT / "tests"))
PYTHON = sys.executable
QUICK = "--quick" in sys.argv[1:]

# Variables that would make a peer or the recorder behave differently from a
# fresh shell: a tracking server, a reserved id from a launcher, and Python's
# own switches (a session may set PYTHONUNBUFFERED, which makes every print a
# write system call, or PYTHONDONTWRITEBYTECODE, which makes every import
# compile its modules from source when the venv was installed without .pyc).
SCRUBBED_PREFIXES = (
    "MLFLOW_",
    "METICULOUS_",
    "GIT_",
    "SLURM_JOB",
    "SLURM_ARRAY",
    "PYTHON",
)


class BenchError(RuntimeError):
    """A child process failed; the message carries the tail of its stderr."""


def pick(full, quick):
    """The full-run value, or the smoke-run value under ``--quick``."""
    return quick if QUICK else full


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: no tracking server, no launcher ids."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(SCRUBBED_PREFIXES)
    }
    env.update(extra)
    return env


def console_script(name: str) -> str:
    """A console script installed beside the running interpreter (the venv's)."""
    beside = Path(PYTHON).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"console script {name!r} is not installed")
    return found


def tail(text: str | bytes, lines: int = 15) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


@functools.cache
def gnu_time() -> str | None:
    """GNU time's path when it is installed (BSD and shell ``time`` have no -f)."""
    if not os.access(GNU_TIME, os.X_OK):
        return None
    probe = subprocess.run(
        [GNU_TIME, "-f", "%M", "true"], check=False, capture_output=True, text=True
    )
    return GNU_TIME if probe.stderr.strip().isdigit() else None


def memory_method() -> str:
    """How peak memory is measured, for the results' header."""
    if gnu_time():
        return "the child's own peak RSS as GNU `time` (`%M`) reports it"
    return (
        "the child's `ru_maxrss` from `wait4` (GNU `time` is not installed): an "
        "upper bound, as Linux counts the benchmark process's own size the "
        "child had before `exec`"
    )


@dataclass
class ProcessRun:
    """One finished child: wall time from spawn to reap, its peak RSS, its output."""

    wall: float
    maxrss_kib: int
    returncode: int
    stdout: str = ""


def run_process(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    stdout_path: str | Path | None = None,
    timeout: float = 600.0,
    check: bool = True,
) -> ProcessRun:
    """Run one child to completion and measure it.

    Its stdout goes to ``stdout_path`` (a regular file, as a parent that
    redirects to a file sees it) or, when None, to a temporary file that is read
    back afterwards, so no pipe-draining thread competes with the child. Its
    stderr is kept for the error message.
    """
    env = child_env() if env is None else env
    timer = gnu_time()
    with contextlib.ExitStack() as stack:
        err = stack.enter_context(tempfile.TemporaryFile())
        captured = stack.enter_context(tempfile.TemporaryFile())
        out_file = (
            stack.enter_context(open(stdout_path, "wb"))
            if stdout_path is not None
            else captured
        )
        command = list(argv)
        if timer:
            report = stack.enter_context(tempfile.NamedTemporaryFile("r"))
            command = [timer, "-f", "%M", "-o", report.name, *command]
        start = time.perf_counter()
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_file,
            stderr=err,
            start_new_session=True,  # so a timeout can kill the whole group
        )
        killer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - start
        # wait4 reaped the child: tell Popen so it does not try again.
        proc.returncode = os.waitstatus_to_exitcode(status)
        maxrss = usage.ru_maxrss
        if timer:
            lines = report.read().split()
            if lines and lines[-1].isdigit():
                maxrss = int(lines[-1])
        captured.seek(0)
        output = captured.read().decode("utf-8", "replace")
        if check and proc.returncode != 0:
            err.seek(0)
            raise BenchError(
                f"{' '.join(map(str, argv))} exited with {proc.returncode}:\n"
                f"{tail(err.read())}"
            )
    return ProcessRun(wall, maxrss, proc.returncode, output)


def run_json(argv: Sequence[str], **kwargs) -> tuple[ProcessRun, dict]:
    """Run a child whose last stdout line starting with ``{`` is a JSON object of figures."""
    run = run_process(argv, **kwargs)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise BenchError(f"{' '.join(map(str, argv))} printed nothing")
    return run, json.loads(lines[-1])


@dataclass
class Series:
    """Repeated measurements of one thing."""

    values: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def rss_mib(self) -> float:
        return statistics.median(self.rss_kib) / 1024 if self.rss_kib else float("nan")


def compare_processes(
    variants: dict[str, Callable[[], ProcessRun]],
    repeats: int,
    warmup: int = 1,
) -> dict[str, Series]:
    """Run every variant ``repeats`` times, round-robin.

    Interleaving spreads any background load (this machine is shared) over all
    variants alike instead of penalising whichever ran during a busy moment.
    """
    for _ in range(warmup):
        for run in variants.values():
            run()
    results = {name: Series() for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            done = run()
            results[name].values.append(done.wall)
            results[name].rss_kib.append(done.maxrss_kib)
    return results


def time_call(fn: Callable[[], object], repeats: int, warmup: int = 0) -> Series:
    """Median and min of ``repeats`` calls of an in-process function."""
    for _ in range(warmup):
        fn()
    series = Series()
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        series.values.append(time.perf_counter() - start)
    return series


# --- git ---------------------------------------------------------------------

GIT_IDENTITY = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_IDENTITY, "-c", "gc.auto=0", *args],
        check=False,
        cwd=repo,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed:\n{tail(done.stderr)}")
    return done.stdout


def make_git_repo(
    path: Path,
    files: dict[str, str],
    *,
    filler_files: int = 0,
    ignore: Iterable[str] = (),
) -> Path:
    """A throwaway repository with ``files`` (and ``filler_files`` small ones) committed.

    ``ignore`` goes to ``.gitignore`` so the tools' own output folders never
    make the tree dirty.
    """
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / ".gitignore").write_text("".join(f"{name}\n" for name in ignore))
    for name, text in files.items():
        (path / name).write_text(text)
    per_folder = 500
    for i in range(filler_files):
        folder = path / "src" / f"pkg{i // per_folder:03d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module{i:05d}.py").write_text(f"VALUE = {i}\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "--no-verify", "-m", "benchmark fixture")
    # Refresh the index's stat cache once so the first measured `git status`
    # is not the one that pays for it.
    git(path, "status", "--porcelain")
    return path


# --- formatting ----------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    size = abs(seconds)
    if size < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if size < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f}x"


def fmt_mib(mib: float) -> str:
    return "n/a" if math.isnan(mib) else f"{mib:.1f} MiB"


def verdict(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "| " + " | ".join("---" for _ in headers) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def failure_block(what: str, error: BaseException) -> str:
    """How a benchmark that could not run reports itself inside its section."""
    text = tail(str(error) or repr(error), 20)
    return f"**{what} failed**: `{type(error).__name__}`\n\n```\n{text}\n```"


def scratch_dir(prefix: str) -> Path:
    """A fresh temporary directory (removed by the caller's ``shutil.rmtree``)."""
    return Path(tempfile.mkdtemp(prefix=f"meticulous-bench-{prefix}-"))
