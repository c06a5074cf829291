"""Benchmarks of the reader (meticulous-read) against the floor and mlflow.

Prints its result (``results.Result``) as JSON on stdout; progress goes to
stderr. Each variant (bench/scripts/read/) runs in its own process on a
synthetic experiments folder (``synth.py``);
DataFrame figures are timed inside the process, after the imports, so the
floor (which imports nothing) and the readers are compared on the reading
itself. The ``meticulous`` command is timed as a whole process, as a user
waits for it.
"""

from __future__ import annotations

import json
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
    SCRIPTS_ROOT,
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
)
from results import Result, Target, emit

# The measured programs; each runs as its own process.
SCRIPTS_DIR = SCRIPTS_ROOT / "read"
# Bump when scripts/read/mlflow_create.py changes: cached stores are then rebuilt.
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
    run_process(
        [
            PYTHON,
            str(SCRIPTS_DIR / "mlflow_create.py"),
            uri,
            str(count),
            json.dumps(synth.CHOICES),
        ],
        cwd=work,
    )
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
        return lambda: run_json([PYTHON, str(SCRIPTS_DIR / name), *args], cwd=work)

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


def report(
    sizes: list[Size],
    repeats: dict[int, int],
    mlflow_notes: list[str],
    targets: list[Target],
) -> str:
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

    lines = []  # the Targets subsection, one sentence a target
    by_count = {s.count: s for s in sizes}

    def add(target: Target, sentence: str) -> None:
        targets.append(target)
        lines.append(sentence.format(verdict=target.marked))

    ten = by_count.get(10_000)
    if ten and "meticulous_read, no cache" in ten.inner and "floor" in ten.inner:
        floor_median = ten.inner["floor"].median
        mine = ten.inner["meticulous_read, no cache"].median
        ratio = mine / floor_median
        add(
            Target(
                "10,000 experiments into a DataFrame within 1.5x the floor (no cache)",
                fmt_time(mine),
                f"floor ({fmt_time(floor_median)})",
                fmt_ratio(ratio),
                ratio <= 1.5,
            ),
            f"10,000 experiments into a DataFrame within 1.5x the floor (no cache): "
            f"{fmt_ratio(ratio)}, {{verdict}}.",
        )
        if "json + DataFrame" in ten.inner:
            plain = ten.inner["json + DataFrame"].median / floor_median
            lines.append(f"(The plain json + DataFrame script: {fmt_ratio(plain)}.)")
    if ten and listing_names[0] in ten.process:
        first = ten.process[listing_names[0]].median
        again = ten.process.get(listing_names[1])
        first_target = Target(
            "`meticulous DIR` of 10,000, first listing, under 1.5 s",
            fmt_time(first),
            "1.5 s",
            fmt_ratio(first / 1.5),
            first < 1.5,
        )
        targets.append(first_target)
        sentence = (
            f"Listing 10,000 in under 1.5 s: first listing {fmt_time(first)}, "
            f"{first_target.marked}"
        )
        if again:
            again_target = Target(
                "`meticulous DIR` of 10,000, repeated, under 1.5 s",
                fmt_time(again.median),
                "1.5 s",
                fmt_ratio(again.median / 1.5),
                again.median < 1.5,
            )
            targets.append(again_target)
            sentence += f"; repeated {fmt_time(again.median)}, {again_target.marked}"
        lines.append(sentence + ".")
    hundred = by_count.get(100_000) or (sizes[-1] if QUICK else None)
    if hundred and {"meticulous_read, no cache", "floor"} <= hundred.inner.keys():
        floor_median = hundred.inner["floor"].median
        mine = hundred.inner["meticulous_read, no cache"].median
        ratio = mine / floor_median
        add(
            Target(
                f"{hundred.count:,} experiments into a DataFrame within 2x the floor "
                "(no cache)",
                fmt_time(mine),
                f"floor ({fmt_time(floor_median)})",
                fmt_ratio(ratio),
                ratio <= 2,
            ),
            f"{hundred.count:,} experiments into a DataFrame within 2x the floor "
            f"(no cache): {fmt_ratio(ratio)}, {{verdict}}.",
        )
    if hundred and "meticulous_read, cached" in hundred.inner:
        warm = hundred.inner["meticulous_read, cached"].median
        add(
            Target(
                f"warm `Experiments(...).as_dataframe()` of {hundred.count:,} "
                "in at most 1 s",
                fmt_time(warm),
                "1 s",
                fmt_ratio(warm),
                warm <= 1,
            ),
            f"Warm `Experiments(...).as_dataframe()` of {hundred.count:,} in at most "
            f"1 s: {fmt_time(warm)}, {{verdict}}.",
        )
    if growths:
        count, growth = growths[-1]
        per = growth * 1024 / count
        add(
            Target(
                f"at most 2 KiB of memory per experiment ({count:,}, no cache)",
                f"{per:.1f} KiB",
                "2 KiB",
                fmt_ratio(per / 2),
                per <= 2,
            ),
            f"At most 2 KiB of memory per experiment ({count:,}, no cache, the "
            f"reading process's own peak): {per:.1f} KiB, {{verdict}}.",
        )
    if (
        hundred
        and listing_names[0] in hundred.process
        and listing_names[1] in hundred.process
    ):
        first = hundred.process[listing_names[0]].median
        again_median = hundred.process[listing_names[1]].median
        ratio = first / again_median
        add(
            Target(
                f"repeated `meticulous DIR` of {hundred.count:,} at least 10x faster "
                "than the first",
                fmt_time(again_median),
                f"first listing ({fmt_time(first)})",
                f"{ratio:.2f}x faster",
                ratio >= 10,
            ),
            f"Repeated listing of {hundred.count:,} at least 10x faster than the "
            f"first: {fmt_ratio(ratio)}, {{verdict}}.",
        )
    if len(growths) >= 3:
        (n0, g0), (n1, g1), (n2, g2) = growths[-3:]
        low, high = (g1 - g0) / (n1 - n0), (g2 - g1) / (n2 - n1)
        linear = high <= 1.5 * low
        slope_ratio = high / low if low > 0 else float("nan")
        add(
            Target(
                "memory grows linearly (a further experiment's cost at most 1.5x)",
                f"{high * 1024:.1f} KiB from {n1:,} to {n2:,}",
                f"{low * 1024:.1f} KiB from {n0:,} to {n1:,}",
                fmt_ratio(slope_ratio),
                linear,
            ),
            "Memory grows linearly: the memory each further experiment costs from "
            f"{n1:,} to {n2:,} is {slope_ratio:.2f} times "
            f"what it cost from {n0:,} to {n1:,} (linear: at most 1.5): "
            "{verdict}.",
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
            "### Targets\n\n" + "\n".join(f"- {line}" for line in lines),
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
        targets: list[Target] = []
        detail = report(sizes, repeats, mlflow_notes, targets)
        plot = read_plot.section(work, log, targets)  # issue 9: `meticulous plot`
        emit(Result("Reader (meticulous-read)", detail + "\n\n" + plot, targets))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
