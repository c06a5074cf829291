"""The :class:`Experiment`: one recorded run, from its checks to its last word.

This module only orchestrates, in the order of spec section 3 and with its
numbers; the details live in the modules named here.

1. Check everything that can be checked without writing: where the run
   records (``handover.destination``), its args (``startfiles``), the
   repository and the imported sources (``gitstate``, ``sources``).
2. Choose the folder and 3. lock it (``folders``).
4. Write the start files (``startfiles``, ``metadata``, ``environment``).
5. Watch the run: heartbeat, exit hooks, RUNNING, capture (``watching``);
   then ``log``, ``summary``, ``save``, ``open`` and ``tag`` record into it.
6. The end: the terminal ``STATUS``, then ``metadata.json`` (``lifecycle``
   sees the process end; ``rankends`` waits for a distributed run's ranks).

A rank other than 0 of a distributed run joins rank 0's folder instead of
steps 2 to 4 (``rendezvous``, spec 10).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import folders, options, running
from .atomic import write_json_atomic
from .exceptions import (  # the three meticulous-ml imported from here
    DirtyRepoException,  # noqa: F401
    ExperimentFinishedError,
    InvalidExperimentError,
    InvalidSummaryError,
    MismatchedArgsException,  # noqa: F401
    MismatchedCommitException,  # noqa: F401
)
from .filenames import METADATA_FILE, STDERR_FILE, SUMMARY_FILE
from .metadata import start_metadata
from .ranks import PLAIN
from .runinfo import now
from .status import ERROR, SUCCESS, write_status

if TYPE_CHECKING:
    import argparse
    from types import TracebackType

    from typing_extensions import Self  # typing.Self is 3.11+

    from .environment import RunEnvironment
    from .folders import FolderHold
    from .handover import Reservation
    from .metrics import MetricsLog
    from .watching import Watch


class _AddSaver:
    """``add_saver(type, function, suffix, loader=None)`` on the class or on one run.

    ``Experiment.add_saver(...)`` adds a saver for every experiment of that
    class (and its subclasses); ``experiment.add_saver(...)`` for that run.
    ``function(obj, path)`` writes ``obj`` to ``path`` (ending in ``suffix``);
    ``loader(path)`` reads it back for :meth:`Experiment.load`. The savers
    module is imported when it is first used, not with ``meticulous``.
    """

    def __get__(self, instance: Any, owner: type) -> Any:
        target = owner if instance is None else instance

        def add_saver(
            kind: type, function: Any, suffix: str, loader: Any = None
        ) -> None:
            from .savers import add_saver

            add_saver(target, kind, function, suffix, loader)

        add_saver.__doc__ = _AddSaver.__doc__
        return add_saver


class Experiment:
    """Record one run of an experiment in ``<experiments>/<id>/``.

    Creating the object starts the recording; it ends by itself when the
    process ends (SUCCESS, ERROR with the traceback, INTERRUPTED by a
    signal), or explicitly with :meth:`finish` or a ``with`` block.

    ``args`` and ``default_args`` are dicts of the run's arguments and their
    defaults. ``experiments_directory`` is relative to
    ``project_directory`` (default: the current directory), which must be
    inside a git repository whose tracked files are committed, unless
    ``allow_dirty`` records the diff instead. An existing ``experiment_id``
    is resumed when its args and commit match; ``resume=True`` looks for
    such an experiment itself. ``norecord=True`` checks and writes nothing
    (``curexpdir`` is then ``"."``).

    In a distributed launch (srun, torchrun, MPI), rank 0 records as above
    and every other rank joins its experiment, writing its own output and
    end under ``ranks/<rank>/`` (spec section 10).
    """

    experiment_id: str | None
    curexpdir: str | None

    def __init__(
        self,
        args: Mapping[str, Any] | argparse.Namespace | None = None,
        default_args: Mapping[str, Any] | None = None,
        *,
        project_directory: str | os.PathLike[str] | None = None,
        experiments_directory: str | os.PathLike[str] = "experiments",
        experiment_id: str | None = None,
        description: str = "",
        resume: bool = False,
        norecord: bool = False,
        allow_dirty: bool = False,
        name: str | None = None,
        _parent: Experiment | None = None,
    ) -> None:
        settings: dict[str, Any] = {
            "project_directory": project_directory,
            "experiments_directory": experiments_directory,
            "experiment_id": experiment_id,
            "description": description,
            "resume": resume,
            "allow_dirty": allow_dirty,
            "norecord": norecord,
            "name": name,
        }
        args, settings = options.apply_namespace(args, settings)
        self.args = options.args_dict(args, "args")
        self.default_args = options.args_dict(default_args, "default_args")
        self.experiment_id = None
        self.curexpdir = None
        self.norecord = bool(settings.pop("norecord"))
        self._settings = settings
        self._parent = _parent
        self._children: list[Experiment] = []
        self._extra_metadata: dict[str, Any] = {}
        self._folder: Path | None = None
        self._record: Path | None = None  # where this process's own files go
        self._owner_pid = os.getpid()
        self._environment: RunEnvironment | None = None  # spec 11's keys
        self._rank = PLAIN
        self._finished = False
        self._summary: dict[str, Any] | None = None
        self._metrics: MetricsLog | None = None
        self._lock: FolderHold | None = None
        self._watch: Watch | None = None  # heartbeat, hooks, capture (step 5)
        if self.norecord:
            self.curexpdir = "."
            running.enter(self)
            return
        from .ranks import detect_rank

        self._rank = detect_rank(os.environ)
        self._start(**settings)

    # -- argparse ------------------------------------------------------------

    @staticmethod
    def add_argument_group(
        parser: argparse.ArgumentParser, **defaults: Any
    ) -> argparse._ArgumentGroup:
        """Add the "meticulous" options to ``parser`` (``defaults`` override theirs)."""
        return options.add_argument_group(parser, **defaults)

    @classmethod
    def from_parser(
        cls,
        parser: argparse.ArgumentParser,
        arg_list: list[str] | None = None,
        capture_defaults: bool = True,
        **default_settings: Any,
    ) -> Experiment:
        """Parse ``arg_list`` (default: the command line) and start recording.

        The meticulous options configure the experiment and are left out of
        the recorded args; the parser's defaults become ``default_args``
        (unless ``capture_defaults=False``). ``default_settings`` are
        Experiment keywords for options the parser does not have; the
        parsed options win (meticulous-ml's signature).
        """
        args, default_args, settings = options.split_parsed(parser, arg_list)
        return cls(
            args,
            default_args if capture_defaults else None,
            **{**default_settings, **settings},
        )

    @staticmethod
    def extract_meticulous_args(
        parser: argparse.ArgumentParser, arg_list: list[str] | None = None
    ) -> dict[str, Any]:
        """The meticulous options of a parse, as Experiment keywords (meticulous-ml's)."""
        from .compat import extract_meticulous_args

        return extract_meticulous_args(parser, arg_list)

    # -- starting ------------------------------------------------------------

    def _start(
        self,
        *,
        project_directory: str | os.PathLike[str] | None,
        experiments_directory: str | os.PathLike[str],
        experiment_id: str | None,
        description: str,
        resume: bool,
        allow_dirty: bool,
        name: str | None,
    ) -> None:
        from .handover import destination

        # 1. Everything that can be checked without writing.
        if not isinstance(description, str):
            raise InvalidExperimentError(
                f"description must be a string, not {type(description).__name__}"
            )
        project, experiments, experiment_id, reservation, name = destination(
            project_directory,
            experiments_directory,
            experiment_id,
            name,
            child=self._parent is not None,
        )
        if name is not None:
            self._extra_metadata["name"] = name
        if self._parent is not None:
            self._extra_metadata["parent"] = self._parent.experiment_id
        # A child run checks the same repository, whatever the cwd by then.
        self._settings["project_directory"] = project
        start = (project, experiments, experiment_id, description, resume)
        if not self._rank.distributed:
            self._start_main(*start, allow_dirty, reservation)
            return
        from . import rendezvous

        launch = self._rank.require_launch()
        if self._rank.rank > 0:
            self._join(experiments, launch, experiment_id)
            return
        try:
            self._start_main(*start, allow_dirty, reservation)
        except BaseException as error:
            rendezvous.publish_failure(experiments, launch, repr(error))
            raise
        assert self.experiment_id is not None
        rendezvous.publish(
            experiments, launch, self.experiment_id, self._rank.world_size
        )

    def _join(self, experiments: Path, launch: str, experiment_id: str | None) -> None:
        """A rank other than 0: record into rank 0's experiment (spec 10.3)."""
        from .capture import require_tee
        from .environment import RunEnvironment
        from .metadata import rank_metadata
        from .rankends import rank_folder
        from .rendezvous import timeout_from, wait_for_main_rank
        from .startfiles import recordable

        recordable(self.args, "args")
        recordable(self.default_args, "default_args")
        require_tee()
        experiment_id = wait_for_main_rank(
            experiments,
            launch,
            self._rank.rank,
            expected_id=experiment_id,
            timeout=timeout_from(os.environ),
        )
        folder = experiments / experiment_id
        record = rank_folder(folder, self._rank.rank)
        record.mkdir(parents=True, exist_ok=True)
        self.experiment_id = experiment_id
        self._folder, self._record = folder, record
        self.curexpdir = str(folder)
        self._environment = RunEnvironment()  # rank 0 records the sources
        try:
            self._metadata = {**rank_metadata(self._rank), **self._environment.start()}
            write_json_atomic(record / METADATA_FILE, self._metadata)
            self._start_watching()
        except BaseException as error:
            self._abort(error)
            raise
        running.enter(self)

    def _start_main(
        self,
        project: Path,
        experiments: Path,
        experiment_id: str | None,
        description: str,
        resume: bool,
        allow_dirty: bool,
        reservation: Reservation | None,
    ) -> None:
        from .capture import require_tee
        from .environment import RunEnvironment
        from .gitstate import dirty_details, read_repo_state, require_clean
        from .sources import SourceScan
        from .startfiles import recordable, write_start_files

        args_document = recordable(self.args, "args")
        defaults_document = recordable(self.default_args, "default_args")
        require_tee()
        sources = SourceScan.start(project, [experiments])
        repo = read_repo_state(project, sources.toplevel if sources else None)
        untracked = sources.untracked() if sources else []
        if not allow_dirty:
            require_clean(repo, untracked)
        dirty = dirty_details(repo, experiments) if repo.dirty else None
        self._environment = RunEnvironment(sources, untracked, experiments)

        # 2. The folder, and 3. its lock.
        mode, folder, self._lock = folders.choose_and_lock(
            experiments,
            experiment_id,
            reserved=reservation is not None,
            resume=resume,
            args=args_document,
            sha=repo.sha,
        )
        self.experiment_id = folder.name
        self._folder = self._record = folder
        self.curexpdir = str(folder)

        # 4. The start files, then 5. capture and end-of-run hooks.
        try:
            previous = folders.read_json_object(folder / METADATA_FILE) or {}
            metadata = start_metadata(
                previous,
                resumed=mode == folders.RESUME,
                sha=repo.sha,
                message=repo.message,
                dirty=dirty is not None,
                description=description,
                launcher=reservation.launcher if reservation is not None else None,
                rank=self._rank,
            )
            metadata.update(self._environment.start())
            self._metadata = metadata
            self._environment.record_sources(metadata, folder)
            metadata.update(self._extra_metadata)
            write_start_files(
                folder, mode, args_document, defaults_document, metadata, dirty
            )
            self._start_watching()
        except BaseException as error:
            failure = self._abort(error)
            if failure is not error:
                raise failure from None
            raise
        running.enter(self)

    def _start_watching(self) -> None:
        """Step 5 (with step 4's heartbeat and RUNNING): ``watching`` says
        what starts, in which order."""
        from .watching import Watch

        assert self._record is not None
        claim = self._lock.claim if self._lock is not None else None
        self._watch = Watch()
        self._metrics = self._watch.start(
            self._record,
            self._metadata["host"],
            self._metadata["pid"],
            claim,
            self._end_at_exit,
        )

    def _abort(self, error: BaseException) -> BaseException:
        """Starting failed half-way: undo what started, say why in STATUS.

        Returns the error to raise: a full disk's, saying what was kept.
        """
        self._finished = True
        said_running = self._watch is not None and self._watch.running
        self._stop_watching()
        if said_running:  # only replace our own RUNNING, never a recorded end
            assert self._record is not None  # RUNNING was written there
            try:
                write_status(
                    self._record, ERROR, f"meticulous could not start: {error!r}"
                )
            except OSError:
                pass  # the disk refuses: the original error says why
        created = self._lock is not None and self._lock.created and not said_running
        self._release_lock()
        return folders.failed_start(self._folder, error, remove=created)

    # -- during the run --------------------------------------------------------

    def open(
        self, path: str | os.PathLike[str], mode: str = "r", *args: Any, **kwargs: Any
    ) -> IO[Any]:
        """``open`` a file inside the experiment folder, creating subfolders.

        Paths that would leave the folder (absolute, through ``..`` or a
        symbolic link) are refused. With ``norecord`` the path is relative to the current
        directory instead.
        """
        self._require_running("open")
        if self._folder is None:
            target = Path(os.path.normpath(Path.cwd() / os.fspath(path)))
            if any(flag in mode for flag in "wax+"):
                target.parent.mkdir(parents=True, exist_ok=True)
            return open(target, mode, *args, **kwargs)
        from .safepaths import open_inside

        fd = open_inside(self._folder, path, mode)  # no link followed (12.1)
        try:
            return open(fd, mode, *args, **kwargs)
        except BaseException:
            os.close(fd)
            raise

    add_saver = _AddSaver()

    def save(
        self, obj: Any, name: str | None = None, *, overwrite: bool = False
    ) -> Path:
        """Save ``obj`` in the experiment folder in a format chosen by its type.

        Spec §13.1: ``.json`` for dicts and lists, ``.npy``, ``.png``,
        ``.parquet``/``.csv``, ``.pt``, ``.keras``, pickle as the last resort,
        or a saver from :meth:`add_saver`. An existing name gets the next
        version (``model.1.pkl``) unless ``overwrite``. Returns the path.
        """
        from .savers import save, savers_of

        return save(self._files_base(), obj, name, savers_of(self), overwrite=overwrite)

    def load(self, name: str, *, allow_pickle: bool = False) -> Any:
        """Read back the latest version of what :meth:`save` wrote as ``name``.

        A pickle runs code from the file when loaded, so it is refused unless
        ``allow_pickle=True`` says you trust the file.
        """
        from .savers import load, savers_of

        return load(
            self._files_base(), name, savers_of(self), allow_pickle=allow_pickle
        )

    def _files_base(self) -> Path:
        return Path.cwd() if self._folder is None else self._folder

    def summary(self, values: Mapping[str, Any]) -> None:
        """Update ``summary.json`` with ``values`` (atomically; no-op with norecord).

        The new content is serialised before the file is replaced: a value that
        cannot be recorded raises and leaves the previous summary intact.
        """
        if self._record is None:
            return
        self._require_running("summary")
        if not isinstance(values, Mapping):
            raise InvalidSummaryError(
                f"summary() takes a dict of names to values, not {type(values).__name__}"
            )
        path = self._record / SUMMARY_FILE
        if self._summary is None:
            self._summary = folders.read_json_object(path) or {}
        merged = {**self._summary, **values}
        write_json_atomic(path, merged)
        self._summary = merged

    def tag(self, values: Mapping[str, Any]) -> None:
        """Set tags in ``tags.json`` (spec §15), kept with any set by readers."""
        if self._folder is not None:
            from . import tags

            tags.update(self._folder, values)

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Append one row to ``metrics.jsonl``: ``_step``, ``_time`` and ``metrics``.

        ``step`` defaults to one past the previous row's (0 at first, and after
        a resume it continues the recorded steps). No-op with norecord.
        """
        if self._metrics is not None:
            self._metrics.append(metrics, step)
        elif self._finished:
            self._require_running("log")

    @property
    def rank(self) -> int:
        """This process's rank in a distributed launch (0 in a plain run)."""
        return self._rank.rank

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that writes the experiment's own files."""
        return self._rank.rank == 0

    def _require_running(self, what: str) -> None:
        if self._finished and self._folder is not None:
            raise ExperimentFinishedError(
                f"{what}() was called after experiment {self.experiment_id} "
                f"finished; its folder {self._folder} is no longer recorded into"
            )

    def child(
        self,
        args: Mapping[str, Any] | None = None,
        name: str | None = None,
        *,
        default_args: Mapping[str, Any] | None = None,
        description: str = "",
    ) -> Experiment:
        """Start a child run: a sibling experiment whose metadata names this one.

        Spec §14.3. ``name`` gives it the id ``<this id>.<name>``; without it
        the next integer id. Use it as ``with experiment.child(...) as run:``.
        """
        from .children import start_child

        return start_child(self, args, name, default_args, description)

    # -- the end -------------------------------------------------------------

    def finish(self, status: str = SUCCESS) -> None:
        """End the recording now (later ends are then ignored).

        ``status`` is the STATUS text, SUCCESS by default; meticulous-ml's
        ``finish("ERROR\\n...")`` records ERROR with that message.
        """
        if status == SUCCESS:
            self._end(SUCCESS, "", 0)
        else:
            from .compat import outcome_of_status

            self._end(*outcome_of_status(status))

    @property
    def metadata(self) -> dict[str, Any]:
        """What ``metadata.json`` holds (empty with norecord), as meticulous-ml had it."""
        return dict(getattr(self, "_metadata", {}))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self._end(SUCCESS, "", 0)
            return
        from .lifecycle import outcome_of_exception, traceback_text

        outcome = outcome_of_exception(kind, value, tb)
        # The traceback reaches the terminal only after the block, when the
        # capture has ended: the stderr file gets its copy here.
        self._end(*outcome, stderr_text=traceback_text(kind, value, tb))

    def _end(
        self, word: str, message: str, exit_code: int, stderr_text: str = ""
    ) -> None:
        """6. The terminal STATUS, then the end in ``metadata.json``, once."""
        running.leave(self)
        if self._finished or self._record is None:
            return
        if os.getpid() != self._owner_pid:
            return  # a forked child: the end of the run is its parent's to record
        if self._children:
            from .children import end_children

            end_children(self, word, message, exit_code)
        self._finished = True
        failures = self._stop_watching()
        record, metadata = self._record, self._metadata
        try:
            if stderr_text:
                from .capture import append_output

                append_output(record / STDERR_FILE, stderr_text)
            if self._environment is not None:
                self._environment.end(metadata, record)
            if self._rank.distributed and self._rank.rank == 0:
                from .rankends import main_rank_end

                assert self._folder is not None
                word, message, metadata["ranks"] = main_rank_end(
                    self._folder, self._rank.world_size, word, message
                )
            write_status(record, word, message)
            metadata.update({"end-timestamp": now(), "exit-code": exit_code})
            write_json_atomic(record / METADATA_FILE, metadata)
        except OSError as error:
            raise folders.failed_end(record, word, error) from None
        finally:
            if self._metrics is not None:
                self._metrics.close()
                self._metrics = None  # log() now says the run is over
            self._release_lock()
        if failures:
            raise failures[0]

    def _end_at_exit(self, word: str, message: str, exit_code: int) -> None:
        """The end seen by the exit hooks: one line, no traceback, if the disk
        refuses the last words (spec 12.2)."""
        try:
            self._end(word, message, exit_code)
        except OSError as error:
            print(f"meticulous: {error.strerror or error}", file=sys.stderr, flush=True)

    def _stop_watching(self) -> list[BaseException]:
        """Every part of step 5 stopped; the failure to raise, if any."""
        return [] if self._watch is None else self._watch.stop()

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __repr__(self) -> str:
        if self.norecord:
            return "Experiment(norecord=True)"
        return f"Experiment(experiment_id={self.experiment_id!r}, curexpdir={self.curexpdir!r})"
