"""``metrics.<name>.final`` and ``metrics.<name>.best``: learning curves as table columns.

What ``--metrics loss,acc`` adds to a listing, so that ``--groupby`` can
aggregate a metric beside the summaries (``metrics.loss.best.mean``) and
``--sort`` and ``--filter`` can use it. The final value is the curve's last
point (NaN stays NaN: a run that diverged); the best is the minimum of its
finite values for losses and errors, the maximum for everything else
(:func:`.series.lower_is_better`). Only the listed experiments'
``metrics.jsonl`` files are read, and since appends to them leave the folder
unchanged, such a listing is never taken from the listing cache.
"""

from __future__ import annotations

import numpy as np

from .series import curves_of, final_and_best

SUFFIXES = ("final", "best")


def column_names(names: list[str]) -> list[str]:
    return [f"metrics.{name}.{suffix}" for name in names for suffix in SUFFIXES]


def metric_columns(
    ids: list[str], directory: str, names: list[str]
) -> dict[str, np.ndarray]:
    """The two columns of each metric for these experiments (NaN where not logged)."""
    columns: dict[str, list] = {name: [] for name in column_names(names)}
    for experiment_id in ids:
        found = curves_of(directory, experiment_id, names)
        for name in names:
            final, best = final_and_best(name, found.get(name))
            columns[f"metrics.{name}.final"].append(final)
            columns[f"metrics.{name}.best"].append(best)
    return {
        name: np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        for name, values in columns.items()
    }
