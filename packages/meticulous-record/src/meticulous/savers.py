"""``experiment.save`` and ``load``: one file per object, its format chosen by type (spec §13.1).

Types are recognised by the names of the classes in the object's MRO, never
by importing numpy, pandas or torch to call ``isinstance``: an object of such
a type implies its library is loaded already, and ``import meticulous``
stays cheap. A library is imported only to write or read its format.

Pickle is the last resort when saving, because it can hold anything; when
loading it is refused unless the caller says ``allow_pickle=True``, since
unpickling runs code from the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from .exceptions import (
    InvalidExperimentError,
    MeticulousError,
    UnserialisableValueError,
)
from .jsonable import dumps_document
from .versioned import checked_relative_name, folder_inside, versions, write_versioned


class MissingDependencyError(MeticulousError, ImportError):
    """Saving, loading or logging this object needs a library that is not installed."""


class UnsafeLoadError(MeticulousError, ValueError):
    """Loading the file would run code from it (pickle) and nobody allowed it."""


class Saver(NamedTuple):
    matches: Callable[[Any], bool]
    write: Callable[[Any, Path], None]
    suffix: str
    load: Callable[[Path], Any] | None = None


def has_class(obj: Any, module_prefix: str, *names: str) -> bool:
    """Whether a class in ``type(obj)``'s MRO is ``module_prefix...<name>``."""
    for klass in type(obj).__mro__:
        if klass.__name__ in names and klass.__module__.startswith(module_prefix):
            return True
    return False


def need(module: str, feature: str, package: str | None = None) -> Any:
    """Import ``module`` for ``feature``, or say which package to install."""
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs {package or module}, which is not installed "
            f"(pip install {package or module})"
        ) from None


# -- the built-in savers, in the order of spec §13.1 --------------------------


def _write_json(obj: Any, path: Path) -> None:
    path.write_bytes(dumps_document(obj).encode("utf-8"))


def _write_text(obj: str, path: Path) -> None:
    path.write_bytes(obj.encode("utf-8"))


def _write_bytes(obj: bytes, path: Path) -> None:
    path.write_bytes(bytes(obj))


def _write_npy(obj: Any, path: Path) -> None:
    numpy = need("numpy", "saving a numpy array")
    with open(path, "wb") as file:
        numpy.save(file, obj, allow_pickle=False)


def _write_figure(obj: Any, path: Path) -> None:
    obj.savefig(path, format="png")


def _write_pil(obj: Any, path: Path) -> None:
    obj.save(path, format="PNG")


def _frame(obj: Any) -> Any:
    return obj.to_frame() if has_class(obj, "pandas", "Series") else obj


def _write_parquet(obj: Any, path: Path) -> None:
    _frame(obj).to_parquet(path)


def _write_csv(obj: Any, path: Path) -> None:
    _frame(obj).to_csv(path)


def _write_torch(obj: Any, path: Path) -> None:
    need("torch", "saving a torch object").save(obj, path)


def _write_keras(obj: Any, path: Path) -> None:
    obj.save(path)


