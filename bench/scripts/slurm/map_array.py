"""``FOLDER N``: submitit's own ``map_array`` of N trivial functions, held."""

import sys

import submitit


def trivial(x):
    return x


executor = submitit.SlurmExecutor(folder=sys.argv[1])
executor.update_parameters(cpus_per_task=1, additional_parameters={"hold": True})
jobs = executor.map_array(trivial, range(int(sys.argv[2])))
print("array job", jobs[0].job_id.split("_")[0])
