"""A column in compact parts: the one place that decides a column's type.

A worker process that read 500 folders turns each column of its rows into
a :class:`Part`: numbers as a numpy array, strings as an Arrow array (where
pandas keeps its strings there), anything else as the Python list. Parts
are small to send back and cheap to keep, and :func:`join` makes the
column of all rows from them, typed as if from one list of every value
(:func:`.table.typed_array` is ``join([part_of(values)])``):

* integers are ``int64`` (``Int64`` when some are missing; ``object`` when
  one is outside int64), booleans ``bool`` (``boolean``);
* numbers mixed with the spec's NaN/Infinity strings, or those strings
  alone, are ``float64``; other strings are pandas' string dtype;
* anything else keeps its Python values, in an ``object`` array.

A part remembers which types it held, whether some rows were missing and
whether its strings are all NaN/Infinity, so the decision over all parts
is the one over all values, and every part can give back its exact values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .spec import SPECIAL_FLOATS

_NONE = type(None)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def text_dtype() -> Any:
    """The dtype pandas gives a column of strings (``str``, or object before 3)."""
    return pd.Series(["text"]).dtype


def _arrow_strings() -> bool:
    return getattr(text_dtype(), "storage", None) == "pyarrow"


@dataclass
class Part:
    """Some rows of one column; ``kind`` says how ``data`` holds them.

    none: ``data`` is the row count (every row missing); bool, int, float:
    a numpy array (``mask`` True where missing, or None); text: an Arrow
    string array or a list of str and None; objects: the list of values.
    """

    kind: str
    data: Any
    kinds: frozenset  # the value types, None's excluded
    missing: bool = False
    mask: Any = None
    special: bool = True  # every str is a NaN/Infinity spelling
    big: bool = False  # an int outside int64

    def __len__(self) -> int:
        return self.data if self.kind == "none" else len(self.data)

    def values(self) -> list:
        """The rows as Python values, exactly as they were read."""
        if self.kind == "none":
            return [None] * self.data
        if self.kind == "objects":
            return self.data
        if self.kind == "text":
            return self.data if type(self.data) is list else self.data.to_pylist()
        values = self.data.tolist()
        if self.mask is not None:
            for row in np.flatnonzero(self.mask).tolist():
                values[row] = None
        return values

    def floats(self) -> np.ndarray:
        """The rows as float64 (missing: NaN); for numbers and NaN/Infinity strings."""
        if self.kind == "none":
            return np.full(self.data, np.nan)
        if self.kind in ("int", "float"):
            floats = self.data.astype(np.float64)
            if self.mask is not None and self.kind == "int":
                floats[self.mask] = np.nan
            return floats
        return np.array(
            [
                np.nan
                if v is None
                else (SPECIAL_FLOATS[v] if type(v) is str else float(v))
                for v in self.values()
            ],
            dtype=np.float64,
        )


def none_part(rows: int) -> Part:
    return Part("none", rows, frozenset(), missing=rows > 0)


def part_of(values: list) -> Part:
    """The compact form of some rows of a column."""
    kinds = set(map(type, values))
    missing = _NONE in kinds
    kinds.discard(_NONE)
    frozen = frozenset(kinds)
    if not kinds:
        return none_part(len(values))
    mask = np.array([v is None for v in values]) if missing else None
    if kinds == {bool}:
        data = np.array([v is True for v in values]) if missing else np.array(values)
        return Part("bool", data, frozen, missing, mask)
    if kinds == {int}:
        present = [v for v in values if v is not None] if missing else values
        if min(present) >= _INT64_MIN and max(present) <= _INT64_MAX:
            filled = [0 if v is None else v for v in values] if missing else values
            return Part("int", np.array(filled, dtype=np.int64), frozen, missing, mask)
        return Part("objects", values, frozen, missing, big=True)
    if kinds == {float}:
        filled = [np.nan if v is None else v for v in values] if missing else values
        return Part("float", np.array(filled, dtype=np.float64), frozen, missing, mask)
    special = all(v in SPECIAL_FLOATS for v in values if type(v) is str)
    if kinds == {str}:
        return Part("text", _strings(values), frozen, missing, special=special)
    big = int in kinds and any(
        type(v) is int and not _INT64_MIN <= v <= _INT64_MAX for v in values
    )
    if list in kinds:
        values = _sharing_strings(values)
    return Part("objects", values, frozen, missing, special=special, big=big)


def _sharing_strings(values: list) -> list:
    """The values, each list's strings one object per distinct text.

    Every row's ``metadata.command`` is its own list, but its words repeat
    across a sweep: shared, a row costs its list, not its strings too
    (pickle keeps the sharing on the way back from a worker).
    """
    seen: dict[str, str] = {}
    share = seen.setdefault
    return [
        [share(item, item) if type(item) is str else item for item in value]
        if type(value) is list
        else value
        for value in values
    ]


def _strings(values: list) -> Any:
    """An Arrow array of the strings where pandas keeps its strings there."""
    if _arrow_strings():
        import pyarrow as pa

        try:
            return pa.array(values, type=pa.large_string())
        except (pa.ArrowException, UnicodeError, TypeError):  # a lone surrogate
            pass
    return values


def text_part(values: list) -> Part:
    """Strings and None as text, whatever they spell (status words, messages)."""
    missing = any(v is None for v in values)
    return Part("text", _strings(values), frozenset({str}), missing, special=False)


def timestamp_array(values: list) -> Any:
    """ISO 8601 strings as tz-aware UTC timestamps; anything else as NaT."""
    texts: list[Any] = [v if type(v) is str else None for v in values]
    try:
        parsed = pd.to_datetime(texts, utc=True, errors="coerce", format="ISO8601")
    except (TypeError, ValueError):  # pandas < 2 has no format="ISO8601"
        parsed = pd.to_datetime(texts, utc=True, errors="coerce")
    return parsed.array


_UNITS = ("s", "ms", "us", "ns")


def time_part(values: list) -> Part:
    """Some rows of a time column (``start``, ``end``), parsed where they were read."""
    return Part("time", timestamp_array(values), frozenset())


def join_times(parts: list[Part]) -> Any:
    """The time parts as one column, in the finest unit any part needed.

    That is the unit pandas gives all the strings parsed at once: whole
    seconds and microseconds together are microseconds.
    """
    arrays = [part.data for part in parts]
    units = [getattr(array, "unit", "ns") for array in arrays]
    unit = max(units, key=_UNITS.index) if units else "ns"
    if unit == "ns" and all(u == "ns" for u in units) and len(arrays) == 1:
        return arrays[0]
    ticks = np.concatenate(
        [
            (array if u == unit else array.as_unit(unit)).asi8
            for array, u in zip(arrays, units)
        ]
        or [np.array([], dtype=np.int64)]
    )
    return pd.DatetimeIndex(ticks.view(f"M8[{unit}]")).tz_localize("UTC").array


def object_array(values: list) -> np.ndarray:
    """A 1-d object array even when the values are equal-length lists."""
    array = np.empty(len(values), dtype=object)
    for row, value in enumerate(values):
        array[row] = value
    return array


def values_of(parts: list[Part]) -> list:
    """The parts' rows as one list of Python values."""
    values: list = []
    for part in parts:
        values.extend(part.values())
    return values


