"""The ``meticulous`` command: list, filter, sort, group and export experiments.

Shapes::

    meticulous [DIR] [options]          the table (DIR defaults to ./experiments)
    meticulous show [DIR] ID            one experiment whole
    meticulous diff [DIR] ID1 ID2       what differs between two experiments

``show`` and ``diff`` are recognised by the first word only, so a listing of
a folder literally called ``show`` is ``meticulous ./show``.

Exit codes: 0 done, 2 bad input (missing directory, unknown id or column,
bad filter, unknown export suffix), 1 a failure while writing the output.

This module imports no pandas: a listing answered by the listing cache
(:mod:`.listing_cache`) never needs it; :mod:`.listing` does the rest.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import TYPE_CHECKING, TextIO

from . import __version__, listing_cache
from .errors import OutputError, UsageError
from .ids import is_integer_id
from .scan import check_directory, list_folders, locate
from .warn import MeticulousReadWarning

if TYPE_CHECKING:
    from .experiment import ExperimentReader

DEFAULT_DIRECTORY = "experiments"
ARGS_MODES = ("none", "non-default", "all")
__all__ = ["OutputError", "UsageError", "main"]


# -- argument parsing -----------------------------------------------------------------


def _list_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meticulous",
        description=(
            "List the experiments in DIR as a table. "
            "Also: 'meticulous show [DIR] ID', 'meticulous diff [DIR] ID1 ID2'."
        ),
        epilog=(
            "Columns are named status, status_message, start, end, duration, sha,"
            " dirty, description, host, args.<name>, summary.<name>,"
            " metadata.<key>. Example: meticulous experiments"
            " --filter 'summary.loss < 0.3 and args.lr == 0.1' --sort summary.loss"
        ),
    )
    parser.add_argument(
        "directory",
        nargs="?",
        default=DEFAULT_DIRECTORY,
        metavar="DIR",
        help="the experiments folder (default: %(default)s)",
    )
    parser.add_argument(
        "--filter",
        metavar="EXPR",
        help="keep rows where EXPR holds (see the README: comparisons, and/or/not, in)",
    )
    parser.add_argument(
        "--sort", metavar="COLS", help="sort by these columns (comma list)"
    )
    parser.add_argument("--reverse", action="store_true", help="reverse the order")
    parser.add_argument(
        "--columns",
        metavar="COLS",
        help="show these columns (comma list; wildcards like 'summary.*'; 'all')",
    )
    parser.add_argument(
        "--args",
        choices=ARGS_MODES,
        default="non-default",
        help=(
            "which args.* columns to show: none, non-default (default: args that"
            " differ from their default in any listed experiment) or all"
        ),
    )
    parser.add_argument(
        "--groupby",
        metavar="COLS",
        help="one row per group: count, and mean, std, count of each numeric column",
    )
    parser.add_argument("--tail", type=int, metavar="N", help="only the last N rows")
    parser.add_argument(
        "--export",
        metavar="FILE",
        help="write the table to FILE (.csv, .json, .md, .tex, .parquet) instead",
    )
    parser.add_argument("--json", action="store_true", help="print JSON records")
    parser.add_argument(
        "--width",
        type=int,
        metavar="N",
        help="fit the table into N characters (0: no limit; default: the terminal's)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the status words (auto: only on a terminal)",
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="read every folder, ignore the cache"
    )
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def _show_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meticulous show", description="Show one experiment whole."
    )
    parser.add_argument("targets", nargs="+", metavar="[DIR] ID")
    parser.add_argument(
        "--lines",
        type=int,
        default=20,
        metavar="N",
        help="last N lines of stdout and stderr (default: %(default)s)",
    )
    return parser


def _diff_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meticulous diff",
        description="Show the status, commit, args and summary values that differ.",
    )
    parser.add_argument("targets", nargs="+", metavar="[DIR] ID1 ID2")
    parser.add_argument("--json", action="store_true", help="print JSON records")
    return parser


# -- output -----------------------------------------------------------------------------


def _width(option: int | None, stream: TextIO) -> int:
    """0 means no limit: output to a pipe or file is never cut unless asked."""
    if option is not None:
        return max(option, 0)
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        pass
    return 0


def _colour(option: str, stream: TextIO) -> bool:
    if option != "auto":
        return option == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


# -- commands -------------------------------------------------------------------------------


def _dir_and_ids(targets: list[str], count: int, command: str) -> tuple[str, list[str]]:
    if len(targets) == count:
        return DEFAULT_DIRECTORY, targets
    if len(targets) == count + 1:
        return targets[0], targets[1:]
    usage = "[DIR] ID" if count == 1 else "[DIR] ID1 ID2"
    raise UsageError(f"usage: meticulous {command} {usage}")


def _reader(directory: str, experiment_id: str) -> ExperimentReader:
    check_directory_or_usage(directory)
    folder = locate(directory, experiment_id)
    if folder is None:
        raise UsageError(f"no experiment {experiment_id!r} in {directory!r}")
    from .experiment import ExperimentReader

    reader = ExperimentReader(folder, experiment_id=experiment_id)
    markers = ("STATUS", "metadata.json", "args.json")
    if not is_integer_id(os.path.basename(folder)) and not any(
        os.path.lexists(os.path.join(folder, name)) for name in markers
    ):
        raise UsageError(
            f"{folder!r} is not an experiment (no STATUS, metadata.json or args.json)"
        )
    return reader


def check_directory_or_usage(directory: str) -> None:
    try:
        check_directory(directory)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise UsageError(str(error)) from None


def show_command(argv: Sequence[str]) -> int:
    from .detail import show as show_text

    options = _show_parser().parse_args(argv)
    directory, (experiment_id,) = _dir_and_ids(options.targets, 1, "show")
    sys.stdout.write(show_text(_reader(directory, experiment_id), lines=options.lines))
    return 0


def diff_command(argv: Sequence[str]) -> int:
    from .detail import diff as diff_table
    from .export import to_json
    from .render import render
    from .table import build_table

    options = _diff_parser().parse_args(argv)
    directory, (first, second) = _dir_and_ids(options.targets, 2, "diff")
    readers = [_reader(directory, first), _reader(directory, second)]
    frame = build_table(
        [first, second],
        [reader._record for reader in readers],
        [reader._derived_status() for reader in readers],
    )
    table = diff_table(frame, first, second)
    if options.json:
        sys.stdout.write(to_json(table))
    else:
        sys.stdout.write(
            render(table, width=_width(None, sys.stdout), max_cells={"sha": 40}).text
        )
    return 0


COMMANDS = {"show": show_command, "diff": diff_command}


def _report_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        if issubclass(warning.category, MeticulousReadWarning):
            print(f"meticulous: warning: {warning.message}", file=sys.stderr)


def _guarded(run: Callable[[], int]) -> int:
    """Run a command: its warnings, errors and exit code as the user sees them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MeticulousReadWarning)
        try:
            code = run()
        except UsageError as error:
            code = 2
            message = f"meticulous: error: {error}"
        except OutputError as error:
            code = 1
            message = f"meticulous: error: {error}"
        except BrokenPipeError:
            return _reader_has_gone()
        else:
            message = ""
    _report_warnings(caught)
    if message:
        print(message, file=sys.stderr)
    return code


