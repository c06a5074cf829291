"""The one writer of RESULTS.md: the machine, every target in one table, the details.

The benchmarks hand over data (``results.Result``); only this module decides
how RESULTS.md looks, so every section's targets read the same way at the top.
"""

from __future__ import annotations

from collections.abc import Sequence

from common import md_table
from results import Result

SUMMARY_HEADERS = ["benchmark", "target", "figure", "peer", "ratio", "result"]


def summary(results: Sequence[Result]) -> str:
    """Every target of every benchmark, PASS or MISS, in one table."""
    rows = [
        [result.title, t.target, t.figure, t.peer or "—", t.ratio or "—", t.marked]
        for result in results
        for t in result.targets
    ]
    missed = sum(not t.passed for result in results for t in result.targets)
    count = sum(len(result.targets) for result in results)
    return (
        f"## Targets\n\n{count - missed} of {count} targets met. *Peer* is what the "
        "figure is compared with; the sections below say how each was measured.\n\n"
        + md_table(SUMMARY_HEADERS, rows)
    )


def section(result: Result) -> str:
    return f"## {result.title}\n\n{result.detail.strip()}"


def render(header: str, results: Sequence[Result]) -> str:
    """RESULTS.md: ``header`` (the machine), the targets, one section a benchmark."""
    parts = [header.rstrip(), summary(results), *(section(r) for r in results)]
    return "\n\n".join(parts) + "\n"
