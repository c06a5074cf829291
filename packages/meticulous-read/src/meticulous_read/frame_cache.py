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
count, checked against the file's length); text columns and the index as
Arrow's layout (a missing-value mask, ``rows + 1`` byte offsets, the UTF-8
bytes), checked (offsets in order and inside the bytes, valid UTF-8) and
handed to pyarrow without copying where pandas keeps its strings there;
everything else as a JSON list parsed with the reader's depth bound. Nothing in it can run code or make
more than its own size of data; a file that breaks any check is ignored.
Only frames of the plain :class:`.ExperimentReader` are cached (a
subclass's properties may hold anything), and only when no folder is
within the 2 s window or has problems.
"""

from __future__ import annotations

import json
import math
import socket
import struct
import time
from typing import Any

import numpy as np
import pandas as pd

from . import cachedir, safeio
from .status import death_of
from .table import object_array, text_dtype

FILE_NAME = "frame-v1.bin"
MAGIC = b"meticulous-read frame v1\n"
FRAME_LIMIT = 8192 * safeio.MiB
HEADER_LIMIT = 64 * safeio.MiB
COPY_FACTOR = 64  # the JSON text list copies may amount to, per byte of the file
COLUMN_LIMIT = 4 * safeio.JSON_VALUES_LIMIT + 64  # four sections, fixed columns
_FIXED = {
    "float64": np.dtype("<f8"),
    "int64": np.dtype("<i8"),
    "bool": np.dtype("?"),
}
_UNITS = ("s", "ms", "us", "ns")


def _encode_texts(values: list) -> list[bytes] | None:
    """[mask, offsets, UTF-8 bytes] of strings and missing values; None for others."""
    texts = []
    missing = []
    for value in values:
        if type(value) is str:
            texts.append(value)
            missing.append(False)
        elif value is None or (type(value) is float and math.isnan(value)):
            texts.append("")
            missing.append(True)
        else:
            return None
    joined = "".join(texts)
    try:
        data = joined.encode("utf-8")
        if len(data) != len(joined):  # not ASCII: byte lengths differ from lengths
            lengths = [len(text.encode("utf-8")) for text in texts]
        else:
            lengths = list(map(len, texts))
    except UnicodeEncodeError:  # a lone surrogate: left to JSON
        return None
    offsets = np.zeros(len(texts) + 1, dtype="<i8")
    np.cumsum(np.array(lengths, dtype="<i8"), out=offsets[1:])
    return [np.array(missing, dtype=bool).tobytes(), offsets.tobytes(), data]


def _arrow_text_parts(series: pd.Series) -> list[bytes]:
    """What :func:`_encode_texts` gives, taken from pyarrow's own buffers."""
    import pyarrow as pa

    array = pa.array(series.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.large_string())
    _, offsets_buffer, data_buffer = array.buffers()
    rows = len(array)
    if offsets_buffer is None:
        offsets = np.zeros(rows + 1, dtype="<i8")
    else:
        offsets = np.frombuffer(offsets_buffer, dtype="<i8")
        offsets = offsets[array.offset : array.offset + rows + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = memoryview(data_buffer)[start:end] if data_buffer is not None else b""
    mask = array.is_null().to_numpy(zero_copy_only=False)
    return [mask.tobytes(), (offsets - start).astype("<i8").tobytes(), bytes(data)]


def _decode_texts(pieces: list, rows: int) -> tuple[np.ndarray, np.ndarray, bytes]:
    """(mask, offsets, bytes) of a text part, checked; ValueError when they lie."""
    if len(pieces) != 3 or len(pieces[0]) != rows or len(pieces[1]) != 8 * (rows + 1):
        raise ValueError("text column of the wrong size")
    mask = np.frombuffer(pieces[0], dtype=_FIXED["bool"])
    offsets = np.frombuffer(pieces[1], dtype=_FIXED["int64"])
    data = bytes(pieces[2])
    if offsets[0] != 0 or offsets[-1] != len(data) or (np.diff(offsets) < 0).any():
        raise ValueError("text offsets outside their bytes")
    return mask, offsets, data


def _text_list(mask: np.ndarray, offsets: np.ndarray, data: bytes) -> list:
    """The values as Python strings (None where missing)."""
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    starts, ends = offsets[:-1].tolist(), offsets[1:].tolist()
    values: list[str | None]
    if len(text) == len(data):  # ASCII: character offsets are byte offsets
        values = [text[a:b] for a, b in zip(starts, ends)]
    else:
        values = [data[a:b].decode("utf-8") for a, b in zip(starts, ends)]
    if mask.any():
        for row in np.flatnonzero(mask).tolist():
            values[row] = None
    return values


def _text_array(pieces: list, rows: int) -> Any:
    """A text column in pandas' own string dtype, through pyarrow when it has it."""
    mask, offsets, data = _decode_texts(pieces, rows)
    dtype = text_dtype()
    if getattr(dtype, "storage", None) == "pyarrow":
        import pyarrow as pa

        array = pa.LargeStringArray.from_buffers(
            rows,
            pa.py_buffer(offsets),
            pa.py_buffer(data),
            pa.py_buffer(np.packbits(~mask, bitorder="little")),
        )
        try:
            array.validate(full=True)  # UTF-8 and offsets, at C speed
        except pa.ArrowInvalid as error:
            raise ValueError(str(error)) from None
        return pd.array(array, dtype=dtype)
    return pd.array(_text_list(mask, offsets, data), dtype=dtype)


def _encode_column(series: pd.Series) -> tuple[dict, list[bytes]] | None:
    """(header entry, buffers) for one column; None when it cannot be stored."""
    dtype = series.dtype
    if dtype == text_dtype() and dtype != object:
        if getattr(dtype, "storage", None) == "pyarrow":
            return {"kind": "utf8"}, _arrow_text_parts(series)
        texts = series.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
        parts = _encode_texts(texts.tolist())
        if parts is not None:
            return {"kind": "utf8"}, parts
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
    # (pandas-stubs reject na_value=None, which pandas takes: missing -> None)
    values = series.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[call-overload]
    try:
        if dtype == object:
            return {"kind": "objects"}, _encode_objects(values)
        text = json.dumps(values, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return {"kind": "text", "dtype": str(dtype)}, [text.encode("ascii")]


def _encode_objects(values: list) -> list[bytes]:
    """[row codes, JSON list of the distinct values]: commands repeat across a sweep.

    Values are told apart by their ``repr`` (C speed, and distinct for
    distinct JSON values: ``1``, ``1.0`` and ``True`` differ), and only the
    distinct ones are encoded.
    """
    codes: dict[str, int] = {}
    add = codes.setdefault
    rows = [add(text, len(codes)) for text in map(repr, values)]
    first: dict[int, int] = {}
    for row, code in enumerate(rows):
        if code not in first:
            first[code] = row
    distinct = json.dumps(
        [values[row] for row in first.values()], separators=(",", ":")
    )
    return [np.array(rows, dtype="<i4").tobytes(), distinct.encode("ascii")]


_SHARED = (str, int, float, bool, type(None))  # immutable: rows may share one


def _decode_objects(pieces: list, rows: int, budget: int) -> np.ndarray:
    """The column; each row its own copy of a list (a caller may change one).

    ``budget`` bounds the JSON text that copies may amount to (a multiple
    of the file's size): a planted file whose rows all name one huge value
    is refused instead of expanding.
    """
    if len(pieces) != 2 or len(pieces[0]) != 4 * rows:
        raise ValueError("column of the wrong size")
    codes = np.frombuffer(pieces[0], dtype="<i4")
    distinct = safeio.loads_bounded(bytes(pieces[1]))
    if type(distinct) is not list or (
        rows and (codes.min() < 0 or codes.max() >= len(distinct))
    ):
        raise ValueError("codes outside the distinct values")
    if not distinct:
        return object_array([])
    texts = [None if type(v) in _SHARED else json.dumps(v) for v in distinct]
    flat = [
        type(v) is list and all(type(item) in _SHARED for item in v) for v in distinct
    ]
    cost = np.array([0 if t is None else len(t) for t in texts], dtype=np.int64)
    if int(cost[codes].sum()) > budget:
        raise ValueError("the column expands beyond the file's bounds")
    column = object_array(distinct)[codes]
    copied = cost[codes] > 0
    if copied.any():
        lists = copied & np.array(flat)[codes]
        column[lists] = np.fromiter(
            map(list, column[lists]), dtype=object, count=int(lists.sum())
        )  # shallow copies at C speed: the items are immutable
        for row in np.flatnonzero(copied & ~lists).tolist():
            column[row] = json.loads(texts[codes[row]])
    return column


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
    index = _encode_texts([str(name) for name in frame.index])
    if index is None:
        return None
    header = dict(extra)
    header.update({"rows": len(frame), "index": [], "columns": columns})
    for part in index:
        header["index"].append([offset, len(part)])
        buffers.append(part)
        offset += len(part)
    head = json.dumps(header, separators=(",", ":")).encode("ascii")
    return MAGIC + struct.pack("<Q", len(head)) + head + b"".join(buffers)


def _are_parts(parts: Any) -> bool:
    """Whether ``parts`` is a list of [offset, length] pairs of natural numbers."""
    return type(parts) is list and all(
        type(part) is list
        and len(part) == 2
        and all(type(n) is int and n >= 0 for n in part)
        for part in parts
    )


def _pieces(data: memoryview, base: int, parts: list) -> list[memoryview]:
    for start, length in parts:
        if base + start + length > len(data):
            raise ValueError("column outside the file")
    return [data[base + start : base + start + length] for start, length in parts]


def _decode_column(entry: dict, data: memoryview, base: int, rows: int) -> Any:
    kind = entry["kind"]
    pieces = _pieces(data, base, entry["parts"])
    if kind == "utf8":
        return _text_array(pieces, rows)
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
        # A copy: the file's bytes are read-only, a caller's frame must not be.
        values = np.frombuffer(pieces[0], dtype=dtype).copy()
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
            return cls(values, mask.copy())
        return values
    if kind == "objects":
        return _decode_objects(pieces, rows, COPY_FACTOR * len(data) + 2**20)
    if kind != "text" or len(pieces) != 1:
        raise ValueError("unknown column kind")
    values = json.loads(bytes(pieces[0]))
    if type(values) is not list or len(values) != rows:
        raise ValueError("column of the wrong length")
    if not set(map(type, values)) <= {str, type(None)}:
        raise ValueError("a text column holds other values")
    return pd.array(values, dtype=entry.get("dtype", "object"))


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
            or not _are_parts(index)
            or type(columns) is not list
            or len(columns) > COLUMN_LIMIT
        ):
            return None
        view = memoryview(data)
        base = start + length
        pieces = _pieces(view, base, index)
        names = _text_list(*_decode_texts(pieces, rows))
        if None in names:
            return None
        built: dict[str, Any] = {}
        for entry in columns:
            if type(entry) is not dict or type(entry.get("name")) is not str:
                return None
            if not _are_parts(entry.get("parts")):
                return None
            built[entry["name"]] = _decode_column(entry, view, base, rows)
    except (ValueError, TypeError, KeyError, RecursionError, struct.error):
        return None
    index = names
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