def _joined_texts(parts: list[Part]) -> Any:
    if _arrow_strings() and all(
        part.kind == "none" or type(part.data) is not list for part in parts
    ):
        import pyarrow as pa

        arrays = [
            pa.nulls(part.data, pa.large_string()) if part.kind == "none" else part.data
            for part in parts
        ]
        # Chunked, as pandas keeps Arrow strings anyway: the parts' own
        # buffers become the column, nothing is copied.
        joined = pa.chunked_array(arrays, type=pa.large_string())
        return pd.array(joined, dtype=text_dtype())
    values = values_of(parts)
    if _arrow_strings():  # a part pyarrow refused: pandas decides, as for a list
        import pyarrow as pa

        try:
            strings = pa.array(values, type=pa.large_string())
        except (pa.ArrowException, UnicodeError, TypeError):
            return values
        return pd.array(strings, dtype=text_dtype())
    return values  # pandas infers its version's own string dtype


def _masked(parts: list[Part], dtype: Any, fill: Any) -> tuple[np.ndarray, np.ndarray]:
    data = np.concatenate(
        [
            np.full(part.data, fill, dtype=dtype) if part.kind == "none" else part.data
            for part in parts
        ]
    )
    mask = np.concatenate(
        [
            np.ones(len(part), dtype=bool)
            if part.kind == "none"
            else (part.mask if part.mask is not None else np.zeros(len(part), bool))
            for part in parts
        ]
    )
    return data, mask


def join(parts: list[Part]) -> Any:
    """One column of all the parts' rows, in order, typed as the module says."""
    kinds: frozenset = frozenset().union(*(part.kinds for part in parts))
    missing = any(part.missing for part in parts)
    if not kinds:
        return object_array(values_of(parts))
    if kinds == {bool}:
        data, mask = _masked(parts, bool, False)
        return pd.arrays.BooleanArray(data, mask) if missing else data
    if kinds == {int} and not any(part.big for part in parts):
        data, mask = _masked(parts, np.int64, 0)
        return pd.arrays.IntegerArray(data, mask) if missing else data
    if kinds == {int}:
        return np.array(values_of(parts), dtype=object)
    if kinds <= {int, float, str} and all(part.special for part in parts):
        return np.concatenate([part.floats() for part in parts])
    if kinds == {str}:
        return _joined_texts(parts)
    return object_array(values_of(parts))
