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
inherits them, and must not end the parent's experiment. A forked child
also gets back the default dispositions the hooks replaced, with the
signals held blocked across the fork so that none is lost: CPython
discards a Python-level signal that reaches a child before its after-fork
code has run, and runs one only between bytecodes, so a SIGTERM that
``Pool.terminate()`` sends to a worker still starting up (or already
blocked in C, waiting for its queue's lock) is never acted on, and the
pool waits for that worker forever. The kernel acts on a default
disposition at once, as it would unrecorded.
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

# The hooks installed in this process, for the fork handlers (which cannot
# be unregistered, so they are registered once, on first use), and the
# signal mask each forking thread had before its fork.
_installed: set[EndOfRun] = set()  # until uninstall
_fork_handlers_registered = False
_masks_before_fork: dict[int, Any] = {}


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
        _watch_forks(self)

    def uninstall(self) -> None:
        """Put back every hook that is still ours."""
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_excepthook
        if sys.exit == self._exit:
            sys.exit = self._previous_exit
        atexit.unregister(self._atexit)
        _installed.discard(self)
        if threading.current_thread() is threading.main_thread():
            self._restore_signals()

    def _restore_signals(self) -> None:
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


def _watch_forks(hooks: EndOfRun) -> None:
    global _fork_handlers_registered
    if not _fork_handlers_registered and hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_block_signals_for_fork,
            after_in_parent=_unblock_signals_after_fork,
            after_in_child=_give_back_signals_in_child,
        )
        _fork_handlers_registered = True
    _installed.add(hooks)


def _replaced_signals() -> set[int]:
    return {signum for hooks in list(_installed) for signum in hooks._previous_handlers}


def _block_signals_for_fork() -> None:
    """Hold the replaced signals pending across the fork (this thread only)."""
    replaced = _replaced_signals()
    if replaced and hasattr(signal, "pthread_sigmask"):
        ident = threading.get_ident()
        _masks_before_fork[ident] = signal.pthread_sigmask(signal.SIG_BLOCK, replaced)


def _unblock_signals_after_fork() -> None:
    mask = _masks_before_fork.pop(threading.get_ident(), None)
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _give_back_signals_in_child() -> None:
    """In a forked child: the default dispositions first, then the signals.

    The child's signal is never the run's end (``_on_signal`` would only
    raise it again with the default), and one that arrived during the fork
    was held pending: unblocked now, it ends the child at once.
    """
    for hooks in list(_installed):
        try:
            hooks._restore_signals()
        except ValueError:  # not the main thread: nothing was installed there
            pass
    _unblock_signals_after_fork()
    _masks_before_fork.clear()  # other threads' forks in the parent, not ours


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
