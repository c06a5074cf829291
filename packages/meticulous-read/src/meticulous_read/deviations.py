"""Which args deviate from their defaults, kept in a few bytes per experiment.

``meticulous DIR`` shows the args that differ from their default in some
listed run (``--args non-default``), so the listing needs every run's
``args.json`` and ``default_args.json`` — not as dicts per run: a sweep has
a handful of distinct answers. Each run keeps a code of the arg names that
deviate from its own defaults (those names, in args order, are shared by
all runs with the same answer), and a code of its defaults; only a run
without defaults (a launcher's reservation, a broken folder) keeps its
args, to be compared with the defaults the other listed runs recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .table import flat_items, has_nested

NO_DEFAULTS = -1


def _flat(values: dict | None) -> dict:
    """Dotted names to values; the dict itself (not copied) when already flat."""
    if not values:
        return {}
    return dict(flat_items(values)) if has_nested(values) else values


class Deviations:
    """Per experiment, in row order: its deviating arg names and its defaults."""

    def __init__(self) -> None:
        self.names: list[tuple] = []  # distinct tuples of deviating arg names
        self.defaults: list[dict] = []  # distinct flat default_args
        self.name_codes: list[int] = []  # per row, into names; NO_DEFAULTS: see args
        self.default_codes: list[int] = []  # per row, into defaults, or NO_DEFAULTS
        self.args: dict[int, dict] = {}  # row -> flat args, for rows without defaults
        self._name_index: dict[tuple, int] = {}
        self._default_index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.name_codes)

    def _code_of_names(self, names: tuple) -> int:
        code = self._name_index.get(names)
        if code is None:
            code = self._name_index[names] = len(self.names)
            self.names.append(names)
        return code

    def _code_of_defaults(self, defaults: dict) -> int:
        text = repr(list(defaults.items()))  # equal text: equal dicts
        code = self._default_index.get(text)
        if code is None:
            code = self._default_index[text] = len(self.defaults)
            self.defaults.append(defaults)
        return code

    def add(self, args: dict | None, default_args: dict | None) -> None:
        """One experiment's args.json and default_args.json (None when missing)."""
        flat_args, defaults = _flat(args), _flat(default_args)
        if not defaults:
            self.args[len(self.name_codes)] = flat_args
            self.name_codes.append(NO_DEFAULTS)
            self.default_codes.append(NO_DEFAULTS)
            return
        names = tuple(
            key
            for key, value in flat_args.items()
            if key not in defaults or defaults[key] != value
        )
        self.name_codes.append(self._code_of_names(names))
        self.default_codes.append(self._code_of_defaults(defaults))

    def extend(self, other: Deviations) -> None:
        """Append another's rows (a worker's chunk), coding them anew."""
        names = [self._code_of_names(n) for n in other.names]
        defaults = [self._code_of_defaults(d) for d in other.defaults]
        offset = len(self.name_codes)
        self.name_codes.extend(
            NO_DEFAULTS if code == NO_DEFAULTS else names[code]
            for code in other.name_codes
        )
        self.default_codes.extend(
            NO_DEFAULTS if code == NO_DEFAULTS else defaults[code]
            for code in other.default_codes
        )
        for row, args in other.args.items():
            self.args[offset + row] = args

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_name_index"] = state["_default_index"] = None  # rebuilt on arrival
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._name_index = {names: code for code, names in enumerate(self.names)}
        self._default_index = {
            repr(list(d.items())): code for code, d in enumerate(self.defaults)
        }

    def compact(self) -> None:
        """Keep the per-row codes as arrays (4 bytes a row) once all rows are in."""
        self.name_codes = np.array(self.name_codes, dtype=np.int32)  # type: ignore[assignment]
        self.default_codes = np.array(self.default_codes, dtype=np.int32)  # type: ignore[assignment]

    def deviating(self, rows: Iterable[int]) -> list[str]:
        """``args.*`` names deviating in some of these rows, in order of appearance.

        A row without defaults is compared with the defaults the other rows
        recorded (the last one's value where several did); an arg without a
        default anywhere counts as deviating.
        """
        chosen = np.asarray(list(rows), dtype=np.int64)
        if not len(chosen):
            return []
        name_codes = np.asarray(self.name_codes)[chosen]
        known: dict[str, Any] = {}
        if (name_codes == NO_DEFAULTS).any():
            default_codes = np.asarray(self.default_codes)[chosen][::-1]
            _, last = np.unique(default_codes, return_index=True)
            for position in sorted(last.tolist(), reverse=True):  # oldest first
                code = int(default_codes[position])
                if code != NO_DEFAULTS:
                    known.update(self.defaults[code])
        _, first = np.unique(name_codes, return_index=True)
        wanted = np.zeros(len(chosen), dtype=bool)
        wanted[first] = True
        wanted |= name_codes == NO_DEFAULTS
        found: dict[str, None] = {}
        for position in np.flatnonzero(wanted).tolist():
            code = int(name_codes[position])
            if code != NO_DEFAULTS:
                for key in self.names[code]:
                    found.setdefault("args." + key, None)
                continue
            for key, value in self.args[int(chosen[position])].items():
                if key not in known or known[key] != value:
                    found.setdefault("args." + key, None)
        return list(found)
