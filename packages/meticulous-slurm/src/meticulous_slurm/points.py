"""Turn a sweep file into its points, and a point into command-line arguments.

A point is a plain ``{name: value}`` dict, ordered like the file (args, then
grid, then random parameters), so the argv of a job reads like the sweep
file. The grid and the random trials combine by cartesian product (a grid
over seeds times random learning rates is a common sweep); explicit
``points`` are added after them.
"""

from __future__ import annotations

import itertools
import math
import random as random_module
from typing import Any

from .model import Distribution, RandomSearch, Sweep


def expand_points(sweep: Sweep) -> list[dict[str, Any]]:
    """Every point of the sweep, in a stable order (the grid's last key varies fastest)."""
    grid_names = list(sweep.grid)
    grid_points = [
        dict(zip(grid_names, values))
        for values in itertools.product(*(sweep.grid[name] for name in grid_names))
    ]
    trials = sample_random(sweep.random) if sweep.random else [{}]
    # Without grid and random, the sweep is its explicit points only, or a
    # single job with the fixed args when there are none.
    combined = []
    if sweep.grid or sweep.random or not sweep.points:
        combined = [
            {**sweep.args, **grid_point, **trial}
            for grid_point in grid_points
            for trial in trials
        ]
    return combined + [{**sweep.args, **explicit} for explicit in sweep.points]


def sample_random(search: RandomSearch) -> list[dict[str, Any]]:
    """``search.n`` trials drawn from a generator seeded with ``search.seed``.

    The draws happen trial by trial, parameter by parameter in file order, so
    the same file and seed always give the same points on any machine
    (``random.Random`` is specified to be reproducible across platforms).
    """
    generator = random_module.Random(search.seed)
    return [
        {
            name: draw(distribution, generator)
            for name, distribution in search.params.items()
        }
        for _ in range(search.n)
    ]


def draw(distribution: Distribution, generator: random_module.Random) -> Any:
    kind, values = distribution.kind, distribution.values
    if kind == "choice":
        return values[generator.randrange(len(values))]
    low, high = values
    if kind == "int":
        return generator.randint(low, high)
    if kind == "uniform":
        return generator.uniform(low, high)
    if kind == "loguniform":
        return math.exp(generator.uniform(math.log(low), math.log(high)))
    raise ValueError(f"unknown distribution {kind!r}")  # validated before


def point_argv(point: dict[str, Any]) -> list[str]:
    """The ``--name value`` arguments of a point.

    Booleans are flags: ``true`` passes ``--name``, ``false`` leaves it out
    (argparse's ``store_true``). A list passes ``--name v1 v2 ...`` (argparse's
    ``nargs``). Numbers are written with ``str``, which round-trips floats
    exactly through argparse's ``type=float``.
    """
    argv: list[str] = []
    for name, value in point.items():
        option = f"--{name}"
        if isinstance(value, bool):
            if value:
                argv.append(option)
        elif isinstance(value, list):
            argv.append(option)
            argv.extend(_argument_text(item) for item in value)
        else:
            argv += [option, _argument_text(value)]
    return argv


def _argument_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def argument_name(name: str) -> str:
    """The name argparse records ``--name`` under (its ``dest``)."""
    return name.lstrip("-").replace("-", "_")


def recorded_args(point: dict[str, Any]) -> dict[str, Any]:
    """A point's args as the job's recorder will record them (SPEC §5), so a
    folder never claimed and a claimed one have one column per parameter."""
    return {argument_name(name): value for name, value in point.items()}
