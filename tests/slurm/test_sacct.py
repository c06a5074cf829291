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
