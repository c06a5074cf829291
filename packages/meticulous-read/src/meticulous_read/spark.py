"""Learning curves in a terminal: one line of block characters, no plotting library.

A sparkline of ``width`` cells: the curve is cut into ``width`` equal runs of
points, each drawn as the mean of its run on eight levels between the
curve's finite minimum and maximum. Non-finite values (a loss that became
NaN) are drawn as ``!`` so a diverged run is seen, not hidden.
"""

from __future__ import annotations

import math

from .render import format_value
from .series import Curve, curves_of

BLOCKS = "▁▂▃▄▅▆▇█"
WIDTH = 20


def sparkline(values: list[float], width: int = WIDTH) -> str:
    if not values:
        return ""
    width = max(1, min(width, len(values)))
    finite = [value for value in values if math.isfinite(value)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    cells = []
    for cell in range(width):
        start = cell * len(values) // width
        end = max(start + 1, (cell + 1) * len(values) // width)
        run = values[start:end]
        if not all(math.isfinite(value) for value in run):
            cells.append("!")
            continue
        mean = sum(run) / len(run)
        if high == low:
            cells.append(BLOCKS[len(BLOCKS) // 2 - 1])
            continue
        level = int((mean - low) / (high - low) * (len(BLOCKS) - 1) + 0.5)
        cells.append(BLOCKS[max(0, min(level, len(BLOCKS) - 1))])
    return "".join(cells)


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else format_value(value)


def summary_line(name: str, curve: Curve, name_width: int, width: int = WIDTH) -> str:
    """``loss  ▇▅▃▂▁  first 0.93  min 0.12  max 0.93  last 0.12  (120 points)``."""
    finite = curve.finite()
    values = curve.values
    parts = [f"  {name:<{name_width}}  {sparkline(values, width):<{width}}"]
    if values:
        parts.append(f"first {_number(values[0])}")
        if finite:
            parts.append(f"min {_number(min(finite))}")
            parts.append(f"max {_number(max(finite))}")
        parts.append(f"last {_number(values[-1])}")
    parts.append(f"({len(values)} point{'' if len(values) == 1 else 's'})")
    return "  ".join(parts)


def spark_columns(
    ids: list[str], directory: str, names: list[str], width: int = WIDTH
) -> dict[str, list[str]]:
    """``spark.<name>`` columns for the listed experiments (only those are read)."""
    columns: dict[str, list[str]] = {f"spark.{name}": [] for name in names}
    for experiment_id in ids:
        found = curves_of(directory, experiment_id, names)
        for name in names:
            curve = found.get(name)
            columns[f"spark.{name}"].append(
                sparkline(curve.values, width) if curve else ""
            )
    return columns
