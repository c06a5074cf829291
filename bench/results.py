"""What a benchmark hands to the renderer: its targets as data, its detail as markdown.

Each ``bench_*.py`` runs as its own process and prints one :class:`Result` as
JSON (:func:`emit`); ``run.py`` reads it back (:func:`parse`) and ``render.py``
writes every target into the one table at the top of RESULTS.md, then the
detail sections. A target's verdict is computed here, once, from ``passed``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Target:
    """One promise of an issue, measured: ``figure`` against ``peer``."""

    target: str  # the promise, e.g. "at most 0.15 s over the unrecorded script"
    figure: str  # what was measured, formatted ("61.7 ms")
    peer: str  # what the figure is compared with ("unrecorded script", "floor")
    ratio: str  # figure / peer, formatted ("0.13x"), or "" when no ratio applies
    passed: bool

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"

    @property
    def marked(self) -> str:
        """The verdict as the detail sections print it."""
        return f"**{self.verdict}**"


@dataclass
class Result:
    """One benchmark script's output: a section of RESULTS.md."""

    title: str  # the section's heading, "Recorder (meticulous-record)"
    detail: str  # markdown under the heading: how it was measured, the tables
    targets: list[Target] = field(default_factory=list)
    failed: str = ""  # why the script did not finish, when it did not

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, allow_nan=True)


def emit(result: Result) -> None:
    """Print the result as the script's last stdout line, for run.py."""
    print(result.to_json(), flush=True)


def parse(text: str) -> Result:
    """The result a script printed (its last line that is a JSON object)."""
    lines = [line for line in text.splitlines() if line.startswith("{")]
    if not lines:
        raise ValueError("the script printed no result")
    data = json.loads(lines[-1])
    targets = [Target(**target) for target in data.pop("targets")]
    return Result(targets=targets, **data)
