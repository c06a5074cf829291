"""Whether the two-node SLURM cluster of .ci/slurm/setup.sh is up.

One answer for the slurm suite's fixtures, the noxfile (start the cluster
when it is down) and the SLURM benchmark (skip when there is none).
"""

from __future__ import annotations

import shutil
import subprocess

USABLE_NODE_STATES = ("idle", "mixed", "allocated", "completing")
SLURM_TOOLS = ("sbatch", "sinfo", "squeue", "sacct", "scontrol", "scancel", "srun")


def cluster_nodes() -> tuple[list[str], str | None]:
    """The usable nodes (sorted by name, as Slurm orders them), and why the
    cluster is not fully up: None when every configured node is usable.

    A node whose state ends in ``*`` (slurmd not responding), or that is
    down, drained or invalid, counts as missing.
    """
    for tool in SLURM_TOOLS:
        if shutil.which(tool) is None:
            return [], f"{tool} is not on PATH"
    try:
        probe = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%N %T"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [], "sinfo did not answer within 30 s (is slurmctld running?)"
    if probe.returncode != 0:
        return [], f"sinfo failed: {probe.stderr.strip()}"
    states = dict(line.split(None, 1) for line in probe.stdout.splitlines() if line)
    usable = sorted(n for n, state in states.items() if state in USABLE_NODE_STATES)
    missing = {n: state for n, state in states.items() if n not in usable}
    if not states:
        return [], "sinfo reports no node"
    if missing:
        said = ", ".join(f"{n} is {state}" for n, state in sorted(missing.items()))
        return usable, f"not every node is usable ({said})"
    return usable, None
