"""What runs beside the user's code while a process records (spec 3, steps 4-5).

Started in this order, stopped in the reverse one: the heartbeat (spec
2.7), the exit hooks (``lifecycle``), then ``STATUS`` ``RUNNING``, the
capture of stdout and stderr at the descriptor and at the stream
(``capture``), the metrics log and the fork watch (``forks``). The exit
hooks come before RUNNING: a SIGTERM sent the moment the folder says
RUNNING is recorded as INTERRUPTED, not left to look DEAD.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING

from .status import RUNNING, write_status

if TYPE_CHECKING:
    from pathlib import Path

    from .claim import Claim
    from .lifecycle import OnEnd
    from .metrics import MetricsLog


class Watch:
    """The parts :meth:`start` set going for one record, and their undoing."""

    def __init__(self) -> None:
        self._stoppers = ExitStack()  # what started, stopped in reverse order
        self.running = False  # this watch wrote RUNNING

    def start(
        self, record: Path, host: str, pid: int, claim: Claim | None, on_end: OnEnd
    ) -> MetricsLog:
        """Start every part, in the order above; the run's metrics log.

        A part that fails to start leaves the ones before it running, for
        :meth:`stop` to undo.
        """
        from .capture import DescriptorTee, StreamTee
        from .heartbeat import Heartbeat
        from .lifecycle import EndOfRun
        from .metrics import MetricsLog

        heartbeat = Heartbeat(record, host, pid, claim)
        heartbeat.start()
        self._stoppers.callback(heartbeat.stop)
        hooks = EndOfRun(on_end)
        hooks.install()
        self._stoppers.callback(hooks.uninstall)
        write_status(record, RUNNING)
        self.running = True
        for fd, name in ((1, "stdout"), (2, "stderr")):
            for tee in (
                DescriptorTee(fd, record / name),
                StreamTee(name, fd, record / name),
            ):
                tee.start()
                self._stoppers.callback(tee.stop)
        metrics = MetricsLog(record)
        from . import forks

        forks.watch(metrics)
        self._stoppers.callback(forks.unwatch, metrics)
        return metrics

    def stop(self) -> list[BaseException]:
        """Stop hooks, capture and heartbeat, all of them even if one fails
        (the ExitStack calls every callback); the failure, if any."""
        try:
            self._stoppers.close()
        except Exception as error:  # noqa: BLE001 - the end is written first, then raised
            return [error]
        return []
