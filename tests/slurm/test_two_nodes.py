"""What only a cluster of two hosts can show (the two nodes of .ci/slurm/setup.sh).

The second node is a second slurmd with its own host name and network
namespace: its processes report another host, and a reader here cannot ask
the kernel whether they are alive. Both nodes share this machine's filesystem,
as compute nodes share a cluster's. Every test takes the ``two_nodes``
fixture: (this host's node, the other node).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from meticulous_read import ExperimentReader
from slurm_helpers import (
    Project,
    read_json,
    read_status,
    release_requeued,
    run_cli,
    squeue_state,
    sweep_record,
    wait_for,
    wait_for_status,
    wait_until_train_py_runs,
)

SLURM_SECTION = """\
executor: slurm
slurm:
  cpus_per_task: 1
  timeout_min: 10
"""

# allocate.py NAME READY GO OUT COUNT: says it is READY, then allocates COUNT
# experiments one after the other once the GO file exists, and writes which
# ids it got (and where it ran) to OUT.
ALLOCATE_PY = textwrap.dedent(
    """\
    import json
    import os
    import sys
    import time

    from meticulous import Experiment

    name, ready, go, out = sys.argv[1:5]
    count = int(sys.argv[5])
    open(ready, "w").close()
    deadline = time.time() + 120
    while not os.path.exists(go) and time.time() < deadline:
        time.sleep(0.005)
    ids = []
    for index in range(count):
        args = {"job": os.environ["SLURM_JOB_ID"], "process": name, "index": index}
        with Experiment(args) as run:
            ids.append(run.experiment_id)
    with open(out + ".tmp", "w") as handle:
        json.dump({"node": os.environ["SLURMD_NODENAME"], "ids": ids}, handle)
    os.replace(out + ".tmp", out)
    """
)


def sbatch(project: Project, *options: str, command: str) -> str:
    """Submit COMMAND as a plain batch job run in the project; its job id."""
    submitted = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--cpus-per-task=1",
            f"--chdir={project.root}",
            f"--output={project.markers}/slurm-%j.out",
            *options,
            "--wrap",
            command,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return submitted.stdout.strip().split(";")[0]


def job_log(project: Project, job_id: str) -> str:
    path = project.markers / f"slurm-{job_id}.out"
    return path.read_text() if path.exists() else "(no output file)"


def only_folder(project: Project) -> Path:
    folders = wait_for(project.experiment_folders, 120, "the run's folder")
    assert len(folders) == 1, folders
    return folders[0]


def sigkill_on(node: str, job_id: str, pid: int) -> None:
    """SIGKILL PID from a step of its own job on NODE, as an OOM killer there
    would (``scancel --signal=KILL`` cancels the job instead, which sends
    SIGTERM first)."""
    killer = subprocess.run(
        ["srun", f"--jobid={job_id}", "--overlap", f"--nodelist={node}"]
        + ["sh", "-c", f"hostname && kill -KILL {pid}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (killer.returncode, killer.stdout.strip()) == (0, node), killer.stderr


def test_a_run_killed_on_the_other_node_is_dead_for_a_reader_here(project, two_nodes):
    """No pid check can reach the other host: the heartbeat is the evidence."""
    _, there = two_nodes
    project.hold(0.1)
    job_id = sbatch(
        project,
        f"--nodelist={there}",
        command=f"{sys.executable} train.py --lr 0.1 --markers {project.markers}",
    )
    folder = only_folder(project)
    wait_for_status(folder, ("RUNNING",))
    metadata = read_json(folder / "metadata.json")
    assert metadata["host"] == there != socket.gethostname()
    assert metadata["slurm"]["node"] == there
    assert ExperimentReader(folder).status == "RUNNING"

    sigkill_on(there, job_id, metadata["pid"])
    wait_for(lambda: squeue_state(job_id) != "RUNNING", 60, "the job to end")
    assert read_status(folder)[0] == "RUNNING"  # nobody could write the end

    reader = wait_for(
        lambda: (r := ExperimentReader(folder)).status == "DEAD" and r,
        timeout=120,
        what="the reader to report the killed run DEAD",
    )
    assert "no heartbeat since" in reader.status_message
    assert read_status(folder)[0] == "RUNNING"  # the reader only reads


def test_jobs_on_both_nodes_allocating_at_once_get_distinct_ids(project, two_nodes):
    """One job per node, each running two allocating processes: four
    processes on two hosts start allocating at the same moment, in one
    experiments folder."""
    (project.root / "allocate.py").write_text(ALLOCATE_PY)
    project.commit("allocate.py")
    count = 10
    go = project.markers / "go"
    processes = {}  # name -> (job id, ready file, result file)
    for node in two_nodes:
        names = [f"{node}-{copy}" for copy in range(2)]
        files = {
            n: (project.markers / f"{n}.ready", project.markers / f"{n}.json")
            for n in names
        }
        command = (
            " & ".join(
                f"{sys.executable} allocate.py {n} {ready} {go} {out} {count}"
                for n, (ready, out) in files.items()
            )
            + " & wait"
        )
        job_id = sbatch(project, f"--nodelist={node}", command=command)
        for n, (ready, out) in files.items():
            processes[n] = (job_id, ready, out)
    wait_for(
        lambda: all(ready.exists() for _, ready, _ in processes.values()),
        180,
        "the four allocating processes to be running",
    )
    go.write_text("")
    for job_id, _, out in processes.values():
        try:
            wait_for(out.exists, 120, f"{out.name} of job {job_id}")
        except AssertionError as error:
            raise AssertionError(f"{error}; its output: {job_log(project, job_id)}")
    results = {n: json.loads(out.read_text()) for n, (_, _, out) in processes.items()}

    assert {result["node"] for result in results.values()} == set(two_nodes)
    every_id = [i for result in results.values() for i in result["ids"]]
    assert len(every_id) == 4 * count
    assert len(set(every_id)) == 4 * count, sorted(every_id, key=int)
    folders = project.experiment_folders()
    assert [f.name for f in folders] == sorted(every_id, key=int)
    # Each folder is the run that got its id, on the node that ran it.
    for name, result in results.items():
        job_id = processes[name][0]
        for index, experiment_id in enumerate(result["ids"]):
            folder = project.experiments / experiment_id
            assert read_status(folder)[0] == "SUCCESS"
            args = {"job": job_id, "process": name, "index": index}
            assert read_json(folder / "args.json") == args
            assert read_json(folder / "metadata.json")["host"] == result["node"]


def test_a_requeued_job_restarting_on_the_other_node_resumes_its_own_folder(
    project, two_nodes
):
    project.hold(0.1)
    sweep = project.write_sweep(
        SLURM_SECTION
        + f"name: move\nargs:\n  markers: {project.markers}\ngrid:\n  lr: [0.1]\n"
    )
    assert run_cli("sweep", str(sweep), cwd=project.root).returncode == 0
    (job_id,) = sweep_record(project)["points"][0]["job-ids"]
    (folder,) = project.experiment_folders()
    wait_until_train_py_runs(folder)
    first = read_json(folder / "metadata.json")["slurm"]["node"]
    assert first in two_nodes
    other = next(node for node in two_nodes if node != first)

    subprocess.run(["scontrol", "requeue", job_id], check=True)
    wait_for_status(folder, ("INTERRUPTED",), timeout=60)
    (project.markers / "lr-0.1.hold").unlink()
    # Keep it off the node it ran on, and start it now, not after BeginTime.
    release_requeued(job_id, f"ExcNodeList={first}")
    wait_for_status(folder, ("SUCCESS", "ERROR"), timeout=180)

    assert read_status(folder)[0] == "SUCCESS"
    assert [f.name for f in project.experiment_folders()] == [folder.name]
    metadata = read_json(folder / "metadata.json")
    assert metadata["slurm"]["node"] == other
    assert metadata["slurm"]["restart-count"] == 1
    assert metadata["host"] == other
    assert [resume["host"] for resume in metadata["resumes"]] == [other]
    assert (folder / "stdout").read_text().count("train.py version 1") == 2


def srun_two_nodes(project: Project, *arguments: str) -> subprocess.Popen:
    """``srun -N 2 -n 2 python train.py ARGUMENTS`` from this host, as a user
    types it (no SLURM or meticulous variables inherited)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLURM_", "METICULOUS_"))
    }
    env["METICULOUS_RANK_END_TIMEOUT"] = "5"
    return subprocess.Popen(
        ["srun", "-N", "2", "-n", "2", "--time=5", sys.executable, "train.py"]
        + list(arguments),
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_srun_of_a_recorded_script_on_both_nodes_is_one_experiment(project, two_nodes):
    launch = srun_two_nodes(project, "--lr", "0.3")
    out, err = launch.communicate(timeout=180)
    assert launch.returncode == 0, out + err
    assert out.count("train.py version 1") == 2  # both tasks ran the script
    folder = only_folder(project)
    assert read_status(folder)[0] == "SUCCESS"
    metadata = read_json(folder / "metadata.json")
    assert metadata["world-size"] == 2
    # Slurm orders the nodes by name: task 0 on the first, task 1 on the other.
    assert [rank["host"] for rank in metadata["ranks"]] == list(two_nodes)
    assert [rank["status"] for rank in metadata["ranks"]] == ["SUCCESS", "SUCCESS"]
    rank1 = read_json(folder / "ranks" / "1" / "metadata.json")
    assert rank1["host"] == two_nodes[1] != metadata["host"]
    assert read_json(folder / "summary.json") == {"lr": 0.3}


def test_a_rank_killed_on_the_other_node_is_dead_for_a_reader_here(project, two_nodes):
    """The main rank is alive here; rank 1 on the other node is SIGKILLed: a
    reader here can only see its heartbeat stop."""
    _, there = two_nodes
    project.hold(0.1)
    launch = srun_two_nodes(project, "--lr", "0.1", "--markers", str(project.markers))
    try:
        folder = only_folder(project)
        rank1 = folder / "ranks" / "1"
        wait_for_status(folder, ("RUNNING",))
        wait_for_status(rank1, ("RUNNING",))
        rank1_metadata = read_json(rank1 / "metadata.json")
        assert rank1_metadata["host"] == there
        job_id = read_json(folder / "metadata.json")["slurm"]["job-id"]
        assert ExperimentReader(folder).status == "RUNNING"

        sigkill_on(there, job_id, rank1_metadata["pid"])
        reader = wait_for(
            lambda: (r := ExperimentReader(folder)).status == "DEAD" and r,
            timeout=120,
            what="the reader to report the run with a killed rank DEAD",
        )
        assert "rank 1 is dead" in reader.status_message
        assert read_status(folder)[0] == "RUNNING"  # the main rank still runs
        assert launch.poll() is None
    finally:
        (project.markers / "lr-0.1.hold").unlink(missing_ok=True)
        out, err = launch.communicate(timeout=120)
    # The main rank then ends, and does not call the run a success.
    word, message = read_status(folder)
    assert word == "ERROR", (word, message, out, err)
    assert "rank 1" in message


def test_a_two_node_sweep_point_is_one_experiment_with_ranks_on_both(
    project, two_nodes
):
    sweep = project.write_sweep(
        "executor: slurm\n"
        "slurm:\n  cpus_per_task: 1\n  nodes: 2\n  tasks_per_node: 1\n"
        "  timeout_min: 10\n"
        "name: wide\ngrid:\n  lr: [0.2]\n"
    )
    done = run_cli("sweep", str(sweep), "--wait", cwd=project.root)
    assert done.returncode == 0, done.stdout + done.stderr
    (folder,) = project.experiment_folders()
    assert read_status(folder)[0] == "SUCCESS"
    metadata = read_json(folder / "metadata.json")
    assert metadata["world-size"] == 2
    assert {rank["host"] for rank in metadata["ranks"]} == set(two_nodes)
    assert [rank["status"] for rank in metadata["ranks"]] == ["SUCCESS", "SUCCESS"]
    assert metadata["launcher"]["sweep"] == "wide"
    assert "train.py version 1" in (folder / "ranks" / "1" / "stdout").read_text()


def node_state(node: str) -> str:
    return subprocess.run(
        ["sinfo", "-h", "-n", node, "-o", "%t"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


@pytest.mark.takes_a_node_down
def test_a_job_whose_node_fails_ends_node_fail_never_success(project, two_nodes):
    """A real NODE_FAIL: the node under a running point is set DOWN, SLURM
    kills the job and records NODE_FAIL (``--no-requeue``, or it would
    requeue it). No other slurm test runs meanwhile (conftest's lock)."""
    _, there = two_nodes
    project.hold(0.1)
    sweep = project.write_sweep(
        SLURM_SECTION
        + f"  nodelist: {there}\n  additional_parameters: {{no_requeue: true}}\n"
        + f"name: lost\nmax_requeues: 0\nargs:\n  markers: {project.markers}\n"
        + "  lr: 0.1\n"
    )
    waiting = subprocess.Popen(
        [sys.executable, "-m", "meticulous_slurm.cli", "sweep", str(sweep), "--wait"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        folder = wait_for(
            lambda: project.experiment_folders(), what="the reserved folder"
        )[0]
        wait_until_train_py_runs(folder)
        assert read_json(folder / "metadata.json")["slurm"]["node"] == there
        down = ["scontrol", "update", f"nodename={there}", "state=down"]
        subprocess.run([*down, "reason=meticulous test: a node failure"], check=True)
        out, err = waiting.communicate(timeout=240)
    finally:
        if waiting.poll() is None:
            waiting.kill()
        resume = ["scontrol", "update", f"nodename={there}", "state=resume"]
        subprocess.run(resume, check=False)
        wait_for(lambda: node_state(there) == "idle", what=f"{there} to be idle again")
    assert waiting.returncode == 1, out + err
    assert "(slurm: NODE_FAIL)" in out, out
    word, message = read_status(folder)
    assert word == "ERROR", (word, message)
    assert "ended NODE_FAIL" in message
    status = run_cli("status", "lost", cwd=project.root)
    assert status.returncode == 1
    assert "NODE_FAIL" in status.stdout
