"""Reservations, the job's side: the folder a launcher handed over (spec section 5).

The job is the user's unchanged script: the recorder finds its reserved
folder through the environment variables the launcher set, not through
options the user would have to pass. The launcher's side, reserving the
folders, is :mod:`meticulous.reservation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .exceptions import InvalidExperimentError
from .ids import validate_id

ENV_EXPERIMENTS_DIRECTORY = "METICULOUS_EXPERIMENTS_DIRECTORY"
ENV_EXPERIMENT_ID = "METICULOUS_EXPERIMENT_ID"
ENV_LAUNCHER = "METICULOUS_LAUNCHER"


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
            import json

            launcher = json.loads(text)
        except ValueError:
            launcher = None
        if not isinstance(launcher, dict):
            raise InvalidExperimentError(
                f"{ENV_LAUNCHER} must hold a JSON object, not {text!r}"
            )
    return Reservation(experiment_id, environ.get(ENV_EXPERIMENTS_DIRECTORY), launcher)
