"""The ``--filter`` language: a small grammar of its own, never Python's ``eval``.

A filter comes from a command line, a shared script, a notebook cell copied
from a colleague: pandas' ``query``/``eval`` would run ``@os.system(...)``
from it. This parser knows only comparisons, ``and``/``or``/``not``, ``in``
and a few string methods, and evaluates them over the DataFrame's columns;
anything else is an error that points at its position.

Grammar (the reader's README documents it for users)::

    filter     := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand [(== | != | < | <= | > | >=) operand]
                | operand ["not"] "in" operand
    operand    := atom ["." method "(" [literal ("," literal)*] ")"]*
    atom       := column | literal | "[" [literal ("," literal)*] "]" | "(" or ")"
    column     := name with letters, digits, "_", "." and "-" | `any text`
    literal    := number | 'string' | "string" | True | False | None
    method     := startswith | endswith | contains | lower | upper

A comparison with a missing value is false (``== None`` and ``!= None``
test for missing values); a column used alone must hold booleans.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

MAX_LENGTH = 10_000  # characters of one filter
MAX_NESTING = 50  # parentheses, nots and method chains


class FilterError(ValueError):
    """A filter that cannot be parsed or evaluated; ``position`` is 0-based."""

    def __init__(self, expression: str, position: int, reason: str) -> None:
        self.expression = expression
        self.position = position
        self.reason = reason
        caret = " " * min(position, len(expression)) + "^"
        super().__init__(
            f"bad filter at position {position + 1}: {reason}\n  {expression}\n  {caret}"
        )


KEYWORDS = {"and", "or", "not", "in", "True", "False", "None"}
CONSTANTS = {"True": True, "False": False, "None": None}
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
TEST_METHODS = {"startswith": 1, "endswith": 1, "contains": 1}  # -> true/false
TEXT_METHODS = {"lower": 0, "upper": 0}  # -> text
METHODS = {**TEST_METHODS, **TEXT_METHODS}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<string>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
  | (?P<quoted>`[^`]*`)
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.)
  | (?P<name>[A-Za-z_][\w.\-]*)
    """,
    re.VERBOSE,
)
_HINTS = {
    "=": "use == to compare",
    "&": "use 'and'",
    "|": "use 'or'",
    "~": "use 'not'",
    "!": "use 'not' (or != to compare)",
    "@": "there are no variables or functions in a filter",
}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


@dataclass
class Token:
    kind: str  # number, string, name, keyword, op, end
    text: str
    value: Any
    position: int


def _unescape(body: str, expression: str, position: int) -> str:
    out = []
    index = 0
    while index < len(body):
        character = body[index]
        if character == "\\":
            following = body[index + 1 : index + 2]
            if following not in _ESCAPES:
                raise FilterError(
                    expression,
                    position + index + 1,
                    f"unknown escape \\{following} in a string",
                )
            out.append(_ESCAPES[following])
            index += 2
        else:
            out.append(character)
            index += 1
    return "".join(out)


def tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            character = expression[position]
            hint = _HINTS.get(character)
            if character in "'\"":
                hint = "the string is not closed"
            elif character == "`":
                hint = "the quoted column name is not closed"
            reason = f"unexpected {character!r}" + (f" ({hint})" if hint else "")
            raise FilterError(expression, position, reason)
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "number":
            value: Any = float(text) if any(c in text for c in ".eE") else int(text)
            tokens.append(Token("number", text, value, position))
        elif kind == "string":
            value = _unescape(text[1:-1], expression, position + 1)
            tokens.append(Token("string", text, value, position))
        elif kind == "quoted":
            tokens.append(Token("name", text, text[1:-1], position))
        elif kind == "op":
            tokens.append(Token("op", text, text, position))
        elif kind == "name":
            if text in KEYWORDS:
                tokens.append(Token("keyword", text, text, position))
            else:
                tokens.append(Token("name", text, text, position))
        position = match.end()
    tokens.append(Token("end", "", None, len(expression)))
    return tokens


