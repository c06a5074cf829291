"""One experiment's metric curves as plain lists: what sparklines, compare and
plots draw, read straight from ``metrics.jsonl`` without a DataFrame.

Only numeric values count (the spec's NaN/Infinity strings included, §2.6);
rows where a metric is missing or not a number are left out of its curve.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from . import metrics as metrics_file


@dataclass
class Curve:
    """One metric of one experiment: x values (steps, times) and y values."""

    steps: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def finite(self) -> list[float]:
        return [value for value in self.values if math.isfinite(value)]


def curves(
    folder: str | os.PathLike, names: list[str] | None = None
) -> dict[str, Curve]:
    """Every metric's curve (or only ``names``'), in first-logged order."""
    records, _bad = metrics_file.read_records(os.fspath(folder))
    wanted = set(names) if names is not None else None
    found: dict[str, Curve] = {}
    as_number = metrics_file.as_number
    for row, record in enumerate(records):
        step = record.get("_step")
        moment = record.get("_time")
        x = float(step) if type(step) is int else float(row)
        t = float(moment) if type(moment) in (int, float) else math.nan
        for name, value in record.items():
            if name.startswith("_") or (wanted is not None and name not in wanted):
                continue
            number = as_number(value)
            if number is None:
                continue
            curve = found.get(name)
            if curve is None:
                curve = found[name] = Curve()
            curve.steps.append(x)
            curve.times.append(t)
            curve.values.append(number)
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
