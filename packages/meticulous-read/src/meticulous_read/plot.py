"""Learning curves as pictures: ``meticulous plot`` and ``Experiments.plot``.

matplotlib is an optional extra (``meticulous-read[plot]``), imported only
here and only when a plot is asked for. One panel per metric; runs are
overlaid and coloured by the value of ``by`` (``args.lr``: one colour per
value, in sorted order, one legend entry each), or faceted by it (one
column of panels per value). x is the step or the time since the run's
first logged row; smoothing is TensorBoard's debiased exponential moving
average, drawn over the faint raw curve.

The command draws on a bare :class:`matplotlib.figure.Figure` (no pyplot,
no GUI backend); the Python API uses pyplot so the figure shows inline in
Jupyter, or draws into the ``ax`` it is given.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .series import Curve, curves, run_folder

if TYPE_CHECKING:
    import pandas as pd

    from .experiments import Experiments

PLOT_EXTRA = "meticulous-read[plot]"
SUFFIXES = (".png", ".svg", ".pdf")
X_AXES = ("step", "time")
MAX_LEGEND = 20
MIN_BUCKETS = 100  # buckets of a decimated curve, however small the panel


class PlotError(ValueError):
    """The plot cannot be drawn as asked; the message says what to change."""


def require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotError(
            f"plotting needs matplotlib, the optional extra {PLOT_EXTRA}:"
            f" pip install '{PLOT_EXTRA}'"
        ) from None
    return matplotlib


@dataclass
class Run:
    """One selected experiment: its id, its value of ``by``, its curves."""

    id: str
    group: Any
    curves: dict[str, Curve]


def _group_key(value: Any) -> tuple:
    """Sort groups numerically when they are numbers, else by their text."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (2, 0.0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


PARALLEL_MIN = 16  # runs; below this a second process costs more than it saves


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _curves_or_none(
    folder: str | None, metrics: list[str], with_times: bool = True
) -> dict:
    """The folder's curves as float64 arrays: a worker sends them back as raw
    bytes instead of a million pickled floats, and drawing needs arrays.
    ``with_times=False`` leaves the times out (empty) for a plot by step."""
    import numpy as np

    found = {} if folder is None else curves(folder, metrics, times=with_times)

    def floats(values: list[float]) -> Any:  # an array where Curve says list
        return np.asarray(values, dtype=np.float64)

    return {
        name: Curve(floats(curve.steps), floats(curve.times), floats(curve.values))
        for name, curve in found.items()
    }


