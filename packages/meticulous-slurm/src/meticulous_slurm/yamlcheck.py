"""Check a sweep file and build its :class:`~.model.Sweep`, naming the line of every mistake.

A sweep that fails after half of its jobs were submitted wastes a queue slot
and leaves reserved folders behind, so the whole file is checked before
anything happens, and every problem is reported at once.

The file is read as YAML 1.2 by ruamel.yaml's safe loader. YAML 1.1 (what
PyYAML implements) turns ``on``, ``off``, ``yes`` and ``NO`` into booleans,
so ``optimizer: [on, off]`` or a country code ``NO`` silently changed a
point's arguments, and reads ``1e-3`` as a string; in 1.2 they are the
strings and the float a researcher meant. The composed node tree keeps the
line of every key and value, which a plain load forgets; the values are
built from the same nodes, so what is checked is exactly what is used.

The scanning and parsing are libyaml's (ruamel.yaml.clib) where it is
installed, five times faster than ruamel.yaml's own Python parser on a
1,000-value grid; the resolver, hence YAML 1.2, and the nodes are
ruamel.yaml's either way. A file libyaml refuses is read again by the
Python parser, whose messages say more (the character, the alias).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import SweepError, SweepFileError
from .model import (
    DEFAULT_MAX_REQUEUES,
    DISTRIBUTIONS,
    EXECUTORS,
    PARAMETER_NAME,
    SWEEP_NAME,
    Distribution,
    RandomSearch,
    Sweep,
)
from .paths import default_project_directory
from .slurmparams import did_you_mean, is_int, is_number, slurm_parameter

TOP_LEVEL_KEYS = (
    "command",
    "grid",
    "args",
    "random",
    "points",
    "executor",
    "slurm",
    "experiments_directory",
    "project_directory",
    "name",
    "max_requeues",
    "max_parallel",
    "allow_dirty",
)
RANDOM_KEYS = ("n", "seed", "params")
_INVALID = object()  # a value that could not be built (already reported)


def _yaml(*, pure: bool = False) -> YAML:
    return YAML(typ="safe", pure=pure)


def load_sweep_file(path: str | Path, overrides: Sequence[str] = ()) -> Sweep:
    """Read and validate ``path``; raise SweepFileError listing every problem.

    ``overrides`` are ``key=value`` texts (``--set``): a dotted key into the
    file's mappings and a YAML value that replaces or adds that entry.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file") from None
    except IsADirectoryError:
        raise SweepError(f"{path} is a directory, not a sweep file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SweepError(f"{path}: cannot read the sweep file: {error}") from None
    return parse_sweep_file(text, path, overrides)


def parse_sweep_file(
    text: str, path: str | Path = "sweep.yaml", overrides: Sequence[str] = ()
) -> Sweep:
    """Validate the YAML ``text`` as if read from ``path`` (used for messages
    and to resolve a relative ``project_directory``)."""
    path = Path(path)
    root = compose(text, path.name)
    if root is None:
        raise SweepFileError([f"{path.name}:1: the sweep file is empty"])
    checker = _Checker(path.name)
    root = apply_overrides(root, overrides, checker)
    sweep = checker.check_document(root, path.resolve(), text)
    if checker.problems:
        raise SweepFileError(checker.sorted_problems())
    assert sweep is not None
    return sweep


def compose(text: str, name: str) -> Node | None:
    try:
        return _yaml().compose(text)
    except YAMLError:
        pass  # told below, in the Python parser's words
    try:
        return _yaml(pure=True).compose(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = error.problem or error.context or "invalid YAML"
        raise SweepFileError([f"{name}:{line}: invalid YAML: {problem}"]) from None
    except YAMLError as error:
        raise SweepFileError([f"{name}: invalid YAML: {error}"]) from None


def apply_overrides(root: Node, overrides: Sequence[str], checker: _Checker) -> Node:
    """Put each ``--set key=value`` into the node tree before it is checked,
    so an override is validated exactly like the file's own entry."""
    for override in overrides:
        key, equals, value_text = override.partition("=")
        if not equals or not key:
            raise SweepError(f"--set {override!r}: expected key=value")
        value = compose(value_text or "''", f"--set {key}")
        assert value is not None or value_text.strip() in ("", "~", "null")
        if value is None:
            value = _yaml().compose("~")
        checker.mark_override(value, key)
        mapping = root
        if not isinstance(mapping, MappingNode):
            raise SweepError(f"--set {key}: the sweep file is not a mapping")
        parts = key.split(".")
        for part in parts[:-1]:
            child = _entry(mapping, part)
            if child is None:
                child = MappingNode(
                    "tag:yaml.org,2002:map", [], value.start_mark, value.end_mark
                )
                _set_entry(mapping, part, child, value)
            if not isinstance(child, MappingNode):
                raise SweepError(
                    f"--set {key}: '{part}' is not a mapping in the sweep file"
                )
            mapping = child
        _set_entry(mapping, parts[-1], value, value)
    return root


def _entry(mapping: Node, key: str) -> Node | None:
    if not isinstance(mapping, MappingNode):
        return None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node
    return None


def _set_entry(mapping: MappingNode, key: str, value: Node, marks: Node) -> None:
    for number, (key_node, _) in enumerate(mapping.value):
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            mapping.value[number] = (key_node, value)
            return
    key_node = ScalarNode(
        "tag:yaml.org,2002:str", key, marks.start_mark, marks.end_mark
    )
    mapping.value.append((key_node, value))


class _Checker:
    """Walks the node tree, building values and collecting problems."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[tuple[int, str, str]] = []
        self.lines: dict[tuple, int] = {}
        self.overrides: dict[int, str] = {}
        self.constructor = _yaml().constructor

    # ------------------------------------------------------------ helpers
    def mark_override(self, node: Node, key: str) -> None:
        """Problems in ``node`` (and below it) name ``--set key``, not a line."""
        stack = [node]
        while stack:
            current = stack.pop()
            self.overrides[id(current)] = key
            if isinstance(current, MappingNode):
                stack.extend(n for pair in current.value for n in pair)
            elif isinstance(current, SequenceNode):
                stack.extend(current.value)

    def problem(self, node: Node, message: str) -> None:
        override = self.overrides.get(id(node))
        if override is not None:
            self.problems.append((0, f"--set {override}", message))
        else:
            self.problem_at(node.start_mark.line + 1, message)

    def problem_at(self, line: int, message: str) -> None:
        self.problems.append((line, f"{self.filename}:{line}", message))

    def sorted_problems(self) -> list[str]:
        """In file order, the way an editor shows them (overrides first)."""
        ordered = sorted(self.problems, key=lambda problem: problem[0])
        return [f"{where}: {message}" for _, where, message in ordered]

    def value(self, node: Node) -> Any:
        """The Python value of a node, as ruamel.yaml's safe load builds it."""
        try:
            return self.constructor.construct_object(node, deep=True)
        except MarkedYAMLError as error:
            self.problem(node, f"invalid YAML: {error.problem or error.context}")
            return _INVALID

    def describe(self, node: Node) -> str:
        if isinstance(node, (MappingNode, SequenceNode)):
            return _describe(node)
        return _describe(node, self.value(node))

    def mapping(self, node: Node, what: str) -> list[tuple] | None:
        """The (key node, value node) pairs of a mapping, keys checked as strings."""
        if not isinstance(node, MappingNode):
            self.problem(
                node, f"{what} must be a mapping ({self.describe(node)} given)"
            )
            return None
        pairs = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                self.problem(key_node, f"{what}: key {key!r} must be a string")
                continue
            if key in seen:
                self.problem(key_node, f"{what}: duplicate key '{key}'")
                continue
            seen.add(key)
            pairs.append((key, key_node, value_node))
        return pairs

    def parameter_value(self, node: Node, where: str) -> tuple[bool, Any]:
        """A value passed on the command line: a scalar or a list of scalars."""
        value = self.value(node)
        if value is _INVALID:
            return False, None
        if _is_argument_scalar(value):
            return True, value
        if isinstance(value, list) and all(_is_argument_scalar(v) for v in value):
            return True, value
        if value is None:
            self.problem(node, f"{where}: no value (use false to leave a flag out)")
        else:
            self.problem(
                node,
                f"{where}: a value must be a string, number, boolean or list of "
                f"those ({self.describe(node)} given)",
            )
        return False, None

    def parameter_name(self, key: str, key_node: Node, where: str) -> bool:
        if PARAMETER_NAME.match(key):
            return True
        hint = f" (write '{key.lstrip('-')}')" if key.startswith("-") else ""
        self.problem(key_node, f"{where}: '{key}' is not a valid parameter name{hint}")
        return False

    # ------------------------------------------------------------ document
    def check_document(self, root: Node, path: Path, text: str) -> Sweep | None:
        pairs = self.mapping(root, "the sweep file")
        if pairs is None:
            return None
        nodes: dict[str, tuple] = {}
        for key, key_node, value_node in pairs:
            if key not in TOP_LEVEL_KEYS:
                self.problem(
                    key_node, f"unknown key '{key}'{did_you_mean(key, TOP_LEVEL_KEYS)}"
                )
                continue
            nodes[key] = (key_node, value_node)

        command = self.check_command(nodes.get("command"), root)
        args = self.check_parameters(nodes.get("args"), "args")
        grid = self.check_grid(nodes.get("grid"))
        random = self.check_random(nodes.get("random"))
        points = self.check_points(nodes.get("points"))
        self.check_overlaps(nodes, args, grid, random, points)
        executor = self.check_choice(
            nodes.get("executor"), "executor", EXECUTORS, "auto"
        )
        slurm = self.check_slurm(nodes.get("slurm"))
        name = self.check_name(nodes.get("name"))
        max_requeues = self.check_int(nodes.get("max_requeues"), "max_requeues", 0)
        max_parallel = self.check_int(nodes.get("max_parallel"), "max_parallel", 1)
        allow_dirty = self.check_bool(nodes.get("allow_dirty"), "allow_dirty")
        project = self.check_string(nodes.get("project_directory"), "project_directory")
        experiments = self.check_string(
            nodes.get("experiments_directory"), "experiments_directory"
        )
        if self.problems:
            return None
        # A relative project directory is relative to the sweep file, so the
        # file means the same thing wherever the command is run from; without
        # one, the project is the repository holding the file (paths.py). The
        # experiments directory is relative to the project, as in the recorder.
        project_directory = (
            (path.parent / project).resolve()
            if project
            else default_project_directory(path)
        )
        experiments_directory = (
            project_directory / (experiments or "experiments")
        ).resolve()
        return Sweep(
            path=path,
            text=text,
            command=command,
            args=args or {},
            grid=grid or {},
            random=random,
            points=points or [],
            executor=executor,
            slurm=slurm or {},
            experiments_directory=experiments_directory,
            project_directory=project_directory,
            name=name,
            max_requeues=DEFAULT_MAX_REQUEUES if max_requeues is None else max_requeues,
            max_parallel=max_parallel,
            allow_dirty=bool(allow_dirty),
            lines=self.lines,
        )

    # ------------------------------------------------------------ sections
    def check_command(self, nodes: tuple | None, root: Node) -> list[str]:
        if nodes is None:
            self.problem(root, "missing key 'command' (the program each job runs)")
            return []
        _, node = nodes
        value = self.value(node)
        if isinstance(value, str) and value.strip():
            try:
                return shlex.split(value)
            except ValueError as error:
                self.problem(node, f"command: cannot split '{value}': {error}")
                return []
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, str) and v for v in value)
        ):
            return list(value)
        self.problem(node, "command must be a non-empty string or list of strings")
        return []

    def check_parameters(self, nodes: tuple | None, where: str) -> dict | None:
        if nodes is None:
            return None
        _, node = nodes
        pairs = self.mapping(node, where)
        if pairs is None:
            return None
        result = {}
        for key, key_node, value_node in pairs:
            if not self.parameter_name(key, key_node, where):
                continue
            ok, value = self.parameter_value(value_node, f"{where}.{key}")
            if ok:
                result[key] = value
                self.lines[(where, key)] = key_node.start_mark.line + 1
        return result

    def check_grid(self, nodes: tuple | None) -> dict | None:
        if nodes is None:
            return None
        key_node, node = nodes
        if isinstance(node, ScalarNode) and self.value(node) is None:
            self.problem(
                key_node, "grid is empty: give each parameter a list of values"
            )
            return None
        pairs = self.mapping(node, "grid")
        if pairs is None:
            return None
        if not pairs:
            self.problem(node, "grid is empty: give each parameter a list of values")
            return None
        grid = {}
        for key, key_node, value_node in pairs:
            if not self.parameter_name(key, key_node, "grid"):
                continue
            if not isinstance(value_node, SequenceNode):
                self.problem(
                    value_node,
                    f"grid.{key} must be a list of values ({self.describe(value_node)} given);"
                    f" a fixed value belongs in args",
                )
                continue
            if not value_node.value:
                self.problem(
                    value_node, f"grid.{key} is an empty list: no point to run"
                )
                continue
            values = []
            for item in value_node.value:
                ok, value = self.parameter_value(item, f"grid.{key}")
                if ok:
                    values.append(value)
            if len(values) == len(value_node.value):
                grid[key] = values
                self.lines[("grid", key)] = key_node.start_mark.line + 1
        return grid

    def check_random(self, nodes: tuple | None) -> RandomSearch | None:
        if nodes is None:
            return None
        random_key_node, node = nodes
        pairs = self.mapping(node, "random")
        if pairs is None:
            return None
        found = {}
        for key, key_node, value_node in pairs:
            if key not in RANDOM_KEYS:
                self.problem(
                    key_node,
                    f"random: unknown key '{key}'{did_you_mean(key, RANDOM_KEYS)}"
                    f" (expected n, seed, params)",
                )
                continue
            found[key] = (key_node, value_node)
        n = self.check_int(found.get("n"), "random.n", 1)
        if "n" not in found:
            self.problem(random_key_node, "random: missing 'n' (the number of trials)")
        seed = self.check_int(found.get("seed"), "random.seed", None)
        params: dict[str, Distribution] = {}
        if "params" not in found:
            self.problem(
                random_key_node, "random: missing 'params' (the distributions)"
            )
        else:
            params_node = found["params"][1]
            param_pairs = self.mapping(params_node, "random.params")
            if param_pairs is not None and not param_pairs:
                self.problem(params_node, "random.params is empty")
            for key, key_node, value_node in param_pairs or []:
                if not self.parameter_name(key, key_node, "random.params"):
                    continue
                distribution = self.check_distribution(
                    value_node, f"random.params.{key}"
                )
                if distribution is not None:
                    params[key] = distribution
                    self.lines[("random", key)] = key_node.start_mark.line + 1
        if n is None or not params:
            return None
        return RandomSearch(n=n, seed=0 if seed is None else seed, params=params)

    def check_distribution(self, node: Node, where: str) -> Distribution | None:
        usage = (
            "one of {choice: [a, b, ...]}, {uniform: [low, high]}, "
            "{loguniform: [low, high]}, {int: [low, high]}"
        )
        pairs = self.mapping(node, where)
        if pairs is None:
            return None
        if len(pairs) != 1:
            self.problem(node, f"{where} must be exactly {usage}")
            return None
        kind, kind_node, value_node = pairs[0]
        if kind not in DISTRIBUTIONS:
            self.problem(
                kind_node,
                f"{where}: unknown distribution '{kind}'"
                f"{did_you_mean(kind, DISTRIBUTIONS)} (expected {', '.join(DISTRIBUTIONS)})",
            )
            return None
        value = self.value(value_node)
        if kind == "choice":
            if not isinstance(value, list) or not value:
                self.problem(
                    value_node, f"{where}: choice needs a non-empty list of values"
                )
                return None
            choices = []
            for item in value_node.value:
                ok, item_value = self.parameter_value(item, where)
                if not ok:
                    return None
                choices.append(item_value)
            return Distribution("choice", tuple(choices))
        if not (isinstance(value, list) and len(value) == 2):
            self.problem(value_node, f"{where}: {kind} needs [low, high]")
            return None
        low, high = value
        if kind == "int":
            if not all(is_int(v) for v in value):
                self.problem(value_node, f"{where}: int needs two integers [low, high]")
                return None
        elif not all(is_number(v) and math.isfinite(v) for v in value):
            self.problem(
                value_node, f"{where}: {kind} needs two finite numbers [low, high]"
            )
            return None
        if low > high:
            self.problem(value_node, f"{where}: low {low} is greater than high {high}")
            return None
        if kind == "loguniform" and low <= 0:
            self.problem(value_node, f"{where}: loguniform needs 0 < low <= high")
            return None
        return Distribution(kind, (low, high))

    def check_points(self, nodes: tuple | None) -> list | None:
        if nodes is None:
            return None
        _, node = nodes
        if not isinstance(node, SequenceNode) or not node.value:
            self.problem(node, "points must be a non-empty list of mappings")
            return None
        points = []
        for number, item in enumerate(node.value):
            pairs = self.mapping(item, f"points[{number}]")
            if pairs is None:
                continue
            point = {}
            for key, key_node, value_node in pairs:
                if not self.parameter_name(key, key_node, f"points[{number}]"):
                    continue
                ok, value = self.parameter_value(value_node, f"points[{number}].{key}")
                if ok:
                    point[key] = value
                    self.lines.setdefault(("points", key), key_node.start_mark.line + 1)
            points.append(point)
        return points

    def check_overlaps(
        self,
        nodes: dict[str, tuple],
        args: dict | None,
        grid: dict | None,
        random: RandomSearch | None,
        points: list | None,
    ) -> None:
        """A parameter set in two places that are merged into one point would be
        passed twice: refuse it."""
        sources = [
            ("args", args or {}),
            ("grid", grid or {}),
            ("random", random.params if random else {}),
        ]
        owner: dict[str, str] = {}
        for section, names in sources:
            for name in names:
                if name not in owner:
                    owner[name] = section
                    continue
                first, second = sorted(
                    [
                        (self.lines[(owner[name], name)], owner[name]),
                        (self.lines[(section, name)], section),
                    ]
                )
                self.problem_at(
                    second[0],
                    f"parameter '{name}' is both in {second[1]} and in {first[1]}"
                    f" (line {first[0]}); give it in one place only",
                )
        # Explicit points are separate runs, not merged with the grid or the
        # random trials; only the fixed args are added to them.
        for number, point in enumerate(points or []):
            for name in point:
                if name in (args or {}):
                    self.problem_at(
                        self.lines[("points", name)],
                        f"parameter '{name}' of points[{number}] is also in args"
                        f" (line {self.lines[('args', name)]}); give it in one place only",
                    )

    def check_choice(
        self, nodes: tuple | None, where: str, choices: tuple, default: str
    ) -> str:
        if nodes is None:
            return default
        _, node = nodes
        value = self.value(node)
        if value not in choices or not isinstance(value, str):
            self.problem(
                node,
                f"{where} must be one of {', '.join(choices)} ({value!r} given)",
            )
            return default
        return value

    def check_int(
        self, nodes: tuple | None, where: str, minimum: int | None
    ) -> int | None:
        if nodes is None:
            return None
        _, node = nodes
        value = self.value(node)
        if not is_int(value):
            self.problem(
                node, f"{where} must be an integer ({self.describe(node)} given)"
            )
            return None
        if minimum is not None and value < minimum:
            self.problem(node, f"{where} must be at least {minimum} ({value} given)")
            return None
        return value

    def check_bool(self, nodes: tuple | None, where: str) -> bool | None:
        if nodes is None:
            return None
        _, node = nodes
        value = self.value(node)
        if not isinstance(value, bool):
            self.problem(
                node, f"{where} must be true or false ({self.describe(node)} given)"
            )
            return None
        return value

    def check_string(self, nodes: tuple | None, where: str) -> str | None:
        if nodes is None:
            return None
        _, node = nodes
        value = self.value(node)
        if not isinstance(value, str) or not value:
            self.problem(
                node,
                f"{where} must be a non-empty string ({self.describe(node)} given)",
            )
            return None
        return value

    def check_name(self, nodes: tuple | None) -> str | None:
        name = self.check_string(nodes, "name")
        if name is not None and not SWEEP_NAME.match(name):
            assert nodes is not None  # check_string found a name there
            self.problem(
                nodes[1],
                f"name '{name}' must start with a letter or digit and hold only "
                f"letters, digits, '_', '.' and '-' (at most 100 characters)",
            )
            return None
        return name

    def check_slurm(self, nodes: tuple | None) -> dict | None:
        if nodes is None:
            return None
        _, node = nodes
        pairs = self.mapping(node, "slurm")
        if pairs is None:
            return None
        result: dict[str, Any] = {}
        for key, key_node, value_node in pairs:
            converted = slurm_parameter(key, self.value(value_node))
            if isinstance(converted, str):
                where = key_node if converted.startswith("unknown") else value_node
                self.problem(where, f"slurm.{key}: {converted}")
                continue
            name, value = converted
            if name in result:
                self.problem(key_node, f"slurm.{key}: '{name}' is already set")
                continue
            result[name] = value
        return result


# ------------------------------------------------------------------ small helpers
def _is_argument_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _describe(node: Node, value: Any = None) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"
