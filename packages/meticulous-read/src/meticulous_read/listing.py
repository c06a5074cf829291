"""The listing behind ``meticulous [DIR]``: read, filter, sort, group, print.

Kept apart from :mod:`.cli` because it needs pandas, whose import alone costs
about half a second: the command imports this module only when the listing
cache (:mod:`.listing_cache`) cannot answer.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from .errors import OutputError, UsageError
from .experiments import Experiments
from .export import ExportError, check_suffix, export, to_json
from .query import FilterError, apply_filter
from .render import MAX_MESSAGE, render


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# -- the pieces of the listing ------------------------------------------------------------


def _check_columns(frame: pd.DataFrame, names: Sequence[str], option: str) -> None:
    known = set(map(str, frame.columns)) | {"id", str(frame.index.name)}
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
    if "id" in by and frame.index.name == "id":
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
    chosen = ["name"] if "name" in names else []  # the group (spec §1)
    chosen += ["sha", "start", "status", "status_message"]
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
    chosen += [
        name for name in names if name.startswith(("summary.", "metrics.", "tags."))
    ]
    return [name for name in chosen if name in names]


def _hashable(column: pd.Series) -> pd.Series:
    if column.dtype == object:
        return column.map(lambda v: str(v) if isinstance(v, (list, dict)) else v)
    return column


AGGREGATED_PREFIXES = ("summary.", "metrics.")


def group_frame(frame: pd.DataFrame, keys: list[str], shown: list[str]) -> pd.DataFrame:
    """count per group, then mean, std and count of each shown result column.

    Only results are aggregated (summary values, metric columns): the mean
    of a learning rate or an epoch count across a group says nothing.
    """
    _check_columns(frame, keys, "--groupby")
    if "id" in keys:
        raise UsageError("--groupby: group by columns, not by id")
    numeric = [
        name
        for name in shown
        if name not in keys
        and name.startswith(AGGREGATED_PREFIXES)
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


# -- output ----------------------------------------------------------------------


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
        width=options.width,
        colour=options.color == "always",
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


def _open(directory: str, use_cache: bool, listed: tuple | None) -> Experiments:
    try:
        return Experiments(directory, cache=use_cache, _listed=listed)
    except (FileNotFoundError, NotADirectoryError) as error:
        raise UsageError(str(error)) from None
    except PermissionError as error:
        raise UsageError(f"cannot read {directory!r}: {error.strerror}") from None


@dataclass
class Outcome:
    """What the listing cache needs to know about a listing that ran.

    ``storable`` is false when the output must not be reused: an export
    (a file was written), or a folder with problems (a non-atomic writer
    may complete it in place, leaving the folder key as it was).
    ``running`` holds the liveness inputs of every run STATUS calls RUNNING,
    with the verdict they gave, to be checked again before any reuse.
    """

    storable: bool = False
    running: list = field(default_factory=list)


def with_sparks(frame: pd.DataFrame, options: argparse.Namespace) -> pd.DataFrame:
    """The ``--spark`` columns, read from the listed experiments' metrics only."""
    from .spark import spark_columns

    if options.groupby:
        raise UsageError("--spark draws one experiment's curve: not with --groupby")
    names = _split(options.spark)
    columns = spark_columns([str(i) for i in frame.index], options.directory, names)
    return frame.assign(**columns)


def with_metrics(frame: pd.DataFrame, directory: str, names: list[str]) -> pd.DataFrame:
    """The ``--metrics`` columns (final and best value of each metric)."""
    from .metric_columns import metric_columns

    return frame.assign(
        **metric_columns([str(i) for i in frame.index], directory, names)
    )


def list_experiments(
    options: argparse.Namespace,
    listed: tuple | None = None,
    outcome: Outcome | None = None,
) -> int:
    """The listing for parsed options whose width and colour are decided.

    ``listed`` is the directory's listing when the caller already made one
    (a :func:`.scan.list_folders` result), so that the cache key and the data
    come from the same pass over the directory.
    """
    if options.tail is not None and options.tail < 0:
        raise UsageError("--tail: N must be 0 or more")
    if options.export:
        try:
            check_suffix(options.export)
        except ExportError as error:
            raise UsageError(str(error)) from None
    experiments = _open(options.directory, not options.no_cache, listed)
    if outcome is not None:
        outcome.storable = not options.export and experiments.complete
        outcome.running.extend(experiments.running())
    frame = experiments.as_dataframe()
    metrics = _split(getattr(options, "metrics", None) or "")
    if metrics and "metrics." in (options.filter or ""):  # the filter needs them
        frame = with_metrics(frame, options.directory, metrics)
        metrics = []
    if options.filter:
        try:
            frame = apply_filter(frame, options.filter)
        except FilterError as error:
            raise UsageError(str(error)) from None
    if metrics:  # read only for the experiments the filter kept
        frame = with_metrics(frame, options.directory, metrics)
    what = "experiments"
    if options.groupby:  # sorted by its keys or its aggregates (summary.loss.mean)
        shown = choose_columns(frame, experiments, options.columns, options.args)
        frame = group_frame(frame, _split(options.groupby), shown)
        what = "groups"
    frame = sort_frame(frame, _split(options.sort or ""), options.reverse)
    if options.tail is not None:
        frame = frame.iloc[len(frame) - min(options.tail, len(frame)) :]
    if not options.groupby:
        frame = frame[choose_columns(frame, experiments, options.columns, options.args)]
    if getattr(options, "spark", None):
        frame = with_sparks(frame, options)
    if len(experiments) == 0:
        print(f"meticulous: no experiments in {options.directory}", file=sys.stderr)
    elif len(frame) == 0:
        print("meticulous: no experiment matches", file=sys.stderr)
    _write_outputs(frame, options, what)
    return 0
