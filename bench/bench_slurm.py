"""Benchmark: submitting sweeps with meticulous-slurm, and the recorder inside SLURM jobs.

Prints its result (``results.Result``) as JSON on stdout; bench/run.py
collects it into bench/RESULTS.md. The measured programs are
bench/scripts/slurm/. Needs a running SLURM cluster (see .ci/slurm/setup.sh);
without one the section says why it was skipped.

1. Submitting 1,000 points, all in one run, round-robin: ``meticulous-slurm
   sweep`` of a 1,000-point grid (returns once the array is submitted),
   submitit's own ``map_array`` of 1,000 trivial functions, Hydra's submitit
   launcher (``hydra-submitit-launcher``) on a 1,000-value multirun, and the
   floor of one ``sbatch --array=0-999 --wrap true``. Every array is
   submitted held (``--hold``) so the cluster does not run 4,000 jobs, and
   cancelled right after. Hydra's launcher waits for its jobs' results, so
   its figure is the time until its array is in the queue (``squeue``
   polled every 20 ms), then it is stopped. Target: within 1.5x of
   submitit's ``map_array``.
2. The recorder's overhead per job: the same small script run as a bare
   SLURM array (``sbatch --wrap``) and as a recorded sweep, timing the
   command inside each job with a wrapper.

Everything submitted here is cancelled at the end, also on failure.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import (
    PYTHON,
    QUICK,
    SCRIPTS_ROOT,
    child_env,
    fmt_ratio,
    fmt_time,
    make_git_repo,
    md_table,
    pick,
    run_process,
)
from results import Result, Target, emit

# isort: split
# tests/helpers is on sys.path once common is imported.
from helpers.cluster import cluster_nodes

POINTS = pick(1000, 50)
REPEATS = pick(3, 1)
# Hydra's launcher takes minutes for 1,000 jobs (it composes a config per job):
# one run of it, in the same round as the others' first.
HYDRA_REPEATS = 1
SMALL_ARRAY = pick(4, 2)
# The measured programs, committed at the root of the throwaway repository.
SCRIPTS = {
    path.name: path.read_text()
    for path in sorted((SCRIPTS_ROOT / "slurm").glob("*.py"))
}


def cluster_problem() -> str | None:
    """Why there is no usable cluster (the slurm suite's own check), or None."""
    nodes, problem = cluster_nodes()
    return None if nodes else problem


def make_repo(root: Path) -> Path:
    values = ", ".join(str(i) for i in range(POINTS))
    small = ", ".join(str(0.1 * (i + 1)) for i in range(SMALL_ARRAY))
    files = {
        **SCRIPTS,
        "big.yaml": (
            f"command: {PYTHON} train.py\nexecutor: slurm\n"
            "slurm:\n  cpus_per_task: 1\n  additional_parameters: {hold: true}\n"
            f"grid:\n  lr: [{values}]\n"
        ),
        "small.yaml": (
            f"command: {PYTHON} timed.py recorded {PYTHON} train.py\n"
            "executor: slurm\nname: overhead\nslurm:\n  cpus_per_task: 1\n"
            f"grid:\n  lr: [{small}]\n"
        ),
    }
    return make_git_repo(root / "repo", files, ignore=["experiments*/"])


def timed(command: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, **kwargs
    )
    return time.perf_counter() - start, completed


def job_id_from(text: str, marker: str) -> str:
    for line in text.splitlines():
        if marker in line:
            return line.split(marker, 1)[1].split()[0].strip(",")
    raise RuntimeError(f"no job id in output:\n{text}")


def hydra_until_queued(repo: Path, submitted: list[str], repeat: int) -> float:
    """Hydra's submitit launcher on a 1,000-value multirun: the time until its
    array is in the queue (the launcher then waits for results; it is stopped)."""
    name = f"hyb{uuid.uuid4().hex[:6]}"
    command = [
        PYTHON,
        "hydra_app.py",
        "--multirun",
        "hydra/launcher=submitit_slurm",
        f"+lr=range(0,{POINTS})",
        f"hydra.launcher.name={name}",
        "hydra.launcher.cpus_per_task=1",
        "+hydra.launcher.additional_parameters.hold=true",
        f"hydra.sweep.dir={repo / f'hydra-{repeat}'}",
    ]
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=repo,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        while True:
            queued = subprocess.run(
                ["squeue", "-h", "-n", name, "-o", "%F"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            if queued:
                elapsed = time.perf_counter() - start
                submitted.append(queued[0])
                return elapsed
            if process.poll() is not None:
                raise RuntimeError(
                    f"hydra exited with {process.returncode}: {process.stderr.read()[-2000:]}"
                )
            if time.perf_counter() - start > 600:
                raise RuntimeError("hydra's array never reached the queue")
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()


def submission(repo: Path, submitted: list[str]) -> dict[str, list[float]]:
    """Every way of submitting 1,000 points, round-robin, REPEATS times each."""
    times: dict[str, list[float]] = {
        "floor": [],
        "map_array": [],
        "meticulous": [],
        "hydra": [],
    }
    for repeat in range(REPEATS):
        done = run_process(
            [
                "sbatch",
                "--hold",
                f"--array=0-{POINTS - 1}",
                "-o",
                "/dev/null",
                "--wrap",
                "true",
            ],
            cwd=repo,
        )
        submitted.append(job_id_from(done.stdout, "Submitted batch job "))
        subprocess.run(["scancel", submitted[-1]], check=False)
        times["floor"].append(done.wall)

        done = run_process(
            [
                PYTHON,
                "map_array.py",
                str(repo / f"submitit-{repeat}"),
                str(POINTS),
            ],
            cwd=repo,
        )
        submitted.append(job_id_from(done.stdout, "array job "))
        subprocess.run(["scancel", submitted[-1]], check=False)
        times["map_array"].append(done.wall)

        done = run_process(
            [
                PYTHON,
                "-m",
                "meticulous_slurm.cli",
                "sweep",
                "big.yaml",
                "--name",
                f"big-{repeat}",
                "--experiments-directory",
                str(repo / f"experiments-{repeat}"),
            ],
            cwd=repo,
        )
        submitted.append(job_id_from(done.stdout, "array job "))
        subprocess.run(["scancel", submitted[-1]], check=False)
        times["meticulous"].append(done.wall)

        if repeat < HYDRA_REPEATS:
            times["hydra"].append(hydra_until_queued(repo, submitted, repeat))
            subprocess.run(["scancel", submitted[-1]], check=False)

    import_time = run_process(
        [PYTHON, "-c", "import meticulous_slurm.cli"], cwd=repo
    ).wall
    # The cost of the reservations alone, in process: one batch, called as the
    # sweep calls it (launch.py: sync=False, spec §5).
    from meticulous import reserve_experiments

    start = time.perf_counter()
    reserve_experiments(
        str(repo / "experiments-reserve"),
        [{"lr": index} for index in range(POINTS)],
        launcher={"name": "bench"},
        note="b",
        sync=False,
    )
    times["import"] = [import_time]
    times["reserve"] = [time.perf_counter() - start]
    return times


def read_times(path: Path) -> list[float]:
    return [float(line) for line in path.read_text().split()] if path.exists() else []


def overhead(repo: Path, submitted: list[str]) -> dict[str, dict[str, float]]:
    """Time the command inside each job: scheduling latency (and sbatch
    --wait's slow polling) would otherwise swamp a difference of milliseconds."""
    results = repo.parent / "results"
    results.mkdir()
    environment = dict(os.environ, BENCH_RESULTS=str(results))
    bare_command = f"cd {repo} && {PYTHON} timed.py bare {PYTHON} bare.py --lr 0.1"
    _, done = timed(
        [
            "sbatch",
            "--wait",
            f"--array=0-{SMALL_ARRAY - 1}",
            "--cpus-per-task=1",
            "-o",
            "/dev/null",
            "--wrap",
            bare_command,
        ],
        env=environment,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bare array failed: {done.stderr}")
    submitted.append(job_id_from(done.stdout, "Submitted batch job "))

    _, done = timed(
        [
            PYTHON,
            "-m",
            "meticulous_slurm.cli",
            "sweep",
            "small.yaml",
            "--wait",
            "--experiments-directory",
            str(repo / "experiments-small"),
        ],
        cwd=repo,
        env=environment,
    )
    if done.returncode != 0:
        raise RuntimeError(f"recorded sweep failed: {done.stdout}{done.stderr}")
    submitted.append(job_id_from(done.stdout, "array job "))
    return {
        "bare": {"command": statistics.median(read_times(results / "bare"))},
        "recorded": {"command": statistics.median(read_times(results / "recorded"))},
    }


def main() -> int:
    title = "SLURM submission"
    problem = cluster_problem()
    if problem:
        detail = (
            f"Skipped: no SLURM cluster ({problem}). Start one with "
            "`.ci/slurm/setup.sh`."
        )
        missed = Target("the SLURM benchmark ran", "skipped", "", "", False)
        emit(Result(title, detail, [missed]))
        return 0
    submitted: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as scratch:
        try:
            repo = make_repo(Path(scratch))
            rows = submission(repo, submitted)
            costs = overhead(repo, submitted)
        finally:
            if submitted:
                subprocess.run(
                    ["scancel", *submitted], check=False, capture_output=True
                )
    median = {name: statistics.median(values) for name, values in rows.items()}
    reference = median["map_array"]
    intro = (
        f"Submitting {POINTS:,} points, each way {REPEATS} times round-robin in this "
        f"run (median; Hydra {HYDRA_REPEATS} time). All arrays are submitted held "
        "and cancelled at once. `meticulous-slurm sweep` returns once its array is "
        "submitted, having checked the cluster (what the request names: here "
        "`scontrol show config` for MaxArraySize), frozen the commit, reserved one "
        "experiment folder per point (in a child process, while submitit pickles one "
        "task per point with the ids it expects, checked before `sbatch`); "
        f"submitit's `map_array` pickles the same {POINTS:,} "
        "tasks without the rest. Hydra's launcher is timed until its array is in the "
        "queue." + (" **Smoke run: small sizes.**" if QUICK else "")
    )
    labels = [
        ("floor", f"`sbatch --array=0-{POINTS - 1} --wrap true` (floor)"),
        (
            "map_array",
            f"submitit `SlurmExecutor.map_array` of {POINTS:,} trivial functions",
        ),
        ("meticulous", f"`meticulous-slurm sweep` of a {POINTS:,}-point grid"),
        (
            "hydra",
            f"Hydra `--multirun` with `hydra-submitit-launcher`, {POINTS:,} values",
        ),
    ]
    table = [
        (
            label,
            fmt_time(median[name]),
            fmt_ratio(median[name] / reference),
            fmt_ratio(median[name] / median["floor"]),
        )
        for name, label in labels
    ]
    table += [
        (
            "  of which: Python start + `import meticulous_slurm.cli`",
            fmt_time(median["import"]),
            "",
            "",
        ),
        (
            (
                f"  of which: `reserve_experiments(sync=False)` of {POINTS:,} points"
                " (in process, as the sweep calls it)"
            ),
            fmt_time(median["reserve"]),
            "",
            "",
        ),
    ]
    ratio = median["meticulous"] / reference
    target = Target(
        f"`meticulous-slurm sweep` of {POINTS:,} points within 1.5x of submitit's "
        "`map_array`",
        fmt_time(median["meticulous"]),
        f"`map_array` ({fmt_time(reference)})",
        fmt_ratio(ratio),
        ratio <= 1.5,
    )
    bare, recorded = costs["bare"]["command"], costs["recorded"]["command"]
    detail = "\n\n".join(
        [
            intro,
            md_table(["submission", "wall time", "vs map_array", "vs floor"], table),
            (
                f"Target within 1.5x of submitit's `map_array`: {target.marked} "
                f"({target.ratio})."
            ),
            (
                f"Recorder overhead per job: {SMALL_ARRAY} one-CPU array tasks running a "
                "trivial argparse script, bare (`sbatch --wrap`) and recorded "
                "(`meticulous-slurm sweep --wait`, the script using "
                "`Experiment.from_parser`); the command's own wall time is measured "
                "inside each job (median)."
            ),
            (
                "| per job | bare | recorded | overhead |\n"
                "| --- | ---: | ---: | ---: |\n"
                f"| command inside the job | {bare:.3f} s | {recorded:.3f} s "
                f"| +{recorded - bare:.3f} s ({recorded / bare:.1f}x) |"
            ),
        ]
    )
    emit(Result(title, detail, [target]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
