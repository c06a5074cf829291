"""The ``slurm:`` section: the names a sweep file uses, mapped to sbatch's.

A sweep file takes the resource names researchers already write for
submitit's AutoExecutor and Hydra's submitit launcher (``timeout_min``,
``mem_gb``, ``gpus_per_node``...) and any parameter of submitit's
SlurmExecutor under its own name (``partition``, ``qos``, ``account``...).
The table below is this package's own vocabulary, with the unit each name
takes; everything else is checked against the keyword arguments of
submitit's sbatch writer, the list submitit itself validates against, so a
new submitit version's parameters work without a change here.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


def _positive_number(value: Any) -> str | None:
    if not is_number(value) or value <= 0:
        return f"must be a positive number ({value!r} given)"
    return None


def _positive_int(value: Any) -> str | None:
    if not is_int(value) or value < 1:
        return f"must be a positive integer ({value!r} given)"
    return None


def _gigabytes(value: Any) -> str:
    """sbatch's ``--mem`` in whole megabytes (``GB`` when it is a whole number)."""
    if float(value).is_integer():
        return f"{int(value)}GB"
    return f"{int(value * 1024)}MB"


@dataclass(frozen=True)
class Resource:
    """A name of the sweep file's vocabulary: its sbatch name, check and unit."""

    sbatch: str
    check: Callable[[Any], str | None]
    convert: Callable[[Any], Any] = lambda value: value


RESOURCES: dict[str, Resource] = {
    "name": Resource(
        "job_name",
        lambda v: None if isinstance(v, str) and v else "must be a non-empty string",
    ),
    "timeout_min": Resource("time", _positive_int),
    "mem_gb": Resource("mem", _positive_number, _gigabytes),
    "nodes": Resource("nodes", _positive_int),
    "tasks_per_node": Resource("ntasks_per_node", _positive_int),
    "cpus_per_task": Resource("cpus_per_task", _positive_int),
    "gpus_per_node": Resource("gpus_per_node", _positive_int),
    "gpus_per_task": Resource("gpus_per_task", _positive_int),
}

# Keys that mean something to submitit's LocalExecutor too (the others only
# concern SLURM and are ignored by a local sweep), as sbatch name -> local name.
LOCAL_PARAMETERS = {
    "time": "timeout_min",
    "signal_delay_s": "signal_delay_s",
    "stderr_to_stdout": "stderr_to_stdout",
    "setup": "setup",
}
# The local executor's own default limit is 2 minutes; a local sweep runs
# until done unless the file sets timeout_min.
LOCAL_DEFAULT_TIMEOUT_MIN = 60 * 24 * 365
SUBMITIT_SIGNAL_DELAY_S = 90  # submitit's default for signal_delay_s


def sbatch_parameters() -> dict[str, Any]:
    """submitit's sbatch keyword arguments and their defaults."""
    import inspect

    from submitit.slurm import slurm as submitit_slurm

    signature = inspect.signature(submitit_slurm._make_sbatch_string)
    return {
        name: parameter.default
        for name, parameter in signature.parameters.items()
        if name not in ("command", "folder", "map_count")
    }


def slurm_parameter(key: str, value: Any) -> tuple[str, Any] | str:
    """Map a sweep file's slurm key to SlurmExecutor's name and value.

    Returns ``(name, value)`` or a problem description.
    """
    bare = key.removeprefix("slurm_")
    if bare in ("max_num_timeout", "max_requeues"):
        return "unknown parameter: set max_requeues at the top level of the sweep file"
    resource = RESOURCES.get(bare)
    if resource is not None:
        problem = resource.check(value)
        return problem if problem else (resource.sbatch, resource.convert(value))
    known = sbatch_parameters()
    if bare not in known:
        names = sorted(set(known) | set(RESOURCES))
        return f"unknown parameter '{key}'{did_you_mean(bare, names)}"
    from submitit.slurm import slurm as submitit_slurm

    hint = typing.get_type_hints(submitit_slurm._make_sbatch_string).get(bare)
    if hint is not None and not _matches_hint(value, hint):
        return f"wrong type: expected {_hint_name(hint)} ({value!r} given)"
    return bare, value


def local_parameters(slurm: dict[str, Any]) -> dict[str, Any]:
    """The LocalExecutor parameters a sweep's slurm section implies."""
    parameters: dict[str, Any] = {"timeout_min": LOCAL_DEFAULT_TIMEOUT_MIN}
    for name, local_name in LOCAL_PARAMETERS.items():
        if name in slurm:
            parameters[local_name] = slurm[name]
    return parameters


def signal_delay_warning(slurm: dict[str, Any]) -> str | None:
    """submitit's timeout warning comes ``signal_delay_s`` before the limit:
    at or beyond the limit, it comes at once (or never), and requeues fail."""
    time_min = slurm.get("time", 5)
    delay = slurm.get("signal_delay_s", SUBMITIT_SIGNAL_DELAY_S)
    if is_int(time_min) and is_number(delay) and delay >= time_min * 60:
        return (
            f"signal_delay_s ({delay} s) is not shorter than the time limit "
            f"({time_min} min): the timeout warning that checkpoints and "
            "requeues a job would come at its start; lower signal_delay_s"
        )
    return None


def _matches_hint(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return any(_matches_hint(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return is_int(value)
    if hint is float:
        return is_number(value)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple, typing.Iterable) or hint is list:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _hint_name(hint: Any) -> str:
    if typing.get_origin(hint) is typing.Union:
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(_hint_name(a) for a in arms)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false"}
    if hint in names:
        return names[hint]
    origin = typing.get_origin(hint)
    if origin is dict:
        return "a mapping"
    if origin is not None:
        return "a list of strings"
    return str(hint)


def is_int(value: Any) -> bool:
    """An int of YAML or JSON: ``True`` is a bool, not 1."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
