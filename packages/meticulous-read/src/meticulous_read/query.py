"""``--filter``: the rows where a filter written in :mod:`.filterlang` holds.

The language is parsed and evaluated by this package, never by pandas'
``query``/``eval`` (which run Python from the expression): a filter can
compare, combine and test strings, and nothing else.
"""

from __future__ import annotations

import pandas as pd

from .filterlang import FilterError, select

__all__ = ["FilterError", "apply_filter"]


def apply_filter(frame: pd.DataFrame, expression: str) -> pd.DataFrame:
    """The rows where the expression holds; FilterError with the position otherwise."""
    return select(frame, expression)
