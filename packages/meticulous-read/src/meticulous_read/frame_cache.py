"""A cache of the finished DataFrame: a warm ``as_dataframe()`` of 100,000 in a second.

Building the frame from 100,000 snapshots costs seconds even when every
snapshot comes from the snapshot cache. This cache keeps the frame itself,
keyed like the listing cache (:mod:`.listing_cache`) by every folder's and
group's (name, mtime, ctime, inode), the package's code and pandas' and
numpy's installs, and it rechecks the liveness of RUNNING runs before every
reuse (spec §8): never stale.

**Format: no pickle.** ``frame-v1.bin`` is a magic line, a JSON header
(rows, and per column its name, kind and where its bytes are), then the
columns: numbers, booleans, times and durations as raw little-endian
arrays read with ``numpy.frombuffer`` (a fixed item size times the row
count, checked against the file's length), everything else as a JSON list
parsed with the reader's depth bound. Nothing in it can run code or make
more than its own size of data; a file that breaks any check is ignored.
Only frames of the plain :class:`.ExperimentReader` are cached (a
subclass's properties may hold anything), and only when no folder is
within the 2 s window or has problems.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

import numpy as np
import pandas as pd

from . import cachedir, safeio
from .status import death_of
from .table import object_array

FILE_NAME = "frame-v1.bin"
MAGIC = b"meticulous-read frame v1\n"
FRAME_LIMIT = 8192 * safeio.MiB
HEADER_LIMIT = 64 * safeio.MiB
COLUMN_LIMIT = 4 * safeio.JSON_VALUES_LIMIT + 64  # four sections, fixed columns
_FIXED = {
    "float64": np.dtype("<f8"),
    "int64": np.dtype("<i8"),
    "bool": np.dtype("?"),
}
_UNITS = ("s", "ms", "us", "ns")


def _encode_column(series: pd.Series) -> tuple[dict, list[bytes]] | None:
    """(header entry, buffers) for one column; None when it cannot be stored."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        if str(dtype.tz) != "UTC" or dtype.unit not in _UNITS:
            return None
        values = series.array.asi8
        return {"kind": "datetime", "unit": dtype.unit}, [
            values.astype("<i8").tobytes()
        ]
    if dtype.kind == "m":
        unit = np.datetime_data(dtype)[0]  # type: ignore[arg-type] # kind "m": numpy
        if unit not in _UNITS:
            return None
        values = series.to_numpy().view("i8")
        return {"kind": "timedelta", "unit": unit}, [values.astype("<i8").tobytes()]
    if str(dtype) in ("Int64", "boolean"):
        mask = series.isna().to_numpy(dtype=bool)
        kind = "int64" if str(dtype) == "Int64" else "bool"
        filled = series.fillna(0 if kind == "int64" else False).to_numpy(
            dtype=_FIXED[kind]
        )
        return {"kind": str(dtype)}, [filled.tobytes(), mask.tobytes()]
    if str(dtype) in _FIXED:
        return {"kind": str(dtype)}, [
            series.to_numpy().astype(_FIXED[str(dtype)]).tobytes()
        ]
    # pandas-stubs reject na_value=None, which pandas takes (missing -> None)
    values = series.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[call-overload]
    try:
        text = json.dumps(values, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    kind = "object" if dtype == object else "text"
    return {"kind": kind, "dtype": str(dtype)}, [text.encode("ascii")]


def encode(frame: pd.DataFrame, extra: dict) -> bytes | None:
    """The file's bytes; None when some column cannot be stored."""
    columns = []
    buffers: list[bytes] = []
    offset = 0
    for name in frame.columns:
        encoded = _encode_column(frame[name])
        if encoded is None:
            return None
        entry, parts = encoded
        entry["name"] = str(name)
        entry["parts"] = []
        for part in parts:
            entry["parts"].append([offset, len(part)])
            buffers.append(part)
            offset += len(part)
        columns.append(entry)
    header = dict(extra)
    header.update(
        {
            "rows": len(frame),
            "index": [str(name) for name in frame.index],
            "columns": columns,
        }
    )
    head = json.dumps(header, separators=(",", ":")).encode("ascii")
    return MAGIC + struct.pack("<Q", len(head)) + head + b"".join(buffers)


def _decode_column(entry: dict, data: memoryview, base: int, rows: int) -> Any:
    kind = entry["kind"]
    parts = entry["parts"]
    for start, length in parts:
        if base + start + length > len(data):
            raise ValueError("column outside the file")
    pieces = [data[base + start : base + start + length] for start, length in parts]
    if kind in (
        "datetime",
        "timedelta",
        "float64",
        "int64",
        "bool",
        "Int64",
        "boolean",
    ):
        stored_as = {
            "datetime": "int64",
            "timedelta": "int64",
            "Int64": "int64",
            "boolean": "bool",
        }
        dtype = _FIXED[stored_as.get(kind, kind)]
        expected = [rows * dtype.itemsize] + ([rows] if len(pieces) == 2 else [])
        if [len(piece) for piece in pieces] != expected or (
            len(pieces) != (2 if kind in ("Int64", "boolean") else 1)
        ):
            raise ValueError("column of the wrong size")
        values = np.frombuffer(pieces[0], dtype=dtype)
        if kind in ("datetime", "timedelta"):
            unit = entry.get("unit")
            if unit not in _UNITS:
                raise ValueError("unknown time unit")
            if kind == "timedelta":
                return pd.TimedeltaIndex(values.view(f"m8[{unit}]")).array
            return pd.DatetimeIndex(values.view(f"M8[{unit}]")).tz_localize("UTC").array
        if kind in ("Int64", "boolean"):
            mask = np.frombuffer(pieces[1], dtype=_FIXED["bool"])
            cls = pd.arrays.IntegerArray if kind == "Int64" else pd.arrays.BooleanArray
            return cls(values.copy(), mask.copy())
        return values
    if kind not in ("object", "text") or len(pieces) != 1:
        raise ValueError("unknown column kind")
    text = bytes(pieces[0])
    values = safeio.loads_bounded(text) if kind == "object" else json.loads(text)
    if type(values) is not list or len(values) != rows:
        raise ValueError("column of the wrong length")
    if kind == "text":
        if not set(map(type, values)) <= {str, type(None)}:
            raise ValueError("a text column holds other values")
        return pd.array(values, dtype=entry.get("dtype", "object"))
    return object_array(values)


def decode(data: bytes, expect: dict) -> tuple[pd.DataFrame, dict] | None:
    """(frame, header) of a file whose header matches ``expect``; None otherwise."""
    try:
        if not data.startswith(MAGIC):
            return None
        (length,) = struct.unpack_from("<Q", data, len(MAGIC))
        start = len(MAGIC) + 8
        if length > HEADER_LIMIT or start + length > len(data):
            return None
        header = json.loads(data[start : start + length])
        if type(header) is not dict or any(
            header.get(key) != value for key, value in expect.items()
        ):
            return None
        rows, index, columns = header["rows"], header["index"], header["columns"]
        if (
            type(rows) is not int
            or type(index) is not list
            or len(index) != rows
            or not all(type(name) is str for name in index)
            or type(columns) is not list
            or len(columns) > COLUMN_LIMIT
        ):
            return None
        view = memoryview(data)
        built: dict[str, Any] = {}
        for entry in columns:
            if type(entry) is not dict or type(entry.get("name")) is not str:
                return None
            parts = entry.get("parts")
            if type(parts) is not list or not all(
                type(part) is list
                and len(part) == 2
                and all(type(n) is int and n >= 0 for n in part)
                for part in parts
            ):
                return None
            built[entry["name"]] = _decode_column(entry, view, start + length, rows)
    except (ValueError, TypeError, KeyError, RecursionError, struct.error):
        return None
    frame = pd.DataFrame(
        built, index=pd.Index(index, name="id", dtype=object), copy=False
    )
    if not built:
        frame = pd.DataFrame(index=pd.Index(index, name="id", dtype=object))
    return frame, header


def liveness_unchanged(directory: str, paths: dict, running: Any) -> bool:
    """Whether every RUNNING run gets the verdict it had when the frame was stored."""
    if type(running) is not list:
        return False
    now = time.time()
    host = socket.gethostname()
    for run in running:
        if type(run) is not list or len(run) != 5 or run[0] not in paths:
            return False
        name, run_host, pid, timestamp, death = run
        if death_of(paths[name], run_host, pid, timestamp, now, host) != death:
            return False
    return True


def load(directory: str, expect: dict) -> tuple[pd.DataFrame, dict] | None:
    with cachedir.places(directory, create=False) as places:
        for place in places:
            data = place.read(FILE_NAME, FRAME_LIMIT)
            if data is None:
                continue
            found = decode(data, expect)
            if found is not None:
                return found
    return None


def store(directory: str, frame: pd.DataFrame, header: dict) -> bool:
    data = encode(frame, header)
    if data is None:
        return False
    return cachedir.write_first(directory, FILE_NAME, data)
