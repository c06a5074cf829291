"""The "meticulous" argparse group and splitting a parse into args and options.

The options get ``dest`` names prefixed with ``meticulous_`` so they can
never overwrite one of the user's own arguments in the namespace, and so
they can be told apart from the user's arguments without reaching into
argparse internals: they are left out of the recorded args and defaults.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import InvalidExperimentError

if TYPE_CHECKING:
    import argparse

PREFIX = "meticulous_"

# option name -> (argparse keyword arguments, default)
_OPTIONS: dict[str, tuple[dict[str, Any], Any]] = {
    "project_directory": (
        {
            "metavar": "PROJECT_DIRECTORY",
            "help": "Project directory. Need not be the same as repo directory, "
            "but should be part of a git repo",
        },
        None,
    ),
    "experiments_directory": (
        {
            "metavar": "EXPERIMENTS_DIRECTORY",
            "help": "A directory to store experiments, should be in the project "
            "directory (default: %(default)s)",
        },
        "experiments",
    ),
    "experiment_id": (
        {
            "metavar": "EXPERIMENT_ID",
            "help": "explicitly specified experiment id; an existing one is resumed",
        },
        None,
    ),
    "description": (
        {"metavar": "DESCRIPTION", "help": "A description for this experiment"},
        "",
    ),
    "resume": (
        {
            "action": "store_true",
            "help": "Resumes an existing experiment with same arguments and git sha. "
            "If no such experiment is found, starts a new one",
        },
        False,
    ),
    "norecord": (
        {
            "action": "store_true",
            "help": "Override meticulous recording of the experiment. Does not "
            "enforce that the repo be clean and can be used during development "
            "and debugging of experiment",
        },
        False,
    ),
    "name": (
        {
            "flag": "--experiment-name",  # not --name: scripts have their own
            "metavar": "NAME",
            "help": "record into EXPERIMENTS_DIRECTORY/NAME/<id>/, a group of runs "
            "with ids of their own",
        },
        None,
    ),
    "allow_dirty": (
        {
            "action": "store_true",
            "help": "Record even with uncommitted changes to tracked files: the "
            "diff and the untracked files are saved with the experiment",
        },
        False,
    ),
}


def add_argument_group(
    parser: argparse.ArgumentParser, **defaults: Any
) -> argparse._ArgumentGroup:
    """Add ``--project-directory`` ... ``--allow-dirty`` to ``parser``."""
    unknown = sorted(set(defaults) - set(_OPTIONS))
    if unknown:
        raise InvalidExperimentError(
            f"unknown meticulous option(s) {', '.join(unknown)}; "
            f"known: {', '.join(_OPTIONS)}"
        )
    group = parser.add_argument_group(
        "meticulous", "arguments for initializing Experiment object"
    )
    for name, (settings, default) in _OPTIONS.items():
        settings = dict(settings)
        flag = settings.pop("flag", "--" + name.replace("_", "-"))
        group.add_argument(
            flag, dest=PREFIX + name, default=defaults.get(name, default), **settings
        )
    return group


def split_parsed(
    parser: argparse.ArgumentParser, arg_list: list[str] | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``(args, default_args, experiment settings)`` from one parse.

    Options not added to the parser keep the Experiment's own defaults.
    """
    parsed = vars(parser.parse_args(arg_list))
    settings = {
        name[len(PREFIX) :]: parsed.pop(name)
        for name in list(parsed)
        if name.startswith(PREFIX) and name[len(PREFIX) :] in _OPTIONS
    }
    defaults = {name: parser.get_default(name) for name in parsed}
    return parsed, defaults, settings


def apply_namespace(args: Any, settings: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``Experiment(parser.parse_args())``: take the meticulous options out of ``args``.

    A Namespace from a parser with the "meticulous" group holds them as
    ``meticulous_*`` attributes. They configure the experiment exactly as
    with ``from_parser`` (``--norecord`` included) and are not recorded as
    args; a keyword the caller gave explicitly (one that differs from the
    constructor's default) wins over the namespace.
    """
    argparse = sys.modules.get("argparse")  # a Namespace implies it is imported
    if argparse is None or not isinstance(args, argparse.Namespace):
        return args, settings
    values = dict(vars(args))
    found = {
        name[len(PREFIX) :]: values.pop(name)
        for name in list(values)
        if name.startswith(PREFIX) and name[len(PREFIX) :] in _OPTIONS
    }
    merged = dict(settings)
    for name, value in found.items():
        if name in merged and merged[name] == _OPTIONS[name][1]:
            merged[name] = value
    return values, merged


def args_dict(value: Any, name: str) -> dict[str, Any]:
    """``args`` or ``default_args`` as a dict, from a mapping or a Namespace."""
    if value is None:
        return {}
    argparse = sys.modules.get("argparse")  # a Namespace implies it is imported
    if argparse is not None and isinstance(value, argparse.Namespace):
        return dict(vars(value))
    if not isinstance(value, Mapping):
        raise InvalidExperimentError(
            f"{name} must be a dict of argument names to values, not {type(value).__name__}"
        )
    return dict(value)
