"""Write the listed table to a file chosen by its suffix, or as JSON for scripts.

Markdown and LaTeX are written here rather than with pandas' ``to_markdown``
/ ``to_latex``, which need the optional ``tabulate`` and ``jinja2``: the
reader's only dependency stays pandas.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .atomic import replace_atomically
from .render import format_value
from .sanitize import escape_json
from .spec import special_text


class ExportError(ValueError):
    """The table cannot be written in the asked format."""


def plain_value(value: Any) -> Any:
    """A cell as a JSON value: timestamps ISO 8601, durations in seconds.

    Missing values become null; infinities the spec's strings (spec §2).
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return special_text(value)
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return [plain_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain_value(item) for key, item in value.items()}
    if isinstance(value, (str, int, bool)):
        return value
    return str(value)


def records(frame: pd.DataFrame) -> list[dict]:
    """One JSON object per row, the index first under its name."""
    index_name = str(frame.index.name or "index")
    names = [str(name) for name in frame.columns]
    columns = [frame.iloc[:, at].tolist() for at in range(len(names))]
    result = []
    for row, key in enumerate(frame.index):
        item = {index_name: plain_value(key)}
        for name, column in zip(names, columns):
            item[name] = plain_value(column[row])
        result.append(item)
    return result


def json_text(value: Any) -> str:
    """Indented JSON for a terminal or a script.

    json escapes C0 controls itself; DEL, the C1 controls and the other
    characters :mod:`.sanitize` fears become ``\\uXXXX`` too, which is still
    the same JSON string.
    """
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return escape_json(text) + "\n"


def to_json(frame: pd.DataFrame) -> str:
    return json_text(records(frame))


def _text_cells(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    headers = [str(frame.index.name or "")] + [str(name) for name in frame.columns]
    columns = [frame[name].tolist() for name in frame.columns]
    rows = []
    for row, key in enumerate(frame.index):
        rows.append([format_value(key)] + [format_value(c[row]) for c in columns])
    return headers, rows


def to_markdown(frame: pd.DataFrame) -> str:
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|")

    headers, rows = _text_cells(frame)
    lines = ["| " + " | ".join(cell(h) for h in headers) + " |"]
    lines.append("|" + "|".join(" --- " for _ in headers) + "|")
    for row in rows:
        lines.append("| " + " | ".join(cell(value) for value in row) + " |")
    return "\n".join(lines) + "\n"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(character, character) for character in text)


def to_latex(frame: pd.DataFrame) -> str:
    headers, rows = _text_cells(frame)
    lines = [
        r"\begin{tabular}{" + "l" * len(headers) + "}",
        r"\hline",
        " & ".join(latex_escape(h) for h in headers) + r" \\",
        r"\hline",
    ]
    for row in rows:
        lines.append(" & ".join(latex_escape(value) for value in row) + r" \\")
    lines += [r"\hline", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def to_csv(frame: pd.DataFrame) -> str:
    return _with_text_objects(frame).to_csv(index=True)


def _with_text_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and objects as JSON text, so every column is a scalar column."""
    converted = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            converted[name] = column.map(
                lambda v: (
                    json.dumps(plain_value(v), ensure_ascii=False)
                    if isinstance(v, (list, dict, tuple))
                    else v
                )
            )
    return frame.assign(**converted) if converted else frame


def _write_parquet(frame: pd.DataFrame, path: str) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ExportError(
            "writing .parquet needs pyarrow: pip install 'meticulous-read[parquet]'"
        ) from None
    table = _with_text_objects(frame)
    for name in table.columns:  # mixed-type object columns: as text
        if table[name].dtype == object:
            table[name] = table[name].map(
                lambda v: None if v is None else format_value(v)
            )
    table.to_parquet(path)


TEXT_WRITERS: dict[str, Callable[[pd.DataFrame], str]] = {
    ".csv": to_csv,
    ".json": to_json,
    ".md": to_markdown,
    ".tex": to_latex,
}
SUFFIXES = sorted(TEXT_WRITERS) + [".parquet"]


def check_suffix(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in SUFFIXES:
        raise ExportError(
            f"cannot export to {path!r}: unknown suffix {suffix or '(none)'!r};"
            f" use one of {', '.join(SUFFIXES)}"
        )
    return suffix


def export(frame: pd.DataFrame, path: str) -> None:
    """Write the frame atomically; a failure leaves any old file untouched."""
    suffix = check_suffix(path)

    def write(temporary: str) -> None:
        if suffix == ".parquet":
            _write_parquet(frame, temporary)
        else:
            with open(temporary, "w", encoding="utf-8", newline="") as stream:
                stream.write(TEXT_WRITERS[suffix](frame))

    replace_atomically(path, write)
