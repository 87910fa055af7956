"""The failure records of a run: one per task that raised on every try, kept until it succeeds.

A run hands :class:`FailureLog` the records its store holds (on resume) and how to write them
back; the log adds a record for each :class:`~sweep.execution.runner.Failure` (its identity,
attempts, error, traceback and the UTC time), drops the record of a task that later finishes,
and writes the records whenever they change. The store's status arrays stay authoritative:
a record is the traceback that explains a status, never the other way round.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping

from .runner import Failure


class FailureLog:
    """Failure records keyed by task identity (the record's ``key`` field: the task's
    ``index``), written through ``write(records)`` whenever they change."""

    def __init__(self, records: Iterable[Mapping], *, key: str,
                 write: Callable[[list[dict]], None]):
        self.key = key
        self.records: dict[tuple, dict] = {tuple(r[key]): dict(r) for r in records}
        self._write = write
        self._dirty = False

    def failed(self, failure: Failure, **extra) -> None:
        """Record ``failure`` (with ``extra`` fields after its identity) and write the
        records."""
        index = tuple(failure.task.index)
        self.records[index] = {
            self.key: list(index), **extra, "attempts": failure.attempts, "error": failure.error,
            "traceback": failure.traceback,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        self._write(list(self.records.values()))
        self._dirty = False

    def done(self, index) -> None:
        """The task ``index`` finished: its record, if any, goes."""
        if self.records.pop(tuple(index), None) is not None:
            self._dirty = True

    def drop(self, settled: Callable[[dict], bool]) -> None:
        """Drop every record for which ``settled(record)`` (its work was finished by another
        task, e.g. a larger one of a resumed run)."""
        for index, record in list(self.records.items()):
            if settled(record):
                del self.records[index]
                self._dirty = True

    def flush(self) -> None:
        """Write the records if they changed since the last write."""
        if self._dirty:
            self._write(list(self.records.values()))
            self._dirty = False
