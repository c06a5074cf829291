"""Names: ``Experiment(name="dense_model")`` records into ``<experiments>/dense_model/<id>/``.

Spec §14.4. The name folder is an experiments directory of its own (ids
allocated per name, like test_tube's versions), so everything that works on
an experiments directory works on it unchanged; readers find it as a group.
"""

from __future__ import annotations

import os
from pathlib import Path

from .exceptions import InvalidExperimentError
from .filenames import MARKER_FILES
from .ids import is_integer_id, validate_id

EXPERIMENT_FILES = MARKER_FILES


def group_directory(experiments_directory: str | os.PathLike[str], name: str) -> Path:
    """``experiments_directory/name``, after checking ``name`` (spec §14.4)."""
    if not isinstance(name, str):
        raise InvalidExperimentError(f"name must be a string, not {name!r}")
    try:
        validate_id(name)
    except InvalidExperimentError as error:
        raise InvalidExperimentError(
            str(error).replace("experiment id", "experiment name", 1)
        ) from None
    if is_integer_id(name):
        raise InvalidExperimentError(
            f"invalid experiment name {name!r}: an integer would look like an "
            f"experiment id; use a word (dense_model)"
        )
    return Path(experiments_directory) / name


def check_group(folder: Path) -> None:
    """Refuse a name whose folder is an experiment rather than a group."""
    if any((folder / name).exists() for name in EXPERIMENT_FILES):
        raise InvalidExperimentError(
            f"{folder} is an experiment, so it cannot be used as the name "
            f"{folder.name!r}: choose another name"
        )
