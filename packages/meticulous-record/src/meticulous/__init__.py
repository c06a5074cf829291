"""meticulous: record every run of an experiment in a numbered folder.

``import meticulous`` is cheap on purpose (no git, no pandas, no threads):
the work starts when an :class:`Experiment` is created.
"""

from .exceptions import (
    DirtyRepoException,
    ExperimentLockedException,
    InvalidExperimentError,
    InvalidSummaryError,
    MeticulousError,
    MismatchedArgsException,
    MismatchedCommitException,
    NotAGitRepositoryError,
    UnserialisableValueError,
)
from .experiment import Experiment
from .reservation import reserve_experiment, reserve_experiments
from .running import current

__version__ = "0.1.0"

__all__ = [
    "DirtyRepoException",
    "Experiment",
    "ExperimentLockedException",
    "InvalidExperimentError",
    "InvalidSummaryError",
    "MeticulousError",
    "MismatchedArgsException",
    "MismatchedCommitException",
    "NotAGitRepositoryError",
    "UnserialisableValueError",
    "current",
    "reserve_experiment",
    "reserve_experiments",
]
