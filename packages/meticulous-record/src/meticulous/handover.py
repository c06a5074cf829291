"""Reservations, the job's side: the folder a launcher handed over (spec section 5).

The job is the user's unchanged script: the recorder finds its reserved
folder through the environment variables the launcher set, not through
options the user would have to pass. The launcher's side, reserving the
folders, is :mod:`meticulous.reservation`. :func:`destination` weighs a
reservation against the id or name the script gave.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .exceptions import InvalidExperimentError
from .folders import resolve_directories
from .ids import validate_id

if TYPE_CHECKING:
    from pathlib import Path

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


def destination(
    project_directory: str | os.PathLike[str] | None,
    experiments_directory: str | os.PathLike[str],
    experiment_id: str | None,
    name: str | None,
    *,
    child: bool,
) -> tuple[Path, Path, str | None, Reservation | None, str | None]:
    """``(project, experiments, id, reservation, name)`` of a run, checked.

    An explicit id is taken as given; without one, a reservation handed
    over in the environment names the folder and its directory (never a
    child run's: its parent took it). Unless a reservation did, ``name``
    makes the experiments directory a group's (spec 14.4); it is returned
    when it was used. Nothing is written.
    """
    reservation = None
    if experiment_id is not None:
        validate_id(experiment_id)
    elif not child:
        reservation = reservation_from_environment(os.environ)
    if reservation is not None:
        experiment_id = reservation.experiment_id
        experiments_directory = (
            reservation.experiments_directory or experiments_directory
        )
        name = None
    elif name is not None:
        from . import names

        experiments_directory = names.group_directory(experiments_directory, name)
    project, experiments = resolve_directories(project_directory, experiments_directory)
    if name is not None:
        from . import names

        names.check_group(experiments)
    return project, experiments, experiment_id, reservation, name
