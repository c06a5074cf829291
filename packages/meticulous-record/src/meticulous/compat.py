"""What scripts written against meticulous-ml call that this recorder spells differently.

meticulous-ml's users should be able to switch by changing nothing but the
package they install (MIGRATING.md lists the deliberate differences). The
few meticulous-ml signatures kept for that live here, so ``experiment.py``
only delegates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .status import SUCCESS

if TYPE_CHECKING:
    import argparse

# Leaving them to the reader: meticulous-ml's ``from meticulous import Experiments``.
READER_NAMES = ("Experiments", "ExperimentReader")


class ReaderMovedError(ImportError):
    """``from meticulous import Experiments``: meticulous-ml's reader moved."""


def reader_moved(name: str) -> ReaderMovedError:
    return ReaderMovedError(
        f"meticulous.{name} was meticulous-ml's reader; the reader is now its own "
        f"package: pip install meticulous-read, then use meticulous_read.{name} "
        f"(e.g. meticulous_read.Experiments('experiments').as_dataframe()). "
        f"See MIGRATING.md"
    )


def extract_meticulous_args(
    parser: argparse.ArgumentParser, arg_list: list[str] | None = None
) -> dict[str, Any]:
    """meticulous-ml's ``Experiment.extract_meticulous_args``: the options as a dict."""
    from .options import split_parsed

    return split_parsed(parser, arg_list)[2]


def outcome_of_status(status: str) -> tuple[str, str, int]:
    """meticulous-ml's ``finish(status)``: a STATUS text as (word, message, exit code)."""
    word, _, message = str(status).partition("\n")
    word = word.strip() or SUCCESS
    return word, message, 0 if word == SUCCESS else 1
