"""Benchmarks of the recorder (meticulous-record) against sacred, mlflow and the floor.

Prints one markdown section on stdout; progress goes to stderr. Every figure
is a whole child process (or a loop timed inside one), because what a
researcher pays is the process: interpreter, imports, git, files, exit.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import (
    PYTHON,
    QUICK,
    BenchError,
    ProcessRun,
    Series,
    child_env,
    compare_processes,
    failure_block,
    fmt_mib,
    fmt_ratio,
    fmt_time,
    make_git_repo,
    md_table,
    pick,
    run_json,
    run_process,
    scratch_dir,
    verdict,
)

# --- the scripts every variant runs ------------------------------------------

ARGPARSE = """\
import argparse

parser = argparse.ArgumentParser(description="a trivial training script")
parser.add_argument("--lr", type=float, default=0.01)
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--model", default="mlp")
parser.add_argument("--lines", type=int, default=0)
"""

BODY = """\
print(f"training {args.model} with lr={args.lr} for {args.epochs} epochs")
for i in range(args.lines):
    print(f"step {i}: loss={1 / (i + 1):.6f}")
"""

PLAIN = ARGPARSE + "args = parser.parse_args()\n" + BODY

RECORDED = (
    ARGPARSE
    + """\
from meticulous import Experiment

Experiment.add_argument_group(parser)
with Experiment.from_parser(parser) as experiment:
    args = parser.parse_args()
"""
    + "".join(f"    {line}\n" for line in BODY.splitlines())
)

SACRED = """\
from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("trivial")
ex.observers.append(FileStorageObserver("sacred_runs"))


@ex.config
def config():
    lr = 0.01
    epochs = 3
    model = "mlp"


@ex.automain
def main(lr, epochs, model):
    print(f"training {model} with lr={lr} for {epochs} epochs")
"""

MLFLOW = (
    ARGPARSE
    + """\
import mlflow

args = parser.parse_args()
with mlflow.start_run():
    mlflow.log_params(vars(args))
"""
    + "".join(f"    {line}\n" for line in BODY.splitlines())
)

# Logging: ``--n`` rows of ``--metrics`` values each; the last stdout line is
# a JSON object with the loop's own time.
LOG_ARGS = """\
import argparse, json, time

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=0)
parser.add_argument("--metrics", type=int, default=1)
"""

NAMES = '["loss", "accuracy", "lr", "grad_norm", "throughput"][: args.metrics]'

LOG_METICULOUS = (
    LOG_ARGS
    + f"""\
from meticulous import Experiment

Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
args = parser.parse_args()
names = {NAMES}
start = time.perf_counter()
for i in range(args.n):
    value = 1.0 / (i + 1)
    experiment.log({{name: value for name in names}})
loop = time.perf_counter() - start
experiment.finish()
print(json.dumps({{"loop": loop}}))
"""
)

LOG_FLOOR = (
    LOG_ARGS
    + f"""\
parser.add_argument("--flush", action="store_true")
args = parser.parse_args()
names = {NAMES}
start = time.perf_counter()
with open("floor-metrics.jsonl", "a", encoding="utf-8") as out:
    for i in range(args.n):
        value = 1.0 / (i + 1)
        row = {{"_step": i, "_time": time.time()}}
        row.update((name, value) for name in names)
        out.write(json.dumps(row, ensure_ascii=False) + "\\n")
        if args.flush:
            out.flush()
loop = time.perf_counter() - start
print(json.dumps({{"loop": loop}}))
"""
)

LOG_SACRED = """\
import json, time

from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("log")
ex.observers.append(FileStorageObserver("sacred_runs"))


@ex.config
def config():
    n = 0
    metrics = 1


@ex.automain
def main(n, metrics, _run):
    names = ["loss", "accuracy", "lr", "grad_norm", "throughput"][:metrics]
    start = time.perf_counter()
    for i in range(n):
        value = 1.0 / (i + 1)
        for name in names:
            _run.log_scalar(name, value, i)
    print(json.dumps({"loop": time.perf_counter() - start}))
"""

LOG_MLFLOW = (
    LOG_ARGS
    + f"""\
import mlflow

args = parser.parse_args()
names = {NAMES}
with mlflow.start_run():
    start = time.perf_counter()
    for i in range(args.n):
        value = 1.0 / (i + 1)
        mlflow.log_metrics({{name: value for name in names}}, step=i)
    loop = time.perf_counter() - start
print(json.dumps({{"loop": loop}}))
"""
)

# One of many processes started at once: it imports everything, says it is
# ready, blocks on a shared lock the parent holds, then starts an experiment.
CONCURRENT_CHILD = """\
import fcntl, json, os, sys, time

