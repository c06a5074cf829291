"""meticulous: record every run of an experiment in a numbered folder.

``import meticulous`` is cheap on purpose (no git, no pandas, no threads):
the work starts when an :class:`Experiment` is created.
"""

from typing import TYPE_CHECKING

from .exceptions import (
    DirtyRepoException,
    ExperimentFinishedError,
    ExperimentLockedException,
    InvalidExperimentError,
    InvalidMetricsError,
    InvalidSummaryError,
    MeticulousError,
    MismatchedArgsException,
    MismatchedCommitException,
    NotAGitRepositoryError,
    RankJoinError,
    StorageError,
    UnsafePathError,
    UnserialisableValueError,
)
from .experiment import Experiment
from .running import current

if TYPE_CHECKING:  # imported by __getattr__ when first used
    from .reservation import (
        allocate_reservations,
        reserve_experiment,
        reserve_experiments,
    )

__version__ = "0.1.0"

__all__ = [
    "DirtyRepoException",
    "Experiment",
    "ExperimentFinishedError",
    "ExperimentLockedException",
    "InvalidExperimentError",
    "InvalidMetricsError",
    "InvalidSummaryError",
    "MeticulousError",
    "MismatchedArgsException",
    "MismatchedCommitException",
    "NotAGitRepositoryError",
    "RankJoinError",
    "StorageError",
    "UnsafePathError",
    "UnserialisableValueError",
    "allocate_reservations",
    "current",
    "reserve_experiment",
    "reserve_experiments",
]


_LAUNCHER_API = ("allocate_reservations", "reserve_experiment", "reserve_experiments")


def __getattr__(name: str) -> object:
    """The launcher's API, imported when first used (a job never needs it);
    meticulous-ml's reader names, now in meticulous-read: say where they went.

    Only class-like names are looked up for the latter: the import system
    probes the lower case names of submodules here, and that must not
    import ``compat``.
    """
    if name in _LAUNCHER_API:
        from . import reservation

        return getattr(reservation, name)
    if name[:1].isupper():
        from .compat import READER_NAMES, reader_moved

        if name in READER_NAMES:
            raise reader_moved(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
