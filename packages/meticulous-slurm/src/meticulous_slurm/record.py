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

import dataclasses
import datetime
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meticulous.atomic import write_text_atomic
from meticulous.ids import META_FOLDER

from .errors import SweepError
from .model import SWEEP_NAME
from .pointspec import PointSpec

RECORD_FILE = "sweep.json"
RECORD_VERSION = 1
LAUNCHER_NAME = "meticulous-slurm"


@dataclass
class PointRecord:
    """One point: its args, the argv its job runs, its folder and its jobs.

    ``code_directory`` and ``githead_sha`` are set when ``resume --code
    head`` moved the point to another commit than the sweep's.
    """

    index: int
    params: dict[str, Any]
    argv: list[str]
    experiment_id: str
    job_ids: list[str] = field(default_factory=list)
    code_directory: str | None = None
    githead_sha: str | None = None
    previous_experiment_ids: list[str] = field(default_factory=list)

    @property
    def latest_job_id(self) -> str | None:
        return self.job_ids[-1] if self.job_ids else None


@dataclass
class Submission:
    time: str
    kind: str  # "sweep" or "resume"
    points: list[int]
    slurm_job_id: str | None = None
    local_queue_pid: int | None = None
    error: str | None = None


@dataclass
class SweepRecord:
    """``sweep.json``, typed. The JSON keys are the field names with ``-``."""

    name: str
    created: str
    sweep_file: str | None
    sweep_file_text: str
    executor: str  # a backend name: "slurm" or "local"
    experiments_directory: str
    project_directory: str
    code_directory: str
    githead_sha: str
    dirty: bool
    command: list[str]
    slurm_parameters: dict[str, Any]
    max_requeues: int
    max_parallel: int
    submitit_folder: str
    points: list[PointRecord] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    launcher: str = LAUNCHER_NAME
    record_version: int = RECORD_VERSION

    @property
    def experiments(self) -> Path:
        return Path(self.experiments_directory)

    def folder_of(self, index: int) -> Path:
        return self.experiments / self.points[index].experiment_id

    @property
    def sweep_folder(self) -> Path:
        return sweeps_directory(self.experiments) / self.name

    def launcher_info(self, index: int) -> dict[str, Any]:
        """What the reservation records under ``launcher`` (SPEC §5)."""
        info: dict[str, Any] = {
            "name": LAUNCHER_NAME,
            "sweep": self.name,
            "point": index,
            "sweep-record": self.record_path(),
        }
        sha = self.points[index].githead_sha if index < len(self.points) else None
        if sha:
            info["code-sha"] = sha
        return info

    def record_path(self) -> str:
        """This record's file, as every reservation of the sweep names it."""
        cached = self.__dict__.get("_record_path_text")
        if cached is None:
            cached = str(self.sweep_folder / RECORD_FILE)
            self.__dict__["_record_path_text"] = cached
        return cached

    def point_spec(self, index: int) -> PointSpec:
        point = self.points[index]
        return PointSpec(
            sweep=self.name,
            index=index,
            experiment_id=point.experiment_id,
            experiments_directory=self.experiments_directory,
            code_directory=point.code_directory or self.code_directory,
            argv=tuple(point.argv),
            launcher=self.launcher_info(index),
        )

    def to_json(self) -> dict[str, Any]:
        """Field by field, shallow: ``dataclasses.asdict`` deep-copies every
        point, which made writing a 1,000-point record cost a second."""
        data = _dashed(_fields(self))
        data["points"] = [_dashed(_fields(point)) for point in self.points]
        data["submissions"] = [_dashed(_fields(s)) for s in self.submissions]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepRecord:
        plain = _underscored(data)
        plain["points"] = [
            PointRecord(**_known(PointRecord, p)) for p in plain["points"]
        ]
        plain["submissions"] = [
            Submission(**_known(Submission, s)) for s in plain.get("submissions", [])
        ]
        return cls(**_known(cls, plain))


