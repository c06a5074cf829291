"""One experiment's metric curves as plain lists: what sparklines, compare and
plots draw, read straight from ``metrics.jsonl`` without a DataFrame.

Only numeric values count (the spec's NaN/Infinity strings included, §2.6);
rows where a metric is missing or not a number are left out of its curve.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

from . import metrics as metrics_file
from . import safeio
from .spec import METRICS_FILE


@dataclass
class Curve:
    """One metric of one experiment: x values (steps, times) and y values.

    Steps are ints, times Unix seconds (NaN where a row has none), values
    floats (the NaN/Infinity strings converted).
    """

    steps: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def finite(self) -> list[float]:
        return [value for value in self.values if math.isfinite(value)]


def records(folder: str | os.PathLike) -> list[dict]:
    """metrics.jsonl's rows, parsed in one ``json.loads`` when the file is clean.

    A plot of 100 runs of 10,000 steps reads a million lines; one C-level
    parse of them as a JSON array takes a fraction of the time of a million
    calls. Anything unusual (a bad line, a line that is not one object,
    nesting near the reader's depth limit) falls back to the line-by-line
    reader, which skips and counts bad lines.
    """
    folder = os.fspath(folder)
    try:
        data = safeio.read_bytes(
            os.path.join(folder, METRICS_FILE), safeio.METRICS_LIMIT
        )
    except OSError:
        data = None
    if not data:
        return metrics_file.read_records(folder)[0] if data is None else []
    lines = [line for line in data.split(b"\n")[:-1] if line.strip()]
    joined = b"[" + b",".join(lines) + b"]"
    try:
        rows = json.loads(joined)
    except (ValueError, RecursionError):
        return metrics_file.read_records(folder)[0]
    if len(rows) != len(lines) or not all(type(row) is dict for row in rows):
        return metrics_file.read_records(folder)[0]
    nested = any(type(v) in (list, dict) for row in rows for v in row.values())
    # One level more than a row's: the array around the rows.
    if nested and safeio.nesting_depth(joined) > safeio.JSON_DEPTH_LIMIT + 1:
        return metrics_file.read_records(folder)[0]
    return rows


def _numbers(values: list) -> list[float | None]:
    kinds = set(map(type, values))
    if kinds <= {float, int}:  # the common case: no conversion per value
        return values if kinds == {float} else [float(v) for v in values]
    as_number = metrics_file.as_number
    return [as_number(value) for value in values]


def run_folder(directory: str, experiment_id: str) -> str | None:
    """The folder of a listed id (``7``, ``group/7``, ``bad\\xff``), never via a link."""
    from .scan import locate

    return locate(directory, experiment_id)


def curves_of(
    directory: str, experiment_id: str, names: list[str] | None = None
) -> dict[str, Curve]:
    """:func:`curves` of one listed experiment; {} when its folder is gone."""
    folder = run_folder(directory, experiment_id)
    return {} if folder is None else curves(folder, names)


def curves(
    folder: str | os.PathLike, names: list[str] | None = None
) -> dict[str, Curve]:
    """Every metric's curve (or only ``names``'), in first-logged order."""
    rows = records(folder)
    if names is None:
        found_names: dict[str, None] = {}
        for row in rows:
            found_names.update(dict.fromkeys(row))
        names = [name for name in found_names if not name.startswith("_")]
    if not rows:
        return {}
    steps = [row.get("_step") for row in rows]
    if set(map(type, steps)) != {int}:  # the row number where a step is missing
        steps = [s if type(s) is int else i for i, s in enumerate(steps)]
    xs: list = steps  # ints are numbers enough for every use
    moments = [row.get("_time") for row in rows]
    if set(map(type, moments)) <= {float, int}:
        ts: list = moments
    else:
        ts = [
            float(t) if type(t) is int or type(t) is float else math.nan
            for t in moments
        ]
    found: dict[str, Curve] = {}
    for name in names:
        if name.startswith("_"):
            continue
        values = _numbers([row.get(name) for row in rows])
        if all(value is not None for value in values):
            found[name] = Curve(list(xs), list(ts), values)  # type: ignore[arg-type]
            continue
        kept = [i for i, value in enumerate(values) if value is not None]
        if kept:
            numbers = [value for value in values if value is not None]
            found[name] = Curve([xs[i] for i in kept], [ts[i] for i in kept], numbers)
    return found


LOWER_IS_BETTER = (
    "loss",
    "err",
    "error",
    "perplexity",
    "ppl",
    "mse",
    "mae",
    "rmse",
    "nll",
    "wer",
    "cer",
    "regret",
    "distance",
    "time",
)


def lower_is_better(name: str) -> bool:
    """Whether a metric's best value is its minimum: losses and errors, by name."""
    lowered = name.lower()
    return any(word in lowered for word in LOWER_IS_BETTER)


def final_and_best(name: str, curve: Curve | None) -> tuple[float | None, float | None]:
    """The curve's last value and its best finite one (None where there is none)."""
    if curve is None or not len(curve.values):
        return None, None
    finite = curve.finite()
    if not finite:
        return curve.values[-1], None
    return curve.values[-1], min(finite) if lower_is_better(name) else max(finite)
