"""The environment a test's child process starts in."""

from __future__ import annotations

import os


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment minus anything a launcher or SLURM would have set, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("METICULOUS_", "SLURM_"))
    }
    env.update(extra or {})
    return env
