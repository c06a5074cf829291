"""``metrics.jsonl``: one compact JSON line per ``log`` call (spec 2.5).

Appended with one ``os.write`` per line to a descriptor opened with
``O_APPEND``, so every completed call is in the file (in the kernel's page
cache, not a Python buffer) the moment ``log`` returns: a crash or SIGKILL
loses no completed line, and a reader can follow the file live. There is no
fsync per line: that would cost a disk round trip per step, and a machine
crash is what the heartbeat and the unterminated-last-line rule are for.
The hot path is kept to a set comparison of the names, a dict merge, one
C-encoded ``json`` call and one system call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from time import time as _now
from typing import Any

from .exceptions import InvalidSummaryError
from .jsonable import line_encoder, readable

# Names already checked are remembered so a training loop logging the same
# few names every step skips the check; the cap keeps memory bounded for a
# loop that invents a name per step (those are checked every time).
_MAX_KNOWN_NAMES = 1024
_PLAIN_TYPES = frozenset((float, int, str, bool, type(None)))

Chunks = Callable[[Any, int], Iterable[str]]


class MetricsLog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "metrics.jsonl"
        self._fd: int | None = None
        self._steps = MetricSteps()
        self._known_names: set[str] = set()
        self._encode = line_encoder()
        self._chunks = _c_line_chunks(_readable_unless_media) or _chunks_of(
            self._encode
        )

    def append(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        if type(metrics) is not dict and not isinstance(metrics, Mapping):
            raise InvalidSummaryError(
                f"log() takes a dict of metric names to values, not "
                f"{type(metrics).__name__}"
            )
        if not self._known_names.issuperset(metrics):
            self._check_names(metrics)
        if self._fd is None:
            self._open()
        steps = self._steps
        same_names = metrics.keys() == steps.last_names
        if step is None:
            if same_names and metrics:  # the usual loop: no per-name bookkeeping
                step = steps.last_step + 1
            else:
                step = steps.next_for(metrics)
        elif type(step) is not int:
            step = _checked_step(step)
        row = {"_step": step, "_time": _now(), **metrics}
        try:
            line = "".join(self._chunks(row, 0))
            if len(line) > _LONG_LINE:  # maybe a list over the bound (spec §13.4)
                raise _MediaValue
        except (_MediaValue, ValueError, TypeError, RecursionError):
            line = self._slow_line(metrics, step, row)  # images, NaN, odd keys, a cycle
        os.write(self._fd, (line + "\n").encode("utf-8"))
        if same_names:
            steps.last_step = step
        else:
            steps.advance(metrics, step)

    def _slow_line(self, metrics: Mapping[str, Any], step: int, row: dict) -> str:
        """The line for values the fast path does not take: media first (§13.3)."""
        if not _PLAIN_TYPES.issuperset(map(type, metrics.values())):
            from .media import prepare

            row = {
                "_step": step,
                "_time": row["_time"],
                **prepare(self.folder, metrics, step),
            }
        return self._encode(row)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _check_names(self, metrics: Mapping[str, Any]) -> None:
        for name in metrics:
            if not isinstance(name, str) or name[:1] == "_":
                raise InvalidSummaryError(
                    f"metric name {name!r} is not allowed: names must be strings "
                    f"not starting with '_' (reserved for _step and _time)"
                )
        if len(self._known_names) < _MAX_KNOWN_NAMES:
            self._known_names.update(metrics)

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o666)
        self._steps.replay(self.path)


class _MediaValue(Exception):
    """Raised inside the fast encoder: this line needs the media path."""


# The classes whose values may be images (spec §13.3), by module and name, so
# that nothing is imported to recognise them.
_MEDIA_CLASSES = frozenset(
    {("numpy", "ndarray"), ("PIL.Image", "Image"), ("matplotlib.figure", "Figure")}
)
# Shorter than the shortest encoding of a list over the bound ("1, " per number).
_LONG_LINE = 12000


def _readable_unless_media(value: Any) -> Any:
    for klass in type(value).__mro__:
        if (klass.__module__, klass.__name__) in _MEDIA_CLASSES:
            raise _MediaValue
    return readable(value)


def _c_line_chunks(default: Callable[[Any], Any]) -> Chunks | None:
    """The C encoder behind ``json.dumps``, built once instead of per call.

    ``JSONEncoder.encode`` builds it anew for every call, which is 40% of a
    ``log`` call's own time. It is not public API, so it is used only when it
    exists and encodes a sample exactly as ``JSONEncoder`` does; otherwise
    (PyPy, a future Python) the caller falls back to ``JSONEncoder``. Built
    without circular checking: a cycle ends in RecursionError, and the slow
    path then reports it properly.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    sample = {"a": [1, 2.5, None, True], "b": {"c": "é\n"}, "d": ()}
    reference = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode(sample)
    try:
        chunks = make(
            None,
            default,
            json.encoder.encode_basestring,
            None,
            ": ",
            ", ",
            False,
            False,
            False,
        )
        if "".join(chunks(sample, 0)) != reference:
            return None
    except Exception:  # noqa: BLE001 - any surprise means: do not use it
        return None
    return chunks


def _chunks_of(encode: Callable[[Any], str]) -> Chunks:
    def chunks(row: dict, _level: int) -> Iterable[str]:
        if not _PLAIN_TYPES.issuperset(map(type, row.values())):
            raise _MediaValue
        return (encode(row),)

    return chunks


def _checked_step(step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidSummaryError(f"step must be an integer, not {step!r}")
    return step.__index__()


class MetricSteps:
    """One step counter per metric name (spec §14.1).

    A training loop logs the same names line after line; for such a line
    the step is the previous one plus one, found by comparing the names
    with the previous line's, without touching the per-name counters. They
    are brought up to date only when the names change.
    """

    def __init__(self) -> None:
        self._next: dict[str, int] = {}
        self.last_names: set[str] = set()
        self.last_step = -1

    def next_for(self, metrics: Mapping[str, Any]) -> int:
        if metrics.keys() == self.last_names and metrics:
            return self.last_step + 1
        self._flush()
        if not metrics:
            return max([*self._next.values(), self.last_step + 1])
        get = self._next.get
        return max(get(name, 0) for name in metrics)

    def advance(self, metrics: Mapping[str, Any], step: int) -> None:
        if metrics.keys() != self.last_names:
            self._flush()
            self.last_names = set(metrics)
        self.last_step = step

    def _flush(self) -> None:
        following = self.last_step + 1
        for name in self.last_names:
            self._next[name] = following

    def replay(self, path: Path) -> None:
        """Continue a resumed run's counters from every complete line (spec §14.1)."""
        with open(path, "rb") as existing:
            data = existing.read()
        for line in data.split(b"\n")[
            :-1
        ]:  # the text after the last newline is unfinished
            try:
                record = json.loads(line)
                step = record["_step"]
            except (ValueError, TypeError, KeyError):
                continue
            if type(step) is not int:
                continue
            names = [name for name in record if not name.startswith("_")]
            self.advance(dict.fromkeys(names), step)
        self._flush()
        self.last_names = set()
