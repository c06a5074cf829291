"""A sweep given on the command line, without a file, as Hydra's multirun does it.

``meticulous-slurm sweep -- python train.py --lr 0.1,0.01 --batch-size 32,64``
runs the four points of the grid. An option whose one value holds commas
varies over them; any other option is fixed (several values make a list, an
option without a value a flag). Values are read as YAML 1.2 scalars, as in a
sweep file, so ``0.1`` is a number and ``on`` a string. The sweep is turned
into the sweep file it stands for and checked like one, so both ways give
the same messages and the record keeps a file a user can edit and rerun.
"""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

from ruamel.yaml import YAML

from .errors import SweepError
from .model import Sweep
from .yamlcheck import parse_sweep_file

_NUMBER = re.compile(r"^-\d|^-\.\d")


def command_line_sweep(command: list[str], overrides: list[str]) -> Sweep:
    if not command:
        raise SweepError(
            "no command after '--' (e.g. -- python train.py --lr 0.1,0.01)"
        )
    program, options = _split(command)
    args: dict = {}
    grid: dict = {}
    for name, values in options:
        if name in args or name in grid:
            raise SweepError(f"option --{name} is given twice in the command")
        if not values:
            args[name] = True
        elif len(values) == 1 and "," in values[0]:
            grid[name] = [_scalar(v) for v in values[0].split(",") if v != ""]
        elif len(values) == 1:
            args[name] = _scalar(values[0])
        else:
            args[name] = [_scalar(v) for v in values]
    document: dict = {"command": program}
    if grid:
        document["grid"] = grid
    if args:
        document["args"] = args
    text = _dump(document)
    sweep = parse_sweep_file(text, Path.cwd() / "command-line.yaml", overrides)
    return dataclasses.replace(sweep, path=None)


def _split(command: list[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The program (up to the first option) and each option's values."""
    first = next(
        (i for i, token in enumerate(command) if _is_option(token)), len(command)
    )
    program, rest = command[:first], command[first:]
    if not program:
        raise SweepError(f"the command must start with a program, not {rest[0]!r}")
    options: list[tuple[str, list[str]]] = []
    for token in rest:
        if _is_option(token):
            name, equals, value = token.lstrip("-").partition("=")
            if not name:
                raise SweepError(f"cannot read the option {token!r}")
            options.append((name, [value] if equals else []))
        else:
            options[-1][1].append(token)
    return program, options


def _is_option(token: str) -> bool:
    return (
        token.startswith("--")
        and len(token) > 2
        or (token.startswith("-") and len(token) > 1 and not _NUMBER.match(token))
    )


def _scalar(text: str) -> str | int | float | bool:
    value = YAML(typ="safe", pure=True).load(text) if text.strip() else text
    if isinstance(value, (str, int, float, bool)):
        return value
    return text  # a list, mapping or null in YAML: pass the text as it is


def _dump(document: dict) -> str:
    stream = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    yaml.representer.sort_base_mapping_type_on_output = False  # the command's order
    yaml.dump(document, stream)
    return stream.getvalue()
