"""Read meticulous experiments folders: Python objects, one DataFrame, a command.

The reader only reads files laid out as ``spec/SPEC.md`` describes; it never
imports the recorder and never needs git.
"""

from __future__ import annotations

from .experiment import ExperimentReader
from .experiments import Experiments
from .status import SUPPORTED_SPEC_VERSION
from .warn import MeticulousReadWarning

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_SPEC_VERSION",
    "ExperimentReader",
    "Experiments",
    "MeticulousReadWarning",
    "__version__",
]
