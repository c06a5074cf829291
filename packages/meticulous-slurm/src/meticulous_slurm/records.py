"""A sweep's own record: ``<experiments>/.meticulous/sweeps/<name>/``.

Everything needed to follow, resume or cancel a sweep later lives there, next
to the experiments it made, so it travels with them (SPEC §7 reserves
``.meticulous/sweeps/`` for launchers):

* ``sweep.json`` -- the sweep file's text, the points, their experiment ids
  and job ids, the executor and its parameters; rewritten atomically;
* ``code/`` -- the frozen checkout the jobs run (see snapshot.py);
* ``submitit/`` -- submitit's pickles and the jobs' logs.

Only the command-line process writes ``sweep.json`` (local runs keep their
own progress in ``local-queue.json``), so a plain atomic replace is enough.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

from meticulous.atomic import write_json_atomic

from .errors import SweepError
from .sweepfile import SWEEP_NAME

RECORD_FILE = "sweep.json"
RECORD_VERSION = 1


def sweeps_directory(experiments_directory: Path) -> Path:
    return experiments_directory / ".meticulous" / "sweeps"


def default_sweep_name(sweep_file: Path, now: datetime.datetime | None = None) -> str:
    """``<file stem>-<local time>``: readable, sortable, and unique enough
    that two submissions a second apart get suffixes rather than clash."""
    now = now or datetime.datetime.now()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", sweep_file.stem).strip("-.") or "sweep"
    return f"{stem[:60]}-{now:%Y%m%d-%H%M%S}"


def create_sweep_folder(
    experiments_directory: Path, name: str, *, explicit: bool
) -> tuple[str, Path]:
    """Create the sweep's folder with an atomic ``mkdir``.

    An explicit name that exists is an error (that sweep may still be running
    and its record must not be overwritten); a default name gets ``-2``,
    ``-3``... instead.
    """
    if not SWEEP_NAME.match(name):
        raise SweepError(f"invalid sweep name '{name}'")
    parent = sweeps_directory(experiments_directory)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SweepError(f"cannot create {parent}: {error}") from None
    candidate, suffix = name, 1
    while True:
        folder = parent / candidate
        try:
            folder.mkdir()
            return candidate, folder
        except FileExistsError:
            if explicit:
                raise SweepError(
                    f"a sweep named '{name}' already exists in {experiments_directory}"
                    " (use 'meticulous-slurm resume' to rerun it, or choose another name)"
                ) from None
            suffix += 1
            candidate = f"{name}-{suffix}"


def write_record(folder: Path, record: dict[str, Any]) -> None:
    write_json_atomic(folder / RECORD_FILE, record)


def read_record(folder: Path) -> dict[str, Any]:
    path = folder / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{folder} is not a sweep: it has no {RECORD_FILE}") from None
    except (OSError, ValueError) as error:
        raise SweepError(f"cannot read {path}: {error}") from None
    if not isinstance(record, dict) or "points" not in record:
        raise SweepError(f"{path} is not a sweep record")
    return record


def locate_sweep(spec: str, experiments_directory: Path | None) -> Path:
    """The folder of the sweep ``spec``: a sweep folder, its sweep.json, or a
    name looked up in the experiments directory (default ``./experiments``)."""
    given = Path(spec)
    if given.name == RECORD_FILE and given.is_file():
        return given.parent.resolve()
    if (given / RECORD_FILE).is_file():
        return given.resolve()
    directory = (experiments_directory or Path("experiments")).resolve()
    candidate = sweeps_directory(directory) / spec
    if SWEEP_NAME.match(spec) and (candidate / RECORD_FILE).is_file():
        return candidate
    available = sorted(
        p.parent.name for p in sweeps_directory(directory).glob(f"*/{RECORD_FILE}")
    )
    hint = f" (sweeps there: {', '.join(available[-10:])})" if available else ""
    raise SweepError(
        f"no sweep '{spec}' in {directory}{hint}; pass --experiments-directory "
        "or the path of the sweep's folder"
    )


def now_iso() -> str:
    return datetime.datetime.now().astimezone().isoformat()
