"""`meticulous plot` of 100 runs x 10,000 steps, beside the floor (issue 9).

Part of bench_read.py's section. The floor is what a researcher writes
without the reader: json.loads of every metrics.jsonl line and one
matplotlib figure (Agg, no pyplot), saved as PNG. Both run as whole
processes, imports included, since that is what a user waits for.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

from common import (
    OUT_DIR,
    PYTHON,
    BenchError,
    Series,
    console_script,
    fmt_ratio,
    fmt_time,
    md_table,
    pick,
    run_process,
    verdict,
)

RUNS, STEPS = 100, 10_000
TARGET_SECONDS = 3.0
DATA_VERSION = 1
LRS = (0.001, 0.003, 0.01, 0.03, 0.1)

FLOOR = """\
import json, os, sys
from matplotlib.figure import Figure

directory, output = sys.argv[1], sys.argv[2]
figure = Figure(figsize=(6.4, 4.0))
ax = figure.subplots()
for name in sorted(os.listdir(directory)):
    folder = os.path.join(directory, name)
    if name.startswith(".") or not os.path.isdir(folder):
        continue
    steps, losses = [], []
    with open(os.path.join(folder, "metrics.jsonl"), "rb") as handle:
        for line in handle:
            row = json.loads(line)
            steps.append(row["_step"])
            losses.append(row["loss"])
    ax.plot(steps, losses, linewidth=1.2)
ax.set_xlabel("step")
ax.set_ylabel("loss")
figure.savefig(output)
"""


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


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
    start = 1_795_168_800.0
    for number in range(1, RUNS + 1):
        folder = target / str(number)
        folder.mkdir(parents=True, exist_ok=True)
        lr = LRS[number % len(LRS)]
        _write(folder / "args.json", json.dumps({"lr": lr, "seed": number}).encode())
        _write(
            folder / "default_args.json", json.dumps({"lr": 0.01, "seed": 0}).encode()
        )
        metadata = {
            "spec-version": 1,
            "githead-sha": "0" * 40,
            "timestamp": "2026-11-20T10:00:00+00:00",
            "end-timestamp": "2026-11-20T10:10:00+00:00",
            "host": "node017",
            "pid": 4242,
        }
        _write(folder / "metadata.json", json.dumps(metadata).encode())
        _write(folder / "STATUS", b"SUCCESS\n")
        lines = []
        for step in range(STEPS):
            loss = math.exp(-lr * step / 100) * (1 + 0.05 * rng.random())
            row = {"_step": step, "_time": start + 0.05 * step, "loss": loss}
            row["acc"] = 1 - math.exp(-step / 2000)
            lines.append(json.dumps(row))
        _write(folder / "metrics.jsonl", ("\n".join(lines) + "\n").encode())
    marker.write_text(f"{DATA_VERSION}\n")
    time.sleep(2.5)  # outside the reader's 2 s window, so its cache is used
    return target


def section(work: Path, log) -> str:
    """The markdown subsection for bench_read.py's report."""
    try:
        directory = dataset(log)
        meticulous = console_script("meticulous")
    except (BenchError, OSError) as error:
        return f"### `meticulous plot`\n\nnot measured: {error}\n"
    floor_script = work / "plot_floor.py"
    floor_script.write_text(FLOOR)
    output = work / "curves.png"
    plot = [meticulous, "plot", str(directory), "loss", "--by", "args.lr"]
    plot += ["-o", str(output)]
    variants = {
        "floor: json + matplotlib": [
            PYTHON,
            str(floor_script),
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
    target = (
        f"`meticulous plot` of {RUNS} runs x {STEPS:,} steps under {TARGET_SECONDS:.0f} s:"
        f" {fmt_time(main.median)} {verdict(main.median < TARGET_SECONDS)}"
        if main.values
        else "`meticulous plot` target: not measured"
    )
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
