"""bench/: what a benchmark returns, and the one renderer of RESULTS.md.

The benchmarks themselves take minutes (``nox -s bench -- --quick`` is their
smoke run); their plumbing is checked here in milliseconds: a result survives
the trip through a script's stdout, every target lands in the one table at
the top, and a script that fails becomes a missed target, not a gap.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench"


@pytest.fixture(scope="module")
def bench(request):
    sys.path.insert(0, str(BENCH))
    request.addfinalizer(lambda: sys.path.remove(str(BENCH)))
    import render
    import results
    import run

    return results, render, run


def test_a_result_survives_a_scripts_stdout(bench, capsys):
    results, _, _ = bench
    sent = results.Result(
        "Recorder",
        "### 1. import\n\ntable",
        [results.Target("t", "1 ms", "p", "2.00x", True)],
    )
    print("progress that is not a result")
    results.emit(sent)
    assert results.parse(capsys.readouterr().out) == sent


def test_every_target_is_in_the_table_at_the_top(bench):
    results, render, _ = bench
    met = results.Target("import without pandas", "none", "", "", True)
    missed = results.Target(
        "log 5x sacred", "6.1 µs", "sacred (23.1 µs)", "3.79x", False
    )
    text = render.render(
        "# Benchmark results\n\n- machine: test",
        [
            results.Result("Recorder", "### detail of the recorder", [met, missed]),
            results.Result("Reader", "### detail of the reader", []),
        ],
    )
    table_at = text.index("## Targets")
    assert table_at < text.index("## Recorder") < text.index("## Reader")
    assert "1 of 2 targets met" in text
    assert "| Recorder | import without pandas | none | — | — | **PASS** |" in text
    assert (
        "| Recorder | log 5x sacred | 6.1 µs | sacred (23.1 µs) | 3.79x | **MISS** |"
        in text
    )
    assert text.index("### detail of the recorder") > text.index("**MISS**")


def test_a_failing_script_becomes_a_missed_target(bench, tmp_path):
    _, _, run = bench
    script = tmp_path / "bench_broken.py"
    script.write_text("import sys\nprint('half a table')\nsys.exit('it broke')\n")
    result = run.run_script(script, quick=True, timeout=60)
    assert [(t.passed, t.figure) for t in result.targets] == [
        (False, "exited with code 1")
    ]
    assert "it broke" in result.detail
    assert result.failed == "exited with code 1"
