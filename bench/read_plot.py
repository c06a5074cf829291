"""`meticulous plot` of 100 runs x 10,000 steps, beside the floor (issue 9).

Part of bench_read.py's section. The floor is what a researcher writes
without the reader: json.loads of every metrics.jsonl line and one
matplotlib figure (Agg, no pyplot), saved as PNG. Both run as whole
processes, imports included, since that is what a user waits for.

Alone: ``python bench/read_plot.py [--quick]`` (the bench venv's Python)
prints this section's markdown and target, without the rest of bench_read.
"""

from __future__ import annotations

import math
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import (
    OUT_DIR,
    PYTHON,
    SCRIPTS_ROOT,
    BenchError,
    Series,
    console_script,
    fmt_ratio,
    fmt_time,
    md_table,
    pick,
    run_process,
)
from results import Target

# isort: split
# tests/helpers is on sys.path once common is imported.
from helpers.synth import write_experiment

RUNS, STEPS = 100, pick(10_000, 1_000)
TARGET_SECONDS = 3.0
DATA_VERSION = 2  # bump when the data set changes: it is then rebuilt
LRS = (0.001, 0.003, 0.01, 0.03, 0.1)

FLOOR_SCRIPT = SCRIPTS_ROOT / "read" / "plot_floor.py"


def dataset(log) -> Path:
    """100 finished runs with a 10,000-row metrics.jsonl each (cached in out/)."""
    target = OUT_DIR / "synth" / f"plot-{RUNS}x{STEPS}"
    marker = target.with_name(target.name + ".done")
    if (
        target.is_dir()
        and marker.exists()
        and marker.read_text() == f"{DATA_VERSION}\n"
    ):
        return target
    log(f"generating {RUNS} runs x {STEPS:,} steps into {target}")
    rng = random.Random(0)
    start = datetime.fromtimestamp(1_795_168_800.0, timezone(timedelta(0)))
    for number in range(1, RUNS + 1):
        lr = LRS[number % len(LRS)]
        metrics = [
            {
                "loss": math.exp(-lr * step / 100) * (1 + 0.05 * rng.random()),
                "acc": 1 - math.exp(-step / 2000),
            }
            for step in range(STEPS)
        ]
        write_experiment(
            target,
            number,
            args={"lr": lr, "seed": number},
            default_args={"lr": 0.01, "seed": 0},
            metadata={"githead-sha": "0" * 40},
            started=start,
            duration_seconds=600,
            metrics=metrics,
            metric_interval=0.05,
            heartbeat_age=None,
            stdout=None,
            stderr=None,
        )
    marker.write_text(f"{DATA_VERSION}\n")
    time.sleep(2.5)  # outside the reader's 2 s window, so its cache is used
    return target


def section(work: Path, log, targets: list[Target]) -> str:
    """The markdown subsection for bench_read.py's report."""
    try:
        directory = dataset(log)
        meticulous = console_script("meticulous")
    except (BenchError, OSError) as error:
        targets.append(Target("`meticulous plot`: measured", "failed", "", "", False))
        return f"### `meticulous plot`\n\nnot measured: {error}\n"
    output = work / "curves.png"
    plot = [meticulous, "plot", str(directory), "loss", "--by", "args.lr"]
    plot += ["-o", str(output)]
    variants = {
        "floor: json + matplotlib": [
            PYTHON,
            str(FLOOR_SCRIPT),
            str(directory),
            str(output),
        ],
        "`meticulous plot DIR loss --by args.lr -o curves.png`": plot,
        "… with `--smooth 0.6 --log`": [
            *plot[:-2],
            "--smooth",
            "0.6",
            "--log",
            *plot[-2:],
        ],
    }
    series = {name: Series() for name in variants}
    notes = []
    for round_number in range(pick(3, 1)):
        log(f"plot: round {round_number + 1}")
        for name, argv in variants.items():
            try:
                run = run_process(argv, cwd=work)
            except BenchError as error:
                notes.append(f"{name} failed: {error}")
                continue
            series[name].values.append(run.wall)
            series[name].rss_kib.append(run.maxrss_kib)
    floor = series["floor: json + matplotlib"]
    rows = []
    for name, measured in series.items():
        if not measured.values:
            rows.append([name, "failed", "—"])
            continue
        ratio = (
            fmt_ratio(measured.median / floor.median)
            if floor.values and measured is not floor
            else ""
        )
        rows.append(
            [
                name,
                f"{fmt_time(measured.median)} {ratio}".strip(),
                f"{max(measured.rss_kib) / 1024:.0f} MiB",
            ]
        )
    main = series["`meticulous plot DIR loss --by args.lr -o curves.png`"]
    promise = f"`meticulous plot` of {RUNS} runs x {STEPS:,} steps under {TARGET_SECONDS:.0f} s"
    if main.values:
        verdict = Target(
            promise,
            fmt_time(main.median),
            f"{TARGET_SECONDS:.0f} s; floor {fmt_time(floor.median)}"
            if floor.values
            else f"{TARGET_SECONDS:.0f} s",
            fmt_ratio(main.median / TARGET_SECONDS),
            main.median < TARGET_SECONDS,
        )
        target = f"{promise}: {fmt_time(main.median)} {verdict.marked}"
    else:
        verdict = Target(promise, "not measured", "", "", False)
        target = "`meticulous plot` target: not measured"
    targets.append(verdict)
    size = sum(f.stat().st_size for f in directory.glob("*/metrics.jsonl"))
    parts = [
        "### `meticulous plot`",
        (
            f"{RUNS} runs x {STEPS:,} steps ({size / 2**20:.0f} MiB of"
            " metrics.jsonl), whole processes (imports of pandas and matplotlib"
            f" included), median of {len(floor.values)} rounds; PNG output."
        ),
        md_table(["variant", "wall (ratio to floor)", "peak RSS"], rows),
        f"- {target}",
    ]
    if notes:
        parts.append("Notes:\n\n" + "\n".join(f"- {note}" for note in notes))
    return "\n\n".join(parts) + "\n"


def main() -> int:
    """This section alone, as markdown on stdout (progress on stderr)."""
    work = Path(tempfile.mkdtemp(prefix="bench-plot-"))
    targets: list[Target] = []
    try:
        print(section(work, lambda message: print(message, file=sys.stderr), targets))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for target in targets:
        print(f"- {target.target}: {target.figure} ({target.peer}) {target.marked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
