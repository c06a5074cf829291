"""``--filter`` expressions with dotted column names.

``DataFrame.query`` only accepts names that are Python identifiers unless
they are wrapped in backticks. Users write ``summary.loss < 0.3 and
args.lr == 0.1``; every exact column name found outside quotes and
backticks is wrapped for them, longest names first so ``args.lr`` never
shadows ``args.lr_decay``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd


class FilterError(ValueError):
    """The filter expression cannot be evaluated."""


def _needs_quoting(name: str) -> bool:
    return not name.isidentifier()


def quote_columns(expression: str, columns: Iterable[str]) -> str:
    names = sorted(
        {str(name) for name in columns if _needs_quoting(str(name))},
        key=len,
        reverse=True,
    )
    if not names:
        return expression
    alternatives = "|".join(re.escape(name) for name in names)
    pattern = re.compile(
        r"(`[^`]*`|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\")"
        rf"|(?<![\w.])({alternatives})(?![\w.])"
    )

    def replace(match: re.Match) -> str:
        if match.group(1) is not None:
            return match.group(1)
        return f"`{match.group(2)}`"

    return pattern.sub(replace, expression)


def apply_filter(frame: pd.DataFrame, expression: str) -> pd.DataFrame:
    """The rows where the expression holds; FilterError with the reason otherwise."""
    quoted = quote_columns(expression, list(frame.columns) + [frame.index.name])
    try:
        result = frame.eval(quoted, engine="python")
    except Exception as error:  # noqa: BLE001 - eval raises anything
        reason = str(error).strip().splitlines()
        detail = reason[-1] if reason else type(error).__name__
        unknown = sorted(
            set(
                re.findall(
                    r"(?<![\w.`])(?:args|summary|metadata)\.[\w.\-]*\w", expression
                )
            )
            - set(map(str, frame.columns))
        )
        if unknown:
            detail = f"unknown column {', '.join(unknown)}"
        raise FilterError(f"bad filter {expression!r}: {detail}") from None
    if isinstance(result, (bool, np.bool_)):  # a constant: all rows or none
        return frame if result else frame.iloc[:0]
    if not (
        isinstance(result, pd.Series)
        and result.index.equals(frame.index)
        and (pd.api.types.is_bool_dtype(result) or result.isna().all())
    ):
        raise FilterError(
            f"bad filter {expression!r}: it must be a condition such as"
            " 'summary.loss < 0.3' (true or false for each experiment)"
        )
    # Missing values (an experiment without that arg) never match.
    return frame[result.fillna(False).astype(bool).to_numpy()]
