"""How the process ends: the one terminal status an experiment must record.

Python has no single place that sees every way a program ends, so four
hooks are combined, all installed when the experiment starts and restored
when it finishes (each only if nobody replaced it in between):

* ``sys.excepthook``: an uncaught exception (ERROR with its traceback) or
  KeyboardInterrupt (INTERRUPTED, SIGINT). The previous hook runs first, so
  the traceback still reaches the terminal and the ``stderr`` file.
* ``sys.exit``: the exit status, which atexit handlers are not told; it is
  wrapped to remember the status, then exits as before. (A bare ``raise
  SystemExit(n)`` bypasses it; the context manager sees that case.)
* ``atexit``: the interpreter is ending; the outcome observed above, or
  SUCCESS, is recorded here, after the user's own later atexit handlers.
* SIGTERM, SIGHUP (and SIGINT when Python's KeyboardInterrupt handler is not
  in place), only where they would kill the process (their handler is
  SIG_DFL): the experiment records INTERRUPTED, then the signal is raised
  again with the previous handler, so the parent sees death by that signal
  (exit status -15 etc.) exactly as unrecorded. Handlers can only be
  installed from the main thread; elsewhere this part is skipped.

Every hook first checks the pid: a process forked by multiprocessing
inherits them, and must not end the parent's experiment.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from .status import ERROR, INTERRUPTED, SUCCESS

OnEnd = Callable[[str, str, int], None]
_WATCHED_SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")


class EndOfRun:
    """Calls ``on_end(word, message, exit_code)`` when the process ends."""

    def __init__(self, on_end: OnEnd) -> None:
        self._on_end = on_end
        self._pid = os.getpid()
        self._exit_status: Any = None
        self._exit_called = False
        self._uncaught: tuple[str, str, int] | None = None
        self._previous_excepthook: Any = None
        self._previous_exit: Any = None
        self._previous_handlers: dict[int, Any] = {}

    def install(self) -> None:
        self._previous_excepthook = sys.excepthook
        sys.excepthook = self._excepthook
        self._previous_exit = sys.exit
        sys.exit = self._exit  # type: ignore[assignment] # ours returns when exit is vetoed
        atexit.register(self._atexit)
        if threading.current_thread() is threading.main_thread():
            for name in _WATCHED_SIGNALS:
                signum = getattr(signal, name, None)
                if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
                    self._previous_handlers[signum] = signal.SIG_DFL
                    signal.signal(signum, self._on_signal)

    def uninstall(self) -> None:
        """Put back every hook that is still ours."""
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_excepthook
        if sys.exit == self._exit:
            sys.exit = self._previous_exit
        atexit.unregister(self._atexit)
        if threading.current_thread() is threading.main_thread():
            for signum, previous in self._previous_handlers.items():
                if signal.getsignal(signum) == self._on_signal:
                    signal.signal(signum, previous)

    def _ours(self) -> bool:
        return os.getpid() == self._pid

    def _excepthook(self, kind: type, value: BaseException, tb: Any) -> None:
        self._previous_excepthook(kind, value, tb)
        if self._ours():
            self._uncaught = outcome_of_exception(kind, value, tb)

    def _exit(self, status: Any = None) -> None:
        if self._ours() and threading.current_thread() is threading.main_thread():
            self._exit_called = True
            self._exit_status = status
        self._previous_exit(status)

    def _atexit(self) -> None:
        if not self._ours():
            return
        if self._uncaught is not None:
            self._on_end(*self._uncaught)
        elif self._exit_called:
            self._on_end(*outcome_of_exit(self._exit_status))
        else:
            self._on_end(SUCCESS, "", 0)

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._ours():
            self._on_end(INTERRUPTED, f"signal {signal.Signals(signum).name}", -signum)
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


def outcome_of_exit(status: Any) -> tuple[str, str, int]:
    """What ``sys.exit(status)`` means, as Python itself interprets it."""
    if status is None:
        return SUCCESS, "", 0
    if isinstance(status, int):
        if status == 0:
            return SUCCESS, "", 0
        return ERROR, f"exit code {int(status)}", int(status)
    return ERROR, "exit code 1", 1  # sys.exit("message") prints it, exits 1


def outcome_of_exception(
    kind: type[BaseException], value: BaseException | None, tb: TracebackType | None
) -> tuple[str, str, int]:
    """STATUS word, message and exit code of an exception ending the run.

    Nothing may be imported here: an import inside ``sys.excepthook`` makes
    CPython forget that KeyboardInterrupt ended the program, and exit with 1
    instead of dying by SIGINT (so ``traceback`` is imported at the top).
    """
    if issubclass(kind, SystemExit):
        return outcome_of_exit(value.code if isinstance(value, SystemExit) else None)
    text = traceback_text(kind, value, tb)
    if issubclass(kind, KeyboardInterrupt):
        return INTERRUPTED, f"signal SIGINT\n{text}", -int(signal.SIGINT)
    return ERROR, text, 1


def traceback_text(
    kind: type[BaseException], value: BaseException | None, tb: TracebackType | None
) -> str:
    """The traceback Python prints for this exception; none for SystemExit."""
    if issubclass(kind, SystemExit):
        return ""
    return "".join(traceback.format_exception(kind, value, tb))
