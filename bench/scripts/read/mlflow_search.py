"""``URI``: ``mlflow.search_runs`` of every run, timed after the imports."""

import json
import sys
import time

import mlflow

uri = sys.argv[1]
mlflow.set_tracking_uri(uri)
experiment = mlflow.get_experiment_by_name("synth").experiment_id
start = time.perf_counter()
frame = mlflow.search_runs([experiment], max_results=200_000)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows": len(frame), "columns": frame.shape[1]}))
