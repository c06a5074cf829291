"""meticulous: record every run of an experiment in a numbered folder.

``import meticulous`` is cheap on purpose (no git, no pandas, no threads):
the work starts when an :class:`Experiment` is created.
"""

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
    UnserialisableValueError,
)
from .experiment import Experiment
from .reservation import reserve_experiment, reserve_experiments

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
    "UnserialisableValueError",
    "reserve_experiment",
    "reserve_experiments",
]
