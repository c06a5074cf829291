"""An experiments directory: iterate, index by id, one DataFrame, long metrics."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import frame_cache
from . import metrics as metrics_file
from .attempts import latest_attempt
from .experiment import ExperimentReader, extra_properties
from .ids import group_of
from .listing_cache import code_digest, folders_state
from .scan import Scan, list_folders, scan
from .status import BROKEN
from .table import join_tables, timestamp_array, typed_array
from .warn import MeticulousReadWarning, name_list, warn_aggregate

LEGACY_TIMES = {"start": "metadata.start-time", "end": "metadata.end-time"}


def with_legacy_times(frame: pd.DataFrame) -> pd.DataFrame:
    """start, end and duration of runs meticulous-ml wrote (``start-time``, ``end-time``).

    Its times are local and carry no offset; like every time without one
    they are read as UTC. The two keys become the start and end columns
    instead of ``metadata.*`` ones.
    """
    present = {name: old for name, old in LEGACY_TIMES.items() if old in frame.columns}
    if not present:
        return frame
    for name, old in present.items():
        parsed = pd.Series(timestamp_array(frame[old].tolist()), index=frame.index)
        frame[name] = (
            frame[name].fillna(parsed) if frame[name].notna().any() else parsed
        )
    frame["duration"] = frame["end"] - frame["start"]
    return frame.drop(columns=list(present.values()))


def with_group_names(frame: pd.DataFrame) -> pd.DataFrame:
    """A ``name`` column, first, when some experiments are in groups (spec §1)."""
    groups = [group_of(str(name)) for name in frame.index]
    if any(groups) and "name" not in frame.columns:
        frame.insert(0, "name", groups)  # a string column, like description
    return frame


def _directory_of(
    directory: str | os.PathLike,
    project_directory: str | os.PathLike | None,
    experiments_directory: str | os.PathLike | None,
) -> str:
    """The directory to read, from the positional or meticulous-ml's keywords."""
    if experiments_directory is None and project_directory is None:
        return os.fspath(directory)
    if os.fspath(directory) != "experiments":
        raise TypeError(
            "give the experiments directory either as the first argument or as "
            "experiments_directory=/project_directory=, not both"
        )
    if experiments_directory is not None:
        return os.fspath(experiments_directory)
    assert project_directory is not None  # both None returned above
    return os.path.join(os.fspath(project_directory), "experiments")


def _parent_of(name: str, parent: object) -> str | None:
    """A child's parent as an id of this listing: a sibling, so in the child's group."""
    if not isinstance(parent, str):
        return None
    group = name.rpartition("/")[0]
    return f"{group}/{parent}" if group else parent


def _key_array(keys: list) -> np.ndarray:
    """Folder keys as one int64 array (24 bytes a row); -1s where there was none."""
    array = np.array(
        [(-1, -1, -1) if key is None else key for key in keys], dtype=np.int64
    )
    return array.reshape(len(keys), 3)


def _copy_on_write() -> bool:
    """Whether pandas copies a shared column before changing it (pandas 3, or opted in)."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    try:
        return bool(pd.get_option("mode.copy_on_write") is True)
    except (KeyError, ValueError):  # pandas < 1.5 has no such option
        return False


def with_extra_columns(frame: pd.DataFrame, extra: dict[str, list]) -> pd.DataFrame:
    """A reader subclass's columns, right after the fixed ones (or in their place)."""
    position = list(frame.columns).index("parent") + 1
    for name, values in extra.items():
        if name in frame.columns:
            frame[name] = typed_array(values)
        else:
            frame.insert(position, name, typed_array(values))
            position += 1
    return frame


