"""The floor of logging: the same JSON lines appended to one open file (4)."""

import argparse
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=0)
parser.add_argument("--metrics", type=int, default=1)
parser.add_argument("--flush", action="store_true")
args = parser.parse_args()
names = ["loss", "accuracy", "lr", "grad_norm", "throughput"][: args.metrics]
start = time.perf_counter()
with open("floor-metrics.jsonl", "a", encoding="utf-8") as out:
    for i in range(args.n):
        value = 1.0 / (i + 1)
        row = {"_step": i, "_time": time.time()}
        row.update((name, value) for name in names)
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        if args.flush:
            out.flush()
loop = time.perf_counter() - start
print(json.dumps({"loop": loop}))
