"""Reservations: a launcher hands a numbered folder to a job (spec section 5).

A sweep launcher reserves one folder per job before the job runs, so every
point of the sweep is visible (QUEUED) at once and its id is known when it
is submitted. The job itself is the user's unchanged script: the recorder
finds the reservation through environment variables, not through options
the user would have to pass.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import write_json_atomic
from .exceptions import InvalidExperimentError
from .ids import allocate_id, validate_id
from .jsonable import dumps_document, readable
from .runinfo import SPEC_VERSION
from .status import QUEUED, write_status

ENV_EXPERIMENTS_DIRECTORY = "METICULOUS_EXPERIMENTS_DIRECTORY"
ENV_EXPERIMENT_ID = "METICULOUS_EXPERIMENT_ID"
ENV_LAUNCHER = "METICULOUS_LAUNCHER"


def reserve_experiment(
    experiments_directory: str | os.PathLike[str],
    args: Mapping[str, Any],
    *,
    launcher: Mapping[str, Any] | None = None,
    githead_sha: str | None = None,
    description: str = "",
    note: str = "",
) -> str:
    """Allocate an id and mark its folder QUEUED for a job; return the id.

    Writes ``args.json`` (what the job will be given), ``metadata.json``
    (``spec-version``, ``launcher``, ``githead-sha`` and ``description``
    when given) and ``STATUS`` ``QUEUED`` followed by ``note``. Everything
    is serialised before the id is allocated, so bad input allocates nothing.
    """
    if not isinstance(args, Mapping):
        raise InvalidExperimentError(
            f"args must be a dict of argument names to values, not {type(args).__name__}"
        )
    metadata: dict[str, Any] = {
        "spec-version": SPEC_VERSION,
        "launcher": dict(launcher or {}),
    }
    if githead_sha is not None:
        metadata["githead-sha"] = str(githead_sha)
    if description:
        metadata["description"] = str(description)
    args_document = readable(dict(args))
    dumps_document(metadata)  # fails here, before allocating, if unrecordable
    experiment_id = allocate_id(experiments_directory)
    folder = Path(experiments_directory) / experiment_id
    write_json_atomic(folder / "args.json", args_document)
    write_json_atomic(folder / "metadata.json", metadata)
    write_status(folder, QUEUED, note)
    return experiment_id


class Reservation:
    """What the environment of a launched job says about its folder."""

    __slots__ = ("experiment_id", "experiments_directory", "launcher")

    def __init__(
        self,
        experiment_id: str,
        experiments_directory: str | None,
        launcher: dict[str, Any] | None,
    ) -> None:
        self.experiment_id = experiment_id
        self.experiments_directory = experiments_directory
        self.launcher = launcher


def reservation_from_environment(environ: Mapping[str, str]) -> Reservation | None:
    """The reservation handed over by a launcher, or None when there is none."""
    experiment_id = environ.get(ENV_EXPERIMENT_ID)
    if not experiment_id:
        return None
    try:
        validate_id(experiment_id)
    except InvalidExperimentError as error:
        raise InvalidExperimentError(f"{ENV_EXPERIMENT_ID}: {error}") from None
    launcher = None
    text = environ.get(ENV_LAUNCHER)
    if text:
        try:
            launcher = json.loads(text)
        except ValueError:
            launcher = None
        if not isinstance(launcher, dict):
            raise InvalidExperimentError(
                f"{ENV_LAUNCHER} must hold a JSON object, not {text!r}"
            )
    return Reservation(experiment_id, environ.get(ENV_EXPERIMENTS_DIRECTORY), launcher)
