"""Text for ``meticulous show`` (one experiment whole) and ``meticulous diff``."""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd

from .experiment import ExperimentReader
from .render import format_value, shorten

PATCH_LINES = 200


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _section(title: str, body: list[str]) -> list[str]:
    return ["", f"{title}:"] + (body or ["  (none)"])


def _key_values(values: dict) -> list[str]:
    if not values:
        return []
    width = min(max(len(str(key)) for key in values), 32)
    return [f"  {key!s:<{width}}  {_value(value)}" for key, value in values.items()]


def _last_lines(text: str, count: int) -> list[str]:
    lines = text.splitlines()
    shown = lines[-count:] if count > 0 else []
    skipped = len(lines) - len(shown)
    head = [f"  … {skipped} earlier lines"] if skipped else []
    return head + ["  " + line for line in shown]


def show(experiment: ExperimentReader, lines: int = 20) -> str:
    """Everything about one experiment, most useful first."""
    out = [f"experiment {experiment.id}: {experiment.status}", f"  {experiment.path}"]
    if experiment.status_message:
        out += _section(
            "status message",
            ["  " + line for line in experiment.status_message.splitlines()],
        )
    args, defaults = experiment.args, experiment.default_args
    arg_lines = []
    if args:
        width = min(max(len(str(key)) for key in args), 32)
        for key, value in args.items():
            line = f"  {key!s:<{width}}  {_value(value)}"
            if defaults and key in defaults and defaults[key] != value:
                line += f"   (default {_value(defaults[key])})"
            elif defaults and key not in defaults:
                line += "   (no default)"
            arg_lines.append(line)
    out += _section("args", arg_lines)
    out += _section("summary", _key_values(experiment.summary))
    metadata = dict(experiment.metadata)
    message = metadata.get("githead-message")
    if isinstance(message, str):
        metadata["githead-message"] = message.strip()
    out += _section("metadata", _key_values(metadata))
    for name in ("stdout", "stderr"):
        text = getattr(experiment, name)
        out += _section(f"{name} (last {lines} lines)", _last_lines(text, lines))
    patch = experiment.dirty_patch
    if patch is not None:
        out += _section("dirty.patch", _last_lines(patch, PATCH_LINES))
        try:
            with experiment.open("untracked.txt", encoding="utf-8") as handle:
                untracked = handle.read().splitlines()
            out += _section("untracked files", ["  " + p for p in untracked if p])
        except (OSError, ValueError):
            pass
    from .ranks import rank_lines

    ranks = rank_lines(str(experiment.path))
    if ranks:
        out += _section("ranks", ranks)
    try:
        files = sorted(
            name for name in os.listdir(experiment.path) if not name.startswith(".")
        )
    except OSError:
        files = []
    out += _section("files", ["  " + "  ".join(files)] if files else [])
    return "\n".join(out) + "\n"


COMPARED_FIXED = ("status", "sha", "dirty", "description", "start", "duration")
COMPARED_PREFIXES = ("args.", "summary.", "metadata.githead-message")


def _same(a: Any, b: Any) -> bool:
    missing_a = a is None or (not isinstance(a, (list, dict)) and pd.isna(a))
    missing_b = b is None or (not isinstance(b, (list, dict)) and pd.isna(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def diff(frame: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """The compared fields whose values differ between two experiments.

    Status and commit are always shown, as the context for the rest.
    """
    rows: dict[str, tuple[str, str]] = {}
    for name in frame.columns:
        name = str(name)
        if not (name in COMPARED_FIXED or name.startswith(COMPARED_PREFIXES)):
            continue
        a, b = frame.at[first, name], frame.at[second, name]
        if name in ("status", "sha") or not _same(a, b):
            text_a, text_b = format_value(a), format_value(b)
            if name == "metadata.githead-message":
                text_a, text_b = (
                    shorten(text_a.strip(), 60),
                    shorten(text_b.strip(), 60),
                )
            rows[name] = (text_a, text_b)
    table = pd.DataFrame(
        {
            first: [a for a, _ in rows.values()],
            second: [b for _, b in rows.values()],
        },
        index=pd.Index(list(rows), name="field", dtype=object),
        dtype=object,
    )
    return table
