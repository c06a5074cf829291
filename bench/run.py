"""Run every benchmark script in bench/ and write bench/RESULTS.md.

Each ``bench_*.py`` is a standalone script that prints its result (its
targets and its markdown detail, ``results.Result``) as JSON on stdout and its
progress on stderr. This runner starts them one after the other, so they never
compete with each other for the CPUs, and a script that fails or times out
becomes a section and a missed target saying so, with the tail of its error,
instead of stopping the others. ``render.py`` writes the file.

Usage: ``python bench/run.py [--quick] [--only NAME ...] [--output FILE]``.
A full run writes ``bench/RESULTS.md``; ``--quick`` (small sizes, a smoke run)
and ``--only`` write ``bench/out/RESULTS-partial.md`` unless ``--output`` says
otherwise, so a smoke run never replaces the published figures.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import deque
from importlib import metadata
from pathlib import Path

from common import BENCH_DIR, ROOT, SCRUBBED_PREFIXES, child_env, memory_method
from render import render
from results import Result, Target, parse

# The order sections appear in; scripts not listed follow in name order.
FIRST = ["bench_record", "bench_read", "bench_slurm"]
PACKAGES = [
    "meticulous-record",
    "meticulous-read",
    "meticulous-slurm",
    "sacred",
    "mlflow",
    "pandas",
    "numpy",
    "pyarrow",
    "matplotlib",
    "orjson",
    "GitPython",
    "filelock",
    "SQLAlchemy",
]


def discover() -> list[Path]:
    scripts = {p.stem: p for p in BENCH_DIR.glob("bench_*.py")}
    ordered = [scripts.pop(name) for name in FIRST if name in scripts]
    return ordered + [scripts[name] for name in sorted(scripts)]


def selected(scripts: list[Path], only: list[str]) -> list[Path]:
    if not only:
        return scripts
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in only}
    unknown = wanted - {p.stem for p in scripts}
    if unknown:
        names = ", ".join(p.stem.removeprefix("bench_") for p in scripts)
        sys.exit(
            f"run.py: no benchmark named {', '.join(sorted(unknown))} (have: {names})"
        )
    return [p for p in scripts if p.stem in wanted]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total() -> str:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    kib = int(line.split()[1])
                    return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def git_version() -> str:
    try:
        done = subprocess.run(
            ["git", "--version"], check=False, capture_output=True, text=True
        )
        return done.stdout.strip().removeprefix("git version ")
    except OSError:
        return "not found"


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def header(started: datetime.datetime, load_before, load_after, elapsed, quick) -> str:
    fmt_load = "{:.2f} / {:.2f} / {:.2f}".format
    scrubbed = sorted(name for name in os.environ if name.startswith(SCRUBBED_PREFIXES))
    lines = [
        "# Benchmark results",
        "",
        "Written by `nox -s bench` (`python bench/run.py`); do not edit by hand."
        + (
            " **Smoke run (`--quick`): small sizes, not the published figures.**"
            if quick
            else ""
        ),
        "",
        (
            f"- date: {started.strftime('%Y-%m-%d %H:%M %Z')}, "
            f"the whole run took {elapsed / 60:.1f} min"
        ),
        (
            f"- machine: {platform.platform()}; CPU: {cpu_model()}, "
            f"{os.cpu_count()} cores; memory: {memory_total()}"
        ),
        f"- Python {platform.python_version()} ({sys.executable}); git {git_version()}",
        f"- packages: {versions()}",
        (
            f"- load average (1/5/15 min) before: {fmt_load(*load_before)}, "
            f"after: {fmt_load(*load_after)} (a busy machine inflates every figure)"
        ),
        (
            "- every measured process runs in the environment of a fresh shell: "
            f"variables starting with {', '.join(SCRUBBED_PREFIXES)} removed"
            + (f" (this session had {', '.join(scrubbed)})" if scrubbed else "")
            + "; the installed packages' bytecode is compiled before anything runs"
        ),
        (
            "- file cache: warm; each data set is read until two passes take about"
            " the same time before it is measured (a cold cache cannot be forced"
            " without dropping the whole machine's caches)"
        ),
        "",
        (
            "Times are wall-clock, median of the repeats given (min beside it where it"
            f" helps); peak memory is {memory_method()}."
        ),
        (
            "Ratios are against the floor (what the same work costs with nothing but"
            " Python and the OS) or the peer named in the row."
        ),
        "",
    ]
    return "\n".join(lines)


def compile_site_packages() -> float:
    """Write the .pyc files of every installed package; return the seconds taken.

    uv installs without compiling, and with PYTHONDONTWRITEBYTECODE set (as
    some sessions do) no import would ever write them: every measured process
    would compile pandas or mlflow from source. A user's environment has its
    .pyc files; so does this one, before anything is measured.
    """
    paths = sorted({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *paths],
        check=False,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def script_env() -> dict[str, str]:
    """Ours, without Python's switches; each script cleans its children's further."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}


