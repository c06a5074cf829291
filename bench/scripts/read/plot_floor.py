"""``DIR OUTPUT``: the floor of ``meticulous plot``: json.loads of every
metrics.jsonl line and one matplotlib figure (Agg, no pyplot), as PNG."""

import json
import os
import sys

from matplotlib.figure import Figure

directory, output = sys.argv[1], sys.argv[2]
figure = Figure(figsize=(6.4, 4.0))
ax = figure.subplots()
for name in sorted(os.listdir(directory)):
    folder = os.path.join(directory, name)
    if name.startswith(".") or not os.path.isdir(folder):
        continue
    steps, losses = [], []
    with open(os.path.join(folder, "metrics.jsonl"), "rb") as handle:
        for line in handle:
            row = json.loads(line)
            steps.append(row["_step"])
            losses.append(row["loss"])
    ax.plot(steps, losses, linewidth=1.2)
ax.set_xlabel("step")
ax.set_ylabel("loss")
figure.savefig(output)
