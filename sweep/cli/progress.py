"""Progress of ``fanodome run``: a live bar on a terminal, log lines otherwise.

The runner reports points through the :class:`sweep.execution.runner.Progress` interface
(``add(points, final=False)``); :func:`progress_for` picks the form for stderr: a ``rich`` bar
(points, rate, elapsed, ETA) when stderr is a terminal, the runner's plain lines when it is a
file or a pipe (a batch job's log stays readable).
"""
from __future__ import annotations

import sys
from collections.abc import Callable

from ..execution.runner import Progress


class TerminalProgress:
    """A live ``rich`` progress bar on stderr: points done of all, points/s, elapsed, ETA."""

    def __init__(self, *, total_points: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TaskProgressColumn, \
            TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn("points"), BarColumn(), MofNCompleteColumn(),
                       TaskProgressColumn(), TextColumn("{task.fields[rate]}"),
                       TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                       console=Console(file=sys.stderr), transient=False)
        self.task = self.bar.add_task("sweep", total=total_points, rate="")
        self.bar.start()

    def add(self, n: int, *, final: bool = False) -> None:
        self.bar.advance(self.task, n)
        speed = self.bar.tasks[0].speed
        self.bar.update(self.task, rate=f"{speed:.0f} points/s" if speed else "")
        if final:
            self.close()

    def close(self) -> None:
        self.bar.stop()


def progress_for(stream=None) -> Callable[..., object]:
    """The progress reporter for ``stream`` (default stderr): :class:`TerminalProgress` on a
    terminal, else the runner's log lines."""
    stream = sys.stderr if stream is None else stream
    return TerminalProgress if stream.isatty() else Progress


class Bars:
    """The ``progress`` of a service call (``progress(total_points=N)`` per phase): a reporter
    of :func:`progress_for` each, all closed by :meth:`close` when the call is cut short."""

    def __init__(self):
        self.bars: list = []

    def __call__(self, **kw) -> object:
        self.bars.append(progress_for()(**kw))
        return self.bars[-1]

    def close(self) -> None:
        for bar in self.bars:
            getattr(bar, "close", lambda: None)()