class Experiments:
    """The experiments in ``directory``, read once when the object is created.

    The object is a snapshot in time: create a new one (or call
    :meth:`refresh`) to see runs that started or ended since. It keeps the
    DataFrame's columns, not every run's files: a run's own reader reads
    them when first asked, and a run changed since the listing is read as
    it now is, status included (see :meth:`.ExperimentReader._preload`).

    ``reader`` is the class each experiment is read with; its extra public
    properties become DataFrame columns. ``cache=False`` reads every folder
    instead of reusing the listing cache (which is always correct anyway).

    ``experiments_directory=`` and ``project_directory=`` are meticulous-ml's
    spelling: the experiments directory as given, or
    ``<project_directory>/experiments``.
    """

    def __init__(
        self,
        directory: str | os.PathLike = "experiments",
        reader: type = ExperimentReader,
        cache: bool = True,
        *,
        project_directory: str | os.PathLike | None = None,
        experiments_directory: str | os.PathLike | None = None,
        _listed: tuple | None = None,
    ) -> None:
        if not (isinstance(reader, type) and issubclass(reader, ExperimentReader)):
            raise TypeError("reader must be ExperimentReader or a subclass of it")
        self.directory = _directory_of(
            directory, project_directory, experiments_directory
        )
        self.reader = reader
        self.cache = cache
        self.refresh(_stacklevel=3, _listed=_listed)

    def refresh(self, _stacklevel: int = 2, _listed: tuple | None = None) -> None:
        """Read the directory again (new, changed, ended experiments)."""
        listed = _listed if _listed is not None else list_folders(self.directory)
        self._readers: dict[str, ExperimentReader] = {}  # made when first asked for
        self._frame_key: dict | None = None
        self._snapshots: dict | None = None  # kept for a reader subclass only
        self._listed_folders: list | None = None  # the listing, after a frame cache
        self._folders: dict | None = None  # id -> its (name, path, key) in it
        self._deviations: Any = None  # made when first asked for after a frame cache
        self._deviation_rows: dict | None = None  # id -> row, when read after it
        self._running: list = []
        self._complete = False
        self._with_extra = bool(extra_properties(self.reader))
        state = folders_state(*listed) if self.cache else None
        if state is not None and not self._with_extra:
            self._frame_key = {
                "format": "meticulous-read frame",
                "version": 2,
                "directory": os.path.abspath(self.directory),
                "state": state,
                "code": code_digest(),
            }
        self._stored = False  # the frame is in the frame cache
        self._extra_added = False  # the reader subclass's columns are in the frame
        links = listed[3]
        not_experiments = self._from_frame_cache(listed)
        if not_experiments is None:
            found = scan(
                self.directory,
                use_cache=self.cache,
                listed=listed,
                keep_snapshots=self._with_extra,
            )
            del listed, _listed  # the folders' tuples: not kept beside the columns
            not_experiments = self._from_scan(found)
        self._warn(links, not_experiments, _stacklevel + 1)

    def _from_frame_cache(self, listed: tuple) -> list | None:
        """Take the frame and the folders' keys from a stored frame; None when none."""
        if self._frame_key is None:
            return None
        found = frame_cache.load(self.directory, self._frame_key)
        if found is None:
            return None
        frame, header = found
        names = {folder[0] for folder in listed[1]}
        ids = frame.index.tolist()
        id_set = set(ids)
        not_experiments = header.get("not_experiments")
        running = header.get("running")
        watched = (
            {run[0] for run in running if type(run) is list and run}
            if (type(running) is list)
            else set()
        )
        if (
            "status" not in frame.columns
            or "status_message" not in frame.columns
            or "parent" not in frame.columns
            or len(id_set) != len(ids)
            or id_set.difference(names)
            or type(not_experiments) is not list
            or not all(type(name) is str for name in not_experiments)
            or not frame_cache.liveness_unchanged(
                self.directory,
                {f[0]: f[1] for f in listed[1] if f[0] in watched},
                running,
            )
        ):
            return None
        names.difference_update(not_experiments)
        if len(names) != len(ids):
            return None
        self._ids = ids
        self._listed_folders = listed[1]  # what readers need: indexed when one is made
        self._frame = frame
        self._stored = True
        self._running = header["running"]
        self._complete = True  # only frames without problems are stored
        return not_experiments

    def _from_scan(self, found: Scan) -> list:
        self._ids = found.ids
        self._keys = _key_array(found.keys)
        self._paths = found.paths
        self._snapshots = found.snapshots
        self._running = found.running
        self._complete = found.complete
        self._deviations = found.deviations
        frame = join_tables(found.ids, found.chunks)
        self._frame = with_group_names(with_legacy_times(frame))
        return found.not_experiments

    def _warn(self, links: list, not_experiments: list, stacklevel: int) -> None:
        if links:
            warnings.warn(
                f"symbolic links, not followed: {name_list(sorted(links))}",
                MeticulousReadWarning,
                stacklevel=stacklevel,
            )
        if not_experiments:
            warnings.warn(
                f"not experiments, skipped: {name_list(not_experiments)}"
                " (no STATUS, metadata.json or args.json)",
                MeticulousReadWarning,
                stacklevel=stacklevel,
            )
        statuses = self._frame["status"]
        broken = statuses.index[statuses == BROKEN].tolist()
        if broken:
            warnings.warn(
                f"{len(broken)} of {len(self._ids)} experiments could not be read"
                f" fully (status BROKEN): {name_list(broken)}",
                MeticulousReadWarning,
                stacklevel=stacklevel,
            )
        self._not_experiments = not_experiments

    @property
    def complete(self) -> bool:
        """Whether every experiment was read without a problem (none BROKEN by it)."""
        return self._complete

    def running(self) -> list[tuple]:
        """(id, host, pid, timestamp, why dead or None) of each run STATUS calls RUNNING.

        The inputs of its liveness verdict and the verdict: what a cache of
        anything derived from this listing must check again (spec §8).
        """
        return [tuple(run) for run in self._running]

    def _listed(self, name: str) -> tuple | None:
        """(name, path, key) of the folder, when the frame came from its cache."""
        if self._listed_folders is None:
            return None
        if self._folders is None:
            self._folders = {folder[0]: folder for folder in self._listed_folders}
        return self._folders[name]

    def _path_of(self, name: str) -> str:
        listed = self._listed(name)
        if listed is not None:
            return listed[1]
        return self._paths.get(name) or os.path.join(self.directory, name)

    def _key_of(self, name: str, row: int) -> tuple | None:
        """The folder's key as the listing saw it (cache.folder_key)."""
        listed = self._listed(name)
        if listed is not None:
            return listed[2]
        key = self._keys[row].tolist()
        return None if key[0] < 0 else tuple(key)

    def _row_of(self, name: str) -> int:
        """The experiment's row in the frame; KeyError for an unknown id."""
        row = self._frame.index.get_loc(name)
        if not isinstance(row, int):  # ids are unique: never a slice or mask
            raise KeyError(name)
        return row

    @property
    def ids(self) -> list[str]:
        """Experiment ids, integer ids first in numeric order, then the others."""
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def _reader(self, name: str, row: int | None = None) -> ExperimentReader:
        reader = self._readers.get(name)
        if reader is None:
            if row is None:
                row = self._row_of(name)
            frame = self._frame
            status = (
                str(frame["status"].iat[row]),
                str(frame["status_message"].iat[row]),
            )
            reader = self.reader(self._path_of(name))
            if self._snapshots is not None:  # the listing's own read, kept
                reader._preload(self._snapshots[name], status, name)
            else:  # read when first asked for, checked against the listing's key
                reader._preload(None, status, name, self._key_of(name, row))
            self._readers[name] = reader
        return reader

    def __iter__(self) -> Iterator[ExperimentReader]:
        return (self._reader(name, row) for row, name in enumerate(self._ids))

    def __contains__(self, experiment_id: object) -> bool:
        return str(experiment_id) in self._frame.index

    def __getitem__(self, experiment_id: str | int) -> ExperimentReader:
        if isinstance(experiment_id, bool) or not isinstance(experiment_id, (str, int)):
            raise TypeError(f"experiment ids are str or int, not {experiment_id!r}")
        try:
            return self._reader(str(experiment_id))
        except KeyError:
            raise KeyError(
                f"no experiment {str(experiment_id)!r} in {self.directory!r}"
            ) from None

    def __repr__(self) -> str:
        return f"<Experiments {self.directory!r}: {len(self)} experiments>"

    def children(self, experiment_id: str | int) -> list[str]:
        """Ids of the child runs of ``experiment_id`` (spec §14.3), in id order.

        Found by the children's ``parent`` key, so a parent killed before it
        listed them still finds them.
        """
        parent = str(experiment_id)
        if parent not in self:
            raise KeyError(f"no experiment {parent!r} in {self.directory!r}")
        parents = self._frame["parent"].tolist()
        return [
            name
            for name, value in zip(self._ids, parents)
            if _parent_of(name, value) == parent
        ]

    def deviating_args(self, ids: Sequence[str] | None = None) -> list[str]:
        """``args.*`` columns whose value differs from its default in some experiment.

        The seeds' "runs whose args deviate from defaults". An experiment
        without default_args.json (a launcher's reservation, a broken folder)
        is compared with the defaults the other experiments recorded; an arg
        without a default anywhere counts as deviating.
        """
        chosen = self._ids if ids is None else [str(i) for i in ids]
        if self._deviations is None:  # the frame came from its cache: read them now
            found = scan(self.directory, use_cache=self.cache)
            self._deviations = found.deviations
            self._deviation_rows = {name: row for row, name in enumerate(found.ids)}
        if self._deviation_rows is not None:
            known = self._deviation_rows
            rows: Any = [known[name] for name in chosen if name in known]
        elif ids is None:
            rows = range(len(self._ids))
        else:
            rows = self._frame.index.get_indexer(pd.Index(chosen, dtype=object))
            if (rows < 0).any():
                unknown = chosen[int(np.flatnonzero(rows < 0)[0])]
                raise KeyError(f"no experiment {unknown!r} in {self.directory!r}")
        return self._deviations.deviating(rows)

    def as_dataframe(self) -> pd.DataFrame:
        """One row per experiment, indexed by id; see the package README for columns."""
        if self._with_extra and not self._extra_added:
            self._frame = with_extra_columns(self._frame, self._extra_columns())
            self._extra_added = True
        if self._frame_key is not None and self._complete and not self._stored:
            header = dict(self._frame_key)
            header["running"] = self._running
            header["not_experiments"] = self._not_experiments
            frame_cache.store(self.directory, self._frame, header)
            self._stored = True
        return self._frame.copy(deep=not _copy_on_write())

    def _extra_columns(self) -> dict[str, list]:
        """A reader subclass's properties, one column each; one warning per failure."""
        extra = {}
        failures: dict[str, list[str]] = {}
        for name in extra_properties(self.reader):
            values = []
            for experiment_id in self._ids:
                try:
                    values.append(getattr(self._reader(experiment_id), name))
                except Exception as error:  # noqa: BLE001 - one bad row must not sink all
                    failures.setdefault(f"{name} ({type(error).__name__})", [])
                    failures[f"{name} ({type(error).__name__})"].append(experiment_id)
                    values.append(None)
            extra[name] = values
        for what, ids in failures.items():
            warn_aggregate(f"experiments where property {what} failed", ids, 4)
        return extra

    def plot(self, *metrics: str, **options: Any) -> Any:
        """Learning curves (needs ``meticulous-read[plot]``); see :mod:`.plot`.

        ``by="args.lr"`` colours runs by an arg, ``facet=True`` gives each
        value its own panel; ``x="time"``, ``smooth=0.6``, ``log=True``,
        ``ids=[...]`` and ``ax=`` as in ``meticulous plot``. Returns the
        matplotlib Axes (an array of them for several metrics or facets).
        """
        from .plot import plot_experiments

        return plot_experiments(self, list(metrics), **options)

    def metrics(self) -> pd.DataFrame:
        """Every experiment's logged metrics in long format, for learning curves.

        Columns ``id``, ``step``, ``time`` (UTC timestamps), ``name``, ``value``
        (float; NaN/Infinity strings converted, non-numeric values left out).
        ``step`` is the step of the value's line: each metric's own count in
        files written with per-metric steps (spec §14.1), the run's single
        count in older ones, so ``(id, name, step)`` orders a curve either way.
        """
        ids: list = []
        steps: list = []
        times: list = []
        names: list = []
        values: list = []
        bad_files = []
        for experiment_id in self._ids:
            folder = self._path_of(experiment_id)
            records, bad = metrics_file.read_records(folder)
            if bad:
                bad_files.append(experiment_id)
            metrics_file.long_rows(
                experiment_id, latest_attempt(records), ids, steps, times, names, values
            )
        warn_aggregate("experiments with unreadable metrics.jsonl lines", bad_files)
        seconds = [float(t) if type(t) in (int, float) else float("nan") for t in times]
        step_values = [s if type(s) is int else None for s in steps]
        return pd.DataFrame(
            {
                "id": ids,
                "step": typed_array(step_values) if ids else np.array([], dtype=int),
                "time": pd.to_datetime(seconds, unit="s", utc=True).array,
                "name": names,
                "value": np.array(values, dtype=np.float64),
            }
        )
