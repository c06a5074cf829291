"""``meticulous-slurm``: sweep, status, resume, cancel.

Exit codes (also in the README):

* 0 -- done, and every point succeeded (``sweep``/``resume`` without
  ``--wait``: submitted);
* 1 -- a point failed or was cancelled (``status``, ``--wait``), or the
  scheduler refused the submission;
* 2 -- bad input (the sweep file, the repository, the cluster's limits, an
  unknown sweep): nothing was reserved or submitted;
* 3 -- ``status`` only: nothing failed so far, but points are still queued or
  running;
* 130 -- ``--wait`` interrupted (the jobs go on).

A reader of the output that goes away (``| head``) is not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .errors import InterruptedBeforeSubmission, SubmissionError, SweepError

if TYPE_CHECKING:
    from .launch import Plan
    from .model import Sweep
    from .record import SweepRecord

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNFINISHED = 3


class _VersionAction(argparse.Action):
    """argparse's ``version`` action, looking the version up only when asked:
    ``importlib.metadata`` costs every other command 10 ms."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("meticulous-slurm")
    except PackageNotFoundError:  # pragma: no cover - running from a checkout
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meticulous-slurm",
        description="Launch a grid of recorded experiments as SLURM job arrays, or locally.",
        epilog="exit codes: 0 all succeeded, 1 a point failed or was cancelled or the"
        " scheduler refused, 2 bad input, 3 (status) still running, 130 interrupted",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show the version and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sweep = commands.add_parser(
        "sweep",
        help="submit every point of a sweep file, or of a command after --",
        description="Submit a sweep file's points, or a command's: "
        "meticulous-slurm sweep -- python train.py --lr 0.1,0.01 --batch-size 32,64",
    )
    sweep.add_argument("file", type=Path, nargs="?", help="the sweep file (YAML 1.2)")
    sweep.add_argument(
        "--wait", action="store_true", help="show progress until all points end"
    )
    sweep.add_argument(
        "--dry-run",
        action="store_true",
        help="check everything, print the points, paths and sbatch script; "
        "reserve and submit nothing",
    )
    sweep.add_argument(
        "--name", help="the sweep's name (default: the file's 'name', else stem-time)"
    )
    sweep.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value of the file (dotted keys: grid.lr=[0.1,0.2], executor=local)",
    )
    sweep.add_argument(
        "--slurm",
        action="append",
        default=[],
        metavar="NAME=VALUE,...",
        help="slurm parameters, e.g. partition=gpu,timeout_min=60",
    )
    _experiments_option(sweep, "overrides the file's experiments_directory")

    status = commands.add_parser("status", help="count the points of a sweep by state")
    status.add_argument("sweep", help="a sweep's name, its folder, or its sweep.json")
    status.add_argument("--all", action="store_true", help="list succeeded points too")
    status.add_argument(
        "--json", action="store_true", help="one JSON object: points and counts"
    )
    _experiments_option(status, "where to look the sweep up (default: ./experiments)")

    resume = commands.add_parser(
        "resume", help="resubmit the points that did not succeed"
    )
    resume.add_argument("sweep", help="a sweep's name, its folder, or its sweep.json")
    resume.add_argument(
        "--wait", action="store_true", help="show progress until all points end"
    )
    resume.add_argument(
        "--code",
        choices=("frozen", "head"),
        default="frozen",
        help="run the sweep's frozen commit (default) or the repository's HEAD now",
    )
    _experiments_option(resume, "where to look the sweep up (default: ./experiments)")

    cancel = commands.add_parser("cancel", help="cancel the queued and running points")
    cancel.add_argument("sweep", help="a sweep's name, its folder, or its sweep.json")
    _experiments_option(cancel, "where to look the sweep up (default: ./experiments)")
    return parser


def _experiments_option(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument("--experiments-directory", type=Path, help=help_text)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] | None = None
    if "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1 :]
    arguments = build_parser().parse_args(argv)
    arguments.command_line = command
    handler = {
        "sweep": command_sweep,
        "status": command_status,
        "resume": command_resume,
        "cancel": command_cancel,
    }[arguments.command]
    try:
        return handler(arguments, sys.stdout)
    except SweepError as error:
        _error(f"meticulous-slurm: error: {error}")
        return EXIT_BAD_INPUT
    except SubmissionError as error:
        _error(f"meticulous-slurm: {error}")
        return EXIT_FAILED
    except BrokenPipeError:
        return _reader_has_gone()
    except InterruptedBeforeSubmission as error:
        _error(f"meticulous-slurm: {error}")
        return 130
    except KeyboardInterrupt:
        _error("meticulous-slurm: stopped waiting; the jobs go on")
        return 130


