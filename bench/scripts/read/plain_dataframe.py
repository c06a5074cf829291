"""What a researcher writes without a reader: json.loads and one DataFrame."""

import json
import os
import resource
import sys
import time

import pandas as pd

directory = sys.argv[1]
after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
rows, ids = [], []
with os.scandir(directory) as entries:
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        row = {}
        try:
            with open(os.path.join(entry.path, "STATUS"), "rb") as handle:
                word, _, message = handle.read().decode().partition("\n")
            row["status"], row["status_message"] = word, message
        except FileNotFoundError:
            pass
        for name, prefix in (
            ("args.json", "args."),
            ("summary.json", "summary."),
            ("metadata.json", "metadata."),
            ("default_args.json", None),
        ):
            try:
                with open(os.path.join(entry.path, name), "rb") as handle:
                    data = json.loads(handle.read())
            except FileNotFoundError:
                continue
            if prefix:
                for key, value in data.items():
                    row[prefix + key] = value
        rows.append(row)
        ids.append(entry.name)
order = sorted(range(len(ids)), key=lambda i: int(ids[i]))
frame = pd.DataFrame([rows[i] for i in order], index=[ids[i] for i in order])
seconds = time.perf_counter() - start
print(
    json.dumps(
        {
            "seconds": seconds,
            "rows": len(frame),
            "columns": frame.shape[1],
            "after_import_kib": after_import,
        }
    )
)
