"""``meticulous-slurm``: sweep, status, resume, cancel.

Bad input (the sweep file, the repository, an unknown sweep) prints the
problem on stderr and exits 2 before anything is reserved or submitted; a
scheduler that refuses the submission exits 1; ``--wait`` exits 1 when a point
did not succeed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TextIO

from .errors import SubmissionError, SweepError

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meticulous-slurm",
        description="Launch a grid of recorded experiments as SLURM job arrays, or locally.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sweep = commands.add_parser("sweep", help="submit every point of a sweep file")
    sweep.add_argument("file", type=Path, help="the sweep file (YAML)")
    sweep.add_argument(
        "--wait", action="store_true", help="show progress until all points end"
    )
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="print the points and the sbatch script; reserve and submit nothing",
    )
    sweep.add_argument(
        "--name", help="the sweep's name (default: the file's 'name', else stem-time)"
    )
    _experiments_option(sweep, "overrides the file's experiments_directory")

    status = commands.add_parser("status", help="count the points of a sweep by state")
    status.add_argument("sweep", help="a sweep's name, its folder, or its sweep.json")
    status.add_argument("--all", action="store_true", help="list succeeded points too")
    _experiments_option(status, "where to look the sweep up (default: ./experiments)")

    resume = commands.add_parser(
        "resume", help="resubmit the points that did not succeed"
    )
    resume.add_argument("sweep", help="a sweep's name, its folder, or its sweep.json")
    resume.add_argument(
        "--wait", action="store_true", help="show progress until all points end"
    )
    _experiments_option(resume, "where to look the sweep up (default: ./experiments)")

    cancel = commands.add_parser("cancel", help="cancel the queued and running points")
    cancel.add_argument("sweep", help="a sweep's name, its folder, or its sweep.json")
    _experiments_option(cancel, "where to look the sweep up (default: ./experiments)")
    return parser


def _experiments_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--experiments-directory", type=Path, help=help_text)


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    handler = {
        "sweep": command_sweep,
        "status": command_status,
        "resume": command_resume,
        "cancel": command_cancel,
    }[arguments.command]
    try:
        return handler(arguments, sys.stdout)
    except SweepError as error:
        print(f"meticulous-slurm: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SubmissionError as error:
        print(f"meticulous-slurm: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("meticulous-slurm: stopped waiting; the jobs go on", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- sweep
def command_sweep(arguments: argparse.Namespace, out: TextIO) -> int:
    from .launch import plan_sweep, sbatch_script, submit_sweep
    from .records import default_sweep_name, sweeps_directory
    from .sweepfile import load_sweep_file

    sweep = load_sweep_file(arguments.file)
    plan = plan_sweep(sweep, arguments.experiments_directory)
    if arguments.dry_run:
        from .snapshot import inspect_repo, refuse_if_dirty

        repo = inspect_repo(sweep.project_directory, exclude=plan.experiments_directory)
        refuse_if_dirty(repo, sweep.allow_dirty)
        name = arguments.name or sweep.name or default_sweep_name(sweep.path)
        folder = sweeps_directory(plan.experiments_directory) / name
        out.write("dry run: nothing reserved, nothing submitted\n")
        out.write(
            f"sweep {name}: {len(plan.points)} points, executor {plan.executor}, "
            f"commit {repo.sha[:12]}{' (dirty)' if repo.dirty else ''}\n"
        )
        out.write(f"experiments directory: {plan.experiments_directory}\n")
        out.write(f"each job runs in a checkout of the commit at {folder / 'code'}\n\n")
        for index, point in enumerate(plan.points):
            argv = plan.argv(index, allow_dirty_flag=repo.dirty and sweep.allow_dirty)
            out.write(f"point {index}: {shlex.join(argv)}\n")
        if plan.executor == "slurm":
            out.write(
                f"\n# sbatch script for the job array of {len(plan.points)} tasks\n"
            )
            out.write(sbatch_script(plan, folder / "submitit", name))
            out.write("\n")
        else:
            out.write(
                f"\nlocal executor: at most {plan.max_parallel} points at a time through"
                " submitit's LocalExecutor (no sbatch script)\n"
            )
        return 0
    folder, record = submit_sweep(plan, arguments.name)
    _print_submission(record, folder, list(range(len(record["points"]))), out)
    if arguments.wait:
        return _wait(folder, record, out)
    return 0


def _print_submission(
    record: dict, folder: Path, indices: list[int], out: TextIO
) -> None:
    where = "SLURM" if record["executor"] == "slurm" else "this machine"
    slurm_job = record["submissions"][-1].get("slurm-job-id")
    job_text = ""
    if slurm_job:
        job_text = f", {'array job' if len(indices) > 1 else 'job'} {slurm_job}"
    points = f"{len(indices)} point{'s' if len(indices) != 1 else ''}"
    out.write(f"sweep {record['name']}: {points} submitted to {where}{job_text}\n")
    out.write(f"record: {folder / 'sweep.json'}\n")
    for index in indices:
        point = record["points"][index]
        job_id = point["job-ids"][-1] if point["job-ids"] else "local"
        out.write(
            f"  point {index}  experiment {point['experiment-id']}  job {job_id}  "
            f"{shlex.join(point['argv'][len(record['command']) :])}\n"
        )
    if record["executor"] == "local":
        out.write(
            f"  (local jobs start as slots free up, {record['max-parallel']} at a time)\n"
        )
    experiments = shlex.quote(record["experiments-directory"])
    out.write(
        f"follow it: meticulous-slurm status {record['name']} --experiments-directory {experiments}\n"
    )
    out.flush()


def _wait(folder: Path, record: dict, out: TextIO) -> int:
    from .tracking import wait_for_sweep

    counts = wait_for_sweep(
        folder, record, out, poll_s=1.0 if record["executor"] == "local" else 2.0
    )
    if counts["failed"] or counts["cancelled"]:
        out.write(
            f"sweep {record['name']}: {counts['failed']} failed, {counts['cancelled']} cancelled;"
            f" rerun them with: meticulous-slurm resume {record['name']} --experiments-directory "
            f"{shlex.quote(record['experiments-directory'])}\n"
        )
        return EXIT_FAILED
    out.write(f"sweep {record['name']}: all {counts['succeeded']} points succeeded\n")
    return 0


# ---------------------------------------------------------------- status
def _load(arguments: argparse.Namespace) -> tuple[Path, dict]:
    from .records import locate_sweep, read_record

    folder = locate_sweep(arguments.sweep, arguments.experiments_directory)
    return folder, read_record(folder)


def command_status(arguments: argparse.Namespace, out: TextIO) -> int:
    from .tracking import count, format_counts, sweep_status

    folder, record = _load(arguments)
    statuses = sweep_status(folder, record)
    out.write(
        f"sweep {record['name']} ({record['executor']}, {len(statuses)} points)\n"
    )
    shown = [s for s in statuses if arguments.all or s.category != "succeeded"]
    if shown:
        out.write(
            f"{'point':>5}  {'experiment':>10}  {'job':<14} {'state':<10} {'scheduler':<10} status\n"
        )
    for status in shown:
        last = status.message.strip().splitlines()[-1] if status.message.strip() else ""
        out.write(
            f"{status.index:>5}  {status.experiment_id:>10}  {status.job_id or '-':<14} "
            f"{status.category:<10} {status.scheduler_state or '-':<10} {status.word}"
            f"{': ' + last[:120] if last else ''}\n"
        )
    out.write(format_counts(count(statuses)) + "\n")
    return 0


# ---------------------------------------------------------------- resume
def command_resume(arguments: argparse.Namespace, out: TextIO) -> int:
    from .control import resume_sweep

    folder, record = _load(arguments)
    indices, _ = resume_sweep(folder, record)
    if not indices:
        out.write(f"sweep {record['name']}: no failed or cancelled point to resubmit\n")
        return 0
    _print_submission(record, folder, indices, out)
    if arguments.wait:
        return _wait(folder, record, out)
    return 0


# ---------------------------------------------------------------- cancel
def command_cancel(arguments: argparse.Namespace, out: TextIO) -> int:
    from .control import cancel_sweep

    folder, record = _load(arguments)
    cancelled = cancel_sweep(folder, record)
    out.write(f"sweep {record['name']}: cancelled {len(cancelled)} points\n")
    out.writelines(
        f"  point {status.index}  experiment {status.experiment_id}\n"
        for status in cancelled
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
