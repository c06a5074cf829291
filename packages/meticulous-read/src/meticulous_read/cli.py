"""The ``meticulous`` command: list, filter, sort, group and export experiments.

Shapes::

    meticulous [DIR] [options]          the table (DIR defaults to ./experiments)
    meticulous show [DIR] ID            one experiment whole
    meticulous diff [DIR] ID ID [ID …]  what differs between experiments
    meticulous compare [DIR] ID ID [ID …]  side by side: args, results, commits
    meticulous tag [DIR] ID key=value … [--untag KEY]   tag an experiment (§15)
    meticulous plot [DIR] METRIC … -o FILE   learning curves (meticulous-read[plot])

``show``, ``diff``, ``compare``, ``tag`` and ``plot`` are recognised by the
first word only, so a listing of a folder literally called ``show`` is
``meticulous ./show``.

Exit codes: 0 done, 2 bad input (missing directory, unknown id or column,
bad filter, unknown export suffix), 1 a failure while writing the output.

This module imports no pandas: a listing answered by the listing cache
(:mod:`.listing_cache`) never needs it; :mod:`.listing` does the rest.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import sys
import warnings
from collections.abc import Callable, Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import TYPE_CHECKING, TextIO

from . import __version__, listing_cache
from .errors import OutputError, UsageError
from .ids import is_integer_id
from .sanitize import EscapingStream, escape
from .scan import check_directory, list_folders, locate
from .spec import MARKER_FILES
from .warn import MeticulousReadWarning

if TYPE_CHECKING:
    import pandas as pd

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
            "Also: 'meticulous show [DIR] ID', 'meticulous diff [DIR] ID ID…',"
            " 'meticulous compare [DIR] ID ID…', 'meticulous tag [DIR] ID"
            " key=value…', 'meticulous plot [DIR] METRIC… -o FILE'."
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
        help=(
            "one row per group: count, and mean, std, count of each numeric result"
            " (summary.*, and metrics.* of --metrics)"
        ),
    )
    parser.add_argument("--tail", type=int, metavar="N", help="only the last N rows")
    parser.add_argument(
        "--spark",
        metavar="METRICS",
        help="a sparkline column of each of these metrics (comma list: loss,acc)",
    )
    parser.add_argument(
        "--metrics",
        metavar="METRICS",
        help=(
            "columns metrics.<name>.final and metrics.<name>.best of each of these"
            " metrics (comma list); --groupby aggregates them"
        ),
    )
    parser.add_argument(
        "--export",
        metavar="FILE",
        help="write the table to FILE (.csv, .json, .md, .tex, .parquet) instead",
    )
    _add_json(parser)
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


def _command_parser(
    command: str, description: str, targets: str, epilog: str | None = None
) -> argparse.ArgumentParser:
    """The parser of ``meticulous COMMAND [DIR] ...``: every command but the
    listing names its directory and ids in ``targets`` (see :func:`_dir_and_ids`)."""
    parser = argparse.ArgumentParser(
        prog=f"meticulous {command}", description=description, epilog=epilog
    )
    parser.add_argument("targets", nargs="+", metavar=targets)
    return parser


def _add_json(parser: argparse.ArgumentParser, what: str = "JSON records") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what}")


def _show_parser() -> argparse.ArgumentParser:
    parser = _command_parser("show", "Show one experiment whole.", "[DIR] ID")
    parser.add_argument(
        "--lines",
        type=int,
        default=20,
        metavar="N",
        help="last N lines of stdout and stderr (default: %(default)s)",
    )
    return parser


def _diff_parser() -> argparse.ArgumentParser:
    parser = _command_parser(
        "diff",
        "Show the status, commit, args and summary values that differ"
        " between two or more experiments.",
        "[DIR] ID ID [ID ...]",
    )
    _add_json(parser)
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


def dir_and_many_ids(targets: list[str], command: str) -> tuple[str, list[str]]:
    """``[DIR] ID ID [ID ...]``: the first word is DIR when it is a directory
    that is not an experiment of ./experiments (two words are always ids)."""
    if len(targets) > 2 and os.path.isdir(targets[0]):
        default_run = os.path.join(DEFAULT_DIRECTORY, targets[0])
        if not (os.path.isdir(DEFAULT_DIRECTORY) and os.path.isdir(default_run)):
            return targets[0], targets[1:]
    if len(targets) < 2:
        raise UsageError(f"usage: meticulous {command} [DIR] ID ID [ID ...]")
    return DEFAULT_DIRECTORY, targets


def _experiment_folder_hint(path: str) -> str | None:
    """What to type when ``path`` is one experiment's folder, not a directory of them."""
    if not any(os.path.isfile(os.path.join(path, name)) for name in MARKER_FILES):
        return None
    absolute = os.path.abspath(path)
    parent = os.path.dirname(absolute.rstrip(os.sep)) or os.sep
    relative = os.path.relpath(parent)
    parent = relative if not relative.startswith("..") else parent
    name = os.path.basename(absolute.rstrip(os.sep))
    return (
        f"{path!r} is one experiment's folder, not an experiments directory:"
        f" type 'meticulous {shlex.quote(parent)}' to list it with the others,"
        f" or 'meticulous show {shlex.quote(parent)} {shlex.quote(name)}' to see it"
    )


