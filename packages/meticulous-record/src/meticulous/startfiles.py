"""The files a run starts with (spec 3, steps 1 and 4).

The args are checked before anything is written: a value that cannot be
recorded refuses the run with every folder as it was. Once the folder is
locked, ``args.json`` and ``default_args.json`` are written, then
``metadata.json``, then, from a dirty repository, ``dirty.patch`` and
``untracked.txt``. A resume keeps the args files it matched, and the patch
of the process that first recorded one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from .exceptions import InvalidExperimentError, MeticulousError
from .filenames import (
    ARGS_FILE,
    DEFAULT_ARGS_FILE,
    DIRTY_PATCH_FILE,
    METADATA_FILE,
    UNTRACKED_FILE,
)
from .folders import RESUME, FolderMode
from .jsonable import dumps_document, readable

if TYPE_CHECKING:
    from pathlib import Path


def recordable(value: dict[str, Any], name: str) -> dict[str, Any]:
    """The JSON form of ``value``, or a clear error before anything is written."""
    try:
        document = readable(value)
        dumps_document(document)
    except MeticulousError as error:
        raise InvalidExperimentError(f"{name} cannot be recorded: {error}") from None
    return document


def write_start_files(
    folder: Path,
    mode: FolderMode,
    args_document: dict[str, Any],
    defaults_document: dict[str, Any],
    metadata: dict[str, Any],
    dirty: tuple[bytes, str] | None,
) -> None:
    """Step 4's files but the heartbeat and STATUS, in the spec's order.

    ``dirty`` is the repository's ``(diff, untracked files)``, or None when
    it is clean.
    """
    if mode != RESUME:
        write_json_atomic(folder / ARGS_FILE, args_document)
        write_json_atomic(folder / DEFAULT_ARGS_FILE, defaults_document)
    write_json_atomic(folder / METADATA_FILE, metadata)
    if dirty is not None and (
        mode != RESUME or not (folder / DIRTY_PATCH_FILE).exists()
    ):
        write_bytes_atomic(folder / DIRTY_PATCH_FILE, dirty[0])
        write_text_atomic(folder / UNTRACKED_FILE, dirty[1])
