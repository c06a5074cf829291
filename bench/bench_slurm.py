"""Benchmark: submitting sweeps with meticulous-slurm, and the recorder inside SLURM jobs.

Prints one markdown section (``## SLURM submission``) on stdout; bench/run.py
collects it into bench/RESULTS.md. Needs a running SLURM cluster (see
.ci/slurm/setup.sh); without one the section says why it was skipped.

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
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from common import child_env, fmt_ratio, fmt_time, md_table, run_process

POINTS = 1000
REPEATS = 3
# Hydra's launcher takes minutes for 1,000 jobs (it composes a config per job):
# one run of it, in the same round as the others' first.
HYDRA_REPEATS = 1
SMALL_ARRAY = 4

RECORDED_SCRIPT = textwrap.dedent(
    """\
    import argparse
    from meticulous import Experiment
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    print("lr", parser.parse_args().lr)
    """
)
BARE_SCRIPT = textwrap.dedent(
    """\
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    print("lr", parser.parse_args().lr)
    """
)
MAP_ARRAY_SCRIPT = textwrap.dedent(
    """\
    # map_array.py FOLDER N: submitit's own map_array of N trivial functions, held
    import sys
    import submitit

    def trivial(x):
        return x

    executor = submitit.SlurmExecutor(folder=sys.argv[1])
    executor.update_parameters(cpus_per_task=1, additional_parameters={"hold": True})
    jobs = executor.map_array(trivial, range(int(sys.argv[2])))
    print("array job", jobs[0].job_id.split("_")[0])
    """
)
HYDRA_APP = textwrap.dedent(
    """\
    import hydra

    @hydra.main(version_base=None)
    def main(cfg):
        return cfg.lr

    if __name__ == "__main__":
        main()
    """
)
TIMED_WRAPPER = textwrap.dedent(
    """\
    # timed.py TAG COMMAND...: run COMMAND, append its wall time to $BENCH_RESULTS/TAG
    import os, subprocess, sys, time
    start = time.perf_counter()
    code = subprocess.call(sys.argv[2:])
    elapsed = time.perf_counter() - start
    with open(os.path.join(os.environ["BENCH_RESULTS"], sys.argv[1]), "a") as f:
        f.write(f"{elapsed}\\n")
    sys.exit(code)
    """
)


def cluster_problem() -> str | None:
    for tool in ("sbatch", "sinfo", "scancel", "sacct"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not on PATH"
    try:
        probe = subprocess.run(
            ["sinfo", "-h", "-o", "%T"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "sinfo did not answer"
    if probe.returncode != 0 or not probe.stdout.strip():
        return f"sinfo failed: {probe.stderr.strip() or 'no partition'}"
    return None


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@e", *args],
        check=True,
        capture_output=True,
    )


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("experiments*/\n")
    (repo / "train.py").write_text(RECORDED_SCRIPT)
    (repo / "bare.py").write_text(BARE_SCRIPT)
    (repo / "timed.py").write_text(TIMED_WRAPPER)
    (repo / "map_array.py").write_text(MAP_ARRAY_SCRIPT)
    (repo / "hydra_app.py").write_text(HYDRA_APP)
    values = ", ".join(str(i) for i in range(POINTS))
    (repo / "big.yaml").write_text(
        f"command: {sys.executable} train.py\nexecutor: slurm\n"
        "slurm:\n  cpus_per_task: 1\n  additional_parameters: {hold: true}\n"
        f"grid:\n  lr: [{values}]\n"
    )
    small = ", ".join(str(0.1 * (i + 1)) for i in range(SMALL_ARRAY))
    (repo / "small.yaml").write_text(
        f"command: {sys.executable} timed.py recorded {sys.executable} train.py\n"
        "executor: slurm\nname: overhead\nslurm:\n  cpus_per_task: 1\n"
        f"grid:\n  lr: [{small}]\n"
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")
    return repo


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
        sys.executable,
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
                sys.executable,
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
                sys.executable,
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
        [sys.executable, "-c", "import meticulous_slurm.cli"], cwd=repo
    ).wall
    # The cost of the reservations alone, in process: one batch, as the sweep
    # reserves them (spec §5).
    from meticulous import reserve_experiments

    start = time.perf_counter()
    reserve_experiments(
        str(repo / "experiments-reserve"),
        [{"lr": index} for index in range(POINTS)],
        launcher={"name": "bench"},
        note="b",
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
    bare_command = (
        f"cd {repo} && {sys.executable} timed.py bare {sys.executable} bare.py --lr 0.1"
    )
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
            sys.executable,
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
    print("## SLURM submission\n")
    problem = cluster_problem()
    if problem:
        print(
            f"Skipped: no SLURM cluster ({problem}). Start one with `.ci/slurm/setup.sh`.\n"
        )
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
    print(
        f"Submitting {POINTS:,} points, each way {REPEATS} times round-robin in this "
        f"run (median; Hydra {HYDRA_REPEATS} time). All arrays are submitted held and cancelled at once. "
        "`meticulous-slurm sweep` returns once its array is submitted, having "
        "checked the cluster (sinfo, scontrol, sacctmgr), frozen the commit, "
        "reserved one experiment folder per point and pickled one submitit task "
        "per point; submitit's `map_array` pickles the same 1,000 tasks without "
        "the rest. Hydra's launcher is timed until its array is in the queue.\n"
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
            f"  of which: `reserve_experiments` of {POINTS:,} points (in process)",
            fmt_time(median["reserve"]),
            "",
            "",
        ),
    ]
    print(md_table(["submission", "wall time", "vs map_array", "vs floor"], table))
    ratio = median["meticulous"] / reference
    verdict = "met" if ratio <= 1.5 else "missed"
    print(
        f"\nTarget within 1.5x of submitit's `map_array`: **{verdict}** "
        f"({ratio:.2f}x).\n"
    )
    bare, recorded = costs["bare"], costs["recorded"]
    print(
        f"Recorder overhead per job: {SMALL_ARRAY} one-CPU array tasks running a trivial "
        "argparse script, bare (`sbatch --wrap`) and recorded (`meticulous-slurm sweep "
        "--wait`, the script using `Experiment.from_parser`); the command's own wall time "
        "is measured inside each job (median).\n"
    )
    print("| per job | bare | recorded | overhead |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| command inside the job | {bare['command']:.3f} s | {recorded['command']:.3f} s "
        f"| +{recorded['command'] - bare['command']:.3f} s "
        f"({recorded['command'] / bare['command']:.1f}x) |"
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
