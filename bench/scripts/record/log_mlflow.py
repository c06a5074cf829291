"""``--n`` rows through ``mlflow.log_metrics`` (4, on fewer rows: extrapolated)."""

import argparse
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=0)
parser.add_argument("--metrics", type=int, default=1)
import mlflow

args = parser.parse_args()
names = ["loss", "accuracy", "lr", "grad_norm", "throughput"][: args.metrics]
with mlflow.start_run():
    start = time.perf_counter()
    for i in range(args.n):
        value = 1.0 / (i + 1)
        mlflow.log_metrics({name: value for name in names}, step=i)
    loop = time.perf_counter() - start
print(json.dumps({"loop": loop}))