def _error(message: str) -> None:
    try:
        print(message, file=sys.stderr)
    except BrokenPipeError:
        pass


def _reader_has_gone() -> int:
    """The reader of our output (head, less) has gone: not an error. Later
    writes (and the interpreter's final flush) go to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_OK


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# ---------------------------------------------------------------- sweep
def _load_sweep(arguments: argparse.Namespace) -> Sweep:
    from .yamlcheck import load_sweep_file

    overrides = list(arguments.overrides)
    for text in arguments.slurm:
        for item in text.split(","):
            if item:
                overrides.append(f"slurm.{item}")
    if arguments.command_line is not None:
        if arguments.file is not None:
            raise SweepError("give a sweep file or a command after '--', not both")
        from .cmdline import command_line_sweep

        sweep = command_line_sweep(arguments.command_line, overrides)
    elif arguments.file is None:
        raise SweepError(
            "give a sweep file, or a command after '--' "
            "(meticulous-slurm sweep -- python train.py --lr 0.1,0.01)"
        )
    else:
        sweep = load_sweep_file(arguments.file, overrides)
    return sweep.with_directories(arguments.experiments_directory)


def command_sweep(arguments: argparse.Namespace, out: TextIO) -> int:
    from .launch import plan_sweep, submit_sweep

    sweep = _load_sweep(arguments)
    plan = plan_sweep(sweep, arguments.name, dry_run=arguments.dry_run)
    for warning in plan.warnings:
        _error(f"meticulous-slurm: warning: {warning}")
    if arguments.dry_run:
        _print_plan(plan, out)
        return EXIT_OK
    folder, record = submit_sweep(plan)
    _print_submission(record, folder, list(range(len(record.points))), out)
    if arguments.wait:
        return _wait(folder, record, out)
    return EXIT_OK


def _print_plan(plan: Plan, out: TextIO) -> None:
    sweep, repo = plan.sweep, plan.repo
    out.write("dry run: nothing reserved, nothing submitted\n")
    out.write(
        f"sweep {plan.name}: {_plural(len(plan.points), 'point')}, executor "
        f"{plan.backend.name}, commit {repo.sha[:12]}{' (dirty)' if repo.dirty else ''}\n"
    )
    out.write(f"sweep file: {sweep.path or '(the command line)'}\n")
    out.write(f"project directory: {sweep.project_directory}\n")
    out.write(f"experiments directory: {plan.experiments_directory}\n")
    code = plan.folder / "code" / repo.project_relative
    out.write(f"each job runs in a checkout of the commit: {code}\n\n")
    missing = _missing_script(sweep.command, sweep.project_directory)
    if missing:
        out.write(f"warning: {missing}\n\n")
    out.writelines(
        f"point {index}: {shlex.join(plan.argv(index))}\n"
        for index in range(len(plan.points))
    )
    out.write("\n" + plan.describe_backend())


def _missing_script(command: list[str], project: Path) -> str | None:
    """``python train.py`` whose train.py is not in the project: every job would fail."""
    for token in command[1:]:
        if token.startswith("-"):
            continue
        if token.endswith(".py") and not (project / token).exists():
            return f"{token} is not in the project directory {project}"
        break
    return None


def _print_submission(
    record: SweepRecord, folder: Path, indices: list[int], out: TextIO
) -> None:
    from .backend import backend_named

    summary = backend_named(record.executor).summary(record)
    out.write(f"sweep {record.name}: {_plural(len(indices), 'point')} {summary}\n")
    out.write(f"record: {folder / 'sweep.json'}\n")
    for index in indices:
        point = record.points[index]
        job_id = point.latest_job_id or "local"
        out.write(
            f"  point {index}  experiment {point.experiment_id}  job {job_id}  "
            f"{shlex.join(point.argv[len(record.command) :])}\n"
        )
    experiments = shlex.quote(record.experiments_directory)
    out.write(
        f"follow it: meticulous-slurm status {record.name} --experiments-directory {experiments}\n"
    )
    out.flush()


def _wait(folder: Path, record: SweepRecord, out: TextIO) -> int:
    from .backend import backend_named
    from .tracking import wait_for_sweep

    backend = backend_named(record.executor)
    poll_s = float(os.environ.get("METICULOUS_SLURM_POLL_S", backend.poll_s))
    counts = wait_for_sweep(folder, record, out, poll_s=poll_s)
    backend.settle(record, folder)
    if counts["failed"] or counts["cancelled"]:
        out.write(
            f"sweep {record.name}: {counts['failed']} failed, {counts['cancelled']} cancelled;"
            f" rerun them with: meticulous-slurm resume {record.name} --experiments-directory "
            f"{shlex.quote(record.experiments_directory)}\n"
        )
        return EXIT_FAILED
    out.write(
        f"sweep {record.name}: all {_plural(counts['succeeded'], 'point')} succeeded\n"
    )
    return EXIT_OK


# ---------------------------------------------------------------- status
def _load(arguments: argparse.Namespace) -> tuple[Path, SweepRecord]:
    from .record import locate_sweep, read_record

    folder = locate_sweep(arguments.sweep, arguments.experiments_directory)
    return folder, read_record(folder)


def _status_code(counts: dict[str, int]) -> int:
    if counts["failed"] or counts["cancelled"]:
        return EXIT_FAILED
    if counts["queued"] or counts["running"]:
        return EXIT_UNFINISHED
    return EXIT_OK


def command_status(arguments: argparse.Namespace, out: TextIO) -> int:
    from .tracking import count, describe_ending, format_counts, sweep_status

    folder, record = _load(arguments)
    statuses = sweep_status(folder, record)
    counts = count(statuses)
    if arguments.json:
        json.dump(
            {
                "sweep": record.name,
                "executor": record.executor,
                "counts": counts,
                "points": [status.as_json() for status in statuses],
            },
            out,
            indent=2,
        )
        out.write("\n")
        return _status_code(counts)
    out.write(
        f"sweep {record.name} ({record.executor}, {_plural(len(statuses), 'point')})\n"
    )
    shown = [s for s in statuses if arguments.all or s.category != "succeeded"]
    if shown:
        out.write(
            f"{'point':>5}  {'experiment':>10}  {'job':<14} {'state':<10} status\n"
        )
    for status in shown:
        out.write(
            f"{status.index:>5}  {status.experiment_id:>10}  {status.job_id or '-':<14} "
            f"{status.category:<10} {_safe(describe_ending(status))}\n"
        )
        if status.log and status.category == "failed":
            out.write(f"{'':>5}  {'':>10}  log: {status.log}\n")
    out.write(format_counts(counts) + "\n")
    return _status_code(counts)


def _safe(text: str) -> str:
    """A message from a folder, without the control characters it may hold."""
    return "".join(c if c.isprintable() else "?" for c in text)


# ---------------------------------------------------------------- resume
def command_resume(arguments: argparse.Namespace, out: TextIO) -> int:
    from .control import resume_sweep

    folder, record = _load(arguments)
    resubmission = resume_sweep(folder, record, code=arguments.code)
    if resubmission.head_sha != record.githead_sha and arguments.code == "frozen":
        out.write(
            f"note: HEAD has moved since the sweep was submitted "
            f"({record.githead_sha[:12]} -> {resubmission.head_sha[:12]}); the points "
            "rerun the sweep's frozen commit (--code head runs HEAD instead)\n"
        )
    if not resubmission.indices:
        out.write(f"sweep {record.name}: no failed or cancelled point to resubmit\n")
        return EXIT_OK
    if arguments.code == "head":
        out.write(f"the points run commit {resubmission.code_sha[:12]} (HEAD)\n")
    _print_submission(record, folder, resubmission.indices, out)
    if arguments.wait:
        return _wait(folder, record, out)
    return EXIT_OK


# ---------------------------------------------------------------- cancel
def command_cancel(arguments: argparse.Namespace, out: TextIO) -> int:
    from .control import cancel_sweep

    folder, record = _load(arguments)
    cancelled = cancel_sweep(folder, record)
    out.write(f"sweep {record.name}: cancelled {_plural(len(cancelled), 'point')}\n")
    out.writelines(
        f"  point {status.index}  experiment {status.experiment_id}\n"
        for status in cancelled
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
