"""Replacing a file whole: the reader's own outputs (caches, exports).

Readers and writers share the experiments folder, and a listing may be cut
short by Ctrl-C: writing to a temporary file in the target's folder and
renaming it over the target means nobody ever sees half a cache or half an
export, and a failed write leaves the old file as it was. The temporary file
gets the permissions ``open(path, "w")`` would give (0o666 minus the umask),
not ``mkstemp``'s 0o600, so a research group sharing the folder can read it.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def replace_atomically(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, then rename the result over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        temporary = os.path.join(folder, f".{name}.tmp-{os.urandom(6).hex()}")
        try:
            os.close(os.open(temporary, flags, 0o666))
            break
        except FileExistsError:
            continue
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_bytes_atomically(path: str, data: bytes) -> None:
    """For caches: their folder is created on first use (an export's is not)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(temporary: str) -> None:
        with open(temporary, "wb") as stream:
            stream.write(data)

    replace_atomically(path, write)
