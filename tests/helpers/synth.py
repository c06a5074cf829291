"""Write spec-conformant experiment folders with nothing but json and os.

Shared by the reader's tests and the benchmarks (bench/synth.py builds its
data sets of up to 100,000 folders with it): it knows the on-disk format
(spec/SPEC.md), not the recorder, so it can also produce runs a recorder
would write on another host or long ago.
"""

from __future__ import annotations

import json
import math
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone(timedelta(0))
SHA = "3f6c1a0e9b7d4c2a8e5f1b0d9c7a6e4f2b1d0c9a"
TERMINAL = ("SUCCESS", "ERROR", "INTERRUPTED", "CANCELLED")


def jsonable(value: Any) -> Any:
    """NaN and infinities as the spec's strings (spec §2)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """What writers do (spec §2): a temporary dot-file in the folder, then replace."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def write_json(path: str | os.PathLike, value: Any) -> None:
    text = json.dumps(jsonable(value), ensure_ascii=False, indent=4)
    write_atomically(path, text.encode("utf-8"))


def write_experiment(
    directory: str | os.PathLike,
    experiment_id: str | int,
    *,
    status: str | None = "SUCCESS",
    message: str = "",
    args: dict | None = None,
    default_args: dict | None = None,
    summary: dict | None = None,
    metrics: list[dict] | None = None,
    metric_interval: float = 1.0,
    metadata: dict | None = None,
    started: datetime | None = None,
    duration_seconds: float = 60.0,
    host: str = "node017",
    pid: int = 4242,
    heartbeat_age: float | None = 0.0,
    stdout: str | bytes | None = "",
    stderr: str | bytes | None = "",
    dirty_patch: str | None = None,
    spec_version: int = 1,
) -> Path:
    """One experiment folder as a recorder (or launcher, for QUEUED) leaves it.

    ``metadata`` entries override or add keys; ``heartbeat_age=None`` writes no
    heartbeat, ``stdout=None`` no stdout file; ``status=None`` writes no STATUS
    file. Metric rows are ``metric_interval`` seconds apart from ``started``.
    """
    folder = Path(directory) / str(experiment_id)
    folder.mkdir(parents=True, exist_ok=True)
    started = started or datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    args = {"lr": 0.01, "epochs": 10} if args is None else args
    ended = status in TERMINAL
    if status == "QUEUED":
        meta: dict[str, Any] = {
            "spec-version": spec_version,
            "githead-sha": SHA,
            "launcher": {"name": "synth"},
        }
    else:
        meta = {
            "spec-version": spec_version,
            "githead-sha": SHA,
            "githead-message": "Synthetic commit\n",
            "dirty": dirty_patch is not None,
            "description": "",
            "timestamp": iso(started),
            "end-timestamp": (
                iso(started + timedelta(seconds=duration_seconds)) if ended else None
            ),
            "exit-code": {"SUCCESS": 0, "ERROR": 1}.get(status) if ended else None,
            "command": ["train.py"],
            "cwd": "/home/ada/project",
            "host": host,
            "pid": pid,
            "python-version": "3.11.7",
            "resumes": [],
        }
    meta.update(metadata or {})
    write_json(folder / "args.json", args)
    if status != "QUEUED":
        write_json(folder / "default_args.json", default_args or dict(args))
    write_json(folder / "metadata.json", meta)
    if dirty_patch is not None:
        write_atomically(folder / "dirty.patch", dirty_patch.encode("utf-8"))
    if summary is not None:
        write_json(folder / "summary.json", summary)
    if metrics is not None:
        lines = []
        for step, values in enumerate(metrics):
            moment = started.timestamp() + step * metric_interval
            record = {"_step": step, "_time": moment}
            record.update(jsonable(values))
            lines.append(json.dumps(record, ensure_ascii=False) + "\n")
        (folder / "metrics.jsonl").write_text("".join(lines), encoding="utf-8")
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        if text is None:
            continue
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        (folder / name).write_bytes(data)
    if heartbeat_age is not None and status != "QUEUED":
        beat = folder / "heartbeat"
        beat.write_text(f"{host} {pid}\n", encoding="utf-8")
        moment = time.time() - heartbeat_age
        os.utime(beat, (moment, moment))
    if status is not None:
        body = status + ("\n" + message if message else "") + "\n"
        write_atomically(folder / "STATUS", body.encode("utf-8"))
    return folder


def age_folder(folder: str | os.PathLike, seconds: float = 3600.0) -> None:
    """Make a folder look settled (mtime in the past), as after a while on disk."""
    moment = time.time() - seconds
    os.utime(folder, (moment, moment))
