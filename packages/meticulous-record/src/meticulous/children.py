"""Child runs: ``with experiment.child(args=..., name=...) as run:`` (spec §14.3).

A child is a full experiment in the same experiments directory as its
parent, its ``metadata.json`` naming the parent, so every reader finds it
without new discovery and every tool that works on an experiment works on a
child. The parent records its children's ids; it ends the children still
running before itself, so their capture is undone in the order it was set
up and each gets a terminal STATUS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .atomic import write_json_atomic
from .exceptions import InvalidExperimentError
from .filenames import METADATA_FILE
from .ids import validate_id

if TYPE_CHECKING:
    from .experiment import Experiment


def start_child(
    parent: Experiment,
    args: Mapping[str, Any] | None,
    name: str | None,
    default_args: Mapping[str, Any] | None,
    description: str,
) -> Experiment:
    kind = type(parent)
    if parent.norecord:
        return kind(args, default_args, norecord=True)
    if parent._finished or parent._folder is None:
        raise InvalidExperimentError(
            f"experiment {parent.experiment_id} has ended: a child run needs a "
            f"running parent"
        )
    experiment_id = None
    if name is not None:
        if not isinstance(name, str):
            raise InvalidExperimentError(
                f"a child's name must be a string, not {name!r}"
            )
        validate_id(name)
        experiment_id = validate_id(f"{parent.experiment_id}.{name}")
    settings = parent._settings
    child = kind(
        args,
        default_args,
        project_directory=settings["project_directory"],
        experiments_directory=parent._folder.parent,
        experiment_id=experiment_id,
        description=description,
        allow_dirty=settings["allow_dirty"],
        _parent=parent,
    )
    parent._children.append(child)
    listed = parent._metadata.setdefault("children", [])
    if child.experiment_id not in listed:
        listed.append(child.experiment_id)
        write_json_atomic(parent._folder / METADATA_FILE, parent._metadata)
    return child


def end_children(parent: Experiment, word: str, message: str, exit_code: int) -> None:
    """End the parent's still-running children, latest first, with its outcome."""
    while parent._children:
        parent._children.pop()._end(word, message, exit_code)
