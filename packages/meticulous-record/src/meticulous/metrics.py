"""``metrics.jsonl``: one compact JSON line per ``log`` call (spec 2.5).

Appended with one ``os.write`` per line to a descriptor opened with
``O_APPEND``, so every completed call is in the file (in the kernel's page
cache, not a Python buffer) the moment ``log`` returns: a crash or SIGKILL
loses no completed line, and a reader can follow the file live. There is no
fsync per line: that would cost a disk round trip per step, and a machine
crash is what the heartbeat and the unterminated-last-line rule are for.
A write the disk cuts short is completed or cut off again (spec 12.2): a
row is in the file whole, or ``log`` raises. The hot path is kept to a set comparison of the names, a dict merge, one
C-encoded ``json`` call and one system call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from time import time as _now
from typing import Any

from .exceptions import InvalidMetricsError, StorageError
from .filenames import METADATA_FILE, METRICS_FILE
from .jsonable import line_encoder, readable
from .safepaths import open_file

# Names already checked are remembered so a training loop logging the same
# few names every step skips the check; the cap keeps memory bounded for a
# loop that invents a name per step (those are checked every time).
_MAX_KNOWN_NAMES = 1024
_PLAIN_TYPES = frozenset((float, int, str, bool, type(None)))

Chunks = Callable[[Any, int], list]  # a list of str, as the C encoder returns


class MetricsLog:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / METRICS_FILE
        self._fd = _CLOSED  # metrics.jsonl's descriptor, opened by the first append
        self._steps = MetricSteps()
        self._known_names: set[str] = set()
        # Set up by the first log(), so that a run that logs nothing pays
        # nothing for it at its start.
        self._attempt: dict[str, int] = {}
        self._encode: Callable[[Any], str] = _not_open
        self._chunks: Chunks = _not_open

    def append(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Write one row whole, or raise with nothing of it left in the file.

        This is the whole path of a training loop's row, in one function
        (a call is a measurable part of its cost): a names comparison, a dict
        merge, one C-encoded join, one encode and one system call. A forked
        run's rows go through ``_append_shared`` instead, which calls this.
        """
        if type(metrics) is not dict and not isinstance(metrics, Mapping):
            raise InvalidMetricsError(
                f"log() takes a dict of metric names to values, not "
                f"{type(metrics).__name__}"
            )
        steps = self._steps
        # The previous row's names were checked: the usual loop skips the check.
        same_names = metrics.keys() == steps.last_names
        if not same_names and not self._known_names.issuperset(metrics):
            self._check_names(metrics)
        if self._fd < 0:
            self._open()  # a resumed run's counters continue: names may differ now
            same_names = metrics.keys() == steps.last_names
        if step is None:
            if same_names and metrics:  # the usual loop: no per-name bookkeeping
                step = steps.last_step + 1
            else:
                step = steps.next_for(metrics)
        elif type(step) is not int:
            step = _checked_step(step)
        row = {"_step": step, "_time": _now(), **self._attempt, **metrics}
        try:
            chunks = self._chunks(row, 0)
            chunks.append("\n")
            data = "".join(chunks).encode()
            size = len(data)
            if size > _LONG_LINE:  # maybe a list over the bound (spec §13.4)
                raise _MediaValue
        except (_MediaValue, ValueError, TypeError, RecursionError):
            # images, NaN, odd keys, a cycle
            data = (self._slow_line(metrics, step, row) + "\n").encode()
            size = len(data)
        try:
            written = os.write(self._fd, data)
        except OSError as error:
            raise _refused(self.path, step, error) from None
        if written != size:  # a short write (spec 12.2)
            self._complete_line(data, written, step)
        if same_names:
            steps.last_step = step
        else:
            steps.advance(metrics, step)

    def share_steps(self) -> None:
        """This process or its parent forked (spec 2.5): from now on several
        processes append, so every row first catches up with the file's."""
        self.append = self._append_shared  # type: ignore[method-assign]

    def _append_shared(
        self, metrics: Mapping[str, Any], step: int | None = None
    ) -> None:
        from .forks import exclusive_lock

        if self._fd < 0:
            self._open()
        with exclusive_lock(self.path):
            self._steps.catch_up(self._fd)
            MetricsLog.append(self, metrics, step)
            # Under the lock our row ends the file, and O_APPEND left the
            # offset there.
            self._steps.offset = os.lseek(self._fd, 0, os.SEEK_CUR)

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

    def _complete_line(self, data: bytes, written: int, step: int) -> None:
        """Finish a short write, or cut the partial line off again (spec 12.2).

        With ``O_APPEND`` the offset after a write is the end of what it
        wrote, so the line began ``written`` bytes before it.
        """
        fd = self._fd
        start = os.lseek(fd, 0, os.SEEK_CUR) - written
        try:
            while written < len(data):
                written += os.write(fd, data[written:])
        except OSError as error:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass  # the unterminated last line is then ignored by readers
            raise _refused(self.path, step, error) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = _CLOSED

    def _check_names(self, metrics: Mapping[str, Any]) -> None:
        for name in metrics:
            if not isinstance(name, str) or name[:1] == "_":
                raise InvalidMetricsError(
                    f"metric name {name!r} is not allowed: names must be strings "
                    f"not starting with '_' (reserved for _step and _time)"
                )
        if len(self._known_names) < _MAX_KNOWN_NAMES:
            self._known_names.update(metrics)

    def _open(self) -> None:
        attempt = _attempt_of(self.folder)  # {"_attempt": n} on a resumed run's rows
        self._attempt = {"_attempt": attempt} if attempt > 1 else {}
        self._encode = line_encoder()
        self._chunks = _c_line_chunks(_readable_unless_media) or _chunks_of(
            self._encode
        )
        self._fd = open_file(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        self._steps.catch_up(self._fd)  # a resumed run continues its counters


_CLOSED = -1


def _not_open(*_: Any) -> Any:
    raise AssertionError("MetricsLog used before _open()")


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
        encoded = chunks(sample, 0)  # a list, which append() adds the newline to
        if type(encoded) is not list or "".join(encoded) != reference:
            return None
    except Exception:  # noqa: BLE001 - any surprise means: do not use it
        return None
    return chunks


def _chunks_of(encode: Callable[[Any], str]) -> Chunks:
    def chunks(row: dict, _level: int) -> list[str]:
        if not _PLAIN_TYPES.issuperset(map(type, row.values())):
            raise _MediaValue
        return [encode(row)]

    return chunks


def _checked_step(step: Any) -> int:
    if isinstance(step, bool) or not hasattr(step, "__index__"):
        raise InvalidMetricsError(f"step must be an integer, not {step!r}")
    return step.__index__()


def _refused(path: Path, step: int, error: OSError) -> StorageError:
    return StorageError(
        error.errno or 0,
        f"log() could not record step {step} in {path}: "
        f"{error.strerror or error}; that row is not in the file, the earlier "
        f"ones are intact",
    )


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
        self.offset = 0  # bytes of metrics.jsonl already counted

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

    def catch_up(self, fd: int) -> None:
        """Bring the counters up to the file's end (spec §14.1): every complete
        line after ``offset``, whoever wrote it (a resumed run's earlier
        lines, or a forked sibling's, spec 2.5). Reading only what is new
        keeps a forked run's ``log`` cheap."""
        size = os.fstat(fd).st_size
        if size <= self.offset:
            return
        data = os.pread(fd, size - self.offset, self.offset)
        complete = (
            data.rfind(b"\n") + 1
        )  # the text after the last newline is unfinished
        for line in data[:complete].split(b"\n")[:-1]:
            try:
                record = json.loads(line)
                step = record["_step"]
            except (ValueError, TypeError, KeyError):
                continue
            if type(step) is not int:
                continue
            names = [name for name in record if not name.startswith("_")]
            self.advance(dict.fromkeys(names), step)
        self.offset += complete


def _attempt_of(folder: Path) -> int:
    """Spec §16: run n of a folder is attempt 1 + len(resumes); rows of a
    resumed attempt say so, so its restarted steps are not joined to the last."""
    from .folders import read_json_object

    resumes = (read_json_object(folder / METADATA_FILE) or {}).get("resumes")
    return 1 + len(resumes) if isinstance(resumes, list) else 1
