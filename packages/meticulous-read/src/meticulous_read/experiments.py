"""An experiments directory: iterate, index by id, one DataFrame, long metrics."""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from . import metrics as metrics_file
from .attempts import latest_attempt
from .experiment import ExperimentReader, extra_properties
from .scan import scan
from .status import BROKEN, derive_status
from .table import build_table, flat_items, has_nested, typed_array
from .warn import MeticulousReadWarning, name_list, warn_aggregate


def _flat(values: dict | None) -> dict:
    """Dotted names to values; the dict itself (not copied) when already flat."""
    if not values:
        return {}
    return dict(flat_items(values)) if has_nested(values) else values


class Experiments:
    """The experiments in ``directory``, read once when the object is created.

    The object is a snapshot in time: create a new one (or call
    :meth:`refresh`) to see runs that started or ended since.

    ``reader`` is the class each experiment is read with; its extra public
    properties become DataFrame columns. ``cache=False`` reads every folder
    instead of reusing the listing cache (which is always correct anyway).
    """

    def __init__(
        self,
        directory: str | os.PathLike = "experiments",
        reader: type = ExperimentReader,
        cache: bool = True,
        *,
        _listed: tuple | None = None,
    ) -> None:
        if not (isinstance(reader, type) and issubclass(reader, ExperimentReader)):
            raise TypeError("reader must be ExperimentReader or a subclass of it")
        self.directory = os.fspath(directory)
        self.reader = reader
        self.cache = cache
        self.refresh(_stacklevel=3, _listed=_listed)

    def refresh(self, _stacklevel: int = 2, _listed: tuple | None = None) -> None:
        """Read the directory again (new, changed, ended experiments)."""
        found = scan(self.directory, use_cache=self.cache, listed=_listed)
        host = socket.gethostname()
        self._ids = found.ids
        self._statuses = {
            name: derive_status(
                found.snapshots[name],
                os.path.join(self.directory, name),
                found.scanned_at,
                host,
            )
            for name in found.ids
        }
        self._readers: dict[str, ExperimentReader] = {}  # made when first asked for
        self._snapshots = found.snapshots
        if found.not_experiments:
            warnings.warn(
                f"not experiments, skipped: {name_list(found.not_experiments)}"
                " (no STATUS, metadata.json or args.json)",
                MeticulousReadWarning,
                stacklevel=_stacklevel,
            )
        broken = [name for name in self._ids if self._statuses[name][0] == BROKEN]
        if broken:
            warnings.warn(
                f"{len(broken)} of {len(self._ids)} experiments could not be read"
                f" fully (status BROKEN): {name_list(broken)}",
                MeticulousReadWarning,
                stacklevel=_stacklevel,
            )

    @property
    def ids(self) -> list[str]:
        """Experiment ids, integer ids first in numeric order, then the others."""
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def _reader(self, name: str) -> ExperimentReader:
        reader = self._readers.get(name)
        if reader is None:
            reader = self.reader(os.path.join(self.directory, name))
            reader._preload(self._snapshots[name], self._statuses[name])
            self._readers[name] = reader
        return reader

    def __iter__(self) -> Iterator[ExperimentReader]:
        return (self._reader(name) for name in self._ids)

    def __contains__(self, experiment_id: object) -> bool:
        return str(experiment_id) in self._statuses

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

    def deviating_args(self, ids: Sequence[str] | None = None) -> list[str]:
        """``args.*`` columns whose value differs from its default in some experiment.

        The seeds' "runs whose args deviate from defaults". An experiment
        without default_args.json (a launcher's reservation, a broken folder)
        is compared with the defaults the other experiments recorded; an arg
        without a default anywhere counts as deviating.
        """
        chosen = self._ids if ids is None else [str(i) for i in ids]
        pairs = []
        known_defaults: dict = {}
        for name in chosen:
            snapshot = self._snapshots[name]
            args = _flat(snapshot["args"])
            defaults = _flat(snapshot["default_args"])
            known_defaults.update(defaults)
            pairs.append((args, defaults))
        names: dict[str, None] = {}
        for args, defaults in pairs:
            defaults = defaults or known_defaults
            for key, value in args.items():
                if key not in defaults or defaults[key] != value:
                    names.setdefault("args." + key, None)
        return list(names)

    def as_dataframe(self) -> pd.DataFrame:
        """One row per experiment, indexed by id; see the package README for columns."""
        extra = {}
        names = extra_properties(self.reader)
        if names:
            failures: dict[str, list[str]] = {}
            for name in names:
                values = []
                for experiment_id in self._ids:
                    try:
                        values.append(getattr(self._reader(experiment_id), name))
                    except Exception as error:  # noqa: BLE001 - one bad row must not sink all
                        failures.setdefault(f"{name} ({type(error).__name__})", [])
                        failures[f"{name} ({type(error).__name__})"].append(
                            experiment_id
                        )
                        values.append(None)
                extra[name] = values
            for what, ids in failures.items():
                warn_aggregate(f"experiments where property {what} failed", ids)
        return build_table(
            self._ids,
            [self._snapshots[name] for name in self._ids],
            [self._statuses[name] for name in self._ids],
            extra,
        )

    def metrics(self) -> pd.DataFrame:
        """Every experiment's logged metrics in long format, for learning curves.

        Columns ``id``, ``step``, ``time`` (UTC timestamps), ``name``, ``value``
        (float; NaN/Infinity strings converted, non-numeric values left out).
        """
        ids: list = []
        steps: list = []
        times: list = []
        names: list = []
        values: list = []
        bad_files = []
        for experiment_id in self._ids:
            folder = os.path.join(self.directory, experiment_id)
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
