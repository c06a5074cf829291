"""``TAG COMMAND...``: run COMMAND, append its wall time to ``$BENCH_RESULTS/TAG``."""

import os
import subprocess
import sys
import time

start = time.perf_counter()
code = subprocess.call(sys.argv[2:])
elapsed = time.perf_counter() - start
with open(os.path.join(os.environ["BENCH_RESULTS"], sys.argv[1]), "a") as f:
    f.write(f"{elapsed}\n")
sys.exit(code)
