"""One of many processes started at once (5): imports everything, says it is
ready, blocks on a shared lock the parent holds, then allocates an id.

``MODE INDEX BARRIER RESULTS EXPERIMENTS PROJECT``; MODE is ``experiment``
(a whole ``Experiment``), ``allocate`` (``meticulous.ids.allocate_id``) or
``floor`` (the spec's protocol, section 4, written out)."""

import fcntl
import json
import os
import sys
import time

from meticulous import Experiment


def floor_allocate(directory):
    # The spec's protocol (section 4) with nothing else: a blocking flock, the
    # hint, mkdir, the hint written atomically (fsync + rename).
    meta = os.path.join(directory, ".meticulous")
    os.makedirs(meta, exist_ok=True)
    hint = os.path.join(meta, "last-id")
    fd = os.open(os.path.join(meta, "ids.lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with open(hint) as handle:
                number = int(handle.read())
        except (FileNotFoundError, ValueError):
            number = 0
        while True:
            number += 1
            try:
                os.mkdir(os.path.join(directory, str(number)))
                break
            except FileExistsError:
                continue
        tmp = f"{hint}.tmp-{os.getpid()}"
        with open(tmp, "w") as handle:
            handle.write(f"{number}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, hint)
    finally:
        os.close(fd)
    return str(number)


mode, index, barrier, results, experiments, project = sys.argv[1:7]
if mode == "allocate":
    from meticulous.ids import allocate_id
open(os.path.join(results, f"{index}.ready"), "w").close()
with open(barrier) as gate:
    fcntl.flock(gate, fcntl.LOCK_SH)
    woke = time.time()
if mode == "allocate":
    experiment_id = allocate_id(experiments)
    started = time.time()
elif mode == "floor":
    experiment_id = floor_allocate(experiments)
    started = time.time()
else:
    experiment = Experiment(
        {"index": int(index)},
        experiments_directory=experiments,
        project_directory=project,
    )
    started = time.time()
    experiment.finish()
    experiment_id = experiment.experiment_id
record = {"id": experiment_id, "woke": woke, "started": started}
with open(os.path.join(results, f"{index}.json"), "w") as out:
    json.dump(record, out)
