"""The two ways the command fails, told apart by their exit codes."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: exit code 2."""


class OutputError(Exception):
    """The result could not be written: exit code 1."""
