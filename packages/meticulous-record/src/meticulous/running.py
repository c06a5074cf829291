"""``meticulous.current()``: the experiment running in this process (spec §14.2).

Library code deep in a project logs to the run without having it passed
down. Experiments register themselves when they start and leave when they
end, so this needs no stack introspection; it is the recorder's only
process-wide state. The innermost (latest started, still running) wins, so
inside a child run (``experiment.child``) it is the child.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .experiment import Experiment

_running: list[Experiment] = []


def current() -> Experiment | None:
    """The innermost experiment running in this process, or None."""
    return _running[-1] if _running else None


def enter(experiment: Experiment) -> None:
    _running.append(experiment)


def leave(experiment: Experiment) -> None:
    """Forget ``experiment`` (wherever it is: an outer run may end first)."""
    for index in range(len(_running) - 1, -1, -1):
        if _running[index] is experiment:
            del _running[index]
            return
