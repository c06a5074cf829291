"""One experiment folder as a Python object with lazy, read-only properties."""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from pathlib import Path
from typing import IO, Any

import pandas as pd

from . import metrics as metrics_file
from . import safeio
from .attempts import latest_attempt
from .cache import folder_key
from .folder import Snapshot, snapshot_of
from .ids import group_of
from .safeio import safe_text
from .status import derive_status
from .table import typed_array
from .warn import MeticulousReadWarning


class ExperimentReader:
    """Read one experiment; subclass it to add derived fields.

    Every public property a subclass adds becomes a column of
    ``Experiments(directory, reader=Subclass).as_dataframe()``::

        class MyReader(ExperimentReader):
            @property
            def best_accuracy(self):
                return self.metrics["accuracy"].max()

    Subclasses keep the ``__init__(self, path)`` signature. Nothing is read
    before a property asks for it, and each file is read at most once.
    """

    def __init__(
        self, path: str | os.PathLike, *, experiment_id: str | None = None
    ) -> None:
        """``experiment_id`` names a run in a group (``dense_model/1``, spec §1)."""
        self._location = os.fspath(path)
        self._snapshot: Snapshot | None = None
        self._status: tuple[str, str] | None = None
        self._id: str | None = experiment_id

    # A reader made by a listing (Experiments) reads its folder as the listing
    # did: never through a symbolic link, and with the listing's status as long
    # as the folder keeps the key (mtime, ctime, inode) the listing saw.
    _follow_link = True
    _listed_key: tuple | None = None

    def _preload(
        self,
        snapshot: Snapshot | None,
        status: tuple[str, str],
        experiment_id: str | None = None,
        folder_key: tuple | None = None,
    ) -> None:
        """Hand over what a directory listing found.

        ``snapshot`` is the listing's read of the small files, or None: then
        they are read when first asked for, and when the folder changed
        since the listing (its key is not ``folder_key``), the status is
        derived again from that read, so a reader never mixes the listing's
        status with newer files.
        """
        self._snapshot = snapshot
        self._status = status
        self._id = experiment_id
        self._follow_link = False
        self._listed_key = folder_key if snapshot is None else None

    def _changed_since_listing(self) -> bool:
        try:
            info = os.stat(self._location, follow_symlinks=False)
        except OSError:
            return True
        return folder_key(info) != self._listed_key

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._location!r}>"

    # -- identity ---------------------------------------------------------------

    @property
    def id(self) -> str:
        """The experiment id: the folder's name, after its group's (``dense_model/1``)."""
        if self._id is not None:
            return self._id
        return safe_text(os.path.basename(os.path.normpath(self._location)))

    @property
    def name(self) -> str | None:
        """The group the experiment was recorded under (spec §1), None at the top."""
        return group_of(self.id)

    @functools.cached_property
    def path(self) -> Path:
        return Path(self._location)

    @property
    def _path(self) -> Path:
        return self.path

    # -- the small JSON files -------------------------------------------------------

    @property
    def _record(self) -> Snapshot:
        if self._snapshot is None:
            snapshot = snapshot_of(self._location, self.id, self._follow_link)
            if self._listed_key is not None:  # read after the listing: the same?
                if self._changed_since_listing():  # (checked after the read)
                    self._status = None
                self._listed_key = None
            self._snapshot = snapshot
        return self._snapshot

    @property
    def args(self) -> dict:
        """args.json ({} when missing or unreadable)."""
        return self._record["args"] or {}

    @property
    def default_args(self) -> dict:
        return self._record["default_args"] or {}

    @property
    def metadata(self) -> dict:
        return self._record["metadata"] or {}

    @property
    def parent(self) -> str | None:
        """The parent's id when this is a child run (spec §14.3), else None."""
        parent = self.metadata.get("parent")
        return parent if isinstance(parent, str) else None

    @property
    def summary(self) -> dict:
        return self._record["summary"] or {}

    @property
    def tags(self) -> dict:
        """tags.json (spec §15; {} when there are none)."""
        return self._record.get("tags") or {}

    # -- status --------------------------------------------------------------------

    def _derived_status(self) -> tuple[str, str]:
        if self._listed_key is not None and self._changed_since_listing():
            self._status = None
        if self._status is None:
            self._status = derive_status(self._record, self._location, time.time())
        return self._status

    @property
    def status(self) -> str:
        """The status word as a reader reports it (DEAD, BROKEN, UNSUPPORTED too)."""
        return self._derived_status()[0]

    @property
    def status_message(self) -> str:
        """The traceback, exit reason, or why the reader derived its word."""
        return self._derived_status()[1]

    # -- larger files, read on demand -------------------------------------------------

    @functools.cached_property
    def metrics(self) -> pd.DataFrame:
        """metrics.jsonl: one row per logged line; ``_step``, ``_time`` then names.

        Only the latest attempt's rows (spec §16), so a resumed run is one curve.
        """
        records, bad = metrics_file.read_records(self._location)
        records = latest_attempt(records)
        if bad:
            warnings.warn(
                f"experiment {self.id}: {bad} line(s) of metrics.jsonl skipped",
                MeticulousReadWarning,
                stacklevel=2,
            )
        names: dict[str, None] = {"_step": None, "_time": None}
        for record in records:
            for name in record:
                names.setdefault(name, None)
        columns: dict[str, Any] = {}
        for name in names:
            values = [record.get(name) for record in records]
            if name == "_time":
                seconds = [
                    float(v) if type(v) is int or type(v) is float else math.nan
                    for v in values
                ]
                columns[name] = pd.to_datetime(seconds, unit="s", utc=True).array
            else:
                columns[name] = typed_array(values)
        return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))

    def tail(self, name: str, max_bytes: int = 1024 * 1024) -> tuple[str, int]:
        """(the end of one of the run's text files, how many bytes came before it).

        At most ``max_bytes`` are read, from the end, whatever the file's
        size: what ``meticulous show`` needs of a gigabyte of stdout. A
        missing file is ``("", 0)``; a file that is not a regular file, or
        cannot be read, raises OSError with the reason.
        """
        folder = safeio.open_folder(self._location)
        try:
            found = safeio.read_tail(name, max_bytes, folder)
        finally:
            os.close(folder)
        if found is None:
            return "", 0
        data, skipped = found
        return data.decode("utf-8", errors="replace"), skipped

    def _text(self, name: str) -> str:
        """The file's text (its last ``TEXT_LIMIT`` bytes); "" when missing.

        A file that cannot be read is "" too, with one warning that says why:
        a folder planted with a FIFO or a link must not stop ``show``.
        """
        try:
            text, skipped = self.tail(name, safeio.TEXT_LIMIT)
        except OSError as error:
            warnings.warn(
                f"experiment {self.id}: {name} cannot be read"
                f" ({safeio.describe_error(error)})",
                MeticulousReadWarning,
                stacklevel=3,
            )
            return ""
        if skipped:
            text = f"[… {skipped} earlier bytes not read]\n" + text
        return text

    @functools.cached_property
    def stdout(self) -> str:
        """The captured standard output, undecodable bytes replaced."""
        return self._text("stdout")

    @functools.cached_property
    def stderr(self) -> str:
        return self._text("stderr")

    @functools.cached_property
    def dirty_patch(self) -> str | None:
        """The uncommitted changes the run was recorded with, None if clean."""
        if not os.path.lexists(self._path / "dirty.patch"):
            return None
        return self._text("dirty.patch")

    def open(self, name: str, mode: str = "r", **kwargs: Any) -> IO[Any]:
        """Open one of the experiment's own files for reading (``model.pkl``).

        Only reading modes are allowed: a reader never changes a record.
        """
        if set(mode) - set("rbt"):
            raise ValueError(f"a reader opens files for reading only, not {mode!r}")
        target = (self._path / name).resolve()
        if self._path.resolve() not in target.parents:
            raise ValueError(f"{name!r} is not inside experiment {self.id!r}")
        # A FIFO or device planted under the name would block or never end.
        return open(safeio.open_regular(str(target)), mode, **kwargs)


def base_property_names() -> frozenset[str]:
    return frozenset(dir(ExperimentReader))


def extra_properties(reader_class: type) -> list[str]:
    """Public properties a subclass adds to ExperimentReader, in definition order."""
    base = base_property_names()
    names: dict[str, None] = {}
    for klass in reversed(reader_class.__mro__):
        if klass is ExperimentReader or not issubclass(klass, ExperimentReader):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_") or name in base:
                continue
            if isinstance(member, (property, functools.cached_property)):
                names.setdefault(name, None)
    return list(names)
