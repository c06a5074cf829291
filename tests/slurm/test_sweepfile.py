"""The sweep file is validated as a whole, and every problem names its line."""

from __future__ import annotations

import textwrap

import pytest
from meticulous_slurm import SweepFileError, parse_sweep_file
from slurm_helpers import run_cli

VALID = """\
command: python train.py
grid:
  lr: [0.1, 0.01]
  batch-size: [32, 64]
args:
  epochs: 10
executor: local
slurm:
  partition: gpu
  timeout_min: 60
  slurm_gpus_per_node: 1
  array_parallelism: 16
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(SweepFileError) as caught:
        parse_sweep_file(textwrap.dedent(text), "config.yaml")
    return caught.value.problems


def test_a_valid_file_is_read_with_submitit_names():
    sweep = parse_sweep_file(VALID, "/somewhere/config.yaml")
    assert sweep.command == ["python", "train.py"]
    assert sweep.grid == {"lr": [0.1, 0.01], "batch-size": [32, 64]}
    assert sweep.args == {"epochs": 10}
    # generic submitit names are turned into SlurmExecutor's sbatch names
    assert sweep.slurm == {
        "partition": "gpu",
        "time": 60,
        "gpus_per_node": 1,
        "array_parallelism": 16,
    }
    # /somewhere is in no repository: the project is the current directory's
    assert sweep.experiments_directory == sweep.project_directory / "experiments"
    assert sweep.max_requeues == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "command: python t.py\ngird:\n  lr: [1]\n",
            "config.yaml:2: unknown key 'gird' (did you mean 'grid'?)",
        ),
        ("command: python t.py\ngrid: {}\n", "config.yaml:2: grid is empty"),
        ("command: python t.py\ngrid:\n", "config.yaml:2: grid is empty"),
        (
            "command: python t.py\ngrid:\n  lr: []\n",
            "config.yaml:3: grid.lr is an empty list",
        ),
        (
            "command: python t.py\ngrid:\n  lr: 0.1\n",
            "config.yaml:3: grid.lr must be a list of values",
        ),
        (
            "command: python t.py\ngrid:\n  lr: [0.1]\nargs:\n  epochs: 3\n  lr: 0.5\n",
            "config.yaml:6: parameter 'lr' is both in args and in grid (line 3)",
        ),
        (
            "command: python t.py\nexecutor: pbs\n",
            "config.yaml:2: executor must be one of auto, slurm, local",
        ),
        (
            "command: python t.py\nmax_requeues: two\n",
            "config.yaml:2: max_requeues must be an integer",
        ),
        (
            "command: python t.py\nmax_parallel: 0\n",
            "config.yaml:2: max_parallel must be at least 1",
        ),
        (
            "command: python t.py\nallow_dirty: yes please\n",
            "config.yaml:2: allow_dirty must be true or false",
        ),
        (
            "command: python t.py\nargs:\n  opt: {lr: 1}\n",
            "config.yaml:3: args.opt: a value must be",
        ),
        (
            "command: python t.py\nargs:\n  --lr: 1\n",
            "config.yaml:3: args: '--lr' is not a valid parameter name (write 'lr')",
        ),
        (
            "command: python t.py\nslurm:\n  partitoin: gpu\n",
            "config.yaml:3: slurm.partitoin: unknown parameter 'partitoin' (did you mean 'partition'?)",
        ),
        (
            "command: python t.py\nslurm:\n  timeout_min: an hour\n",
            "config.yaml:3: slurm.timeout_min: must be a positive integer",
        ),
        (
            "command: python t.py\nslurm:\n  max_num_timeout: 3\n",
            "config.yaml:3: slurm.max_num_timeout: unknown parameter: set max_requeues",
        ),
        (
            "command: python t.py\nrandom:\n  n: 4\n  params:\n    lr: {normal: [0, 1]}\n",
            "config.yaml:5: random.params.lr: unknown distribution 'normal'",
        ),
        (
            "command: python t.py\nrandom:\n  n: 4\n  params:\n    lr: {loguniform: [0, 1]}\n",
            "config.yaml:5: random.params.lr: loguniform needs 0 < low <= high",
        ),
        (
            "command: python t.py\nrandom:\n  n: 4\n  params:\n    depth: {int: [1.5, 3]}\n",
            "config.yaml:5: random.params.depth: int needs two integers",
        ),
        (
            "command: python t.py\nrandom:\n  params:\n    lr: {uniform: [0, 1]}\n",
            "config.yaml:2: random: missing 'n'",
        ),
        (
            "command: python t.py\npoints: []\n",
            "config.yaml:2: points must be a non-empty list",
        ),
        ("grid:\n  lr: [1]\n", "config.yaml:1: missing key 'command'"),
        (
            "command: python t.py\nname: ../escape\n",
            "config.yaml:2: name '../escape' must start",
        ),
        ("command: python t.py\ngrid:\n  lr: [1\n", "config.yaml:4: invalid YAML"),
    ],
)
def test_every_problem_names_its_line(text, expected):
    assert any(problem.startswith(expected) for problem in problems_of(text)), (
        problems_of(text)
    )


def test_all_problems_are_reported_at_once_in_file_order():
    problems = problems_of(
        """\
        command: python train.py
        gird: 1
        executor: slurmm
        max_requeues: -1
        """
    )
    assert [p.split(":")[1] for p in problems] == ["2", "3", "4"]


def test_a_bad_file_submits_and_reserves_nothing(project):
    sweep = project.write_sweep(
        """\
        grid:
          lr: [0.1, 0.01]
        executor: local
        slurm:
          partitoin: debug
        """
    )
    result = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert result.returncode == 2
    assert "config.yaml:6: slurm.partitoin: unknown parameter" in result.stderr
    assert "Traceback" not in result.stderr
    assert not project.experiments.exists()


def test_a_missing_file_is_a_clear_error(project):
    result = run_cli("sweep", "nope.yaml", cwd=project.root)
    assert result.returncode == 2
    assert "nope.yaml: no such sweep file" in result.stderr


def test_yaml_1_2_keeps_on_off_and_no_as_strings_and_reads_1e_3_as_a_float():
    sweep = parse_sweep_file(
        "command: python t.py\n"
        "grid:\n"
        "  switch: [on, off, yes, NO]\n"
        "  lr: [1e-3, 0.1]\n"
        "args:\n"
        "  country: NO\n",
        "config.yaml",
    )
    assert sweep.grid["switch"] == ["on", "off", "yes", "NO"]
    assert sweep.grid["lr"] == [0.001, 0.1]
    assert all(type(value) is float for value in sweep.grid["lr"])
    assert sweep.args == {"country": "NO"}


def test_yaml_errors_keep_their_line_numbers_under_yaml_1_2():
    problems = problems_of(
        "command: python t.py\ngrid:\n  lr: [1e-3]\n  lr: [0.1]\nexecutor: [local\n"
    )
    assert problems[0].startswith("config.yaml:")
    assert "invalid YAML" in problems[0]
    duplicate = problems_of("command: python t.py\ngrid:\n  lr: [1e-3]\n  lr: [0.1]\n")
    assert duplicate == ["config.yaml:4: grid: duplicate key 'lr'"]


def test_an_override_into_a_file_that_is_not_a_mapping_is_a_clear_error():
    """``--set`` on a file whose top is a list used to crash in _set_entry."""
    from meticulous_slurm import SweepError

    with pytest.raises(SweepError, match="the sweep file is not a mapping"):
        parse_sweep_file("- a\n- b\n", "config.yaml", ["grid.lr=[0.1]"])
    with pytest.raises(SweepError, match="the sweep file is not a mapping"):
        parse_sweep_file("- a\n", "config.yaml", ["executor=local"])
