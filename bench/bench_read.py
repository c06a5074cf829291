"""Benchmarks of the reader (meticulous-read) against the floor and mlflow.

Prints one markdown section on stdout; progress goes to stderr. Each variant
runs in its own process on a synthetic experiments folder (``synth.py``);
DataFrame figures are timed inside the process, after the imports, so the
floor (which imports nothing) and the readers are compared on the reading
itself. The ``meticulous`` command is timed as a whole process, as a user
waits for it.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import read_plot
import synth
from common import (
    OUT_DIR,
    PYTHON,
    QUICK,
    BenchError,
    Series,
    console_script,
    failure_block,
    fmt_mib,
    fmt_ratio,
    fmt_time,
    md_table,
    pick,
    run_json,
    run_process,
    scratch_dir,
    verdict,
)

# The five files the reader's table needs (meticulous_read/folder.py).
TABLE_FILES = (
    "STATUS",
    "metadata.json",
    "args.json",
    "default_args.json",
    "summary.json",
)

FLOOR = f"""\
import json, os, sys, time

FILES = {TABLE_FILES!r}
directory = sys.argv[1]
start = time.perf_counter()
count = size = 0
with os.scandir(directory) as entries:
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        count += 1
        for name in FILES:
            try:
                with open(os.path.join(entry.path, name), "rb") as handle:
                    size += len(handle.read())
            except FileNotFoundError:
                pass
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "rows": count, "bytes": size}}))
"""

# What a researcher would write without a reader: json.loads and one DataFrame.
PLAIN_DATAFRAME = """\
import json, os, resource, sys, time

import pandas as pd

directory = sys.argv[1]
after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
rows, ids = [], []
with os.scandir(directory) as entries:
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        row = {}
        try:
            with open(os.path.join(entry.path, "STATUS"), "rb") as handle:
                word, _, message = handle.read().decode().partition("\\n")
            row["status"], row["status_message"] = word, message
        except FileNotFoundError:
            pass
        for name, prefix in (("args.json", "args."), ("summary.json", "summary."),
                             ("metadata.json", "metadata."),
                             ("default_args.json", None)):
            try:
                with open(os.path.join(entry.path, name), "rb") as handle:
                    data = json.loads(handle.read())
            except FileNotFoundError:
                continue
            if prefix:
                for key, value in data.items():
                    row[prefix + key] = value
        rows.append(row)
        ids.append(entry.name)
order = sorted(range(len(ids)), key=lambda i: int(ids[i]))
frame = pd.DataFrame([rows[i] for i in order], index=[ids[i] for i in order])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(frame), "columns": frame.shape[1],
                  "after_import_kib": after_import}))
"""

READER = """\
import json, resource, sys, time, warnings

started = time.perf_counter()
import meticulous_read
from meticulous_read import Experiments  # the package loads pandas on first use

imported = time.perf_counter() - started
after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
directory, mode = sys.argv[1], sys.argv[2]
warnings.simplefilter("ignore")  # RUNNING-but-dead runs warn; not measured here
start = time.perf_counter()
frame = Experiments(directory, cache=mode == "cache").as_dataframe()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(frame), "columns": frame.shape[1],
                  "import": imported, "after_import_kib": after_import}))
"""

MLFLOW_CREATE = """\
import random, sys, time

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

