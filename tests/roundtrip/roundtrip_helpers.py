"""The recorded training script the roundtrip tests run, and how they run it.

A module of its own, not conftest: a test cannot import its suite's conftest
reliably (another suite's conftest may hold that name).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

TRAIN = textwrap.dedent(
    """
    import argparse, os, signal, sys, time
    from meticulous import Experiment

    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--mode", default="ok", choices=["ok", "raise", "exit3", "hang"])
    Experiment.add_argument_group(parser)
    experiment = Experiment.from_parser(parser)
    args = parser.parse_args()

    for step in range(3):
        experiment.log({"loss": 1.0 / (step + 1) * args.lr})
    print("trained with", args.lr, flush=True)
    experiment.summary({"loss": 0.5 * args.lr, "path": experiment.curexpdir})
    if args.mode == "raise":
        raise RuntimeError("boom at the end")
    if args.mode == "exit3":
        sys.exit(3)
    if args.mode == "hang":
        print("ready", flush=True)
        time.sleep(600)
    """
)


def run_train(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "train.py", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
