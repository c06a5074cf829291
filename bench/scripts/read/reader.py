"""``DIR cache|nocache``: meticulous_read's DataFrame, timed after its imports."""

import json
import resource
import sys
import time
import warnings

started = time.perf_counter()
from meticulous_read import Experiments  # the package loads pandas on first use

imported = time.perf_counter() - started
after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
directory, mode = sys.argv[1], sys.argv[2]
warnings.simplefilter("ignore")  # RUNNING-but-dead runs warn; not measured here
start = time.perf_counter()
frame = Experiments(directory, cache=mode == "cache").as_dataframe()
seconds = time.perf_counter() - start
print(
    json.dumps(
        {
            "seconds": seconds,
            "rows": len(frame),
            "columns": frame.shape[1],
            "import": imported,
            "after_import_kib": after_import,
        }
    )
)
