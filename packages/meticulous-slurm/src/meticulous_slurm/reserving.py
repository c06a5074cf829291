"""A sweep's folders reserved in a child process, while the parent submits.

Reserving a thousand points is a thousand ``mkdir`` and a few thousand
small writes, plus serialising every point: about as much work as
submitit's pickling of the tasks. In a thread the two take turns on the
GIL; in a forked child they run on two cores. The child is forked only
while the parent runs no other thread (no lock can be held by a thread the
child lacks), and it only ever runs the recorder's reservation code:

1. it allocates the ids (``allocate_reservations``) and sends them,
2. it fills every folder (``ReservationBatch.fill``) and says it is done,

each as one JSON line on a pipe, or an error message instead. The parent
builds the tasks meanwhile (with the ids it expects, launch.py); it reads
the first line before it submits them, and the second once they are
submitted: each job waits for its own folder to be whole (job.py, spec §5).

The child ignores SIGINT: a Ctrl-C in the terminal reaches the whole
process group, and the folders are left whole (QUEUED) rather than half
written, as the parent's handling of a Ctrl-C expects. Where ``fork`` is
missing, or other threads run (a caller's), the same two steps run in a
thread instead.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from meticulous.reservation import (
    ReservationBatch,
    allocate_reservations,
    remove_reservations,
)

from .background import Background
from .errors import SubmissionError


class Reservation:
    """The folders of a batch being reserved; see the module docstring."""

    def __init__(
        self,
        directory: Path,
        args_list: Sequence[Mapping[str, Any]],
        keywords: dict[str, Any],
    ) -> None:
        """Start reserving (``allocate_reservations``' arguments)."""
        self.directory = directory
        self._start(args_list, keywords)

    def _start(
        self, args_list: Sequence[Mapping[str, Any]], keywords: dict[str, Any]
    ) -> None:
        raise NotImplementedError

    def ids(self) -> list[str]:
        """The allocated ids (blocks until they are); raises SubmissionError."""
        raise NotImplementedError

    def wait(self) -> None:
        """Return once every folder is whole; raises SubmissionError when
        the batch failed (its folders are then removed)."""
        raise NotImplementedError

    def settle(self) -> None:
        """Wait for the end, whatever it is."""
        try:
            self.ids()
            self.wait()
        except SubmissionError:
            pass

    def cancel(self) -> None:
        """Wait for the end, then remove every folder of the batch: for a
        submission stopped before anything was submitted."""
        self.settle()
        try:
            ids = self.ids()
        except SubmissionError:
            return  # nothing allocated, or removed already
        remove_reservations(self.directory, ids)


def start_reservation(
    experiments_directory: Path,
    args_list: Sequence[Mapping[str, Any]],
    **keywords: Any,
) -> Reservation:
    """Reserve one folder per args dict (``allocate_reservations``' arguments),
    in a child process where that is safe."""
    if hasattr(os, "fork") and threading.active_count() == 1:
        return ForkedReservation(experiments_directory, args_list, keywords)
    return ThreadReservation(experiments_directory, args_list, keywords)


def reservation_failed(error: BaseException | str) -> SubmissionError:
    return SubmissionError(
        f"reserving experiments for the sweep's points failed: {error}"
    )


class ThreadReservation(Reservation):
    def _start(
        self, args_list: Sequence[Mapping[str, Any]], keywords: dict[str, Any]
    ) -> None:
        try:
            self._batch: ReservationBatch = allocate_reservations(
                self.directory, args_list, **keywords
            )
        except Exception as error:
            raise reservation_failed(error) from error
        self._filling = Background(self._batch.fill, sync=False)

    def ids(self) -> list[str]:
        return self._batch.ids

    def wait(self) -> None:
        try:
            self._filling.wait()
        except Exception as error:  # the batch removed its folders
            raise reservation_failed(error) from error


class ForkedReservation(Reservation):
    def _start(
        self, args_list: Sequence[Mapping[str, Any]], keywords: dict[str, Any]
    ) -> None:
        read_end, write_end = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()  # or the child's exit could write them a second time
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_end)
            _reserve_in_child(write_end, self.directory, args_list, keywords)
        os.close(write_end)
        self._pid = pid
        self._pipe = os.fdopen(read_end, "rb")
        self._ids: list[str] | None = None
        self._outcome: str | None = None  # "" once whole, else the error

    def ids(self) -> list[str]:
        if self._ids is None:
            if self._outcome is not None:  # the child said why, and is gone
                raise reservation_failed(self._outcome or "no ids")
            message = self._receive()
            if "ids" not in message:
                self._finish(message.get("error", ""))
                raise reservation_failed(self._outcome or "no ids")
            self._ids = [str(experiment_id) for experiment_id in message["ids"]]
        return self._ids

    def wait(self) -> None:
        ids = self.ids()
        if self._outcome is None:
            self._finish(self._receive().get("error", ""))
            if self._outcome:
                # The batch removes its folders when a write fails; a child
                # killed halfway could not.
                remove_reservations(self.directory, ids)
        if self._outcome:
            raise reservation_failed(self._outcome)

    def _receive(self) -> dict[str, Any]:
        line = self._pipe.readline()
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return {"error": "the reserving process ended without a word"}
        return message

    def _finish(self, error: str) -> None:
        """Note the outcome and reap the child."""
        self._pipe.close()
        _, status = os.waitpid(self._pid, 0)
        if not error and os.waitstatus_to_exitcode(status) != 0:
            error = f"the reserving process failed ({status})"
        self._outcome = error


def _reserve_in_child(
    pipe: int,
    directory: Path,
    args_list: Sequence[Mapping[str, Any]],
    keywords: dict[str, Any],
) -> None:
    """The child's whole life; ends with ``os._exit``, never in the parent's code."""
    exit_code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with os.fdopen(pipe, "w", encoding="utf-8") as parent:

            def send(message: dict[str, Any]) -> None:
                parent.write(json.dumps(message) + "\n")
                parent.flush()

            try:
                batch = allocate_reservations(directory, args_list, **keywords)
            except Exception as error:  # noqa: BLE001 - the parent raises it
                send({"error": str(error)})
            else:
                send({"ids": batch.ids})
                try:
                    batch.fill(sync=False)
                except Exception as error:  # noqa: BLE001 - the batch removed its folders
                    send({"error": str(error)})
                else:
                    send({})
            exit_code = 0
    finally:
        os._exit(exit_code)
