"""Which rank of a distributed launch this process is (spec 10.1, 10.2).

Launchers start one process per rank and tell each its place through
environment variables; every launcher has its own names for them. This
module reads them, and names the launch so that its ranks can find each
other's experiment through a file (:mod:`.rendezvous`) instead of a network.
"""

from __future__ import annotations

from collections.abc import Mapping

from .exceptions import InvalidExperimentError

ENV_LAUNCH_ID = "METICULOUS_LAUNCH_ID"

# (rank variable, world size variable, local rank variable), first match wins.
_CONVENTIONS = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
)
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


class RankInfo:
    """This process's rank, the world size, and the launch they belong to."""

    __slots__ = ("launch", "local_rank", "rank", "world_size")

    def __init__(
        self, rank: int, world_size: int, local_rank: int | None, launch: str | None
    ) -> None:
        self.rank = rank
        self.world_size = world_size
        self.local_rank = local_rank
        self.launch = launch

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def require_launch(self) -> str:
        if self.launch is None:
            raise InvalidExperimentError(
                f"rank {self.rank} of {self.world_size}: cannot tell which processes "
                f"belong to this launch (no SLURM job step, TORCHELASTIC_RUN_ID, "
                f"MASTER_ADDR/MASTER_PORT or PMIX_NAMESPACE); set {ENV_LAUNCH_ID} "
                f"to the same value in every rank"
            )
        return self.launch


PLAIN = RankInfo(0, 1, None, None)


def _integer(environ: Mapping[str, str], name: str) -> int | None:
    value = environ.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _in_slurm_step(environ: Mapping[str, str]) -> bool:
    step = environ.get("SLURM_STEP_ID", environ.get("SLURM_STEPID", ""))
    return bool(step) and step not in ("batch", "extern", "interactive")


def detect_rank(environ: Mapping[str, str]) -> RankInfo:
    """The rank of this process from the launchers' variables (spec 10.1)."""
    for rank_name, size_name, local_name in _CONVENTIONS:
        if rank_name == "SLURM_PROCID" and not _in_slurm_step(environ):
            continue  # a batch script sees SLURM_NTASKS but runs once
        rank, size = _integer(environ, rank_name), _integer(environ, size_name)
        if rank is None or size is None:
            continue
        if size <= 1:
            return PLAIN
        if rank >= size:
            raise InvalidExperimentError(
                f"{rank_name}={rank} is not below {size_name}={size}: the launcher's "
                f"variables are inconsistent"
            )
        return RankInfo(rank, size, _integer(environ, local_name), launch_key(environ))
    return PLAIN


def launch_key(environ: Mapping[str, str]) -> str | None:
    """The name every rank of one launch computes alike (spec 10.2)."""
    restarts = environ.get("TORCHELASTIC_RESTART_COUNT") or "0"
    key = None
    if environ.get(ENV_LAUNCH_ID):
        key = f"launch-{environ[ENV_LAUNCH_ID]}"
    elif environ.get("SLURM_JOB_ID") and _in_slurm_step(environ):
        step = environ.get("SLURM_STEP_ID", environ.get("SLURM_STEPID"))
        slurm_restarts = environ.get("SLURM_RESTART_COUNT") or "0"
        key = f"slurm-{environ['SLURM_JOB_ID']}.{step}-{slurm_restarts}"
    elif environ.get("TORCHELASTIC_RUN_ID", "none") != "none":
        key = f"torch-{environ['TORCHELASTIC_RUN_ID']}-{restarts}"
    elif environ.get("MASTER_ADDR") and environ.get("MASTER_PORT"):
        key = f"master-{environ['MASTER_ADDR']}-{environ['MASTER_PORT']}-{restarts}"
    elif environ.get("PMIX_NAMESPACE"):
        key = f"pmix-{environ['PMIX_NAMESPACE']}"
    if key is None:
        return None
    return "".join(c if c in _SAFE else "_" for c in key)[:200]
