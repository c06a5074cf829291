"""Read the few small files of one experiment folder that the table needs.

The result (a *snapshot*) is plain data — dicts, lists, strings, numbers — so
that it can be cached as JSON without any class of ours. Reading never
raises for a bad folder: every problem becomes a sentence in
``snapshot["problems"]``, which the status logic turns into ``BROKEN``.
"""

from __future__ import annotations

import os
from typing import Any

from . import safeio
from .ids import is_integer_id
from .spec import (  # noqa: F401 - MARKER_FILES: the files that make an experiment
    ARGS_FILE,
    DEFAULT_ARGS_FILE,
    MARKER_FILES,
    METADATA_FILE,
    STATUS_FILE,
    SUMMARY_FILE,
    TAGS_FILE,
)

Snapshot = dict  # keys: word, message, metadata, args, default_args, summary, tags,
# problems


def _read_file(name: str, folder_fd: int | None) -> bytes | None:
    return safeio.read_bytes(name, safeio.JSON_LIMIT, folder_fd)


def _bounded_object(name: str, value: dict, size: int, problems: list[str]) -> dict:
    """The object cut to the reader's column limit, saying so when it was."""
    limit = safeio.JSON_VALUES_LIMIT
    if size <= 4 * limit:  # every value takes at least 4 bytes: cannot be over
        return value
    if len(value) <= limit and safeio.count_values(value, limit) <= limit:
        return value
    problems.append(
        f"{name} has more than {limit} values; only the first {limit} are read"
    )
    return safeio.first_values(value, limit)


def _json_object(
    folder_fd: int | None,
    name: str,
    problems: list[str],
    found: list[bool],
    texts: dict | None = None,
) -> dict | None:
    try:
        data = _read_file(name, folder_fd)
    except OSError as error:
        found.append(True)
        problems.append(f"{name} cannot be read ({safeio.describe_error(error)})")
        return None
    if data is None:
        found.append(False)
        return None
    found.append(True)
    try:
        value = safeio.loads_bounded(data)
    except UnicodeDecodeError:
        problems.append(f"{name} is not UTF-8")
        return None
    except safeio.JSONShapeError as error:
        problems.append(f"{name} cannot be read ({error})")
        return None
    except ValueError as error:
        kind = "empty" if not data.strip() else "truncated or not valid JSON"
        problems.append(f"{name} is {kind} ({error})")
        return None
    if value is None and name == DEFAULT_ARGS_FILE:
        return None  # meticulous-ml's capture_defaults=False: no defaults known
    if not isinstance(value, dict):
        problems.append(f"{name} is not a JSON object")
        return None
    if texts is not None:
        texts[name[: -len(".json")]] = data
    return _bounded_object(name, value, len(data), problems)


def _status(folder_fd: int | None, problems: list[str]) -> tuple[str | None, str, bool]:
    """(word, message, found) from STATUS: first line the word, the rest the message."""
    try:
        data = _read_file(STATUS_FILE, folder_fd)
    except OSError as error:
        problems.append(f"STATUS cannot be read ({safeio.describe_error(error)})")
        return None, "", True
    if data is None:
        return None, "", False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        problems.append("STATUS is not UTF-8")
    word, _, message = text.partition("\n")
    word = word.strip()
    if not word:
        problems.append("STATUS is empty")
        return None, message.rstrip("\n"), True
    return word, message.rstrip("\n"), True


def _unreadable_folder(error: OSError) -> Snapshot:
    return {
        "word": None,
        "message": "",
        "metadata": None,
        "args": None,
        "default_args": None,
        "summary": None,
        "tags": None,
        "problems": [f"the folder cannot be read ({safeio.describe_error(error)})"],
    }


def read_snapshot(
    folder: str, name: str, follow_link: bool = True, keep_texts: bool = False
) -> Snapshot | None:
    """The folder's table data, or None when the folder is not an experiment.

    Never raises for what is in the folder: an unreadable folder is a
    snapshot whose problem says so. ``follow_link=False`` refuses a folder
    that is a symbolic link (a scan of a shared directory). ``keep_texts``
    adds ``"texts"``: each JSON file's bytes as read, for the snapshot cache
    to store without encoding the values again.
    """
    try:
        folder_fd = safeio.open_folder(folder, follow_link)
    except FileNotFoundError:
        folder_fd = None  # removed while we looked: nothing is found below
    except OSError as error:
        return _unreadable_folder(error)
    try:
        return _read_files(folder_fd, name, keep_texts)
    finally:
        if folder_fd is not None:
            os.close(folder_fd)


def snapshot_of(folder: str, name: str, follow_link: bool = True) -> Snapshot:
    """:func:`read_snapshot` of a folder already taken for an experiment: a
    non-integer folder without experiment files reads as an empty run."""
    snapshot = read_snapshot(folder, name, follow_link)
    if snapshot is None:
        snapshot = read_snapshot(folder, "0", follow_link)
    assert snapshot is not None  # "0" is an integer id: never None
    return snapshot


def _read_files(
    folder_fd: int | None, name: str, keep_texts: bool = False
) -> Snapshot | None:
    problems: list[str] = []
    texts: dict | None = {} if keep_texts else None
    if folder_fd is None:
        word, message, status_found = None, "", False
        found = [False, False]
        metadata = args = default_args = summary = tags = None
    else:
        word, message, status_found = _status(folder_fd, problems)
        found = []
        metadata = _json_object(folder_fd, METADATA_FILE, problems, found, texts)
        args = _json_object(folder_fd, ARGS_FILE, problems, found, texts)
        default_args = _json_object(
            folder_fd, DEFAULT_ARGS_FILE, problems, found, texts
        )
        summary = _json_object(folder_fd, SUMMARY_FILE, problems, found, texts)
        tags = _json_object(folder_fd, TAGS_FILE, problems, [], texts)  # spec §15
    metadata_found, args_found = found[0], found[1]
    if not (status_found or metadata_found or args_found):
        if not is_integer_id(name):
            return None
        problems.insert(
            0,
            "STATUS and metadata.json are missing"
            " (the experiment is being created, or its writer stopped early)",
        )
    else:
        if not status_found:
            problems.insert(0, "STATUS is missing")
        if not metadata_found:
            problems.append("metadata.json is missing")
    if metadata is not None:
        version = metadata.get("spec-version")
        if version is not None and (type(version) is not int or version < 1):
            problems.append(
                f"metadata.json's spec-version is not a positive integer: {version!r}"
            )
    snapshot = {
        "word": word,
        "message": message,
        "metadata": metadata,
        "args": args,
        "default_args": default_args,
        "summary": summary,
        "tags": tags,
        "problems": problems,
    }
    if texts is not None:
        snapshot["texts"] = texts
    return snapshot


def spec_version(snapshot: Snapshot) -> int | None:
    metadata = snapshot["metadata"]
    if metadata is None:
        return None
    version: Any = metadata.get("spec-version")
    return version if type(version) is int else None
