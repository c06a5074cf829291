"""Images given to ``log`` go to ``media/``, big lists are refused (spec §13.3-13.4).

A 224×224×3 image as nested JSON lists is a 770 KiB line that every reader
of ``metrics.jsonl`` must parse; as a PNG it is a few KiB beside the file,
and the line holds its relative path. ``MetricsLog`` calls in here only for
lines with a value that is not a plain scalar, so the common line of floats
never pays for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .exceptions import InvalidSummaryError
from .savers import has_class, need
from .versioned import checked_relative_name, folder_inside, write_versioned

MAX_LOGGED_NUMBERS = 4096
IMAGE_WORDS = ("png", "jpg", "jpeg", "image", "img")
PLAIN_TYPES = frozenset((float, int, str, bool, type(None)))


class LoggedValueTooLargeError(InvalidSummaryError, ValueError):
    """A list or array logged as one value holds more numbers than a line should."""


def prepare(folder: Path, metrics: Mapping[str, Any], step: int) -> dict[str, Any]:
    """``metrics`` with images written to ``media/`` and replaced by their paths.

    Every value is checked before any image is written, so a refused line
    leaves nothing behind.
    """
    images = {}
    for name, value in metrics.items():
        if type(value) in PLAIN_TYPES:
            continue
        if _is_image(name, value):
            images[name] = value
        else:
            _check_size(name, value)
    if images:
        need("PIL.Image", "logging an image", "Pillow")
        for name in images:
            checked_relative_name(name, "name of a logged image")
    row = dict(metrics)
    for name, value in images.items():
        row[name] = write_image(folder, name, step, value)
    return row


def write_image(folder: Path, name: str, step: int, value: Any) -> str:
    """Write ``media/<name>_<step>.png``; return its path relative to ``folder``."""
    parts = ["media", *name.split("/")]
    target_folder = folder_inside(folder, parts)
    if has_class(value, "matplotlib.figure", "Figure"):

        def write(path: Path) -> None:
            value.savefig(path, format="png")
    else:
        image = (
            value
            if has_class(value, "PIL.Image", "Image")
            else _array_image(name, value)
        )

        def write(path: Path) -> None:
            image.save(path, format="PNG")

    written = write_versioned(target_folder, f"{parts[-1]}_{step}", ".png", write)
    return written.relative_to(folder).as_posix()


def _is_image(name: str, value: Any) -> bool:
    if has_class(value, "PIL.Image", "Image") or has_class(
        value, "matplotlib.figure", "Figure"
    ):
        return True
    if not has_class(value, "numpy", "ndarray"):
        return False
    shape = value.shape
    image_shaped = len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))
    if not image_shaped or value.dtype.kind not in "biuf" or 0 in shape:
        return False
    lowered = name.lower()
    return value.size > MAX_LOGGED_NUMBERS or any(w in lowered for w in IMAGE_WORDS)


def _array_image(name: str, array: Any) -> Any:
    numpy = need("numpy", "logging an image array")
    image_module = need("PIL.Image", "logging an image", "Pillow")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    kind = array.dtype.kind
    if kind == "b":
        array = array.astype(numpy.uint8) * 255
    elif kind == "f":
        array = numpy.clip(numpy.nan_to_num(array), 0.0, 1.0)
        array = (array * 255).round().astype(numpy.uint8)
    elif array.dtype != numpy.uint8:
        if array.min() < 0 or array.max() > 255:
            raise InvalidSummaryError(
                f"logged image {name!r} has integer values outside 0-255 "
                f"(min {array.min()}, max {array.max()}); scale it to uint8 "
                f"or to floats in [0, 1]"
            )
        array = array.astype(numpy.uint8)
    return image_module.fromarray(numpy.ascontiguousarray(array))


def _check_size(name: str, value: Any) -> None:
    size = (
        getattr(value, "size", None) if has_class(value, "numpy", "ndarray") else None
    )
    if size is None:
        if not isinstance(value, (list, tuple)):
            return
        size = _count_numbers(value, MAX_LOGGED_NUMBERS + 1)
    if size > MAX_LOGGED_NUMBERS:
        raise LoggedValueTooLargeError(
            f"logged value {name!r} holds more than {MAX_LOGGED_NUMBERS} numbers, "
            f"the most a metrics line takes: save it with experiment.save(value, "
            f"name) instead, or log an image array under a name with 'png' in it"
        )


def _count_numbers(value: Any, limit: int) -> int:
    """Leaves in nested lists and tuples, counting stops at ``limit``."""
    count = 0
    stack = [value]
    while stack and count < limit:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            count += 1
    return count