def run_script(script: Path, quick: bool, timeout: float) -> Result:
    """One benchmark's result, or one saying how it failed."""
    argv = [sys.executable, str(script)] + (["--quick"] if quick else [])
    print(f"\n=== {script.name} ===", file=sys.stderr, flush=True)
    start = time.perf_counter()
    err_tail: deque[str] = deque(maxlen=25)
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=script_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
        )

        def relay() -> None:
            for raw in proc.stderr:
                line = raw.decode("utf-8", "replace")
                err_tail.append(line.rstrip("\n"))
                sys.stderr.write(line)
                sys.stderr.flush()

        relay_thread = threading.Thread(target=relay, daemon=True)
        relay_thread.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait()
        relay_thread.join(timeout=5)
        out.seek(0)
        printed = out.read().decode("utf-8", "replace")
    elapsed = time.perf_counter() - start
    print(f"=== {script.name}: {elapsed:.0f} s ===", file=sys.stderr, flush=True)
    took = f"_({script.name} took {elapsed:.0f} s.)_"
    result = None
    if proc.returncode == 0 and not timed_out:
        try:
            result = parse(printed)
        except (ValueError, TypeError, KeyError) as error:  # not a Result
            err_tail.append(f"run.py: its stdout is no result: {error}")
    if result is not None:
        result.detail += f"\n\n{took}"
        return result
    why = (
        f"timed out after {timeout:.0f} s"
        if timed_out
        else f"exited with code {proc.returncode}"
        if proc.returncode
        else "printed no result"
    )
    error = "\n".join(err_tail) or "(no output on stderr)"
    detail = (
        f"**{script.name} failed: {why}.** The end of its stderr:\n\n"
        f"```\n{error}\n```\n\n{took}"
    )
    failed = Target(f"{script.stem} ran to the end", why, "", "", False)
    return Result(script.stem, detail, [failed], failed=why)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes (a smoke run)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only bench_NAME.py (repeatable), e.g. --only record",
    )
    parser.add_argument("--output", type=Path, help="where to write the results")
    parser.add_argument(
        "--timeout", type=float, default=1500, help="seconds allowed per script"
    )
    options = parser.parse_args(argv)

    scripts = selected(discover(), options.only)
    partial = options.quick or bool(options.only)
    output = options.output or (
        BENCH_DIR / "out" / "RESULTS-partial.md"
        if partial
        else BENCH_DIR / "RESULTS.md"
    )

    started = datetime.datetime.now().astimezone()
    print("run.py: compiling the installed packages' bytecode", file=sys.stderr)
    compiled = compile_site_packages()
    print(f"run.py: ... took {compiled:.0f} s", file=sys.stderr)
    load_before = os.getloadavg()
    begin = time.perf_counter()
    results = [run_script(s, options.quick, options.timeout) for s in scripts]
    elapsed = time.perf_counter() - begin
    machine = header(started, load_before, os.getloadavg(), elapsed, options.quick)
    text = render(machine, results)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, output)
    print(text)
    print(f"run.py: wrote {output} in {elapsed / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
