"""A DataFrame as a plain-text table that fits a given width.

pandas' own ``to_string`` wraps wide frames into blocks, which is hard to
read and to grep; this renderer keeps one line per experiment. It caps
long cells, then narrows the widest text columns, then leaves out the
rightmost columns (reported back to the caller) until the table fits.
With no width to fit (``--width 0``, a pipe) no cell is ever cut, and ids
never are. Every cell passes :func:`.sanitize.escape` on its way out.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from . import spec
from .sanitize import escape_all

ELLIPSIS = "…"
GAP = "  "
MAX_CELL = 32
MAX_MESSAGE = 48
MIN_SHRUNK = 12

STATUS_COLOURS = {
    spec.SUCCESS: "32",  # green
    spec.RUNNING: "36",  # cyan
    spec.QUEUED: "34",  # blue
    spec.ERROR: "31",  # red
    spec.INTERRUPTED: "33",  # yellow
    spec.CANCELLED: "33",
    spec.DEAD: "35",  # magenta
    spec.BROKEN: "35",
    spec.UNSUPPORTED: "35",
}


@dataclass
class Rendered:
    text: str
    hidden: list[str] = field(default_factory=list)  # columns left out to fit


def shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[: width - 1] + ELLIPSIS


def format_duration(value: pd.Timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{seconds:02d}s"
    return f"{sign}{seconds}s"


def format_value(value: Any) -> str:
    """One cell as text: missing values blank, floats short, lists as JSON."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    kind = type(value)
    if kind is str:
        return value.replace("\r", " ").replace("\n", " ")
    if kind is float or isinstance(value, np.floating):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    if kind is bool or isinstance(value, np.bool_):
        return "True" if value else "False"
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, pd.Timedelta):
        return format_duration(value)
    if isinstance(value, (list, dict)):
        try:
            return json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _capped(texts: list[str], width: int) -> list[str]:
    return [text if len(text) <= width else shorten(text, width) for text in texts]


def _local_minute(value: Any) -> str:
    """A timestamp as format_value shows it, without building datetimes."""
    if value is pd.NaT or value is None:
        return ""
    seconds = value.value // 1_000_000_000  # .value: nanoseconds, whatever the unit
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def column_texts(column: pd.Series) -> list[str]:
    """format_value of every value, with fast paths for the common dtypes."""
    values = column.tolist()
    dtype = column.dtype
    if dtype == np.float64:
        # f"{inf:.6g}" is "inf": only NaN needs a case of its own.
        isnan = math.isnan
        return ["" if isnan(v) else f"{v:.6g}" for v in values]
    if isinstance(dtype, pd.DatetimeTZDtype):
        try:
            return [_local_minute(v) for v in values]
        except (OverflowError, OSError, ValueError):  # beyond the C library's range
            pass
    return [format_value(v) for v in values]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
        series
    )


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def render(
    frame: pd.DataFrame,
    width: int | None = None,
    colour: bool = False,
    max_cells: dict[str, int] | None = None,
    drop_order: list[str] | None = None,
) -> Rendered:
    """The frame with its index as the first column, fitted into ``width``."""
    width = width if width and width > 0 else 0  # 0: no width to fit into
    fitting = width > 0
    caps = max_cells or {}
    index_name = str(frame.index.name or "")
    headers = escape_all([index_name] + [str(name) for name in frame.columns])
    # Ids are never cut: they are what `meticulous show` is given.
    cells = [escape_all([format_value(v) for v in frame.index])]
    right = [False]
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]  # by position: names may repeat (diff 1 1)
        texts = column_texts(column)
        if _is_text(column):  # numbers, times and booleans hold no controls
            texts = escape_all(texts)
        if fitting:  # a terminal's width to share; a pipe or --width 0 gets all
            texts = _capped(texts, caps.get(str(name), MAX_CELL))
        cells.append(texts)
        right.append(_is_numeric(column))
    widths = [
        max([len(header)] + [len(cell) for cell in column])
        for header, column in zip(headers, cells)
    ]
    original = list(headers)
    # Free text may be narrowed; numbers, times, words and short codes keep width.
    flexible = [False] + [
        not right[i] and widths[i] > MIN_SHRUNK and _is_text(frame.iloc[:, i - 1])
        for i in range(1, len(headers))
    ]

    def total() -> int:
        return sum(widths) + len(GAP) * (len(widths) - 1)

    hidden: list[str] = []
    if fitting and total() > width:
        # Narrow long text columns (never below a readable minimum) ...
        while total() > width:
            candidates = [
                i
                for i in range(1, len(widths))
                if flexible[i] and widths[i] > MIN_SHRUNK
            ]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i])
            widths[widest] -= 1
        # ... then leave out whole columns, least important first.
        cells_of: dict[str, list[str]] = {}
        right_of: dict[str, bool] = {}
        widths_of: dict[str, int] = {}
        order = [name for name in (drop_order or headers[:0:-1]) if name in headers]
        for name in order:
            if total() <= width or len(widths) <= 2:
                break
            at = headers.index(name, 1)
            hidden.append(headers.pop(at))
            cells_of[name], right_of[name] = cells.pop(at), right.pop(at)
            widths_of[name] = widths.pop(at)
            flexible.pop(at)
        # Put back the most important left-out columns that fit after all.
        for name in hidden[::-1]:
            at = original.index(name)
            if widths_of[name] + len(GAP) > width - total():
                continue
            position = sum(1 for kept in headers if original.index(kept) < at)
            headers.insert(position, name)
            cells.insert(position, cells_of[name])
            right.insert(position, right_of[name])
            widths.insert(position, widths_of[name])
            flexible.insert(position, False)
            hidden.remove(name)
        hidden.sort(key=lambda name: original.index(name))
    status_at = headers.index("status") if "status" in headers else -1
    lines = []
    header_cells = [
        shorten(header, w).ljust(w) if not r else shorten(header, w).rjust(w)
        for header, w, r in zip(headers, widths, right)
    ]
    header_line = GAP.join(header_cells).rstrip()
    lines.append(f"\x1b[1m{header_line}\x1b[0m" if colour else header_line)
    # Column by column (list comprehensions), then joined row by row.
    padded_columns = []
    for i, column_cells in enumerate(cells):
        width_i = widths[i]
        texts = _capped(column_cells, width_i)
        if right[i]:
            padded = [text.rjust(width_i) for text in texts]
        else:
            padded = [text.ljust(width_i) for text in texts]
        if colour and i == status_at:
            padded = [
                f"\x1b[{STATUS_COLOURS[text]}m{cell}\x1b[0m"
                if text in STATUS_COLOURS
                else cell
                for text, cell in zip(texts, padded)
            ]
        padded_columns.append(padded)
    lines.extend(GAP.join(parts).rstrip() for parts in zip(*padded_columns))
    if fitting and not colour:
        keep = max(width, widths[0])  # never into the id
        lines = [line[:keep] for line in lines]
    return Rendered("\n".join(lines) + "\n", hidden)
