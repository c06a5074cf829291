"""The import scan (spec 11, section 6): ``Experiment`` starts with and without
it, in one process after numpy (a typical script's imports), and the scan alone."""

import json
import statistics
import sys
import time
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
print(
    json.dumps(
        {
            "with": median(with_scan),
            "without": median(without),
            "alone": median(alone),
            "walk": median(walk),
            "modules": len(sys.modules),
            "candidates": len(scan.candidates),
        }
    )
)
