"""Read meticulous experiments folders: Python objects, one DataFrame, a command.

The reader only reads files laid out as ``spec/SPEC.md`` describes; it never
imports the recorder and never needs git.

``Experiments`` and ``ExperimentReader`` are imported on first use: they need
pandas, which the ``meticulous`` command skips when its listing cache answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .status import SUPPORTED_SPEC_VERSION
from .warn import MeticulousReadWarning

if TYPE_CHECKING:
    from .experiment import ExperimentReader
    from .experiments import Experiments

__version__ = "0.1.0"

__all__ = [
    "SUPPORTED_SPEC_VERSION",
    "ExperimentReader",
    "Experiments",
    "MeticulousReadWarning",
    "__version__",
]

_LAZY = {"ExperimentReader": ".experiment", "Experiments": ".experiments"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
