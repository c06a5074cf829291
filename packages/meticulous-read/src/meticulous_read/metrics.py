"""metrics.jsonl: one experiment's time series, wide or long (spec §2.5).

The file is only ever appended to, so a crash can leave its last line
without a newline: that line is ignored (spec §2.2). A malformed line in the
middle (a tool that wrote garbage) is skipped and counted, never fatal.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from . import safeio
from .spec import METRICS_FILE, SPECIAL_FLOATS


def read_records(folder: str) -> tuple[list[dict], int]:
    """(records, number of bad lines) of the folder's metrics.jsonl."""
    try:
        data = safeio.read_bytes(
            os.path.join(folder, METRICS_FILE), safeio.METRICS_LIMIT
        )
    except OSError:  # not a regular file, a link, too large, unreadable
        return [], 1
    if data is None:
        return [], 0
    return records_of(data)


def records_of(
    data: bytes, loads: Callable[[bytes], Any] = safeio.loads_bounded
) -> tuple[list[dict], int]:
    """(records, number of bad lines) of metrics.jsonl's bytes.

    ``loads`` parses one line, raising ValueError for a bad one; it must
    bound the depth as ``safeio.loads_bounded`` does.
    """
    lines = data.split(b"\n")
    lines.pop()  # the text after the last newline: empty, or an unterminated line
    records, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    return records, bad


def as_number(value: object) -> float | None:
    """A metric value as a float for plotting, None when it is not a number."""
    kind = type(value)
    if kind is float or kind is int or kind is bool:
        return float(value)  # type: ignore[arg-type]
    if kind is str:
        return SPECIAL_FLOATS.get(value)  # type: ignore[call-overload]
    return None


def long_rows(
    experiment_id: str,
    records: list[dict],
    ids: list,
    steps: list,
    times: list,
    names: list,
    values: list,
) -> None:
    """Append one row per numeric (step, name, value) of the records to the lists."""
    for record in records:
        step = record.get("_step")
        moment = record.get("_time")
        for name, value in record.items():
            if name.startswith("_"):
                continue
            number = as_number(value)
            if number is None:
                continue
            ids.append(experiment_id)
            steps.append(step)
            times.append(moment)
            names.append(name)
            values.append(number)
