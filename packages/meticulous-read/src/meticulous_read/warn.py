"""One warning per kind of problem, however many experiments have it.

A folder of 10,000 experiments with 300 half-written ones must not print 300
lines; it prints one that names them (shortened when they are many).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence


class MeticulousReadWarning(UserWarning):
    """Something in an experiments folder could not be read as the spec says."""


def name_list(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        shown += f", … ({len(names) - limit} more)"
    return shown


def warn_aggregate(what: str, names: Sequence[str], stacklevel: int = 3) -> None:
    """Warn once: `<count> <what>: <names>`."""
    if names:
        warnings.warn(
            f"{len(names)} {what}: {name_list(names)}",
            MeticulousReadWarning,
            stacklevel=stacklevel,
        )
