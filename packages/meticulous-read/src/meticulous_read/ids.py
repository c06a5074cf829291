"""Experiment ids: which are integers, and the order readers show them in (spec §1)."""

from __future__ import annotations

from collections.abc import Iterable


def is_integer_id(name: str) -> bool:
    """True for ids written as a decimal integer without sign or leading zeros."""
    return name.isascii() and name.isdigit() and (len(name) == 1 or name[0] != "0")


def sort_key(name: str) -> tuple:
    """Integer ids first, numerically; every other id after them, as strings.

    Experiments in groups (``dense_model/1``, spec §1) come after those at
    the top, by group, each group in the same order.
    """
    group, _, own = name.rpartition("/")
    if group:
        return (2, group, *sort_key(own))
    if is_integer_id(name):
        return (0, int(name), "")
    return (1, 0, name)


def group_of(experiment_id: str) -> str | None:
    """The group an experiment id is in (``dense_model`` of ``dense_model/1``)."""
    group, _, _ = experiment_id.rpartition("/")
    return group or None


def sorted_ids(names: Iterable[str]) -> list[str]:
    return sorted(names, key=sort_key)