def _reader(directory: str, experiment_id: str) -> ExperimentReader:
    folder = locate(directory, experiment_id) if os.path.isdir(directory) else None
    if folder is None:
        if "/" in experiment_id or os.sep in experiment_id:  # `show experiments/3`
            hint = _experiment_folder_hint(experiment_id)
            if hint is not None:
                raise UsageError(hint)
        check_directory_or_usage(directory)
        raise UsageError(f"no experiment {experiment_id!r} in {directory!r}")
    check_directory_or_usage(directory)
    from .experiment import ExperimentReader

    reader = ExperimentReader(folder, experiment_id=experiment_id)
    if not is_integer_id(os.path.basename(folder)) and not any(
        os.path.lexists(os.path.join(folder, name)) for name in MARKER_FILES
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
    hint = _experiment_folder_hint(directory)
    if hint is not None:
        raise UsageError(hint)


def show_command(argv: Sequence[str]) -> int:
    from .detail import show as show_text

    options = _show_parser().parse_args(argv)
    directory, (experiment_id,) = _dir_and_ids(options.targets, 1, "show")
    text = show_text(_reader(directory, experiment_id), lines=options.lines)
    sys.stdout.write(escape(text, keep="\n\t"))
    return 0


def diff_command(argv: Sequence[str]) -> int:
    from .detail import diff as diff_table
    from .export import to_json
    from .render import render

    options = _diff_parser().parse_args(argv)
    directory, ids = dir_and_many_ids(options.targets, "diff")
    frame = table_of(directory, ids)
    table = diff_table(frame, ids)
    if options.json:
        sys.stdout.write(to_json(table))
    else:  # never cut: a comparison is read value by value (whole shas)
        sys.stdout.write(render(table, width=0).text)
    return 0


def table_of(directory: str, ids: list[str]) -> pd.DataFrame:
    """The listing's DataFrame of the named experiments, each once."""
    from .table import build_table

    distinct = list(dict.fromkeys(ids))
    readers = [_reader(directory, experiment_id) for experiment_id in distinct]
    return build_table(
        distinct,
        [reader._record for reader in readers],
        [reader._derived_status() for reader in readers],
    )


def _tag_parser() -> argparse.ArgumentParser:
    parser = _command_parser(
        "tag",
        "Tag an experiment (tags.json, spec §15): values are JSON when they"
        " parse (true, 3, 0.1, [1, 2]) and text otherwise. Tags become the"
        " tags.<key> columns: meticulous --filter 'tags.best == True'.",
        "[DIR] ID [key=value ...]",
    )
    parser.add_argument(
        "--untag",
        action="append",
        default=[],
        metavar="KEY",
        help="remove this tag (repeatable)",
    )
    return parser


def tag_command(argv: Sequence[str]) -> int:
    from .tags import TagError, parse_assignment, update_tags

    options = _tag_parser().parse_args(argv)
    targets = list(options.targets)
    words = []  # DIR and ID: up to the first key=value (a DIR may hold "=")
    while targets and ("=" not in targets[0] or os.path.isdir(targets[0])):
        words.append(targets.pop(0))
    assignments = targets
    if not assignments and not options.untag:
        raise UsageError("nothing to do: give key=value tags or --untag KEY")
    directory, (experiment_id,) = _dir_and_ids(words, 1, "tag")
    reader = _reader(directory, experiment_id)
    try:
        values = dict(parse_assignment(word) for word in assignments)
        tags = update_tags(reader.path, values, options.untag)
    except TagError as error:
        raise UsageError(str(error)) from None
    shown = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in tags.items()
    )
    sys.stdout.write(escape(f"{experiment_id}: {shown or '(no tags)'}") + "\n")
    return 0


