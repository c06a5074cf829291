"""Reading sacct's lines (job and steps) into one final state per job.

The cluster tests produce FAILED, TIMEOUT, CANCELLED and OUT_OF_MEMORY
for real (test_scheduler.py), and NODE_FAIL by setting a node DOWN under a
running point (test_two_nodes.py). These are the lines such jobs printed,
and mixtures no one cluster produces on demand, in the form sacct prints
them (``sacct -n -P -o JobID,State,ExitCode``).
"""

from __future__ import annotations

from meticulous_slurm.slurmstate import parse_sacct


def test_an_oom_killed_step_makes_its_job_out_of_memory():
    states = parse_sacct(
        "120_3|FAILED|0:125\n120_3.batch|FAILED|0:125\n"
        "120_3.extern|COMPLETED|0:0\n120_3.0|OUT_OF_MEMORY|0:125\n"
    )
    assert states["120_3"].state == "OUT_OF_MEMORY"
    assert states["120_3"].failed
    assert "OUT_OF_MEMORY (step 0), exit code 0:125" == states["120_3"].describe()


def test_a_completed_job_with_a_failed_step_is_failed():
    states = parse_sacct("7|COMPLETED|0:0\n7.batch|COMPLETED|0:0\n7.0|FAILED|1:0\n")
    assert states["7"].state == "FAILED"


def test_the_jobs_own_final_word_stands_for_cancel_timeout_and_node_failure():
    states = parse_sacct(
        "8|CANCELLED by 0|0:15\n8.0|CANCELLED|0:15\n"
        "9|TIMEOUT|0:0\n9.batch|CANCELLED|0:15\n"
        "10|NODE_FAIL|0:0\n10.0|FAILED|1:0\n"
        "11|PENDING|0:0\n"
    )
    assert [states[j].state for j in ("8", "9", "10", "11")] == [
        "CANCELLED",
        "TIMEOUT",
        "NODE_FAIL",
        "PENDING",
    ]
    assert states["11"].live and not states["11"].failed


def test_a_pending_array_range_is_expanded():
    states = parse_sacct("5_[2-4%2]|PENDING|0:0\n5_0|COMPLETED|0:0\n")
    assert sorted(states) == ["5_0", "5_2", "5_3", "5_4"]
    assert not states["5_0"].failed


def test_a_cancelled_pending_task_listed_under_the_arrays_id_is_cancelled(
    monkeypatch, tmp_path
):
    """``scancel 316_1`` while 316_0 runs (``%1``): for a while sacct lists
    the task only as the array's own record, ``316|CANCELLED by 0`` (as the
    cluster printed it a second after the cancel), not yet as ``316_1``. A
    folder still QUEUED is that task's, and is cancelled; a folder a run
    claimed is not judged by the array's record."""
    from meticulous.status import write_status
    from meticulous_slurm import slurmstate, tracking
    from meticulous_slurm.record import PointRecord, SweepRecord

    monkeypatch.setattr(slurmstate, "_squeue", lambda parents: {})
    monkeypatch.setattr(
        slurmstate,
        "_sacct",
        lambda parents: slurmstate.parse_sacct("316|CANCELLED by 0|0:0\n"),
    )
    states = slurmstate.query_job_states(["316_0", "316_1"])
    assert states["316_1"].state == "CANCELLED" and states["316_1"].shared
    record = SweepRecord(
        name="s", created="", sweep_file=None, sweep_file_text="", executor="slurm",
        experiments_directory=str(tmp_path), project_directory=str(tmp_path),
        code_directory=str(tmp_path), githead_sha="0" * 40, dirty=False,
        command=["python"], slurm_parameters={}, max_requeues=0, max_parallel=1,
        submitit_folder=str(tmp_path),
        points=[
            PointRecord(index, {}, [], str(index + 1), [f"316_{index}"])
            for index in range(2)
        ],
    )  # fmt: skip
    for index, word in enumerate(("SUCCESS", "QUEUED")):
        (tmp_path / str(index + 1)).mkdir()
        write_status(tmp_path / str(index + 1), word, "")
    statuses = [
        tracking._point_status(record, index, states.get(f"316_{index}"), True)
        for index in range(2)
    ]
    assert [status.category for status in statuses] == ["succeeded", "cancelled"]
    assert [status.word for status in statuses] == ["SUCCESS", "CANCELLED"]
    assert "was cancelled before it started" in statuses[1].message


def test_a_tasks_own_line_wins_over_the_arrays_stale_range():
    """What sacct printed, for good, after ``scancel 425_1`` while 425_0 ran
    (``%1``) in one run of the cluster tests: the array's own record kept
    the range it had at submission. 425_0 completed; only 425_1 was
    cancelled, and only a folder that never started takes the range's word."""
    states = parse_sacct(
        "425_0|COMPLETED|0:0\n425_0.batch|COMPLETED|0:0\n425_0.0|COMPLETED|0:0\n"
        "425_[0-1%1]|CANCELLED by 0|0:0\n"
    )
    assert states["425_0"].state == "COMPLETED" and not states["425_0"].shared
    assert states["425_1"].state == "CANCELLED" and states["425_1"].shared
