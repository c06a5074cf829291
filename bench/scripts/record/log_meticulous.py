"""``--n`` rows of ``--metrics`` values through ``experiment.log`` (4, 8); prints the loop's time as JSON."""

import argparse
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=0)
parser.add_argument("--metrics", type=int, default=1)
from meticulous import Experiment

Experiment.add_argument_group(parser)
experiment = Experiment.from_parser(parser)
args = parser.parse_args()
names = ["loss", "accuracy", "lr", "grad_norm", "throughput"][: args.metrics]
start = time.perf_counter()
for i in range(args.n):
    value = 1.0 / (i + 1)
    experiment.log({name: value for name in names})
loop = time.perf_counter() - start
experiment.finish()
print(json.dumps({"loop": loop}))
