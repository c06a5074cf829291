"""The text of the recorder's JSON files: its own indenting encoder writes
exactly what ``json.dumps(..., indent=4, ensure_ascii=False)`` would."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from meticulous.jsonable import dumps_document, readable

VALUES = [
    {},
    [],
    "text",
    0,
    -(10**30),
    1.5e-300,
    -0.0,
    True,
    None,
    {"lr": 0.001, "layers": [64, [32, []], {}], "name": 'é "q"\n\t\x00\u2028'},
    {"launcher": {"name": "meticulous-slurm", "point": 3, "ok": False, "x": None}},
    {1: "int key", None: "null key", 2.5: "float key", False: "bool key"},
    {"nan": math.nan, "inf": -math.inf, "path": Path("/a/b"), "t": (1, 2), "s": {2, 1}},
    [[[[{"deep": [1.25, "x"]}]]]],
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_text_is_the_stdlib_encoders_indent_4(value):
    expected = json.dumps(readable(value), indent=4, ensure_ascii=False) + "\n"
    assert dumps_document(value) == expected
    assert json.loads(dumps_document(value)) == readable(value)