from meticulous import Experiment


def floor_allocate(directory):
    # The spec's protocol (section 4) with nothing else: a blocking flock, the
    # hint, mkdir, the hint written atomically (fsync + rename).
    meta = os.path.join(directory, ".meticulous")
    os.makedirs(meta, exist_ok=True)
    hint = os.path.join(meta, "last-id")
    fd = os.open(os.path.join(meta, "ids.lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with open(hint) as handle:
                number = int(handle.read())
        except (FileNotFoundError, ValueError):
            number = 0
        while True:
            number += 1
            try:
                os.mkdir(os.path.join(directory, str(number)))
                break
            except FileExistsError:
                continue
        tmp = f"{hint}.tmp-{os.getpid()}"
        with open(tmp, "w") as handle:
            handle.write(f"{number}\\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, hint)
    finally:
        os.close(fd)
    return str(number)


mode, index, barrier, results, experiments, project = sys.argv[1:7]
if mode == "allocate":
    from meticulous.ids import allocate_id
open(os.path.join(results, f"{index}.ready"), "w").close()
with open(barrier) as gate:
    fcntl.flock(gate, fcntl.LOCK_SH)
    woke = time.time()
if mode == "allocate":
    experiment_id = allocate_id(experiments)
    started = time.time()
elif mode == "floor":
    experiment_id = floor_allocate(experiments)
    started = time.time()
else:
    experiment = Experiment(
        {"index": int(index)},
        experiments_directory=experiments,
        project_directory=project,
    )
    started = time.time()
    experiment.finish()
    experiment_id = experiment.experiment_id
record = {"id": experiment_id, "woke": woke, "started": started}
with open(os.path.join(results, f"{index}.json"), "w") as out:
    json.dump(record, out)
"""

# The import scan (spec 11): the start of an Experiment with and without it,
# in one process after numpy (a typical script's imports), and the scan alone.
SCAN_COST = """\
import json, statistics, sys, time
from pathlib import Path
try:
    import numpy  # noqa: F401 - what a training script imports anyway
except ImportError:
    pass
from meticulous import Experiment, sources

def start_once():
    start = time.perf_counter()
    experiment = Experiment({})
    took = time.perf_counter() - start
    experiment.finish()
    return took

original = sources.SourceScan.start
with_scan, without, alone, walk = [], [], [], []
here = Path.cwd()
for i in range(int(sys.argv[1])):
    for scanning in (True, False) if i % 2 else (False, True):  # no order bias
        if not scanning:
            sources.SourceScan.start = classmethod(lambda cls, project, excluded: None)
        (with_scan if scanning else without).append(start_once())
        sources.SourceScan.start = original
    start = time.perf_counter()
    scan = original(here, [here / "experiments"])
    scan.untracked()
    alone.append(time.perf_counter() - start)
    start = time.perf_counter()
    sources.imported_sources(scan.toplevel, [here / "experiments"])
    walk.append(time.perf_counter() - start)
median = statistics.median
print(json.dumps({"with": median(with_scan), "without": median(without),
                  "alone": median(alone), "walk": median(walk),
                  "modules": len(sys.modules), "candidates": len(scan.candidates)}))
"""

# How soon a printed, flushed line is in the experiment's stdout file: through
# the descriptor tee (sys.stdout is fd 1) and the Python-level one (a stream
# that is not fd 1, as in a notebook).
PRINT_LATENCY = """\
import io, json, os, statistics, sys, time
from meticulous import Experiment
python_level = sys.argv[2] == "python"
if python_level:
    sys.stdout = io.TextIOWrapper(open(os.devnull, "wb"), write_through=True)
experiment = Experiment({})
path = os.path.join(experiment.curexpdir, "stdout")
latencies = []
for i in range(int(sys.argv[1])):
    marker = f"line {i} of the latency probe"
    expected = os.path.getsize(path) + len(marker) + 1
    start = time.perf_counter()
    print(marker, flush=True)
    while os.path.getsize(path) < expected and time.perf_counter() - start < 5:
        time.sleep(0.0002)
    latencies.append(time.perf_counter() - start)
    time.sleep(0.01)
experiment.finish()
sys.stdout = sys.__stdout__
print(json.dumps({"median": statistics.median(latencies), "max": max(latencies)}))
"""

SCRIPTS = {
    "scan_cost.py": SCAN_COST,
    "print_latency.py": PRINT_LATENCY,
    "plain.py": PLAIN,
    "recorded.py": RECORDED,
    "sacred_run.py": SACRED,
    "mlflow_run.py": MLFLOW,
    "log_meticulous.py": LOG_METICULOUS,
    "log_floor.py": LOG_FLOOR,
    "log_sacred.py": LOG_SACRED,
    "log_mlflow.py": LOG_MLFLOW,
    "concurrent_child.py": CONCURRENT_CHILD,
}
# What the tools write inside the repo: ignored, so the tree stays clean.
IGNORED = [
    "experiments/",
    "sacred_runs/",
    "mlflow.db",
    "mlruns/",
    "mlartifacts/",
    "floor-metrics.jsonl",
    "*.out",
]


def log(message: str) -> None:
    print(f"[record] {message}", file=sys.stderr, flush=True)


def runner(argv: list[str], cwd: Path, stdout_path: Path | None = None):
    def run() -> ProcessRun:
        return run_process(argv, cwd=cwd, stdout_path=stdout_path)

    return run


def latest_experiment(repo: Path) -> Path:
    folders = [p for p in (repo / "experiments").iterdir() if p.name.isdigit()]
    if not folders:
        raise BenchError("the recorder wrote no experiment folder")
    return max(folders, key=lambda p: int(p.name))


def status_word(folder: Path) -> str:
    try:
        return (folder / "STATUS").read_text().split("\n", 1)[0].strip()
    except OSError as error:
        return f"unreadable STATUS ({error})"


# --- 1. import ----------------------------------------------------------------


def bench_import(work: Path) -> str:
    repeats = pick(10, 3)
    log(f"import: {repeats} repeats")
    variants = {
        "`python -c pass` (floor)": "pass",
        "`import meticulous`": "import meticulous",
        "`import sacred`": "import sacred",
        "`import mlflow`": "import mlflow",
    }
    runs = {name: runner([PYTHON, "-c", code], work) for name, code in variants.items()}
    results = compare_processes(runs, repeats)
    floor = results["`python -c pass` (floor)"]
    rows = []
    for name, series in results.items():
        rows.append(
            [
                name,
                fmt_time(series.median),
                fmt_time(series.min),
                fmt_ratio(series.median / floor.median),
                fmt_time(series.median - floor.median),
                fmt_mib(series.rss_mib),
                fmt_mib(series.rss_mib - floor.rss_mib),
            ]
        )
    table = md_table(
        [
            "command",
            "median",
            "min",
            "vs floor",
            "over floor",
            "peak RSS",
            "RSS over floor",
        ],
        rows,
    )
    probe = (
        "import sys, json, meticulous; "
        "print(json.dumps({'loaded': sorted(m for m in "
        "('pandas', 'git', 'numpy', 'filelock') if m in sys.modules)}))"
    )
    _, figures = run_json([PYTHON, "-c", probe], cwd=work)
    loaded = figures["loaded"]
    heavy = [m for m in loaded if m in ("pandas", "git")]
    importtime = slowest_imports(work)
    return "\n\n".join(
        [
            (
                f'### 1. `python -c "import meticulous"`\n\nMedian of {repeats} '
                "processes each, round-robin, after one warm-up."
            ),
            table,
            (
                f"Modules loaded by `import meticulous` among pandas, git (GitPython), "
                f"numpy, filelock: `{loaded}`. Target: no pandas and no GitPython at "
                f"import: {verdict(not heavy)}."
            ),
            importtime,
        ]
    )


def slowest_imports(work: Path) -> str:
    """The import-time profile of the recorder: where its import time goes."""
    done = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", "import meticulous"],
        check=False,
        cwd=work,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    entries = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_part, cumulative_us, name = line.split("|")
        self_us = int(self_part.split(":")[1])
        entries.append((self_us, int(cumulative_us), name.strip()))
    total = next((cum for _, cum, name in entries if name == "meticulous"), 0)
    top = sorted(entries, key=lambda e: -e[0])[:10]
    rows = [
        [f"`{name}`", f"{own / 1000:.1f} ms", f"{cum / 1000:.1f} ms"]
        for own, cum, name in top
    ]
    return (
        f"Where `import meticulous` ({total / 1000:.1f} ms in all, one run of "
        "`python -X importtime`) spends its time, the ten modules with the most "
        "time of their own:\n\n"
        + md_table(["module", "own", "with what it imports"], rows)
    )


def bench_trivial_run(repo: Path, work: Path, label: str, with_git_floor: bool) -> str:
    repeats = pick(10, 3) if not with_git_floor else pick(5, 2)
    log(f"trivial run ({label}): {repeats} repeats")
    variants = {}
    if with_git_floor:
        variants["`git status --porcelain` (floor)"] = runner(
            ["git", "status", "--porcelain"], repo
        )
    variants["unrecorded script"] = runner([PYTHON, "plain.py"], repo)
    variants["meticulous"] = runner([PYTHON, "recorded.py"], repo)
    variants["sacred, FileStorageObserver"] = runner([PYTHON, "sacred_run.py"], repo)
    variants["mlflow, default store (sqlite `mlflow.db`)"] = runner(
        [PYTHON, "mlflow_run.py"], repo
    )
    first = {name: run().wall for name, run in variants.items()}
    results = compare_processes(variants, repeats, warmup=0)
    plain = results["unrecorded script"]
    sacred = results["sacred, FileStorageObserver"]
    mine = results["meticulous"]
    rows = []
    for name, series in results.items():
        rows.append(
            [
                name,
                fmt_time(series.median),
                fmt_time(series.min),
                fmt_time(series.median - plain.median),
                fmt_ratio(series.median / sacred.median),
                fmt_time(first[name]),
                fmt_mib(series.rss_mib),
            ]
        )
    table = md_table(
        [
            "variant",
            "median",
            "min",
            "over unrecorded",
            "vs sacred",
            "first run (creates its store)",
            "peak RSS",
        ],
        rows,
    )
    recorded = status_word(latest_experiment(repo))
    overhead = mine.median - plain.median
    targets = [
        (
            f"Targets: meticulous at most 0.15 s over the unrecorded script: "
            f"{fmt_time(overhead)}, {verdict(overhead <= 0.15)}; at most half of "
            f"sacred's total: {fmt_ratio(mine.median / sacred.median)} of it, "
            f"{verdict(mine.median <= 0.5 * sacred.median)}."
        )
    ]
    if with_git_floor:
        git_floor = results["`git status --porcelain` (floor)"].median
        budget = 0.15 + git_floor
        targets.append(
            f"In this repository the recorder has to look at the tree once, so its "
            f"floor is one `git status`: meticulous's overhead is "
            f"{fmt_ratio(overhead / git_floor)} that floor "
            f"(0.15 s + one `git status` = {fmt_time(budget)}: "
            f"{verdict(overhead <= budget)})."
        )
    targets.append(f"The last recorded run's STATUS: `{recorded}`.")
    return "\n\n".join(
        [
            (
                f"### 2{'b' if with_git_floor else 'a'}. One recorded run of a trivial "
                f"argparse script, {label}\n\nWhole process, median of {repeats} "
                "round-robin runs after a first run per variant (shown apart: it "
                "creates the tool's store). The sacred variant is the same script in "
                "sacred's idiom (config function instead of argparse); the mlflow one "
                "logs the args as params. Every tool writes into the repo's "
                "(git-ignored) working tree, as a user would."
            ),
            table,
            " ".join(targets),
        ]
    )


# --- 3. printing --------------------------------------------------------------------


def bench_print(repo: Path, work: Path) -> str:
    lines = pick(200_000, 20_000)
    repeats = pick(10, 3)
    log(f"printing {lines} lines: {repeats} repeats")
    out = work / "print.out"
    variants = {
        "unrecorded, no lines": runner([PYTHON, "plain.py"], repo, out),
        "unrecorded": runner([PYTHON, "plain.py", "--lines", str(lines)], repo, out),
        "meticulous, no lines": runner([PYTHON, "recorded.py"], repo, out),
        "meticulous": runner([PYTHON, "recorded.py", "--lines", str(lines)], repo, out),
    }
    results = compare_processes(variants, repeats)
    captured = latest_experiment(repo) / "stdout"
    newline = b"\n"
    captured_lines = (
        f"{captured.read_bytes().count(newline):,}"
        if captured.exists()
        else "no stdout file"
    )
    seen = out.read_bytes().count(b"\n")
    plain_cost = results["unrecorded"].median - results["unrecorded, no lines"].median
    mine_cost = results["meticulous"].median - results["meticulous, no lines"].median
    whole = results["meticulous"].median / results["unrecorded"].median
    cost_ratio = mine_cost / plain_cost
    rows = [
        [
            name,
            fmt_time(series.median),
            fmt_time(series.min),
            fmt_mib(series.rss_mib),
        ]
        for name, series in results.items()
    ]
    table = md_table(["variant", "median", "min", "peak RSS"], rows)
    summary = md_table(
        ["measure", "unrecorded", "meticulous", "ratio", "target ≤ 1.3x"],
        [
            [
                "whole process",
                fmt_time(results["unrecorded"].median),
                fmt_time(results["meticulous"].median),
                fmt_ratio(whole),
                verdict(whole <= 1.3),
            ],
            [
                f"cost of the {lines:,} prints (process minus the same without them)",
                fmt_time(plain_cost),
                fmt_time(mine_cost),
                fmt_ratio(cost_ratio),
                verdict(cost_ratio <= 1.3),
            ],
        ],
    )
    return "\n\n".join(
        [
            (
                f"### 3. Printing {lines:,} lines inside a recorded run\n\n"
                f"The child's stdout is a regular file (as with `> out.txt`; not a "
                f"terminal, so Python block-buffers in both variants). Median of "
                f"{repeats}. The whole-process ratio includes the recorder's start-up "
                f"(measured in 2a); the print cost isolates the capture."
            ),
            table,
            summary,
            (
                f"Check: the parent's file got {seen:,} lines, the experiment's "
                f"`stdout` {captured_lines} lines (expected {lines + 1:,})."
            ),
        ]
    )


# --- 4. logging -----------------------------------------------------------------------


def bench_log(repo: Path) -> str:
    rows_count = pick(100_000, 5_000)
    mlflow_rows = pick(1_000, 100)
    repeats = pick(3, 1)
    log(f"logging {rows_count} rows: {repeats} repeats")

    def timed(argv: list[str]) -> tuple[float, float]:
        run, figures = run_json(argv, cwd=repo)
        return run.wall, figures["loop"]

    commands = {
        "meticulous `experiment.log`": lambda n, k: [
            PYTHON,
            "log_meticulous.py",
            "--n",
            str(n),
            "--metrics",
            str(k),
        ],
        "sacred `_run.log_scalar`": lambda n, k: [
            PYTHON,
            "log_sacred.py",
            "with",
            f"n={n}",
            f"metrics={k}",
        ],
        "floor: `json.dumps` + `write` to an open file": lambda n, k: [
            PYTHON,
            "log_floor.py",
            "--n",
            str(n),
            "--metrics",
            str(k),
        ],
        "floor, flushed after every line": lambda n, k: [
            PYTHON,
            "log_floor.py",
            "--n",
            str(n),
            "--metrics",
            str(k),
            "--flush",
        ],
    }
    # The same process with no rows: subtracting it leaves what logging costs,
    # including work a tool defers to exit (sacred writes metrics.json then).
    empty = {name: Series() for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            empty[name].values.append(timed(command(0, 1))[0])

    sections = []
    verdicts = []
    for metrics in (1, 3):
        process = {name: Series() for name in commands}
        loop = {name: Series() for name in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                wall, inner = timed(command(rows_count, metrics))
                process[name].values.append(wall)
                loop[name].values.append(inner)
        cost = {name: process[name].median - empty[name].median for name in commands}
        mine = cost["meticulous `experiment.log`"]
        floor = cost["floor: `json.dumps` + `write` to an open file"]
        sacred = cost["sacred `_run.log_scalar`"]
        rows = []
        for name in commands:
            rows.append(
                [
                    name,
                    fmt_time(loop[name].median),
                    fmt_time(process[name].median),
                    fmt_time(cost[name]),
                    f"{cost[name] / rows_count * 1e6:.2f} µs",
                    fmt_ratio(cost[name] / floor),
                    fmt_ratio(cost[name] / mine),
                ]
            )
        mlflow_loop = mlflow_per_row(repo, mlflow_rows, metrics)
        rows.append(
            [
                f"mlflow `log_metrics` ({mlflow_rows:,} rows, extrapolated)",
                fmt_time(mlflow_loop / mlflow_rows * rows_count),
                "n/a",
                "n/a",
                f"{mlflow_loop / mlflow_rows * 1e6:.0f} µs",
                fmt_ratio(mlflow_loop / mlflow_rows * rows_count / floor),
                fmt_ratio(mlflow_loop / mlflow_rows * rows_count / mine),
            ]
        )
        faster = sacred / mine
        near = mine / floor
        verdicts.append((metrics, faster, near))
        sections.append(
            f"**{metrics} metric{'s' if metrics > 1 else ''} per row** "
            f"(meticulous and mlflow: one call per row; sacred: one `log_scalar` "
            f"per metric):\n\n"
            + md_table(
                [
                    "variant",
                    "loop (in-process)",
                    "process",
                    "cost (process − empty process)",
                    "per row",
                    "vs floor",
                    "vs meticulous",
                ],
                rows,
            )
            + f"\n\nTargets (on the cost): at least 5x faster than sacred: "
            f"{fmt_ratio(faster)}, {verdict(faster >= 5)}; within 3x of the floor: "
            f"{fmt_ratio(near)}, {verdict(near <= 3)}."
        )
    return "\n\n".join(
        [
            (
                f"### 4. {rows_count:,} `experiment.log` calls\n\n"
                f"Each variant runs as its own process, median of {repeats}. *Loop* is "
                "the logging loop timed inside the process; *cost* is the process time "
                "minus the same process logging nothing, so it also counts work a tool "
                "defers to the end (sacred keeps scalars in memory and writes "
                "`metrics.json` at each heartbeat and at exit). The floor appends the "
                "same JSON lines (`_step`, `_time`, the metrics) to one open, buffered "
                f"file. mlflow (one sqlite transaction per call) is timed on "
                f"{mlflow_rows:,} rows and scaled up, because {rows_count:,} would take "
                "minutes."
            ),
            *sections,
        ]
    )


def mlflow_per_row(repo: Path, rows: int, metrics: int) -> float:
    _run, figures = run_json(
        [PYTHON, "log_mlflow.py", "--n", str(rows), "--metrics", str(metrics)],
        cwd=repo,
    )
    return figures["loop"]


# --- 5. concurrent starts -------------------------------------------------------------


def start_together(repo: Path, work: Path, count: int, mode: str) -> tuple[list, float]:
    """Start ``count`` children, release them at once; their records and the release."""
    base = work / f"concurrent-{mode}"
    experiments = base / "experiments"
    results = base / "results"
    results.mkdir(parents=True)
    barrier = base / "barrier"
    barrier.touch()
    children = []
    with open(barrier) as gate:
        fcntl.flock(gate, fcntl.LOCK_EX)
        for index in range(count):
            argv = [PYTHON, "concurrent_child.py", mode, str(index), str(barrier)]
            argv += [str(results), str(experiments), str(repo)]
            children.append(
                subprocess.Popen(
                    argv,
                    cwd=repo,
                    env=child_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        deadline = time.monotonic() + 300
        while len(list(results.glob("*.ready"))) < count:
            crashed = [c for c in children if c.poll() not in (None, 0)]
            if crashed or time.monotonic() > deadline:
                fcntl.flock(gate, fcntl.LOCK_UN)
                for child in children:
                    child.kill()
                detail = crashed[0].stderr.read().decode() if crashed else "timeout"
                raise BenchError(f"children did not get ready:\n{detail[-2000:]}")
            time.sleep(0.05)
        # Every child has imported everything; let them all go at once.
        go = time.time()
        fcntl.flock(gate, fcntl.LOCK_UN)
    errors = []
    for child in children:
        _, stderr = child.communicate(timeout=300)
        if child.returncode != 0:
            errors.append(stderr.decode("utf-8", "replace"))
    if errors:
        raise BenchError(
            f"{len(errors)} of {count} processes failed; the first said:\n"
            + errors[0][-2000:]
        )
    return [json.loads(p.read_text()) for p in results.glob("*.json")], go


def concurrency_rows(records: list, go: float, count: int) -> tuple[list, bool]:
    ids = [r["id"] for r in records]
    distinct = len(set(ids))
    integers = sorted(int(i) for i in ids if str(i).isdigit())
    consecutive = bool(integers) and integers == list(
        range(integers[0], integers[0] + len(integers))
    )
    last_done = max(r["started"] for r in records) - go
    latencies = sorted(r["started"] - r["woke"] for r in records)
    rows = [
        ["distinct ids", f"{distinct} of {count} processes"],
        ["ids", f"{integers[0]}..{integers[-1]}, consecutive: {consecutive}"],
        [
            "release to the last process awake",
            fmt_time(max(r["woke"] for r in records) - go),
        ],
        ["release to the last one done", fmt_time(last_done)],
        ["time per allocation (that / processes)", fmt_time(last_done / count)],
        [
            "one process, awake to done: median / max",
            f"{fmt_time(latencies[len(latencies) // 2])} / {fmt_time(latencies[-1])}",
        ],
    ]
    return rows, distinct == len(ids) == count


def bench_concurrent(repo: Path, work: Path) -> str:
    count = pick(64, 16)
    parts = [
        (
            f"### 5. {count} processes starting experiments in one directory at once"
            "\n\nEach process imports everything first, then blocks on a shared "
            "`flock` the parent holds; the parent releases it once all are ready. "
            "*Whole start*: each process creates an `Experiment(...)` (GitPython "
            "import, git state, id allocation, the first files, output capture) and "
            "is done when the constructor returns. *Allocation only*: each calls the "
            "recorder's `meticulous.ids.allocate_id` (lock, hint, `mkdir`): what the "
            f"ids alone cost when {count} processes contend for them. *Floor*: "
            "the spec's protocol (section 4) written out with a blocking `flock`, "
            "the hint, `mkdir` and the hint's atomic rewrite with `fsync`. The "
            f"{count} processes share this machine's cores."
        )
    ]
    verdicts = []
    tables = {}
    modes = (
        ("experiment", "whole start"),
        ("allocate", "allocation only"),
        ("floor", "floor: the protocol alone"),
    )
    for mode, title in modes:
        log(f"{count} processes starting at once: {title}")
        try:
            records, go = start_together(repo, work, count, mode)
            rows, ok = concurrency_rows(records, go, count)
            tables[title] = rows
            verdicts.append(ok)
        except Exception as error:  # noqa: BLE001 - report it, measure the other
            parts.append(failure_block(title, error))
            verdicts.append(False)
    if tables:
        titles = list(tables)
        first = tables[titles[0]]
        merged = [
            [first[i][0]] + [tables[t][i][1] for t in titles] for i in range(len(first))
        ]
        parts.append(md_table(["measure", *titles], merged))
    parts.append(
        f"Target: all ids distinct, no process failed: {verdict(all(verdicts))}."
    )
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------------


# --- 6. the import scan and the print-to-file latency ----------------------------


def bench_scan(repos: dict[str, Path]) -> str:
    repeats = pick(25, 3)
    rows = []
    ok = True
    for label, repo in repos.items():
        log(f"import scan ({label}): {repeats} starts each way")
        _, figures = run_json([PYTHON, "scan_cost.py", str(repeats)], cwd=repo)
        extra = figures["with"] - figures["without"]
        ok = ok and figures["alone"] <= 0.005
        rows.append(
            [
                label,
                fmt_time(figures["without"]),
                fmt_time(figures["with"]),
                fmt_time(extra),
                fmt_time(figures["alone"]),
                fmt_time(figures["walk"]),
                f"{figures['modules']} / {figures['candidates']}",
            ]
        )
    return "\n\n".join(
        [
            (
                "### 6. The import scan (spec 11)\n\nIn one process that imported "
                f"numpy, the median of {repeats} `Experiment(...)` starts with the "
                "scan of imported sources and with it switched off; the scan alone "
                "(the pass over `sys.modules` and its `git ls-files`, which a start "
                "runs alongside `git status`), and the pass alone."
            ),
            md_table(
                [
                    "repository",
                    "start without scan",
                    "start with scan",
                    "difference of the medians",
                    "scan alone",
                    "pass over sys.modules",
                    "modules / candidates",
                ],
                rows,
            ),
            (
                "The difference of the two starts is within the noise of a shared "
                "machine; the scan's own time (it runs inside the start, before "
                f"anything is written) is the figure. Target: at most 5 ms: {verdict(ok)}."
            ),
        ]
    )


# --- 8. the guards of issue 11 --------------------------------------------------

# The recorder before the guards (safe paths, claim, content heartbeat, whole
# metrics lines): the commit the work forked from, unless told otherwise.
GUARDS_BASELINE = os.environ.get("METICULOUS_BENCH_BASELINE", "8c583b8")
ROOT = Path(__file__).resolve().parents[1]


def baseline_recorder(work: Path) -> Path:
    """The recorder's source at ``GUARDS_BASELINE``, for ``PYTHONPATH``."""
    target = work / "baseline"
    target.mkdir()
    archive = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "archive",
            GUARDS_BASELINE,
            "packages/meticulous-record/src",
        ],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "packages" / "meticulous-record" / "src"


def bench_guards(repo: Path, work: Path) -> str:
    source = baseline_recorder(work)
    envs = {
        f"before (`{GUARDS_BASELINE}`)": child_env(PYTHONPATH=str(source)),
        "with the guards": child_env(),
    }
    probe = [PYTHON, "-c", "import meticulous; print(meticulous.__file__)"]
    for label, env in envs.items():
        where = run_process(probe, cwd=repo, env=env).stdout.strip()
        if (str(source) in where) != label.startswith("before"):
            raise BenchError(f"{label}: imported the wrong recorder ({where})")
    repeats, rows_count, log_repeats = pick(20, 4), pick(100_000, 5_000), pick(5, 1)
    log(f"guards: {repeats} starts and {log_repeats}x{rows_count} rows per variant")
    variants = {"unrecorded script": runner([PYTHON, "plain.py"], repo)}
    for label, env in envs.items():
        variants[label] = lambda env=env: run_process(
            [PYTHON, "recorded.py"], cwd=repo, env=env
        )
    starts = compare_processes(variants, repeats)
    loops: dict[str, Series] = {label: Series() for label in envs}
    argv = [PYTHON, "log_meticulous.py", "--n", str(rows_count), "--metrics", "3"]
    for _ in range(log_repeats):
        for label, env in envs.items():
            loops[label].values.append(run_json(argv, cwd=repo, env=env)[1]["loop"])
    plain = starts["unrecorded script"].median
    before, now = envs
    overhead = {label: starts[label].median - plain for label in envs}
    per_row = {label: loops[label].median / rows_count for label in envs}
    start_change = overhead[now] / overhead[before] - 1
    row_change = per_row[now] / per_row[before] - 1
    rows = [
        [
            label,
            fmt_time(starts[label].median),
            fmt_time(overhead[label]),
            f"{per_row[label] * 1e6:.2f} µs",
        ]
        for label in envs
    ]
    rows.append(
        [
            "change",
            f"{starts[now].median / starts[before].median - 1:+.1%}",
            f"{start_change:+.1%}",
            f"{row_change:+.1%}",
        ]
    )
    return "\n\n".join(
        [
            (
                "### 8. The cost of issue 11's guards\n\n"
                "The same scripts with the recorder as it was before the guards "
                f"(`{GUARDS_BASELINE}`, put first on `PYTHONPATH`) and as installed: "
                "files opened from the folder's descriptor without following links, "
                "the claim file, heartbeats rewritten in place, short writes "
                f"completed. Start: whole process of the trivial run, median of "
                f"{repeats} round-robin, and its overhead over the unrecorded script; "
                f"`log`: the in-process loop of {rows_count:,} rows of 3 metrics, "
                f"median of {log_repeats}, per row."
            ),
            md_table(
                ["recorder", "trivial run", "over unrecorded", "`log` per row"], rows
            ),
            (
                f"Target: at most 5% worse. Start overhead {start_change:+.1%}: "
                f"{verdict(start_change <= 0.05)}; `log` per row {row_change:+.1%}: "
                f"{verdict(row_change <= 0.05)}."
            ),
        ]
    )


def bench_print_latency(repo: Path) -> str:
    lines = pick(100, 20)
    rows = []
    ok = True
    for mode, title in (
        ("fd", "descriptor tee (`tee` process)"),
        ("python", "Python-level tee"),
    ):
        log(f"print-to-file latency, {mode}: {lines} lines")
        _, figures = run_json([PYTHON, "print_latency.py", str(lines), mode], cwd=repo)
        ok = ok and figures["max"] <= 0.1
        rows.append([title, fmt_time(figures["median"]), fmt_time(figures["max"])])
    return "\n\n".join(
        [
            (
                f"### 7. Print-to-file latency\n\n{lines} lines, each printed with "
                "`flush=True` and then waited for in the experiment's `stdout` file "
                "(polled every 0.2 ms); *python-level* replaces `sys.stdout` by a "
                "stream that is not fd 1, as a notebook kernel does."
            ),
            md_table(["capture", "median", "max"], rows),
            f"Target: every line in the file within 0.1 s: {verdict(ok)}.",
        ]
    )


def guarded(title: str, bench, *args) -> str:
    try:
        return bench(*args)
    except Exception as error:  # noqa: BLE001 - one failure must not hide the rest
        log(f"{title} failed: {error!r}")
        return f"### {title}\n\n" + failure_block(title, error)


def main() -> int:
    work = scratch_dir("record")
    started = time.perf_counter()
    try:
        repo = make_git_repo(work / "repo", SCRIPTS, ignore=IGNORED)
        parts = [guarded("import", bench_import, work)]
        parts.append(
            guarded(
                "trivial run",
                bench_trivial_run,
                repo,
                work,
                "in a small repository",
                False,
            )
        )
        files = pick(20_000, 2_000)
        log(f"creating a repository of {files} committed files")
        t = time.perf_counter()
        big = make_git_repo(work / "big", SCRIPTS, filler_files=files, ignore=IGNORED)
        log(f"... took {time.perf_counter() - t:.1f} s")
        parts.append(
            guarded(
                "trivial run, big repository",
                bench_trivial_run,
                big,
                work,
                f"in a repository of {files:,} committed files",
                True,
            )
        )
        parts.append(
            guarded(
                "import scan",
                bench_scan,
                {"small repository": repo, f"{files:,} committed files": big},
            )
        )
        parts.append(guarded("print latency", bench_print_latency, repo))
        parts.append(guarded("printing", bench_print, repo, work))
        parts.append(guarded("logging", bench_log, repo))
        parts.append(guarded("concurrent starts", bench_concurrent, repo, work))
        parts.append(guarded("guards", bench_guards, repo, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    intro = (
        "## Recorder (meticulous-record)\n\n"
        "meticulous against sacred (FileStorageObserver) and mlflow (its default "
        "tracking store in this version: sqlite `mlflow.db` in the working "
        "directory), and against the floor: the same work with nothing but Python, "
        "the OS and git. Every script runs in a throwaway git repository with the "
        "script committed; everything runs on the same machine in one run."
        + (" **Smoke run: small sizes.**" if QUICK else "")
    )
    print("\n\n".join([intro, *parts]))
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
