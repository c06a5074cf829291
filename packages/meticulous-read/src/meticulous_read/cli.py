"""The ``meticulous`` command: list, filter, sort, group and export experiments.

Shapes::

    meticulous [DIR] [options]          the table (DIR defaults to ./experiments)
    meticulous show [DIR] ID            one experiment whole
    meticulous diff [DIR] ID1 ID2       what differs between two experiments

``show`` and ``diff`` are recognised by the first word only, so a listing of
a folder literally called ``show`` is ``meticulous ./show``.

Exit codes: 0 done, 2 bad input (missing directory, unknown id or column,
bad filter, unknown export suffix), 1 a failure while writing the output.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

import pandas as pd

from . import __version__
from .detail import diff as diff_table
from .detail import show as show_text
from .experiment import ExperimentReader
from .experiments import Experiments
from .export import ExportError, check_suffix, export, to_json
from .ids import is_integer_id
from .query import FilterError, apply_filter
from .render import MAX_MESSAGE, render
from .scan import check_directory
from .table import build_table
from .warn import MeticulousReadWarning

DEFAULT_DIRECTORY = "experiments"
ARGS_MODES = ("none", "non-default", "all")


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


class OutputError(Exception):
    """The result could not be written: exit code 1."""


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
        help="keep rows where EXPR holds (pandas query; dotted names work as they are)",
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


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# -- the pieces of the listing ------------------------------------------------------------


def _check_columns(frame: pd.DataFrame, names: Sequence[str], option: str) -> None:
    known = set(map(str, frame.columns)) | {"id"}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise UsageError(
            f"{option}: unknown column {', '.join(unknown)}"
            f" (columns: {_column_summary(frame)})"
        )


def _column_summary(frame: pd.DataFrame, limit: int = 25) -> str:
    names = [str(name) for name in frame.columns]
    text = ", ".join(names[:limit])
    return text + (f", … ({len(names) - limit} more)" if len(names) > limit else "")


def _sort_key(column: pd.Series) -> pd.Series:
    if column.dtype == object:  # lists and mixed values: by their text
        return column.map(lambda v: "" if v is None else str(v))
    return column


def sort_frame(frame: pd.DataFrame, by: list[str], reverse: bool) -> pd.DataFrame:
    if not by:
        return frame.iloc[::-1] if reverse else frame
    if by == ["id"]:
        return frame.iloc[::-1] if reverse else frame
    _check_columns(frame, by, "--sort")
    if "id" in by:
        raise UsageError("--sort: id can only be sorted on alone")
    return frame.sort_values(
        by, ascending=not reverse, na_position="last", kind="stable", key=_sort_key
    )


def choose_columns(
    frame: pd.DataFrame,
    experiments: Experiments,
    columns_option: str | None,
    args_mode: str,
) -> list[str]:
    names = [str(name) for name in frame.columns]
    if columns_option:
        chosen: list[str] = []
        for pattern in _split(columns_option):
            if pattern == "all":
                matches = names
            elif any(character in pattern for character in "*?["):
                matches = fnmatch.filter(names, pattern)
            elif pattern == "id":
                continue  # the index is always shown
            else:
                matches = [pattern] if pattern in names else []
            if not matches:
                raise UsageError(
                    f"--columns: unknown column {pattern}"
                    f" (columns: {_column_summary(frame)})"
                )
            chosen += [name for name in matches if name not in chosen]
        return chosen
    chosen = ["sha", "start", "status", "status_message"]
    if (
        "description" in names
        and frame["description"].fillna("").astype(str).ne("").any()
    ):
        chosen.append("description")
    arg_columns = [name for name in names if name.startswith("args.")]
    if args_mode == "non-default":
        deviating = experiments.deviating_args(list(frame.index))
        arg_columns = [name for name in arg_columns if name in deviating]
    elif args_mode == "none":
        arg_columns = []
    chosen += arg_columns
    chosen += [name for name in names if name.startswith("summary.")]
    return [name for name in chosen if name in names]


def _hashable(column: pd.Series) -> pd.Series:
    if column.dtype == object:
        return column.map(lambda v: str(v) if isinstance(v, (list, dict)) else v)
    return column


def group_frame(frame: pd.DataFrame, keys: list[str], shown: list[str]) -> pd.DataFrame:
    """count per group, then mean, std and count of every numeric shown column."""
    _check_columns(frame, keys, "--groupby")
    if "id" in keys:
        raise UsageError("--groupby: group by columns, not by id")
    numeric = [
        name
        for name in shown
        if name not in keys
        and pd.api.types.is_numeric_dtype(frame[name])
        and not pd.api.types.is_bool_dtype(frame[name])
    ]
    keyed = frame.assign(**{key: _hashable(frame[key]) for key in keys})
    groups = keyed.groupby(keys, dropna=False, sort=True)
    result = pd.DataFrame({"count": groups.size()})
    for name in numeric:
        values = groups[name].agg(["mean", "std", "count"])
        for statistic in ("mean", "std", "count"):
            result[f"{name}.{statistic}"] = values[statistic]
    if isinstance(result.index, pd.MultiIndex):
        result.index = pd.Index(
            [", ".join(str(part) for part in key) for key in result.index],
            name=", ".join(keys),
            dtype=object,
        )
    else:
        result.index.name = keys[0]
    return result


def short_message(message: object) -> str:
    """The line of a status message worth a table cell.

    For a traceback that is the last line (the exception), not the first.
    """
    if not isinstance(message, str) or not message:
        return ""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]


def for_terminal(frame: pd.DataFrame) -> pd.DataFrame:
    """Shorter cells for the eye: 8-digit sha, one line of status message."""
    changes = {}
    if "sha" in frame.columns:
        changes["sha"] = frame["sha"].map(lambda v: v[:8] if isinstance(v, str) else v)
    if "status_message" in frame.columns:
        changes["status_message"] = frame["status_message"].map(short_message)
    return frame.assign(**changes) if changes else frame


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


def _print_table(frame: pd.DataFrame, options: argparse.Namespace) -> None:
    names = [str(name) for name in frame.columns]
    if options.columns or options.groupby:
        drop_order = names[::-1]  # the user's order is their priority
    else:  # keep id, status and the numbers; lose context columns first
        context = ["description", "sha", "start", "status_message"]
        rest = [name for name in names[::-1] if name not in context + ["status"]]
        drop_order = (
            [name for name in context if name in names]
            + [name for name in rest if name.startswith("args.")]
            + [name for name in rest if not name.startswith("args.")]
        )
    rendered = render(
        frame,
        width=_width(options.width, sys.stdout),
        colour=_colour(options.color, sys.stdout),
        max_cells={"status_message": MAX_MESSAGE, "description": MAX_MESSAGE},
        drop_order=drop_order,
    )
    sys.stdout.write(rendered.text)
    sys.stdout.flush()
    if rendered.hidden:
        print(
            f"meticulous: {len(rendered.hidden)} more columns do not fit:"
            f" {', '.join(rendered.hidden)} (widen the terminal, or use --columns"
            " or --width 0)",
            file=sys.stderr,
        )


def _write_outputs(frame: pd.DataFrame, options: argparse.Namespace, what: str) -> None:
    if options.json:
        sys.stdout.write(to_json(frame))
    if options.export:
        try:
            export(frame, options.export)
        except ExportError as error:
            raise OutputError(str(error)) from None
        except OSError as error:
            raise OutputError(
                f"cannot write {options.export!r}: {error.strerror or error}"
            ) from None
        print(
            f"meticulous: wrote {len(frame)} {what} to {options.export}",
            file=sys.stderr,
        )
    if not options.json and not options.export:
        _print_table(for_terminal(frame), options)


# -- commands -------------------------------------------------------------------------------


def _open(directory: str, use_cache: bool = True) -> Experiments:
    try:
        return Experiments(directory, cache=use_cache)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise UsageError(str(error)) from None
    except PermissionError as error:
        raise UsageError(f"cannot read {directory!r}: {error.strerror}") from None


def list_command(argv: Sequence[str]) -> int:
    options = _list_parser().parse_args(argv)
    if options.tail is not None and options.tail < 0:
        raise UsageError("--tail: N must be 0 or more")
    if options.export:
        try:
            check_suffix(options.export)
        except ExportError as error:
            raise UsageError(str(error)) from None
    experiments = _open(options.directory, use_cache=not options.no_cache)
    frame = experiments.as_dataframe()
    if options.filter:
        try:
            frame = apply_filter(frame, options.filter)
        except FilterError as error:
            raise UsageError(str(error)) from None
    frame = sort_frame(frame, _split(options.sort or ""), options.reverse)
    if options.tail is not None:
        frame = frame.iloc[len(frame) - min(options.tail, len(frame)) :]
    shown = choose_columns(frame, experiments, options.columns, options.args)
    if options.groupby:
        frame = group_frame(frame, _split(options.groupby), shown)
        what = "groups"
    else:
        frame = frame[shown]
        what = "experiments"
    if len(experiments) == 0:
        print(f"meticulous: no experiments in {options.directory}", file=sys.stderr)
    elif len(frame) == 0:
        print("meticulous: no experiment matches", file=sys.stderr)
    _write_outputs(frame, options, what)
    return 0


def _dir_and_ids(targets: list[str], count: int, command: str) -> tuple[str, list[str]]:
    if len(targets) == count:
        return DEFAULT_DIRECTORY, targets
    if len(targets) == count + 1:
        return targets[0], targets[1:]
    usage = "[DIR] ID" if count == 1 else "[DIR] ID1 ID2"
    raise UsageError(f"usage: meticulous {command} {usage}")


def _reader(directory: str, experiment_id: str) -> ExperimentReader:
    check_directory_or_usage(directory)
    folder = os.path.join(directory, experiment_id)
    if (
        not experiment_id
        or experiment_id.startswith(".")
        or "/" in experiment_id
        or os.sep in experiment_id
        or not os.path.isdir(folder)
    ):
        raise UsageError(f"no experiment {experiment_id!r} in {directory!r}")
    reader = ExperimentReader(folder)
    markers = ("STATUS", "metadata.json", "args.json")
    if not is_integer_id(experiment_id) and not any(
        os.path.exists(os.path.join(folder, name)) for name in markers
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
    options = _show_parser().parse_args(argv)
    directory, (experiment_id,) = _dir_and_ids(options.targets, 1, "show")
    sys.stdout.write(show_text(_reader(directory, experiment_id), lines=options.lines))
    return 0


def diff_command(argv: Sequence[str]) -> int:
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


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(arguments[0]) if arguments else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MeticulousReadWarning)
        try:
            if command is not None:
                code = command(arguments[1:])
            else:
                code = list_command(arguments)
        except UsageError as error:
            code = 2
            message = f"meticulous: error: {error}"
        except OutputError as error:
            code = 1
            message = f"meticulous: error: {error}"
        except BrokenPipeError:
            # The reader of our output (head, less) has gone: not an error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return 0
        else:
            message = ""
    _report_warnings(caught)
    if message:
        print(message, file=sys.stderr)
    return code
