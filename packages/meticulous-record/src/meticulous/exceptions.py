"""Every error the recorder raises on purpose.

They all derive from :class:`MeticulousError`, so a caller can catch the
recorder's refusals in one clause. The ones about bad input also derive from
the built-in exception a Python programmer would expect (``ValueError`` or
``TypeError``), so generic handling keeps working.
"""

from __future__ import annotations


class MeticulousError(Exception):
    """Base class: the recorder refused to record, and said why."""


class DirtyRepoException(MeticulousError):
    """Tracked files differ from the commit ``HEAD`` points at.

    Recording such a run would tie its results to code nobody can get back,
    so the run is refused unless ``allow_dirty`` asks to record the diff.
    """

    def __init__(
        self,
        repository: str,
        changed_files: list[str],
        untracked_sources: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        self.repository = repository
        self.changed_files = list(changed_files)
        self.untracked_sources = list(untracked_sources)
        parts = []
        if self.changed_files:
            listing = "\n".join(f"  {name}" for name in self.changed_files)
            parts.append(f"uncommitted changes to tracked files:\n{listing}")
        if self.untracked_sources:
            listing = "\n".join(f"  {name}" for name in self.untracked_sources)
            parts.append(f"imported source files that git does not track:\n{listing}")
        super().__init__(
            f"the git repository {repository} is dirty; commit (or git add and "
            f"commit) these, or pass --allow-dirty (allow_dirty=True) to record "
            f"the diff and copies of the untracked sources. It has "
            + "\nand ".join(parts)
        )


class MismatchedArgsException(MeticulousError):
    """An existing experiment was resumed with different arguments."""


class MismatchedCommitException(MeticulousError):
    """An existing or reserved experiment belongs to another commit."""


class ExperimentLockedException(MeticulousError):
    """Another live process holds the experiment folder's ``.lock``."""


class NotAGitRepositoryError(MeticulousError):
    """The project directory is not inside a usable git repository."""


class InvalidExperimentError(MeticulousError, ValueError):
    """A bad id, experiments directory, argument or option given by the caller."""


class UnserialisableValueError(MeticulousError, ValueError):
    """A value that has no readable JSON form, such as a circular structure."""


class InvalidSummaryError(MeticulousError, TypeError):
    """``summary`` or ``log`` was given something other than a dict of values."""


class InvalidMetricsError(MeticulousError, TypeError):
    """``log`` was given something other than a dict of metric names to values."""


class ExperimentFinishedError(MeticulousError, RuntimeError):
    """``log``, ``summary`` or ``open`` after the experiment finished."""


class UnsafePathError(MeticulousError, OSError):
    """A file the recorder would open is a symbolic link or not a regular file.

    The recorder never follows a link planted in an experiment folder (spec
    12.1): it would write outside the folder, or read someone else's file.
    """


class StorageError(MeticulousError, OSError):
    """The filesystem refused a write (a full disk, a quota): the error says
    which file, and what was recorded before it is intact (spec 12.2)."""


class InvalidTagError(MeticulousError, ValueError):
    """A tag name that spec §15 does not allow (empty, too long, controls)."""


class TagsFileError(MeticulousError, OSError):
    """tags.json could not be updated safely (a symlink, not an object)."""


class RankJoinError(MeticulousError):
    """A rank other than 0 could not find the experiment its rank 0 records."""
