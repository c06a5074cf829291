"""``URI COUNT CHOICES``: an sqlite mlflow store of COUNT runs like the synthetic
folders (6 params drawn from CHOICES, synth.CHOICES as JSON; 3 metrics, 4 tags).
Bump bench_read.MLFLOW_VERSION when it changes."""

import json
import random
import sys
import time

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

uri, count = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(uri)
client = MlflowClient()
experiment = client.create_experiment("synth")
rng = random.Random(0)
shas = [f"{rng.getrandbits(160):040x}" for _ in range(30)]
choices = json.loads(sys.argv[3])
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