def _compare_parser() -> argparse.ArgumentParser:
    parser = _command_parser(
        "compare",
        "Compare experiments side by side: the args that differ, summaries,"
        " each metric's final and best value, and the commits (with the"
        " commit messages between them when the repository is at hand and"
        " GitPython is installed: meticulous-read[git]).",
        "[DIR] ID ID [ID ...]",
    )
    _add_json(parser, "one JSON object")
    parser.add_argument(
        "--repo",
        metavar="PATH",
        help="the git repository (default: the runs' recorded cwd, then .)",
    )
    return parser


def compare_command(argv: Sequence[str]) -> int:
    from .compare import commit_lines, commits_between, compare_table
    from .export import json_text, records
    from .render import render

    options = _compare_parser().parse_args(argv)
    directory, ids = dir_and_many_ids(options.targets, "compare")
    frame = table_of(directory, ids)
    table = compare_table(frame, directory, ids)
    cwds = list(frame["metadata.cwd"]) if "metadata.cwd" in frame.columns else []
    commits, notes = commits_between(
        list(zip(ids, table.loc["sha"])), options.repo, cwds
    )
    if options.json:
        document = {"ids": ids, "fields": records(table), "commits": commits}
        sys.stdout.write(json_text({**document, "notes": notes}))
    else:
        text = render(table, width=0).text
        lines = commit_lines(commits, notes)
        sys.stdout.write(
            text + escape("\n".join(lines), keep="\n") + ("\n" if lines else "")
        )
    return 0


def _plot_parser() -> argparse.ArgumentParser:
    parser = _command_parser(
        "plot",
        "Plot learning curves of the selected experiments to PNG, SVG or PDF"
        " (needs matplotlib: pip install 'meticulous-read[plot]').",
        "[DIR] METRIC",
        epilog=(
            "Example: meticulous plot experiments loss --filter 'status =="
            ' "SUCCESS"\' --by args.lr --smooth 0.6 --log -o loss.png'
        ),
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the plot to FILE (.png, .svg, .pdf)",
    )
    parser.add_argument("--filter", metavar="EXPR", help="as in the listing")
    parser.add_argument(
        "--ids", metavar="IDS", help="only these experiments (comma list)"
    )
    parser.add_argument(
        "--by", metavar="COLUMN", help="colour the runs by this column (args.lr)"
    )
    parser.add_argument(
        "--facet", action="store_true", help="one panel per value of --by instead"
    )
    parser.add_argument("--x", choices=("step", "time"), default="step")
    parser.add_argument(
        "--smooth",
        type=float,
        default=0.0,
        metavar="W",
        help="exponential smoothing weight in [0, 1), e.g. 0.6 (default: none)",
    )
    parser.add_argument("--log", action="store_true", help="a logarithmic y axis")
    parser.add_argument("--no-cache", action="store_true", help=argparse.SUPPRESS)
    return parser


