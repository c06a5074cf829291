"""How soon a printed, flushed line is in the experiment's stdout file (7):
``N fd`` through the descriptor tee, ``N python`` through the Python-level
one (a ``sys.stdout`` that is not fd 1, as in a notebook)."""

import io
import json
import os
import statistics
import sys
import time

from meticulous import Experiment

python_level = sys.argv[2] == "python"
if python_level:
    devnull = open(os.devnull, "wb")  # noqa: SIM115 - the stream lives as long as the script
    sys.stdout = io.TextIOWrapper(devnull, write_through=True)
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
