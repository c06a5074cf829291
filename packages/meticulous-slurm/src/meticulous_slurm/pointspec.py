"""What one job is handed: a point of a sweep and its reserved folder.

Apart from job.py so that building the specs (record.py) does not import
submitit: a submission imports it while its folders are being reserved
(see reserving.py), not before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class PointSpec:
    """Everything one job needs; plain data so it pickles small."""

    sweep: str
    index: int
    experiment_id: str
    experiments_directory: str
    code_directory: str
    argv: tuple[str, ...]
    launcher: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return Path(self.experiments_directory) / self.experiment_id
