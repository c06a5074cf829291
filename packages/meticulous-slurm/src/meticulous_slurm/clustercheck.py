"""Check a sweep's SLURM request against the cluster before anything is reserved.

sbatch refuses an unknown partition, account or QOS, and an array larger
than ``MaxArraySize``, only once every point has a reserved folder. Asking
the cluster first (``sinfo``, ``scontrol show config``, ``sacctmgr``) turns
that into a message before the first folder exists, and lets ``--dry-run``
say it too. A tool that is missing or does not answer (no accounting
database, say) is skipped: the check never refuses what it cannot see.
"""

from __future__ import annotations

import os
import pwd
import re
from typing import Any

from .background import run_concurrently
from .slurmstate import run_command


def cluster_problems(slurm: dict, count: int) -> list[str]:
    """What sbatch would refuse about this request for ``count`` array tasks.

    Only what the request names is asked, and every tool at the same time.
    """
    partition, account, qos = (
        slurm.get(key) for key in ("partition", "account", "qos")
    )
    known, limit, accounts, known_qos = run_concurrently(
        partitions if partition else _unasked,
        max_array_size if count > 1 else _unasked,
        user_accounts if account else _unasked,
        qos_names if qos else _unasked,
    )
    problems = []
    if partition:
        wanted = [p for p in str(partition).split(",") if p]
        unknown = [p for p in wanted if known is not None and p not in known]
        if unknown:
            problems.append(
                f"partition '{','.join(unknown)}' does not exist on this cluster"
                f" (partitions: {', '.join(sorted(known or ()))})"
            )
    if limit is not None and count > 1 and count > limit:
        problems.append(
            f"{count} points do not fit one job array: the cluster's MaxArraySize is"
            f" {limit} (array indices 0 to {limit - 1}); split the sweep, or ask the"
            " administrators to raise MaxArraySize"
        )
    if account and accounts is not None and str(account) not in accounts:
        problems.append(
            f"account '{account}' is not one of yours"
            f" (yours: {', '.join(sorted(accounts)) or 'none'})"
        )
    if qos and known_qos is not None and str(qos) not in known_qos:
        problems.append(
            f"QOS '{qos}' does not exist (QOS: {', '.join(sorted(known_qos))})"
        )
    return problems


def _unasked() -> Any:
    return None


def partitions() -> set[str] | None:
    completed = run_command(["sinfo", "-h", "-o", "%P"])
    if completed is None or completed.returncode != 0:
        return None
    return {name.rstrip("*") for name in completed.stdout.split()}


def max_array_size() -> int | None:
    completed = run_command(["scontrol", "show", "config"])
    if completed is None or completed.returncode != 0:
        return None
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", completed.stdout, re.MULTILINE)
    return int(match.group(1)) if match else None


def user_accounts() -> set[str] | None:
    user = pwd.getpwuid(os.getuid()).pw_name
    completed = run_command(
        [
            "sacctmgr",
            "-n",
            "-P",
            "show",
            "associations",
            f"user={user}",
            "format=account",
        ]
    )
    if completed is None or completed.returncode != 0:
        return None
    accounts = {line.strip() for line in completed.stdout.splitlines() if line.strip()}
    return accounts or None  # no associations listed: accounting not enforced


def qos_names() -> set[str] | None:
    completed = run_command(["sacctmgr", "-n", "-P", "show", "qos", "format=name"])
    if completed is None or completed.returncode != 0:
        return None
    names = {line.strip() for line in completed.stdout.splitlines() if line.strip()}
    return names or None
