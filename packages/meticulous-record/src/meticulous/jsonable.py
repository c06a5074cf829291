"""Readable JSON forms of values that JSON cannot hold (spec section 2.6).

Research code passes paths, tuples, numpy scalars and dataclasses as
arguments; refusing them would make the recorder the thing that crashes a
run, so every value gets a readable form instead. Only a circular structure
has none: it is an error, raised before any file is touched.

The optional libraries are never imported here: numpy values are recognised
by their ``tolist``/``item`` methods, and dataclasses, enums and datetimes
through ``sys.modules`` (an instance of one implies its module is loaded).
That keeps ``import meticulous`` cheap.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring
from typing import Any

from .exceptions import UnserialisableValueError

_SCALARS = (str, int, type(None))
_CONTAINERS = (Mapping, list, tuple, set, frozenset)
_NOT_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def readable(value: Any) -> Any:
    """Return ``value`` made of JSON types only; floats NaN/inf become strings.

    Raises UnserialisableValueError for a value that contains itself.
    """
    try:
        return _readable(value, set())
    except RecursionError:
        raise UnserialisableValueError(
            "value is nested too deeply to be recorded as JSON"
        ) from None


def _readable(value: Any, ancestors: set[int]) -> Any:
    if isinstance(value, _SCALARS) and not _is_enum(value):
        return value if type(value) in (str, int, bool, type(None)) else _plain(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, _CONTAINERS) or _is_dataclass(value):
        if id(value) in ancestors:
            raise UnserialisableValueError(
                f"a circular structure cannot be recorded as JSON: "
                f"{type(value).__name__} contains itself"
            )
        ancestors.add(id(value))
        try:
            return _container(value, ancestors)
        finally:
            ancestors.discard(id(value))
    return _readable(_leaf_form(value), ancestors)


def _plain(value: Any) -> Any:
    """str and int subclasses (numpy.str_, IntFlag) as the plain type."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return bool(value)
    return int(value)


def _float(value: float) -> float | str:
    if math.isnan(value):
        return "NaN"
    return _NOT_FINITE.get(value, float(value))


def _container(value: Any, ancestors: set[int]) -> Any:
    if isinstance(value, Mapping):
        return {_key(k): _readable(v, ancestors) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        try:
            items = sorted(value)
        except TypeError:
            items = sorted(value, key=repr)
        return [_readable(item, ancestors) for item in items]
    if isinstance(value, (list, tuple)):
        return [_readable(item, ancestors) for item in value]
    fields = sys.modules["dataclasses"].fields(value)
    return {f.name: _readable(getattr(value, f.name), ancestors) for f in fields}


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str(key)
    form = readable(key)
    return form if isinstance(form, str) else json.dumps(form, ensure_ascii=False)


def _leaf_form(value: Any) -> Any:
    """One step towards JSON for a value that is not a container or scalar."""
    if _is_enum(value):
        return value.value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return path if isinstance(path, str) else path.decode("utf-8", "replace")
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat) and _is_datetime(value):
        return isoformat()
    for method in ("tolist", "item"):  # numpy arrays and scalars, torch tensors
        converted = _call_quietly(getattr(value, method, None))
        if converted is not None and converted is not value:
            return converted
    return _text(value)


def _call_quietly(convert: Any) -> Any:
    """``convert()``, or None when it is missing or fails (``item`` of an array)."""
    if not callable(convert):
        return None
    try:
        return convert()
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return None


def _text(value: Any) -> str:
    """``str`` when the type defines one (it then means something), else repr.

    A broken ``__str__`` must not crash the run being recorded, whatever it
    raises, hence the blind except.
    """
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__} object>"


def _is_enum(value: Any) -> bool:
    enum = sys.modules.get("enum")
    return enum is not None and isinstance(value, enum.Enum)


def _is_dataclass(value: Any) -> bool:
    dataclasses = sys.modules.get("dataclasses")
    return (
        dataclasses is not None
        and not isinstance(value, type)
        and dataclasses.is_dataclass(value)
    )


def _is_datetime(value: Any) -> bool:
    datetime = sys.modules.get("datetime")
    return datetime is not None and isinstance(
        value, (datetime.date, datetime.time, datetime.datetime)
    )


def dumps_document(obj: Any) -> str:
    """The text of a JSON file: readable forms, indent 4, UTF-8, final newline.

    The same text as ``json.dumps(readable(obj), indent=4,
    ensure_ascii=False)``, three times faster: with an indent the stdlib
    encodes in pure Python, one generator step per token, which made the
    2,000 documents of a 1,000-point sweep's reservations cost 60 ms.
    """
    return _indented(readable(obj), "") + "\n"


def _indented(value: Any, indent: str) -> str:
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = indent + "    "
        items = (
            f"{_leaf(key)}: {_indented(item, inner)}" for key, item in value.items()
        )
        return "{\n" + inner + (",\n" + inner).join(items) + "\n" + indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = indent + "    "
        items = (_indented(item, inner) for item in value)
        return "[\n" + inner + (",\n" + inner).join(items) + "\n" + indent + "]"
    return _leaf(value)


def _leaf(value: Any) -> str:
    """A scalar of :func:`readable`'s output as JSON (finite floats only)."""
    encode = _LEAF_ENCODERS.get(type(value))
    if encode is None:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    return encode(value)


_LEAF_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,
    int: int.__repr__,
    float: float.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda value: "null",
}


def line_encoder() -> Callable[[Any], str]:
    """A fast encoder for one compact JSON line (``metrics.jsonl``).

    The common case (plain numbers and strings) goes through the C encoder
    with no conversion at all; unknown types get their readable form through
    ``default``. Only when that fails (NaN, a key JSON cannot hold, a cycle)
    is the value converted as a whole by :func:`readable`, which handles the
    NaN strings and raises on cycles.
    """
    fast = json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, default=readable
    ).encode
    exact = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode

    def encode(obj: Any) -> str:
        try:
            return fast(obj)
        except (ValueError, TypeError):
            return exact(readable(obj))

    return encode
