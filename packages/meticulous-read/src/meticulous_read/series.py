"""One experiment's metric curves as plain lists: what sparklines, compare and
plots draw, read straight from ``metrics.jsonl`` without a DataFrame.

Only numeric values count (the spec's NaN/Infinity strings included, §2.6);
rows where a metric is missing or not a number are left out of its curve.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from . import metrics as metrics_file
from . import safeio
from .spec import METRICS_FILE


def _parsers() -> tuple[Callable[[bytes], Any], ...]:
    """orjson (optional, in meticulous-read[plot]: about 4x json's speed), then json.

    orjson refuses what json takes (NaN, 1e400, lone surrogates): json then.
    Its one other difference: an int beyond 64 bits comes back as a float.
    """
    try:
        from orjson import loads
    except ImportError:
        return (json.loads,)
    return (loads, json.loads)


PARSERS = _parsers()


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
    """metrics.jsonl's rows, parsed in one call when the file is plain.

    A plot of 100 runs of 10,000 steps reads a million lines; one C-level
    parse of them as a JSON array takes a fraction of the time of a million
    calls, and orjson's (when installed) a fraction of json's. Plain means
    that every line is one flat object and nothing else: each line starts
    with ``{``, it is the line's only ``{``, and no ``[`` appears, so the
    lines joined by commas parse to exactly one object a line (an object
    cannot span lines nor two share one) and nothing nests deeper than the
    array around them: depth and rows are bounded before parsing, by byte
    counts at C speed. Anything else (a bad line, a list value, a brace in
    a string) is read a line at a time, as the DataFrame's reader does: bad
    lines skipped, each line's depth bounded.
    """
    folder = os.fspath(folder)
    try:
        data = safeio.read_bytes(
            os.path.join(folder, METRICS_FILE), safeio.METRICS_LIMIT
        )
    except OSError:  # not a regular file, a link, too large, unreadable
        return []
    if data is None:
        return []
    body = data[: data.rfind(b"\n") + 1]  # an unterminated last line: ignored
    lines = body.count(b"\n")
    if (
        not body.startswith(b"{")
        or body.count(b"{") != lines  # one a line, or nested or in a string
        or b"[" in body
    ):
        return metrics_file.records_of(data, _loads_line)[0]
    joined = body[:-1].replace(b"\n{", b",{")
    if b"\n" in joined:  # a line that does not start with its object
        return metrics_file.records_of(data, _loads_line)[0]
    joined = b"[" + joined + b"]"
    for loads in PARSERS:
        try:
            rows = loads(joined)
        except ValueError:  # a bad line, not UTF-8, or only json takes it
            continue
        if len(rows) == lines and set(map(type, rows)) == {dict}:
            return rows
        break
    return metrics_file.records_of(data, _loads_line)[0]


def _loads_line(line: bytes) -> Any:
    """One line of a file that is not plain: by orjson where it takes the line
    and the line has too few brackets to nest too deep, else as the reader
    always parses (``safeio.loads_bounded``: json, the depth bounded)."""
    if len(PARSERS) > 1 and (
        line.count(b"[") + line.count(b"{") <= safeio.JSON_DEPTH_LIMIT
    ):
        try:
            return PARSERS[0](line)
        except ValueError:
            pass
    return safeio.loads_bounded(line)


def _numbers(values: list) -> list[float | None]:
    kinds = set(map(type, values))
    if kinds <= {float, int}:  # the common case: no conversion per value
        return values if kinds == {float} else [float(v) for v in values]
    as_number = metrics_file.as_number
    return [as_number(value) for value in values]


def _column(rows: list[dict], name: str) -> list:
    """Each row's value of ``name`` (None where it has none)."""
    try:  # the common case: every row has it, taken without a Python loop
        return list(map(itemgetter(name), rows))
    except KeyError:
        return [row.get(name) for row in rows]


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
    folder: str | os.PathLike, names: list[str] | None = None, times: bool = True
) -> dict[str, Curve]:
    """Every metric's curve (or only ``names``'), in first-logged order.

    ``times=False`` leaves the times out (empty): a plot by step needs none.
    """
    rows = records(folder)
    if names is None:
        found_names: dict[str, None] = {}
        for row in rows:
            found_names.update(dict.fromkeys(row))
        names = [name for name in found_names if not name.startswith("_")]
    if not rows:
        return {}
    steps = _column(rows, "_step")
    if set(map(type, steps)) != {int}:  # the row number where a step is missing
        steps = [s if type(s) is int else i for i, s in enumerate(steps)]
    xs: list = steps  # ints are numbers enough for every use
    moments = _column(rows, "_time") if times else []
    if not times or set(map(type, moments)) <= {float, int}:
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
        values = _numbers(_column(rows, name))
        if None not in values:
            found[name] = Curve(list(xs), list(ts), values)  # type: ignore[arg-type]
            continue
        kept = [i for i, value in enumerate(values) if value is not None]
        if kept:
            numbers = [value for value in values if value is not None]
            kept_ts = [ts[i] for i in kept] if times else []
            found[name] = Curve([xs[i] for i in kept], kept_ts, numbers)
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
