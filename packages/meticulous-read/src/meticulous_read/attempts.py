"""Spec §16: the rows of an experiment's latest attempt.

A resumed run's rows carry ``_attempt``; rows without it are attempt 1. A
curve joined across attempts is garbled (epochs 0, 1, 0, 1), so the
reader's default view of metrics is the latest attempt alone.
"""

from __future__ import annotations


def attempt_of(row: dict) -> int:
    attempt = row.get("_attempt")
    return attempt if type(attempt) is int else 1


def latest_attempt(records: list[dict]) -> list[dict]:
    if not any("_attempt" in row for row in records):
        return records  # one attempt: the common case stays a no-op
    latest = max(attempt_of(row) for row in records)
    return [row for row in records if attempt_of(row) == latest]