def _reader_has_gone() -> int:
    """The reader of our output (head, less) has gone: not an error."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


class _Recorder(io.TextIOBase):
    """Collects what a listing writes to stdout (1) and stderr (2), in order."""

    def __init__(self, stream: int, chunks: list) -> None:
        self.stream = stream
        self.chunks = chunks

    def write(self, text: str) -> int:
        if text:
            chunks = self.chunks
            if chunks and chunks[-1][0] == self.stream:
                chunks[-1][1].append(text)
            else:
                chunks.append((self.stream, [text]))
        return len(text)

    def isatty(self) -> bool:
        return False


def _replay(chunks: Sequence[tuple[int, str]]) -> None:
    for stream, text in chunks:
        target = sys.stdout if stream == 1 else sys.stderr
        target.write(text)
        target.flush()


def _run_listing(options: argparse.Namespace, listed: tuple | None = None) -> int:
    from .listing import list_experiments

    return list_experiments(options, listed)


def list_command(argv: Sequence[str]) -> int:
    """The listing, answered from the listing cache when nothing changed.

    pandas is imported only when the cache cannot answer (see
    :mod:`.listing_cache` for what the answer depends on).
    """
    options = _list_parser().parse_args(argv)
    # Decided now, from the real stdout: the output depends on them.
    options.width = _width(options.width, sys.stdout)
    options.color = "always" if _colour(options.color, sys.stdout) else "never"
    if options.no_cache or options.export:
        return _guarded(lambda: _run_listing(options))
    try:
        listed = list_folders(options.directory)
    except OSError:  # missing, not a directory, unreadable: reported as usual
        return _guarded(lambda: _run_listing(options))
    key = listing_cache.options_key(vars(options))
    state = listing_cache.folders_state(*listed)
    if state is not None:
        found = listing_cache.lookup(options.directory, key, state)
        if found is not None:
            code, chunks = found
            try:
                _replay(chunks)
            except BrokenPipeError:
                return _reader_has_gone()
            return code
    from .listing import Outcome, list_experiments

    outcome = Outcome()
    recorded: list = []
    with (
        redirect_stdout(_Recorder(1, recorded)),
        redirect_stderr(_Recorder(2, recorded)),
    ):
        code = _guarded(lambda: list_experiments(options, listed, outcome))
    chunks = tuple((stream, "".join(parts)) for stream, parts in recorded)
    try:
        _replay(chunks)
    except BrokenPipeError:
        return _reader_has_gone()
    if state is not None and outcome.storable:
        listing_cache.store(
            options.directory, key, state, outcome.running, code, chunks
        )
    return code


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(arguments[0]) if arguments else None
    if command is None:
        return list_command(arguments)
    return _guarded(lambda: command(arguments[1:]))
