"""Synthetic experiments folders in the spec's format, for the reader benchmarks.

Written by the tests' folder writer (``tests/helpers/synth.py``: plain ``json``
and file writes, independently of the recorder), so the reader is measured on
exactly the layout ``spec/SPEC.md`` describes and the tests read. The
mix is what a real sweep leaves behind: six args, three summary values,
metadata with every key of spec §2.2 (SLURM for half), mostly SUCCESS with
some ERROR tracebacks, a few INTERRUPTED, RUNNING runs whose writer is gone
(DEAD) and QUEUED reservations; a few lines of stdout and ten metric rows.

A data set is generated once per size into ``bench/out/synth/`` (git-ignored)
and reused by later runs; ``python bench/synth.py N [DIR]`` makes one by hand.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from common import OUT_DIR

# isort: split
# tests/helpers is on sys.path once common is imported.
from helpers.synth import iso, write_experiment

# Bump when the generated content changes: cached data sets are then rebuilt.
SYNTH_VERSION = 1
SYNTH_DIR = OUT_DIR / "synth"
CHUNK = 2_000
# timezone.utc, spelled so that it also reads on Python < 3.11 (no datetime.UTC).
UTC_ZONE = timezone(timedelta(0))

DEFAULTS = {
    "lr": 0.001,
    "batch_size": 64,
    "epochs": 20,
    "model": "mlp",
    "optimizer": "adam",
    "seed": 0,
}
CHOICES = {
    "lr": [0.0001, 0.0003, 0.001, 0.003, 0.01],
    "batch_size": [32, 64, 128, 256],
    "epochs": [10, 20, 50],
    "model": ["mlp", "cnn", "resnet18", "vit-tiny"],
    "optimizer": ["adam", "sgd", "adamw"],
    "seed": [0, 1, 2, 3, 4],
}
TRACEBACK = """\
Traceback (most recent call last):
  File "/home/alice/project/train.py", line 88, in <module>
    main()
  File "/home/alice/project/train.py", line 71, in main
    loss = step(model, batch)
  File "/home/alice/project/train.py", line 42, in step
    return criterion(model(batch.x), batch.y)
  File "/home/alice/venv/lib/python3.11/site-packages/torch/nn/modules/module.py", \
line 1553, in _wrapped_call_impl
    return self._call_impl(*args, **kwargs)
RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB
"""


def _commits(rng: random.Random) -> list[tuple[str, str]]:
    return [
        (f"{rng.getrandbits(160):040x}", f"Train: change number {n}") for n in range(30)
    ]


COMMITS = _commits(random.Random(0))


def _experiment(directory: str, number: int, count: int, start0: datetime) -> None:
    """Write experiment ``number`` (its own seeded RNG: chunks are independent)."""
    rng = random.Random(number)
    commits = COMMITS
    args = {name: rng.choice(values) for name, values in CHOICES.items()}
    sha, message = commits[number * len(commits) // (count + 1)]
    start = start0 + timedelta(seconds=number * 90 * 86400 / count)
    host = f"node-{rng.randrange(1, 33):02d}"
    slurm = rng.random() < 0.5
    roll = rng.random()
    word = (
        "SUCCESS"
        if roll < 0.85
        else "ERROR"
        if roll < 0.94
        else "INTERRUPTED"
        if roll < 0.97
        else "RUNNING"
        if roll < 0.99
        else "QUEUED"
    )
    launcher = {"name": "meticulous-slurm", "sweep": f"sweep-{number // 500}"}
    if word == "QUEUED":  # a reservation: spec §5
        folder = write_experiment(
            directory,
            number,
            status=word,
            message=f"slurm job 4242_{number}",
            args=args,
            metadata={"githead-sha": sha, "launcher": launcher},
            started=start,
            stdout=None,
            stderr=None,
        )
        stamp = start.timestamp()
        os.utime(folder, (stamp, stamp))
        return
    duration = rng.uniform(60, 4 * 3600)
    command = ["train.py"] + [f"--{k.replace('_', '-')}={v}" for k, v in args.items()]
    # Drawn in this order so that a number gives the same run as before.
    dirty = rng.random() < 0.03
    description = "" if rng.random() < 0.7 else "baseline sweep, new augmentation"
    pid = rng.randrange(1000, 400000)
    metadata = {
        "githead-sha": sha,
        "githead-message": message,
        "dirty": dirty,
        "description": description,
        "exit-code": {"SUCCESS": 0, "ERROR": 1, "INTERRUPTED": -15}.get(word),
        "command": command,
        "cwd": "/home/alice/project",
        "resumes": []
        if rng.random() < 0.97
        else [
            {
                "timestamp": iso(start + timedelta(seconds=duration / 2)),
                "host": host,
                "pid": rng.randrange(1000, 400000),
                "command": command,
            }
        ],
    }
    if slurm:
        metadata["slurm"] = {
            "job-id": str(100000 + number),
            "array-job-id": str(100000 + number - number % 50),
            "array-task-id": str(number % 50),
            "node": host,
            "partition": "gpu",
            "restart-count": "0",
        }
        metadata["launcher"] = launcher
    epochs = args["epochs"]
    lines = [f"epoch {e}: loss {1.0 / (e + 1):.4f}" for e in range(min(epochs, 5))]
    loss = rng.uniform(0.05, 2.0)
    summary = None
    if word == "SUCCESS" or rng.random() < 0.5:
        summary = {
            "loss": loss,
            "accuracy": rng.uniform(0.5, 0.99),
            "best_epoch": rng.randrange(epochs),
        }
    t0 = start.timestamp()
    last = t0 + duration if word != "RUNNING" else t0 + 60
    folder = write_experiment(
        directory,
        number,
        status=word,
        message={"ERROR": TRACEBACK.rstrip("\n"), "INTERRUPTED": "signal SIGTERM"}.get(
            word, ""
        ),
        args=args,
        default_args=DEFAULTS,
        summary=summary,
        metrics=[
            {"loss": loss * (10 - step), "accuracy": 0.1 * step} for step in range(10)
        ],
        metric_interval=duration / 10,
        metadata=metadata,
        started=start,
        duration_seconds=duration,
        host=host,
        pid=pid,
        heartbeat_age=time.time() - last,
        stdout="\n".join(lines) + "\n",
        stderr=TRACEBACK if word == "ERROR" else "",
    )
    (folder / ".lock").touch()
    os.utime(folder, (last, last))


def _chunk(job: tuple[str, int, int, int, float]) -> None:
    directory, first, last, count, start0 = job
    moment = datetime.fromtimestamp(start0, UTC_ZONE)
    for number in range(first, last):
        _experiment(directory, number, count, moment)


def generate(directory: Path, count: int, processes: int = 2) -> None:
    """Write ``count`` experiments (ids 1..count) into the new folder ``directory``."""
    directory.mkdir(parents=True)
    meta = directory / ".meticulous"
    meta.mkdir()
    (meta / "last-id").write_text(f"{count}\n")
    (meta / "ids.lock").touch()
    start0 = time.time() - 100 * 86400
    jobs = [
        (str(directory), first, min(first + CHUNK, count + 1), count, start0)
        for first in range(1, count + 1, CHUNK)
    ]
    if processes > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            pool.map(_chunk, jobs, chunksize=1)
    else:
        for job in jobs:
            _chunk(job)


def dataset(count: int, log=lambda message: None) -> Path:
    """The cached data set of ``count`` experiments, generated when missing."""
    target = SYNTH_DIR / f"experiments-{count}"
    marker = SYNTH_DIR / f"experiments-{count}.done"
    stamp = f"{SYNTH_VERSION}\n"
    if target.is_dir() and marker.exists() and marker.read_text() == stamp:
        return target
    for stale in (target, SYNTH_DIR / f".experiments-{count}.tmp"):
        if stale.exists():
            shutil.rmtree(stale)
    marker.unlink(missing_ok=True)
    log(f"generating {count:,} synthetic experiments into {target}")
    started = time.perf_counter()
    tmp = SYNTH_DIR / f".experiments-{count}.tmp"
    generate(tmp, count)
    os.replace(tmp, target)
    marker.write_text(stamp)
    log(f"... took {time.perf_counter() - started:.1f} s")
    # The reader caches only folders that changed at least 2 s before it
    # looked (spec §8); the folders' ctimes are now, so let them settle.
    time.sleep(2.5)
    return target


if __name__ == "__main__":
    size = int(sys.argv[1])
    if len(sys.argv) > 2:
        started = time.perf_counter()
        generate(Path(sys.argv[2]), size)
        print(f"{size} experiments in {time.perf_counter() - started:.1f} s")
    else:
        print(dataset(size, log=print))
