"""A sweep file's points, and the command line each point gets."""

from __future__ import annotations

import textwrap

from meticulous_slurm import expand_points, parse_sweep_file, point_argv


def points_of(text: str) -> list[dict]:
    return expand_points(parse_sweep_file(textwrap.dedent(text), "config.yaml"))


def test_grid_is_the_cartesian_product_with_fixed_args_first():
    points = points_of(
        """\
        command: python train.py
        args:
          epochs: 10
        grid:
          lr: [0.1, 0.01]
          batch-size: [32, 64]
        """
    )
    assert points == [
        {"epochs": 10, "lr": 0.1, "batch-size": 32},
        {"epochs": 10, "lr": 0.1, "batch-size": 64},
        {"epochs": 10, "lr": 0.01, "batch-size": 32},
        {"epochs": 10, "lr": 0.01, "batch-size": 64},
    ]


RANDOM = """\
command: python train.py
random:
  n: 20
  seed: 7
  params:
    lr: {loguniform: [0.0001, 0.1]}
    dropout: {uniform: [0.0, 0.5]}
    layers: {int: [1, 4]}
    activation: {choice: [relu, tanh]}
"""


def test_random_trials_follow_their_distributions():
    points = points_of(RANDOM)
    assert len(points) == 20
    for point in points:
        assert 0.0001 <= point["lr"] <= 0.1
        assert 0.0 <= point["dropout"] <= 0.5
        assert point["layers"] in (1, 2, 3, 4)
        assert point["activation"] in ("relu", "tanh")
    assert len({point["lr"] for point in points}) == 20


def test_random_trials_are_reproducible_from_the_seed():
    assert points_of(RANDOM) == points_of(RANDOM)
    assert points_of(RANDOM) != points_of(RANDOM.replace("seed: 7", "seed: 8"))


def test_grid_and_random_combine_and_explicit_points_are_added():
    points = points_of(
        """\
        command: python train.py
        grid:
          seed: [1, 2]
        random:
          n: 3
          params:
            lr: {uniform: [0, 1]}
        points:
          - {lr: 0.5, seed: 9}
        """
    )
    assert [p["seed"] for p in points] == [1, 1, 1, 2, 2, 2, 9]
    # the same three random trials for each grid value
    assert [p["lr"] for p in points[:3]] == [p["lr"] for p in points[3:6]]
    assert points[-1] == {"lr": 0.5, "seed": 9}


def test_explicit_points_alone_and_a_file_with_no_points_at_all():
    assert points_of("command: x\npoints:\n  - {a: 1}\n  - {a: 2}\n") == [
        {"a": 1},
        {"a": 2},
    ]
    assert points_of("command: x\nargs: {a: 1}\n") == [{"a": 1}]


def test_argv_flags_lists_and_numbers():
    argv = point_argv(
        {"lr": 0.001, "batch-size": 32, "fast": True, "slow": False, "layers": [64, 32]}
    )
    assert argv == [
        "--lr",
        "0.001",
        "--batch-size",
        "32",
        "--fast",
        "--layers",
        "64",
        "32",
    ]


def test_argv_floats_round_trip_exactly():
    value = 1.0 / 3.0
    assert float(point_argv({"lr": value})[1]) == value
    assert point_argv({"lr": 1e-5}) == ["--lr", "1e-05"]