def plot_command(argv: Sequence[str]) -> int:
    from .plot import (
        PlotError,
        available_cores,
        check_options,
        check_output,
        collect,
        require_matplotlib,
    )

    options = _plot_parser().parse_args(argv)
    words = options.targets
    if len(words) > 1 and os.path.isdir(words[0]):
        directory, metrics = words[0], words[1:]
    else:
        directory, metrics = DEFAULT_DIRECTORY, words
    try:
        require_matplotlib()  # before reading anything: the cheap refusal first
        check_options(options.x, options.smooth)
        if options.output:
            check_output(options.output)
        elif not (
            os.environ.get("DISPLAY")
            or os.environ.get("WAYLAND_DISPLAY")
            or sys.platform == "darwin"
        ):
            raise PlotError(
                "no display to show the plot on: give -o FILE (.png, .svg, .pdf)"
            )
        frame = _selected_frame(directory, options)
        workers = min(available_cores(), 4)
        runs = collect(
            directory, frame, metrics, options.by, workers=workers, x=options.x
        )
        drawing = {
            "by": options.by,
            "facet": options.facet,
            "x": options.x,
            "smooth": options.smooth,
            "log": options.log,
        }
        if options.output:
            from .plot import write_figure

            try:
                write_figure(runs, metrics, options.output, **drawing)
            except OSError as error:
                raise OutputError(
                    f"cannot write {options.output!r}: {error.strerror or error}"
                ) from None
        else:
            import matplotlib.pyplot as plt

            from .plot import draw

            draw(plt.figure(), runs, metrics, **drawing)
            plt.show()
    except PlotError as error:
        raise UsageError(str(error)) from None
    if options.output:
        drawn = sum(1 for run in runs for name in metrics if name in run.curves)
        print(
            f"meticulous: wrote {drawn} curves of {len(runs)} experiments"
            f" to {options.output}",
            file=sys.stderr,
        )
    return 0


def _selected_frame(directory: str, options: argparse.Namespace) -> pd.DataFrame:
    """The listing's selection: --filter, then --ids."""
    from .experiments import Experiments
    from .query import FilterError, apply_filter

    check_directory_or_usage(directory)
    try:
        frame = Experiments(directory, cache=not options.no_cache).as_dataframe()
    except PermissionError as error:
        raise UsageError(f"cannot read {directory!r}: {error.strerror}") from None
    if options.filter:
        try:
            frame = apply_filter(frame, options.filter)
        except FilterError as error:
            raise UsageError(str(error)) from None
    if options.ids:
        wanted = [part.strip() for part in options.ids.split(",") if part.strip()]
        unknown = [name for name in wanted if name not in frame.index]
        if unknown:
            raise UsageError(
                f"--ids: no experiment {', '.join(unknown)} in the selection"
            )
        frame = frame.loc[wanted]
    if len(frame) == 0:
        raise UsageError("no experiment matches: nothing to plot")
    return frame


COMMANDS = {
    "plot": plot_command,
    "show": show_command,
    "diff": diff_command,
    "compare": compare_command,
    "tag": tag_command,
}


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


def _refuse(message: str) -> int:
    raise UsageError(message)


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
    if os.path.isdir(options.directory):
        hint = _experiment_folder_hint(options.directory)
        if hint is not None:
            return _guarded(lambda: _refuse(hint))
    # Sparklines and --metrics read metrics.jsonl, whose appends leave the
    # folder key as it is: such a listing is never taken from (or put into)
    # the listing cache.
    if options.no_cache or options.export or options.spark or options.metrics:
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
    """The command; every message on stderr passes :mod:`.sanitize` (ESC, BEL …)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(arguments[0]) if arguments else None
    with redirect_stderr(EscapingStream(sys.stderr)):
        if command is None:
            return list_command(arguments)
        return _guarded(lambda: command(arguments[1:]))
