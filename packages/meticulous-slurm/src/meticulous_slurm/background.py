"""Work that goes on while the sweep does something else.

Most of a submission is waiting: for ``git``, ``sinfo`` and ``scontrol``
to answer, and for the file system to create a thousand folders. A thread
waits without holding the GIL, so the independent parts run side by side
(the folders are written while submitit pickles the tasks, say) instead of
one after the other. Nothing here is shared between the threads but the
result: each call works on its own files and processes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

Result = TypeVar("Result")


class Background(Generic[Result]):
    """``function(*args, **kwargs)`` running in a thread from now on.

    :meth:`wait` returns its result or raises its exception, as often as it
    is called. The thread is a daemon: an error that ends the process while
    it runs (bad input found meanwhile) is not held up by it.
    """

    def __init__(
        self, function: Callable[..., Result], /, *args: Any, **kwargs: Any
    ) -> None:
        self._result: Result | None = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._result = function(*args, **kwargs)
            except BaseException as error:  # noqa: BLE001 - raised by wait(), in the caller
                self._error = error

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def wait(self) -> Result:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value] # set when no error

    def settle(self) -> None:
        """Wait for the end, whatever it is (before undoing what it did)."""
        with contextlib.suppress(Exception):
            self.wait()


def run_concurrently(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result, in order, the calls made at the same time."""
    if len(calls) == 1:
        return [calls[0]()]
    running = [Background(call) for call in calls]
    for task in running:
        task.settle()  # every one ended before any error is raised
    return [task.wait() for task in running]
