"""The content of ``metadata.json`` at the start of a run (spec 2.2 and 6).

A new run, a claimed reservation and a resume all describe the process the
same way; they differ in what they keep from the folder's previous
metadata: a claim keeps the launcher's information (and its description if
the user gave none), a resume keeps everything recorded before, including
the start ``timestamp``, and appends to ``resumes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .runinfo import SPEC_VERSION, now, process_metadata

if TYPE_CHECKING:
    from .ranks import RankInfo


def start_metadata(
    previous: dict[str, Any],
    *,
    resumed: bool,
    sha: str,
    message: str,
    dirty: bool,
    description: str,
    launcher: dict[str, Any] | None,
    rank: RankInfo,
) -> dict[str, Any]:
    """The metadata of a run starting now; ``previous`` is the folder's, or {}.

    ``rank`` is this process's: a distributed run's main rank adds its keys.
    """
    started = now()
    process = process_metadata()
    metadata: dict[str, Any] = {
        "spec-version": SPEC_VERSION,
        "githead-sha": sha,
        "githead-message": message,
        "dirty": dirty,
        "description": description or str(previous.get("description") or ""),
        "timestamp": started,
        "end-timestamp": None,
        "exit-code": None,
        **process,
        "resumes": [],
    }
    if resumed:
        earlier = previous.get("resumes")
        metadata = {
            **metadata,
            **previous,
            **process,
            "end-timestamp": None,
            "exit-code": None,
            "dirty": bool(previous.get("dirty")) or dirty,
            "resumes": [
                *(earlier if isinstance(earlier, list) else []),
                {
                    "timestamp": started,
                    "host": process["host"],
                    "pid": process["pid"],
                    "command": process["command"],
                },
            ],
        }
        if description:
            metadata["description"] = description
    kept = previous.get("launcher")
    handed_over = {**(kept if isinstance(kept, dict) else {}), **(launcher or {})}
    if handed_over:
        metadata["launcher"] = handed_over
    if rank.distributed:
        metadata.update(rank_keys(rank))
    return metadata


def rank_keys(rank: RankInfo) -> dict[str, Any]:
    """What a distributed run adds to the metadata of every rank (spec 10.3)."""
    keys: dict[str, Any] = {"world-size": rank.world_size, "launch": rank.launch}
    if rank.local_rank is not None:
        keys["local-rank"] = rank.local_rank
    return keys


def rank_metadata(rank: RankInfo) -> dict[str, Any]:
    """``ranks/<n>/metadata.json`` of a joined rank at its start (spec 10.3)."""
    return {
        "spec-version": SPEC_VERSION,
        "rank": rank.rank,
        **rank_keys(rank),
        "timestamp": now(),
        "end-timestamp": None,
        "exit-code": None,
        **process_metadata(),
    }