def _fields(instance: object) -> dict[str, Any]:
    names = _field_names(type(instance))  # type: ignore[arg-type] # a class hashes
    return {name: getattr(instance, name) for name in names}


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    """Once per class: ``dataclasses.fields`` per point was a third of
    writing a 1,000-point record."""
    return tuple(f.name for f in dataclasses.fields(kind))


def _dashed(data: dict[str, Any]) -> dict[str, Any]:
    return {
        key.replace("_", "-"): value
        for key, value in data.items()
        if value is not None or key == "sweep_file"
    }


def _underscored(data: dict[str, Any]) -> dict[str, Any]:
    plain = {key.replace("-", "_"): value for key, value in data.items()}
    for key in ("points", "submissions"):
        if isinstance(plain.get(key), list):
            plain[key] = [
                {k.replace("-", "_"): v for k, v in item.items()}
                for item in plain[key]
                if isinstance(item, dict)
            ]
    return plain


def _known(kind: type, data: dict[str, Any]) -> dict[str, Any]:
    names = _field_names(kind)
    return {key: value for key, value in data.items() if key in names}


def sweeps_directory(experiments_directory: Path) -> Path:
    return experiments_directory / META_FOLDER / "sweeps"


def default_sweep_name(stem: str, now: datetime.datetime | None = None) -> str:
    """``<file stem>-<local time>``: readable, sortable, and unique enough
    that two submissions a second apart get suffixes rather than clash."""
    now = now or datetime.datetime.now()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "sweep"
    return f"{stem[:60]}-{now:%Y%m%d-%H%M%S}"


def check_sweep_name(name: str) -> str:
    """The same rule for a dry run and a real one (a name is a folder)."""
    if not SWEEP_NAME.match(name):
        raise SweepError(
            f"invalid sweep name '{name}': it must start with a letter or digit and "
            "hold only letters, digits, '_', '.' and '-' (at most 100 characters)"
        )
    return name


def create_sweep_folder(
    experiments_directory: Path, name: str, *, explicit: bool
) -> tuple[str, Path]:
    """Create the sweep's folder with an atomic ``mkdir``.

    An explicit name that exists is an error (that sweep may still be running
    and its record must not be overwritten); a default name gets ``-2``,
    ``-3``... instead.
    """
    check_sweep_name(name)
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


def write_record(folder: Path, record: SweepRecord, *, sync: bool = True) -> None:
    """Atomically; the record holds JSON types only, so the stdlib encoder
    (no readable-form conversion as the recorder's values need) is enough.

    ``sync=False`` for a record that nothing submitted depends on yet (the
    one written just before a submission): its fsync made the file system
    commit the folders being written meanwhile, and waited for them.
    """
    write_text_atomic(folder / RECORD_FILE, record_text(record), sync=sync)


def record_text(record: SweepRecord) -> str:
    """One key a line, and one line per point and per submission.

    The C encoder writes only compact JSON; with an indent the stdlib
    encodes in pure Python, and a 1,000-point record (written twice per
    submission) took 35 ms instead of 3.
    """
    encode = json.JSONEncoder(ensure_ascii=False).encode
    lines = []
    for key, value in record.to_json().items():
        if key in ("points", "submissions") and value:
            items = ",\n  ".join(encode(item) for item in value)
            lines.append(f"{encode(key)}: [\n  {items}\n ]")
        else:
            lines.append(f"{encode(key)}: {encode(value)}")
    return "{\n " + ",\n ".join(lines) + "\n}\n"


def read_record(folder: Path) -> SweepRecord:
    path = folder / RECORD_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(f"{folder} is not a sweep: it has no {RECORD_FILE}") from None
    except (OSError, ValueError) as error:
        raise SweepError(f"cannot read {path}: {error}") from None
    if not isinstance(record, dict) or not isinstance(record.get("points"), list):
        raise SweepError(f"{path} is not a sweep record")
    try:
        return SweepRecord.from_json(record)
    except (TypeError, ValueError) as error:
        raise SweepError(f"{path} is not a sweep record: {error}") from None


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