# -- parsing: tuples as the tree -------------------------------------------------------
# ("column", name) ("literal", value) ("list", [values]) ("method", node, name, [args])
# ("compare", op, left, right) ("in", left, right, negated)
# ("and", left, right) ("or", left, right) ("not", node)
# Every node carries its position last.


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = tokenize(expression)
        self.index = 0
        self.depth = 0

    def error(self, reason: str, token: Token | None = None) -> FilterError:
        token = token or self.peek()
        return FilterError(self.expression, token.position, reason)

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, kind: str, text: str) -> Token | None:
        token = self.peek()
        if token.kind == kind and token.text == text:
            self.index += 1
            return token
        return None

    def expect(self, text: str, what: str) -> Token:
        token = self.peek()
        if token.text != text or token.kind not in ("op", "keyword"):
            found = "the end" if token.kind == "end" else repr(token.text)
            raise self.error(f"expected {what}, found {found}")
        return self.take()

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"nested deeper than {MAX_NESTING} levels")

    def parse(self) -> tuple:
        if not self.expression.strip():
            raise self.error("the filter is empty")
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            raise self.error(
                f"unexpected {token.text!r} (combine conditions with 'and' or 'or')"
            )
        return node

    def parse_or(self) -> tuple:
        node = self.parse_and()
        while (token := self.accept("keyword", "or")) is not None:
            node = ("or", node, self.parse_and(), token.position)
        return node

    def parse_and(self) -> tuple:
        node = self.parse_not()
        while (token := self.accept("keyword", "and")) is not None:
            node = ("and", node, self.parse_not(), token.position)
        return node

    def parse_not(self) -> tuple:
        token = self.accept("keyword", "not")
        if token is not None:
            self.nested()
            node = ("not", self.parse_not(), token.position)
            self.depth -= 1
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> tuple:
        left = self.parse_operand()
        token = self.peek()
        if token.kind == "op" and token.text in COMPARISONS:
            self.take()
            right = self.parse_operand()
            node = ("compare", token.text, left, right, token.position)
            following = self.peek()
            if following.kind == "op" and following.text in COMPARISONS:
                raise self.error(
                    "chained comparisons are not supported (use 'and')", following
                )
            return node
        if token.kind == "keyword" and token.text in ("in", "not"):
            if token.text == "not":
                after = self.tokens[self.index + 1]
                if not (after.kind == "keyword" and after.text == "in"):
                    raise self.error("expected 'in' after 'not'", after)
                self.take()
            self.take()
            right = self.parse_operand()
            return ("in", left, right, token.text == "not", token.position)
        return left

    def parse_operand(self) -> tuple:
        node = self.parse_atom()
        if node[0] == "column" and self.peek().text == "(":
            # ``args.model.startswith(`` arrives as one name: split off the method.
            name, position = node[1], node[2]
            column, _, method = name.rpartition(".")
            if method not in METHODS or not column:
                raise FilterError(
                    self.expression,
                    position,
                    f"{name}(...) is not something a filter can call"
                    f" (string methods: {', '.join(METHODS)}, as column.method(...))",
                )
            node = self._call(("column", column, position), method, position)
        while self.peek().kind == "op" and self.peek().text == ".":
            self.take()
            token = self.take()
            if token.kind != "name" or token.text not in METHODS:
                raise FilterError(
                    self.expression,
                    token.position,
                    f"expected a string method ({', '.join(METHODS)})",
                )
            if self.peek().text != "(":
                raise self.error("expected '('")
            node = self._call(node, token.text, token.position)
        return node

    def _call(self, target: tuple, method: str, position: int) -> tuple:
        self.nested()
        self.take()  # (
        arguments = []
        if self.peek().text != ")":
            arguments.append(self.parse_literal())
            while self.accept("op", ","):
                arguments.append(self.parse_literal())
        self.expect(")", "')'")
        if len(arguments) != METHODS[method]:
            raise FilterError(
                self.expression,
                position,
                f"{method} takes {METHODS[method]} argument(s), not {len(arguments)}",
            )
        return ("method", target, method, arguments, position)

    def parse_literal(self) -> Any:
        token = self.take()
        if token.kind in ("number", "string"):
            return token.value
        if token.kind == "keyword" and token.text in CONSTANTS:
            return CONSTANTS[token.text]
        found = "the end" if token.kind == "end" else repr(token.text)
        raise FilterError(
            self.expression,
            token.position,
            f"expected a number or string, found {found}",
        )

    def parse_atom(self) -> tuple:
        token = self.peek()
        if token.kind == "op" and token.text == "(":
            self.take()
            self.nested()
            node = self.parse_or()
            self.depth -= 1
            self.expect(")", "')'")
            return node
        if token.kind == "op" and token.text == "[":
            self.take()
            values = []
            if self.peek().text != "]":
                values.append(self.parse_literal())
                while self.accept("op", ","):
                    values.append(self.parse_literal())
            self.expect("]", "']'")
            return ("list", values, token.position)
        if token.kind == "name":
            self.take()
            return ("column", token.value, token.position)
        if token.kind in ("number", "string") or token.text in CONSTANTS:
            return ("literal", self.parse_literal(), token.position)
        found = "the end" if token.kind == "end" else repr(token.text)
        raise self.error(f"expected a column, a number or a string, found {found}")


