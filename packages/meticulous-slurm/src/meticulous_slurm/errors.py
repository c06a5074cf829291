"""The one exception type the command line turns into a clean message.

Everything a user can get wrong (the sweep file, the repository, a sweep name)
raises :class:`SweepError` with a message that names the problem, so the CLI
prints it on stderr and exits 2 instead of showing a traceback.
"""

from __future__ import annotations


class SweepError(Exception):
    """Bad input: the message is meant for the user as it is."""


class SweepFileError(SweepError):
    """The sweep file is invalid; ``problems`` holds one ``file:line: ...`` each.

    All problems are collected before raising, so a user fixes the whole file
    in one go instead of discovering one mistake per submission attempt.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class SubmissionError(Exception):
    """The scheduler refused or failed the submission (not the user's input)."""


class InterruptedBeforeSubmission(KeyboardInterrupt):
    """A Ctrl-C that came before anything was submitted, its folders removed:
    the command says so instead of "the jobs go on"."""
