"""A test's child processes: the environment they start in, and waiting for them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment minus anything a launcher or SLURM would have set, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("METICULOUS_", "SLURM_"))
    }
    env.update(extra or {})
    return env


def wait_for(
    condition: Callable[[], T],
    timeout: float = 30.0,
    what: str = "the child process",
    step: float = 0.05,
) -> T:
    """Poll ``condition`` every ``step`` seconds until it is true; its value.

    Raises AssertionError naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)
