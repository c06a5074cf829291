"""HEAD's commit read from the repository's own files: no ``git log`` process.

A start needs HEAD's sha and message (``githead-sha``, ``githead-message``).
``git status`` gives the sha; the message took a second ``git`` process,
3-5 ms of a start on a loaded machine. Right after ``git commit`` (the usual
case before a run) the commit is a *loose object*: a zlib-compressed file
named by its sha, whose text is the commit's headers, a blank line and the
message exactly as ``git log --format=%B`` prints it. Anything else (a
packed commit, a re-encoded message, ``GIT_DIR`` and friends, a ref that is
not where it is looked for) returns None, and ``git log`` is asked as before.
Nothing here writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from .sources import git_dir_of

# Variables that move the repository's files where this module does not look.
_RELOCATING = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY")
_HEX = frozenset("0123456789abcdef")


def head_commit(toplevel: Path) -> tuple[str, str] | None:
    """``(sha, message)`` of HEAD when it is a loose commit, else None."""
    if any(name in os.environ for name in _RELOCATING):
        return None
    git_dir = git_dir_of(toplevel)
    if git_dir is None:
        return None
    try:
        common = _common_dir(git_dir)
        sha = _head_sha(git_dir, common)
        if sha is None:
            return None
        with open(os.path.join(common, "objects", sha[:2], sha[2:]), "rb") as loose:
            compressed = loose.read()
    except OSError:
        return None
    import zlib

    try:
        data = zlib.decompress(compressed)
    except zlib.error:
        return None
    kind, _, body = data.partition(b"\0")
    if kind != b"commit %d" % len(body):
        return None
    headers, separator, message = body.partition(b"\n\n")
    if not separator or any(
        line.startswith(b"encoding ") for line in headers.split(b"\n")
    ):
        return None  # git log would re-encode the message
    return sha, message.decode("utf-8", "replace")


def _common_dir(git_dir: str) -> str:
    """Where refs and objects live: a worktree's ``commondir``, else itself."""
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as pointer:
            relative = pointer.read().strip()
    except FileNotFoundError:
        return git_dir
    return os.path.normpath(os.path.join(git_dir, relative))


def _head_sha(git_dir: str, common: str) -> str | None:
    with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as head:
        text = head.read().strip()
    if text.startswith("ref: "):
        ref = text[len("ref: ") :]
        if not ref.startswith("refs/") or ".." in ref.split("/"):
            return None
        try:
            with open(os.path.join(common, ref), encoding="utf-8") as loose_ref:
                text = loose_ref.read().strip()
        except FileNotFoundError:
            return _packed_ref(common, ref)
    return text if len(text) == 40 and _HEX.issuperset(text) else None


def _packed_ref(common: str, ref: str) -> str | None:
    try:
        with open(os.path.join(common, "packed-refs"), encoding="utf-8") as packed:
            for line in packed:
                sha, _, name = line.rstrip("\n").partition(" ")
                if name == ref:
                    return sha if len(sha) == 40 and _HEX.issuperset(sha) else None
    except FileNotFoundError:
        pass
    return None