def _write_pickle(obj: Any, path: Path) -> None:
    import pickle

    with open(path, "wb") as file:
        try:
            pickle.dump(obj, file, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise UnserialisableValueError(
                f"cannot save {type(obj).__name__}: no saver for its type, and "
                f"pickle, the last resort, failed ({error}); add one with "
                f"Experiment.add_saver(type, function, suffix)"
            ) from None


def _is_numpy_array(obj: Any) -> bool:
    return has_class(obj, "numpy", "ndarray") and obj.dtype.kind != "O"


def _is_pandas(obj: Any) -> bool:
    return has_class(obj, "pandas", "DataFrame", "Series")


def _has_pyarrow() -> bool:
    from importlib.util import find_spec

    return find_spec("pyarrow") is not None


def _is_keras_model(obj: Any) -> bool:
    return any(
        has_class(obj, prefix, "Model")
        for prefix in ("keras", "tf_keras", "tensorflow")
    )


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _load_npy(path: Path) -> Any:
    return need("numpy", "loading a .npy file").load(path, allow_pickle=False)


def _load_png(path: Path) -> Any:
    image_module = need("PIL.Image", "loading a .png file", "Pillow")
    with image_module.open(path) as image:
        image.load()
        return image.copy()


def _load_parquet(path: Path) -> Any:
    return need("pandas", "loading a .parquet file").read_parquet(path)


def _load_csv(path: Path) -> Any:
    return need("pandas", "loading a .csv file").read_csv(path, index_col=0)


def _load_keras(path: Path) -> Any:
    return need("keras", "loading a .keras file").models.load_model(path)


BUILT_IN: tuple[Saver, ...] = (
    Saver(
        lambda o: isinstance(o, (dict, list, tuple)), _write_json, ".json", _load_json
    ),
    Saver(
        lambda o: isinstance(o, str),
        _write_text,
        ".txt",
        lambda p: p.read_text("utf-8"),
    ),
    Saver(
        lambda o: isinstance(o, (bytes, bytearray)),
        _write_bytes,
        ".bin",
        Path.read_bytes,
    ),
    Saver(_is_numpy_array, _write_npy, ".npy", _load_npy),
    Saver(
        lambda o: has_class(o, "matplotlib.figure", "Figure"),
        _write_figure,
        ".png",
        _load_png,
    ),
    Saver(lambda o: has_class(o, "PIL.Image", "Image"), _write_pil, ".png", _load_png),
    Saver(
        lambda o: _is_pandas(o) and _has_pyarrow(),
        _write_parquet,
        ".parquet",
        _load_parquet,
    ),
    Saver(_is_pandas, _write_csv, ".csv", _load_csv),
    Saver(lambda o: has_class(o, "torch", "Module", "Tensor"), _write_torch, ".pt"),
    Saver(_is_keras_model, _write_keras, ".keras", _load_keras),
)
PICKLE = Saver(lambda o: True, _write_pickle, ".pkl")


# -- Experiment.add_saver: on one experiment, or on the class ----------------


def add_saver(
    target: Any,
    kind: type,
    function: Callable[[Any, Path], None],
    suffix: str,
    loader: Callable[[Path], Any] | None = None,
) -> None:
    """Add a saver to an experiment class (all its experiments) or to one experiment.

    The latest added saver is tried first.
    """
    saver = _custom_saver(kind, function, suffix, loader)
    if isinstance(target, type):
        savers = (saver, *getattr(target, "_class_savers", ()))
        target._class_savers = savers  # type: ignore[attr-defined] # on any class
    else:
        target.__dict__.setdefault("_added_savers", []).insert(0, saver)


def _custom_saver(
    kind: type, function: Callable[[Any, Path], None], suffix: str, loader: Any
) -> Saver:
    if not isinstance(kind, type) and not (
        isinstance(kind, tuple) and all(isinstance(k, type) for k in kind)
    ):
        raise InvalidExperimentError(
            f"add_saver takes a type (or tuple of types), not {kind!r}"
        )
    if not callable(function) or (loader is not None and not callable(loader)):
        raise InvalidExperimentError(
            "add_saver takes function(obj, path) and an optional loader(path)"
        )
    if (
        not isinstance(suffix, str)
        or not suffix.startswith(".")
        or "/" in suffix
        or len(suffix) < 2
    ):
        raise InvalidExperimentError(
            f"a saver's suffix starts with '.', like '.pt': not {suffix!r}"
        )
    return Saver(lambda o: isinstance(o, kind), function, suffix, loader)


def savers_of(experiment: Any) -> tuple[Saver, ...]:
    """The savers an experiment tries, in order."""
    added = experiment.__dict__.get("_added_savers", [])
    return (*added, *getattr(type(experiment), "_class_savers", ()), *BUILT_IN, PICKLE)


# -- save and load -----------------------------------------------------------


def save(
    base: Path,
    obj: Any,
    name: str | None,
    savers: tuple[Saver, ...],
    *,
    overwrite: bool,
) -> Path:
    """Write ``obj`` under ``base`` (spec §13.1-13.2); return the path written."""
    saver = next(s for s in savers if s.matches(obj))
    if name is None:
        name = type(obj).__name__.lower()
    name = os.fspath(name)
    parts = checked_relative_name(name, "saved object name")
    folder = folder_inside(base, parts)
    stem = parts[-1]
    if stem.endswith(saver.suffix) and stem != saver.suffix:
        stem = stem[: -len(saver.suffix)]
    return write_versioned(
        folder,
        stem,
        saver.suffix,
        lambda path: saver.write(obj, path),
        overwrite=overwrite,
    )


def load(
    base: Path, name: str, savers: tuple[Saver, ...], *, allow_pickle: bool
) -> Any:
    """Read back the latest version of ``name`` saved under ``base`` (spec §13.2)."""
    name = os.fspath(name)
    parts = checked_relative_name(name, "saved object name")
    folder = base.joinpath(*parts[:-1])
    path = _find_saved(folder, parts[-1], savers)
    real_base = base.resolve()
    if real_base not in path.resolve().parents:
        raise InvalidExperimentError(f"{path} leads outside {base} (a symlink)")
    suffix = next(s for s in _suffixes(savers) if path.name.endswith(s))
    if suffix == ".pkl" and not allow_pickle:
        raise UnsafeLoadError(
            f"{path} is a pickle: loading it runs code from the file. Pass "
            f"allow_pickle=True if you trust it (you or your code wrote it)"
        )
    if suffix == ".pt":
        torch = need("torch", "loading a .pt file")
        return torch.load(path, weights_only=not allow_pickle)
    if suffix == ".pkl":
        import pickle

        with open(path, "rb") as file:
            return pickle.load(file)  # the caller allowed it explicitly
    for saver in savers:
        if saver.suffix == suffix and saver.load is not None:
            return saver.load(path)
    raise InvalidExperimentError(
        f"no loader for {path.name}: add_saver(type, function, {suffix!r}, loader) gives one"
    )


def _suffixes(savers: tuple[Saver, ...]) -> list[str]:
    """Known suffixes, longest first (so ``.tar.gz`` wins over ``.gz``)."""
    return sorted({s.suffix for s in savers}, key=len, reverse=True)


def _find_saved(folder: Path, name: str, savers: tuple[Saver, ...]) -> Path:
    exact = folder / name
    if exact.is_file() and any(name.endswith(s) for s in _suffixes(savers)):
        return exact
    candidates = []
    for suffix in _suffixes(savers):
        for version, path in versions(folder, name, suffix):
            candidates.append((version, path.stat().st_mtime_ns, path))
    if not candidates:
        raise FileNotFoundError(
            f"nothing saved as {name!r} in {folder} (saved names there: "
            f"{', '.join(sorted(_visible(folder))) or 'none'})"
        )
    return max(candidates)[2]


def _visible(folder: Path) -> list[str]:
    try:
        return [e.name for e in os.scandir(folder) if not e.name.startswith(".")][:20]
    except OSError:
        return []
