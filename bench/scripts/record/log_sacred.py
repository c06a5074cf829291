"""``with n=N metrics=K``: the rows as sacred ``log_scalar`` calls (4)."""

import json
import time

from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("log")
ex.observers.append(FileStorageObserver("sacred_runs"))


@ex.config
def config():
    n = 0  # noqa: F841 - sacred reads the config's locals
    metrics = 1  # noqa: F841 - sacred reads the config's locals


@ex.automain
def main(n, metrics, _run):
    names = ["loss", "accuracy", "lr", "grad_norm", "throughput"][:metrics]
    start = time.perf_counter()
    for i in range(n):
        value = 1.0 / (i + 1)
        for name in names:
            _run.log_scalar(name, value, i)
    print(json.dumps({"loop": time.perf_counter() - start}))
