"""Text from experiment folders made safe to print on a terminal.

Folder names, STATUS messages, args, summaries and captured output are
written by programs we do not control. An ESC in any of them can set the
window title, clear the screen or hide lines; a BEL rings; a lone ``\\r``
overwrites what was printed before; a right-to-left override reverses it.
Everything the command prints from data goes through :func:`escape`,
which writes such characters as visible escapes (``\\x1b``, ``\\u202e``).
Bytes that were not UTF-8 (file names read with ``surrogateescape``)
come out as ``\\xff`` instead of failing to encode.
"""

from __future__ import annotations

import io
import re
from typing import TextIO

# C0 controls, DEL, C1 controls (U+0080-U+009F: 0x9B is a one-byte CSI),
# the Unicode line/paragraph separators, the bidirectional overrides and
# isolates, and the lone surrogates that stand for undecodable bytes.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)

# json.dumps escapes the C0 controls inside strings; outside them it only
# writes the newlines and spaces of its indentation.
_UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _visible(match: re.Match) -> str:
    character = match.group()
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def escape(text: str, keep: str = "") -> str:
    """``text`` with every unsafe character escaped, except those in ``keep``.

    ``keep`` holds only layout characters a caller means (``"\\n"`` between
    the lines it built, ``"\\t"`` inside captured output).
    """
    if keep:
        return _UNSAFE.sub(
            lambda match: match.group() if match.group() in keep else _visible(match),
            text,
        )
    return _UNSAFE.sub(_visible, text)


def escape_lines(text: str) -> str:
    """Multi-line output: the newlines stay, everything else is escaped."""
    return escape(text, keep="\n")


class EscapingStream(io.TextIOBase):
    """A text stream that escapes what is written to it (for stderr).

    Errors and warnings quote folder names and values; wrapping the stream
    once in :func:`.cli.main` covers every message, present and future.
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        self.target.write(escape_lines(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()


def escape_all(texts: list[str]) -> list[str]:
    """:func:`escape` over a column of cells; one scan when all are safe."""
    if _UNSAFE.search("".join(texts)) is None:
        return texts
    return [escape(text) for text in texts]


def escape_json(text: str) -> str:
    """JSON text with the unsafe characters json leaves raw as ``\\uXXXX``.

    The value is unchanged: a lone surrogate (an undecodable byte of a file
    name) is a valid JSON escape that Python reads back as it was.
    """
    return _UNSAFE_IN_JSON.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