def _read_curves(
    folders: list[str | None], metrics: list[str], workers: int, with_times: bool
) -> list[dict]:
    """Every folder's curves; parsed in ``workers`` forked processes when many.

    Parsing JSON is the plot's main cost and holds the GIL, so only
    processes help. Only the command asks for them (forking a Jupyter
    kernel is not ours to do); any trouble starting them reads serially.
    """
    if workers > 1 and len(folders) >= PARALLEL_MIN:
        try:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("fork")
            chunk = max(1, len(folders) // (workers * 4))
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                return list(
                    pool.map(
                        _curves_or_none,
                        folders,
                        [metrics] * len(folders),
                        [with_times] * len(folders),
                        chunksize=chunk,
                    )
                )
        except (OSError, ValueError, ImportError, RuntimeError):
            pass
    return [_curves_or_none(folder, metrics, with_times) for folder in folders]


def collect(
    directory: str,
    frame: pd.DataFrame,
    metrics: Sequence[str],
    by: str | None = None,
    workers: int = 1,
    x: str = "time",
) -> list[Run]:
    """The curves of the frame's experiments (its index), with their group.

    ``x="step"`` leaves each curve's times out (a plot by step needs none).
    """
    if by is not None and by not in frame.columns:
        known = ", ".join(str(name) for name in frame.columns[:25])
        raise PlotError(f"--by: unknown column {by} (columns: {known})")
    ids = [str(experiment_id) for experiment_id in frame.index]
    folders = [run_folder(directory, experiment_id) for experiment_id in ids]
    read = _read_curves(folders, list(metrics), workers, with_times=x != "step")
    runs = []
    for experiment_id, found in zip(ids, read):
        group = frame.at[experiment_id, by] if by is not None else None
        if isinstance(group, (list, dict)):
            group = str(group)
        elif _missing(group):
            group = None
        if found:  # a run that logged none of them takes no colour or facet
            runs.append(Run(str(experiment_id), group, found))
    missing = [name for name in metrics if not any(name in r.curves for r in runs)]
    if missing:
        raise PlotError(
            f"no selected experiment logged {', '.join(missing)} ({len(frame)} selected)"
        )
    return runs


def smoothed(values: list[float], weight: float) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing)."""
    if weight <= 0:
        return values
    result, last, count = [], 0.0, 0
    for value in values:
        if not math.isfinite(value):
            result.append(value)
            continue
        count += 1
        last = last * weight + (1 - weight) * value
        result.append(last / (1 - weight**count))
    return result


def _time_axis(runs: list[Run], metric: str) -> tuple[float, str]:
    """A divisor and unit that keep elapsed times readable."""
    longest = 0.0
    for run in runs:
        curve = run.curves.get(metric)
        if curve is not None and len(curve.times):
            finite = [t for t in curve.times if math.isfinite(t)]
            if finite:
                longest = max(longest, finite[-1] - finite[0])
    if longest > 3 * 3600:
        return 3600.0, "h"
    if longest > 3 * 60:
        return 60.0, "min"
    return 1.0, "s"


def _x_values(curve: Curve, x: str, divisor: float) -> Any:
    import numpy as np

    if x == "step":
        return np.asarray(curve.steps, dtype=np.float64)
    times = np.asarray(curve.times, dtype=np.float64)
    finite = times[np.isfinite(times)]
    start = finite[0] if len(finite) else 0.0
    return (times - start) / divisor


def pixel_columns(figure: Any, columns: int) -> int:
    """The most pixel columns a panel can span: the buckets of :func:`decimated`.

    The figure's (or subfigure's) width in its pixels, shared by the facets'
    columns; a panel is narrower (margins, labels), so a bucket is at most a
    column.
    """
    width = figure.bbox.width / max(columns, 1)
    return max(MIN_BUCKETS, math.ceil(width))


def decimated(xs: Any, ys: Any, buckets: int) -> tuple[Any, Any]:
    """At most four points per bucket (first, min, max, last), in order.

    With a bucket per pixel column, a 10,000-step curve draws the same
    picture as from all its points: what a column shows is the stroke from
    its min to its max, joined to its neighbours. Agg's time grows with the
    points drawn, so that is a fraction of the time (and of an SVG's size);
    short curves are drawn as they are. Buckets are
    equal runs of points (the last one shorter), so the extremes are one
    argmin and one argmax over a reshaped array. NaN is neither a bucket's
    min nor its max; the first of equal extremes is kept.
    """
    import numpy as np

    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    count = len(ys)
    if count <= 4 * buckets:
        return xs, ys
    size = -(-count // buckets)  # points a bucket, rounded up
    rows = -(-count // size)
    padding = rows * size - count  # never an extreme: +inf and -inf
    missing = np.isnan(ys)
    low = np.concatenate([np.where(missing, np.inf, ys), np.full(padding, np.inf)])
    high = np.concatenate([np.where(missing, -np.inf, ys), np.full(padding, -np.inf)])
    starts = np.arange(rows) * size
    picked = np.stack(
        [
            starts,
            starts + np.argmin(low.reshape(rows, size), axis=1),
            starts + np.argmax(high.reshape(rows, size), axis=1),
            np.minimum(starts + size, count) - 1,
        ],
        axis=1,
    )
    keep = np.sort(picked, axis=1).ravel()  # buckets are in order already
    keep = keep[np.concatenate([[True], keep[1:] != keep[:-1]])]
    return xs[keep], ys[keep]


def check_options(x: str, smooth: float) -> None:
    if x not in X_AXES:
        raise PlotError(f"x must be one of {', '.join(X_AXES)}, not {x!r}")
    if not 0 <= smooth < 1:
        raise PlotError(
            f"smoothing is a weight from 0 up to 1 (0.6 is usual), not {smooth}"
        )


def draw(
    figure: Any,
    runs: list[Run],
    metrics: Sequence[str],
    *,
    by: str | None = None,
    facet: bool = False,
    x: str = "step",
    smooth: float = 0.0,
    log: bool = False,
    axes: Any = None,
) -> Any:
    """Draw onto ``figure`` (or into ``axes``); the grid of Axes, metrics by rows."""
    import numpy as np
    from matplotlib import colormaps

    check_options(x, smooth)
    groups = sorted({run.group for run in runs}, key=_group_key) if by else [None]
    columns = groups if (facet and by) else [None]
    if axes is None:
        axes = figure.subplots(
            len(metrics),
            len(columns),
            squeeze=False,
            sharex="col",
            sharey="row" if facet else False,
        )
    grid = np.asarray(axes, dtype=object)
    if grid.size != len(metrics) * len(columns):
        raise PlotError(
            f"ax holds {grid.size} Axes; this plot needs"
            f" {len(metrics)} x {len(columns)} (metrics x facets)"
        )
    grid = grid.reshape(len(metrics), len(columns))
    buckets = pixel_columns(grid[0, 0].get_figure(), len(columns))
    if by and not facet:  # one colour per value of `by`, ordered, legend too
        runs = sorted(runs, key=lambda run: _group_key(run.group))
        colours = _palette(colormaps, len(groups))
        colour_of = {group: colours[i] for i, group in enumerate(groups)}
    else:  # one colour per run
        colours = _palette(colormaps, len(runs))
        colour_of = {run.id: colours[i] for i, run in enumerate(runs)}
    for row, metric in enumerate(metrics):
        divisor, unit = _time_axis(runs, metric) if x == "time" else (1.0, "")
        for column, panel in enumerate(columns):
            ax = grid[row, column]
            labelled: set = set()
            points = 0
            for run in runs:
                curve = run.curves.get(metric)
                if curve is None or (panel is not None and run.group != panel):
                    continue
                if facet or not by:
                    colour, label = colour_of[run.id], run.id
                else:
                    colour = colour_of[run.group]
                    label = _text(run.group)  # under the legend's title, `by`
                xs = _x_values(curve, x, divisor)
                values = np.asarray(curve.values, dtype=np.float64)
                if smooth > 0:
                    raw_x, raw_y = decimated(xs, values, buckets)
                    ax.plot(raw_x, raw_y, color=colour, alpha=0.25, linewidth=0.8)
                    values = np.asarray(smoothed(values.tolist(), smooth))
                drawn_x, drawn_y = decimated(xs, values, buckets)
                points += len(drawn_y)
                ax.plot(
                    drawn_x,
                    drawn_y,
                    color=colour,
                    linewidth=1.2,
                    label=label if label not in labelled else "_nolegend_",
                    gid=run.id,
                )
                labelled.add(label)
            if log:
                ax.set_yscale("log", nonpositive="mask")
            if column == 0:
                ax.set_ylabel(metric)
            ax.set_xlabel("step" if x == "step" else f"time ({unit})")
            ax.grid(True, alpha=0.3)
            if panel is not None:
                ax.set_title(f"{by} = {_text(panel)}")
            elif len(metrics) > 1 or not by:
                ax.set_title(metric)
            if 0 < len(labelled) <= MAX_LEGEND:
                ax.legend(
                    title=by if (by and not facet) else None,
                    fontsize="small",
                    loc="best" if points < 20_000 else "upper right",  # best is slow
                )
    if figure is not None:
        figure.tight_layout()
    return grid


def _text(value: Any) -> str:
    from .render import format_value

    return "(none)" if value is None else format_value(value)


def _palette(colormaps: Any, count: int) -> list:
    if count <= 10:
        table = colormaps["tab10"]
        return [table(i) for i in range(max(count, 1))]
    ramp = colormaps["viridis"]
    return [ramp(i / max(count - 1, 1)) for i in range(count)]


def figure_size(metrics: int, columns: int) -> tuple[float, float]:
    return (max(6.4, 4.2 * columns), max(4.0, 3.2 * metrics))


def check_output(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise PlotError(
            f"cannot write a plot to {path!r}: use one of {', '.join(SUFFIXES)}"
        )
    return suffix


def write_figure(
    runs: list[Run], metrics: Sequence[str], path: str, **options: Any
) -> None:
    """Draw without pyplot or a GUI backend, then replace ``path`` atomically."""
    require_matplotlib()
    suffix = check_output(path)
    from matplotlib.figure import Figure

    from .atomic import replace_atomically

    groups = {run.group for run in runs}
    columns = len(groups) if options.get("facet") and options.get("by") else 1
    figure = Figure(figsize=figure_size(len(metrics), columns), dpi=100)
    draw(figure, runs, metrics, **options)

    def write(temporary: str) -> None:
        figure.savefig(temporary, format=suffix[1:])

    replace_atomically(path, write)


def plot_experiments(
    experiments: Experiments,
    metrics: Sequence[str],
    *,
    by: str | None = None,
    facet: bool = False,
    x: str = "step",
    smooth: float = 0.0,
    log: bool = False,
    ids: Sequence[str | int] | None = None,
    ax: Any = None,
) -> Any:
    """``Experiments.plot``: one Axes for one metric, else an array of them."""
    require_matplotlib()
    if isinstance(metrics, str):
        metrics = [metrics]
    if not metrics:
        raise PlotError("name at least one metric to plot")
    check_options(x, smooth)
    frame = experiments.as_dataframe()
    if ids is not None:
        wanted = [str(i) for i in ids]
        unknown = [i for i in wanted if i not in frame.index]
        if unknown:
            raise PlotError(
                f"no experiment {', '.join(unknown)} in {experiments.directory!r}"
            )
        frame = frame.loc[wanted]
    runs = collect(experiments.directory, frame, metrics, by)
    options: dict[str, Any] = {
        "by": by,
        "facet": facet,
        "x": x,
        "smooth": smooth,
        "log": log,
    }
    if ax is not None:
        grid = draw(None, runs, metrics, axes=ax, **options)
    else:
        import matplotlib.pyplot as plt

        groups = {run.group for run in runs}
        columns = len(groups) if facet and by else 1
        figure = plt.figure(figsize=figure_size(len(metrics), columns))
        grid = draw(figure, runs, metrics, **options)
    return grid[0, 0] if grid.size == 1 else grid