uri, count = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(uri)
client = MlflowClient()
experiment = client.create_experiment("synth")
rng = random.Random(0)
shas = [f"{rng.getrandbits(160):040x}" for _ in range(30)]
choices = {
    "lr": [0.0001, 0.0003, 0.001, 0.003, 0.01],
    "batch_size": [32, 64, 128, 256],
    "epochs": [10, 20, 50],
    "model": ["mlp", "cnn", "resnet18", "vit-tiny"],
    "optimizer": ["adam", "sgd", "adamw"],
    "seed": [0, 1, 2, 3, 4],
}
start0 = int((time.time() - 100 * 86400) * 1000)
for number in range(1, count + 1):
    start = start0 + number * 1000
    run = client.create_run(
        experiment,
        start_time=start,
        tags={
            "mlflow.runName": f"run-{number}",
            "mlflow.source.git.commit": shas[number * 30 // (count + 1)],
            "mlflow.source.name": "train.py",
            "mlflow.user": "alice",
        },
    )
    run_id = run.info.run_id
    params = [Param(k, str(rng.choice(v))) for k, v in choices.items()]
    metrics = [
        Metric("loss", rng.uniform(0.05, 2.0), start, 0),
        Metric("accuracy", rng.uniform(0.5, 0.99), start, 0),
        Metric("best_epoch", rng.randrange(10), start, 0),
    ]
    client.log_batch(run_id, metrics=metrics, params=params)
    status = "FINISHED" if rng.random() < 0.9 else "FAILED"
    client.set_terminated(run_id, status, end_time=start + 600_000)
"""

MLFLOW_SEARCH = """\
import json, sys, time

import mlflow

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
experiment = mlflow.get_experiment_by_name("synth").experiment_id
start = time.perf_counter()
frame = mlflow.search_runs([experiment], max_results=200_000)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(frame), "columns": frame.shape[1]}))
"""

SCRIPTS = {
    "floor.py": FLOOR,
    "plain_dataframe.py": PLAIN_DATAFRAME,
    "reader.py": READER,
    "mlflow_create.py": MLFLOW_CREATE,
    "mlflow_search.py": MLFLOW_SEARCH,
}
# Bump when MLFLOW_CREATE changes: cached mlflow stores are then rebuilt.
MLFLOW_VERSION = 1


def log(message: str) -> None:
    print(f"[read] {message}", file=sys.stderr, flush=True)


def mlflow_store(count: int, work: Path) -> tuple[str, str]:
    """A cached sqlite mlflow store holding ``count`` runs, and how it was had."""
    folder = OUT_DIR / "mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / f"runs-{count}.db"
    marker = folder / f"runs-{count}.done"
    stamp = f"{MLFLOW_VERSION}\n"
    uri = f"sqlite:///{database}"
    if database.exists() and marker.exists() and marker.read_text() == stamp:
        return uri, "cached from an earlier run"
    marker.unlink(missing_ok=True)
    database.unlink(missing_ok=True)
    log(f"creating {count:,} mlflow runs in {database}")
    started = time.perf_counter()
    run_process([PYTHON, str(work / "mlflow_create.py"), uri, str(count)], cwd=work)
    took = time.perf_counter() - started
    marker.write_text(stamp)
    log(f"... took {took:.0f} s")
    return uri, f"created in this run: {took:.0f} s, {took / count * 1000:.1f} ms a run"


class Size:
    """Every measurement on the data set of one size."""

    def __init__(self, count: int, directory: Path):
        self.count = count
        self.directory = directory
        self.inner: dict[str, Series] = {}  # timed inside the process
        self.process: dict[str, Series] = {}  # whole process
        self.figures: dict[str, dict] = {}  # the last run's own report
        self.notes: list[str] = []

    def record(self, name: str, run, figures: dict | None) -> None:
        self.process.setdefault(name, Series()).values.append(run.wall)
        self.process[name].rss_kib.append(run.maxrss_kib)
        if figures is not None:
            self.inner.setdefault(name, Series()).values.append(figures["seconds"])
            self.figures[name] = figures


def clear_cache(directory: Path) -> None:
    shutil.rmtree(directory / ".meticulous" / "cache", ignore_errors=True)


def warm_file_cache(floor) -> None:
    """Read the data set until a pass is no longer clearly faster than the last.

    Then the first variant measured does not pay for the disk alone.
    """
    previous = None
    for _ in range(4):
        seconds = floor()[1]["seconds"]
        if previous is not None and seconds > 0.85 * previous:
            return
        previous = seconds


def measure(size: Size, work: Path, repeats: int, mlflow_uri: str | None) -> None:
    d = str(size.directory)
    listing = console_script("meticulous")
    listing_out = work / "listing.out"

    def script(name: str, *args: str):
        return lambda: run_json([PYTHON, str(work / name), *args], cwd=work)

    def listing_run(*options: str):
        return lambda: (
            run_process([listing, *options, d], cwd=work, stdout_path=listing_out),
            None,
        )

    variants = {
        "floor": (None, script("floor.py", d)),
        "json + DataFrame": (None, script("plain_dataframe.py", d)),
        "meticulous_read, no cache": (None, script("reader.py", d, "nocache")),
        "meticulous_read, first read (builds the cache)": (
            clear_cache,
            script("reader.py", d, "cache"),
        ),
        "meticulous_read, cached": (None, script("reader.py", d, "cache")),
        "`meticulous DIR`, first (cache cleared)": (clear_cache, listing_run()),
        "`meticulous DIR`, repeated (cache warm)": (None, listing_run()),
        "`meticulous --no-cache DIR`": (None, listing_run("--no-cache")),
    }
    if mlflow_uri is not None:
        variants["mlflow.search_runs"] = (None, script("mlflow_search.py", mlflow_uri))
    warm_file_cache(script("floor.py", d))
    for round_number in range(repeats):
        log(f"{size.count:,}: round {round_number + 1} of {repeats}")
        for name, (prepare, run) in variants.items():
            if prepare is not None:
                prepare(size.directory)
            try:
                done, figures = run()
            except BenchError as error:
                size.notes.append(f"{name} failed: {error}")
                log(f"{name} failed: {error}")
                continue
            size.record(name, done, figures)
    lines = listing_out.read_bytes().count(b"\n") if listing_out.exists() else 0
    size.notes.append(f"the last listing printed {lines:,} lines")


def cell(size: Size, name: str, floor: str = "floor", inner: bool = True) -> str:
    table = size.inner if inner else size.process
    if name not in table:
        return "failed" if any(n.startswith(name) for n in size.notes) else "—"
    value = table[name].median
    if floor and floor in table and name != floor:
        return f"{fmt_time(value)} ({fmt_ratio(value / table[floor].median)})"
    return fmt_time(value)


def report(sizes: list[Size], repeats: dict[int, int], mlflow_notes: list[str]) -> str:
    header = ["variant"] + [f"{s.count:,} experiments" for s in sizes]
    frame_rows = [
        [name] + [cell(s, name) for s in sizes]
        for name in (
            "floor",
            "json + DataFrame",
            "meticulous_read, no cache",
            "meticulous_read, first read (builds the cache)",
            "meticulous_read, cached",
            "mlflow.search_runs",
        )
    ]
    listing_names = (
        "`meticulous DIR`, first (cache cleared)",
        "`meticulous DIR`, repeated (cache warm)",
        "`meticulous --no-cache DIR`",
    )
    listing_rows = [
        [name] + [cell(s, name, floor="", inner=False) for s in sizes]
        for name in listing_names
    ]
    speedups = []
    for s in sizes:
        first = s.process.get(listing_names[0])
        again = s.process.get(listing_names[1])
        speedups.append(
            fmt_ratio(first.median / again.median) if first and again else "—"
        )
    listing_rows.append(["first / repeated"] + speedups)

    memory_rows = []
    growths: list[tuple[int, float]] = []  # (experiments, MiB over the import)
    for s in sizes:
        reader = s.process.get("meticulous_read, no cache")
        plain = s.process.get("json + DataFrame")
        floor = s.process.get("floor")
        if reader is None:
            continue
        after = s.figures["meticulous_read, no cache"]["after_import_kib"] / 1024
        growth = reader.rss_mib - after
        slope = "—"
        if growths:
            previous_count, previous_growth = growths[-1]
            per = (growth - previous_growth) * 1024 / (s.count - previous_count)
            slope = f"{per:.1f} KiB"
        growths.append((s.count, growth))
        memory_rows.append(
            [
                f"{s.count:,}",
                fmt_mib(floor.rss_mib) if floor else "—",
                fmt_mib(plain.rss_mib) if plain else "—",
                fmt_mib(reader.rss_mib),
                fmt_mib(after),
                fmt_mib(growth),
                f"{growth * 1024 / s.count:.1f} KiB",
                slope,
            ]
        )

    targets = []
    by_count = {s.count: s for s in sizes}
    ten = by_count.get(10_000)
    if ten and "meticulous_read, no cache" in ten.inner and "floor" in ten.inner:
        ratio = (
            ten.inner["meticulous_read, no cache"].median / ten.inner["floor"].median
        )
        targets.append(
            f"10,000 experiments into a DataFrame within 1.5x the floor (no cache): "
            f"{fmt_ratio(ratio)}, {verdict(ratio <= 1.5)}."
        )
        if "json + DataFrame" in ten.inner:
            plain = ten.inner["json + DataFrame"].median / ten.inner["floor"].median
            targets.append(f"(The plain json + DataFrame script: {fmt_ratio(plain)}.)")
    if ten and listing_names[0] in ten.process:
        first = ten.process[listing_names[0]].median
        again = ten.process.get(listing_names[1])
        targets.append(
            f"Listing 10,000 in under 1.5 s: first listing {fmt_time(first)}, "
            f"{verdict(first < 1.5)}"
            + (
                f"; repeated {fmt_time(again.median)}, {verdict(again.median < 1.5)}."
                if again
                else "."
            )
        )
    hundred = by_count.get(100_000) or (sizes[-1] if QUICK else None)
    if hundred and {"meticulous_read, no cache", "floor"} <= hundred.inner.keys():
        ratio = (
            hundred.inner["meticulous_read, no cache"].median
            / hundred.inner["floor"].median
        )
        targets.append(
            f"{hundred.count:,} experiments into a DataFrame within 2x the floor "
            f"(no cache): {fmt_ratio(ratio)}, {verdict(ratio <= 2)}."
        )
    if hundred and "meticulous_read, cached" in hundred.inner:
        warm = hundred.inner["meticulous_read, cached"].median
        targets.append(
            f"Warm `Experiments(...).as_dataframe()` of {hundred.count:,} in at most "
            f"1 s: {fmt_time(warm)}, {verdict(warm <= 1)}."
        )
    if growths:
        count, growth = growths[-1]
        per = growth * 1024 / count
        targets.append(
            f"At most 2 KiB of memory per experiment ({count:,}, no cache, the "
            f"reading process's own peak): {per:.1f} KiB, {verdict(per <= 2)}."
        )
    if (
        hundred
        and listing_names[0] in hundred.process
        and listing_names[1] in hundred.process
    ):
        ratio = (
            hundred.process[listing_names[0]].median
            / hundred.process[listing_names[1]].median
        )
        targets.append(
            f"Repeated listing of {hundred.count:,} at least 10x faster than the "
            f"first: {fmt_ratio(ratio)}, {verdict(ratio >= 10)}."
        )
    if len(growths) >= 3:
        (n0, g0), (n1, g1), (n2, g2) = growths[-3:]
        low, high = (g1 - g0) / (n1 - n0), (g2 - g1) / (n2 - n1)
        linear = high <= 1.5 * low
        targets.append(
            "Memory grows linearly: the memory each further experiment costs from "
            f"{n1:,} to {n2:,} is {high / low if low > 0 else float('nan'):.2f} times "
            f"what it cost from {n0:,} to {n1:,} (linear: at most 1.5): "
            f"{verdict(linear)}."
        )

    imports = [
        s.figures["meticulous_read, no cache"]["import"]
        for s in sizes
        if "meticulous_read, no cache" in s.figures
    ]
    notes = [f"{s.count:,}: {'; '.join(s.notes)}" for s in sizes if s.notes]
    repeats_text = ", ".join(f"{n:,}: {r}" for n, r in repeats.items())
    return "\n\n".join(
        [
            "## Reader (meticulous-read)\n\n"
            "Synthetic experiments folders written by `bench/synth.py` in the spec's "
            "format (6 args, 3 summary values, full metadata, 85% SUCCESS, 9% ERROR "
            "with a traceback, INTERRUPTED, dead RUNNING and QUEUED runs, stdout and "
            "10 metric rows each: 10 files a folder). Each figure is the median of "
            f"its own process's runs (repeats per size: {repeats_text}), round-robin. "
            "The OS file cache is warm."
            + (" **Smoke run: small sizes.**" if QUICK else ""),
            "### Into a DataFrame\n\nTime inside the process, after its imports "
            "(ratio to the floor). The floor reads the bytes of the five files the "
            "table needs (`STATUS`, `metadata.json`, `args.json`, "
            "`default_args.json`, `summary.json`) and nothing else; *json + "
            "DataFrame* is the script a researcher would write without a reader; "
            "`mlflow.search_runs` reads the same number of runs (6 params, 3 "
            "metrics, 4 tags) from an sqlite store. "
            + (
                f"`import meticulous_read` (pandas) itself takes "
                f"{fmt_time(sorted(imports)[len(imports) // 2])}, not counted here."
                if imports
                else ""
            ),
            md_table(header, frame_rows),
            "mlflow: " + " ".join(mlflow_notes),
            (
                "### The `meticulous DIR` listing\n\nWhole process, stdout to a file "
                "(the full table, as when piped)."
            ),
            md_table(header, listing_rows),
            (
                "### Memory\n\nPeak RSS of each process; *growth* is the reader's peak "
                "minus its RSS right after `import meticulous_read`."
            ),
            md_table(
                [
                    "experiments",
                    "floor",
                    "json + DataFrame",
                    "meticulous_read",
                    "after import",
                    "growth",
                    "growth / experiments",
                    "per further experiment (slope from the size above)",
                ],
                memory_rows,
            ),
            "### Targets\n\n" + "\n".join(f"- {t}" for t in targets),
            *(["Notes:\n\n" + "\n".join(f"- {n}" for n in notes)] if notes else []),
        ]
    )


def main() -> int:
    counts = pick([1_000, 10_000, 100_000], [300, 2_000])
    repeats = dict(zip(counts, pick([5, 3, 1], [2, 2])))
    mlflow_max = pick(10_000, 300)
    work = scratch_dir("read")
    started = time.perf_counter()
    try:
        for name, text in SCRIPTS.items():
            (work / name).write_text(text)
        sizes = []
        mlflow_notes = []
        for count in counts:
            size = None
            try:
                directory = synth.dataset(count, log=log)
                size = Size(count, directory)
                uri = None
                if count <= mlflow_max:
                    try:
                        uri, how = mlflow_store(count, work)
                        mlflow_notes.append(f"{count:,} runs {how}.")
                    except BenchError as error:
                        mlflow_notes.append(f"creating {count:,} runs failed: {error}")
                measure(size, work, repeats[count], uri)
            except Exception as error:  # noqa: BLE001 - a failed size must not hide the others
                log(f"{count} failed: {error!r}")
                if size is None:
                    size = Size(count, Path())
                size.notes.append(failure_block(f"{count:,} experiments", error))
            sizes.append(size)
        mlflow_notes.append(
            f"Not measured above {mlflow_max:,} runs: mlflow creates a run in about "
            "15 ms here (three sqlite transactions: create, log_batch, terminate), so "
            "100,000 runs would take about 25 minutes to set up."
        )
        print(report(sizes, repeats, mlflow_notes))
        print(read_plot.section(work, log))  # issue 9: `meticulous plot`
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