def parse(expression: str) -> tuple:
    """The filter's tree; FilterError with the position of the first problem."""
    if len(expression) > MAX_LENGTH:
        raise FilterError(
            expression[:60] + "…", 0, f"longer than {MAX_LENGTH} characters"
        )
    return _Parser(expression).parse()


# -- evaluation ---------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, expression: str) -> None:
        self.frame = frame
        self.expression = expression
        self.rows = len(frame)
        self.names = {str(name) for name in frame.columns}

    def error(self, position: int, reason: str) -> FilterError:
        return FilterError(self.expression, position, reason)

    # Values: a pandas Series, or ("scalar", value), or ("list", values).

    def value(self, node: tuple) -> Any:
        kind = node[0]
        if kind == "column":
            return self.column(node[1], node[2])
        if kind == "literal":
            return ("scalar", node[1])
        if kind == "list":
            return ("list", node[1])
        if kind == "method":
            return self.method(node)
        return self.condition(node)  # a condition used as a value: booleans

    def column(self, name: str, position: int) -> pd.Series:
        if name == "id" and "id" not in self.names:
            return pd.Series(list(self.frame.index), index=self.frame.index)
        if name not in self.names:
            close = difflib.get_close_matches(name, sorted(self.names), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise self.error(position, f"unknown column {name}{hint}")
        return self.frame[name]

    def method(self, node: tuple) -> Any:
        _, target, method, arguments, position = node
        series = self.value(target)
        if not isinstance(series, pd.Series):
            raise self.error(position, f"{method} applies to a column")
        values = series.tolist()
        if method in TEXT_METHODS:
            change = str.lower if method == "lower" else str.upper
            return pd.Series(
                [change(v) if isinstance(v, str) else None for v in values],
                index=series.index,
                dtype=object,
            )
        (argument,) = arguments
        if not isinstance(argument, str):
            raise self.error(position, f"{method} takes a string")
        test: Callable[[str], bool] = {
            "startswith": lambda v: v.startswith(argument),
            "endswith": lambda v: v.endswith(argument),
            "contains": lambda v: argument in v,
        }[method]
        return np.array([isinstance(v, str) and test(v) for v in values], dtype=bool)

    def condition(self, node: tuple) -> np.ndarray:
        kind = node[0]
        if kind == "and":
            return self.condition(node[1]) & self.condition(node[2])
        if kind == "or":
            return self.condition(node[1]) | self.condition(node[2])
        if kind == "not":
            return ~self.condition(node[1])
        if kind == "compare":
            return self.compare(node)
        if kind == "in":
            return self.membership(node)
        value = self.value(node)
        if isinstance(value, np.ndarray):
            return value
        if isinstance(value, pd.Series):
            if pd.api.types.is_bool_dtype(value.dtype) or all(
                type(v) is bool or _missing(v) for v in value.tolist()
            ):
                return np.array([v is True for v in value.tolist()], dtype=bool)
            raise self.error(
                node[-1],
                f"{node[1]} must be a condition (true or false for each"
                " experiment); compare it, e.g. 'summary.loss < 0.3'",
            )
        if value[0] == "scalar" and type(value[1]) is bool:
            return np.full(self.rows, value[1], dtype=bool)
        raise self.error(
            node[-1], "this is a value, not a condition (compare it with ==, <, in …)"
        )

    def compare(self, node: tuple) -> np.ndarray:
        _, op, left_node, right_node, position = node
        left, right = self.value(left_node), self.value(right_node)
        if isinstance(left, tuple) and left[0] == "list":
            raise self.error(left_node[-1], "a list can only follow 'in'")
        if isinstance(right, tuple) and right[0] == "list":
            raise self.error(right_node[-1], "a list can only follow 'in'")
        compare = COMPARISONS[op]
        if isinstance(left, tuple) and isinstance(right, tuple):
            return np.full(
                self.rows, self._pair(compare, left[1], right[1]), dtype=bool
            )
        if isinstance(left, tuple):  # scalar on the left: flip it round
            flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
            return self.compare(("compare", flipped, right_node, left_node, position))
        if isinstance(right, tuple):
            return self._series_with_scalar(op, left, right[1], position)
        left_values, right_values = self._listed(left), self._listed(right)
        return np.array(
            [self._pair(compare, a, b) for a, b in zip(left_values, right_values)],
            dtype=bool,
        )

    @staticmethod
    def _listed(value: Any) -> list:
        return value.tolist() if isinstance(value, pd.Series) else list(value)

    @staticmethod
    def _pair(compare: Callable[[Any, Any], Any], a: Any, b: Any) -> bool:
        if _missing(a) or _missing(b):
            return False
        try:
            return bool(compare(a, b))
        except (TypeError, ValueError):
            return False

    def _series_with_scalar(
        self, op: str, series: Any, scalar: Any, position: int
    ) -> np.ndarray:
        if isinstance(series, np.ndarray):  # a method's true/false
            series = pd.Series(series, index=self.frame.index)
        if scalar is None:
            if op not in ("==", "!="):
                raise self.error(position, "None can only be compared with == or !=")
            missing = np.array([_missing(v) for v in series.tolist()], dtype=bool)
            return missing if op == "==" else ~missing
        compare = COMPARISONS[op]
        dtype = series.dtype
        if isinstance(scalar, str) and isinstance(dtype, pd.DatetimeTZDtype):
            try:
                moment = pd.Timestamp(scalar)
            except (TypeError, ValueError):
                raise self.error(position, f"{scalar!r} is not a time") from None
            if moment.tzinfo is None:
                moment = moment.tz_localize("UTC")
            scalar = moment
        numeric = (
            pd.api.types.is_numeric_dtype(dtype)
            and not pd.api.types.is_bool_dtype(dtype)
            and type(scalar) in (int, float)
        )
        if numeric or isinstance(scalar, pd.Timestamp):
            result = compare(series, scalar)
            present = series.notna()
            return (result.fillna(False).astype(bool) & present).to_numpy(dtype=bool)
        return np.array(
            [self._pair(compare, v, scalar) for v in series.tolist()], dtype=bool
        )

    def membership(self, node: tuple) -> np.ndarray:
        _, left_node, right_node, negated, position = node
        left, right = self.value(left_node), self.value(right_node)
        if isinstance(right, tuple) and right[0] == "list":
            choices = right[1]
            if isinstance(left, tuple):
                found = np.full(self.rows, left[1] in choices, dtype=bool)
            else:
                values = self._listed(left)
                found = np.array(
                    [
                        not _missing(v)
                        and any(self._pair(operator.eq, v, c) for c in choices)
                        for v in values
                    ],
                    dtype=bool,
                )
        elif (
            isinstance(left, tuple)
            and left[0] == "scalar"
            and isinstance(left[1], str)
            and isinstance(right, pd.Series)
        ):
            text = left[1]
            found = np.array(
                [
                    (isinstance(v, str) and text in v)
                    or (isinstance(v, list) and text in v)
                    for v in right.tolist()
                ],
                dtype=bool,
            )
        else:
            raise self.error(
                position,
                "'in' needs a list ([1, 2]) on its right, or a string on its left"
                " and a column on its right",
            )
        return ~found if negated else found


def evaluate(tree: tuple, frame: pd.DataFrame, expression: str) -> np.ndarray:
    """One true or false per row of ``frame``."""
    return _Evaluator(frame, expression).condition(tree)


def select(frame: pd.DataFrame, expression: str) -> pd.DataFrame:
    """The rows of ``frame`` where the filter holds."""
    mask = evaluate(parse(expression), frame, expression)
    return frame[mask]


def column_names(tree: tuple) -> Sequence[str]:
    """The columns a filter reads (for messages and tests)."""
    found: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if node[0] == "column":
            found.append(node[1])
        for child in node[1:]:
            if isinstance(child, tuple):
                stack.append(child)
    return found
