"""A sweep's grid and its refinement as one stream of tasks: each structure is refined as soon
as its grid is done, on the workers that hold it, while the other structures' chunks run.

:class:`SweepAndRefine` is the task source of a :func:`sweep.execution.runner.run_tasks` run.
It deals the grid's chunks with :class:`sweep.execution.dealer.StructureDealer` and the refine
tasks with :class:`sweep.refine.dealer.RefineDealer`, whose structures it releases when their
last chunk has finished: a worker first takes refine tasks of a structure it holds, then grid
chunks, then refine tasks of any structure. Refine tasks travel as :class:`RefineStep`\\ s,
named apart from the grid's chunks and counting none of its points; :func:`compute_step` runs
either kind.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..execution.dealer import HeldStructures, StructureDealer
from ..refine.service import Refinement, compute_refine_task
from ..refine.tasks import RefineOutcome, RefineTask
from .tasks import compute_chunk


@dataclass(frozen=True)
class RefineStep:
    """A refine task (a curve block or a dome's top) inside a sweep's run."""

    task: RefineTask

    @property
    def index(self) -> tuple:
        """The task's identity, apart from every grid chunk's."""
        return ("refine", *self.task.index)

    n_points = 0
    """Grid points: none (the progress and counts of a run are its grid's)."""


@dataclass(frozen=True)
class RefineStepOutcome:
    """What a :class:`RefineStep` sends back: the refine task's outcome, and no grid points."""

    outcome: RefineOutcome
    n_points: int = 0

    @property
    def index(self) -> tuple:
        return ("refine", *self.outcome.index)

    @property
    def seconds(self) -> float:
        return self.outcome.seconds


def compute_step(task, *, chunk=compute_chunk):
    """Run a grid chunk with ``chunk`` (a sweep's task function), or a :class:`RefineStep`
    (runs where the task runs)."""
    if isinstance(task, RefineStep):
        return RefineStepOutcome(compute_refine_task(task.task))
    return chunk(task)


class SweepAndRefine:
    """The grid's chunks and the refinement's tasks of one run (see the module).

    ``grid``: the dealer of the chunks to compute; ``refinement``: the refine work of the store,
    made with ``after_grid=True`` (every structure waits for its grid). Structures without
    chunks to compute (a resumed store's finished ones) are released when the grid's dealer
    passes them, or once it has handed out every chunk.
    """

    def __init__(self, *, grid: StructureDealer, refinement: Refinement, held_per_worker: int):
        self.grid = grid
        self.refinement = refinement
        self._waiting = refinement.dealer.grid_pending
        self._opened: set[tuple] = set()
        self._handed: Counter = Counter()  # grid points handed out, per structure
        self._done: Counter = Counter()  # grid points finished, per structure
        self._failed: set[tuple] = set()
        self._held = HeldStructures(held_per_worker)
        self._grid_dealt = False

    def take(self, worker: object = None, *, workers: int = 1):
        held = self._held.of(worker)
        task = self.refinement.take(worker, workers=workers, held_only=True, held=held)
        if task is not None:
            return RefineStep(task)
        if not self._grid_dealt:
            chunk = self.grid.take(worker, workers=workers)
            if chunk is not None:
                self._dealt(worker, chunk)
                return chunk
            self._grid_dealt = True
            self._release_before(None)
        task = self.refinement.take(worker, workers=workers)
        return None if task is None else RefineStep(task)

    def _dealt(self, worker: object, chunk) -> None:
        key = tuple(chunk.index[:3])
        if key not in self._opened:
            self._opened.add(key)
            self._release_before(key)
        self._handed[key] += chunk.n_points
        self._held.handed(worker, key)

    def _release_before(self, key: tuple | None) -> None:
        """Release the structures before ``key`` (all: None) in store order that the grid's
        dealer passed without a chunk: their grids were done before this run."""
        while self._waiting and (key is None or self._waiting[0] < key):
            k = self._waiting.pop(0)
            if k not in self._opened:
                self.refinement.dealer.grid_done(k)
        if key is not None and self._waiting and self._waiting[0] == key:
            self._waiting.pop(0)

    def finished(self, outcome) -> None:
        if isinstance(outcome, RefineStepOutcome):
            self.refinement.finished(outcome.outcome)
            return
        self.grid.finished(outcome)
        key = tuple(outcome.index[:3])
        self._done[key] += outcome.n_points
        if (key not in self._failed and not self.grid.dealing(key)
                and self._done[key] == self._handed[key]):
            self.refinement.dealer.grid_done(key)

    def failed(self, task) -> None:
        """A task that failed on every try: a chunk drops its structure's refinement from this
        run, a refine task what depends on it."""
        if isinstance(task, RefineStep):
            return  # the refinement heard it (Refinement.on_failed)
        key = tuple(task.index[:3])
        self._failed.add(key)
        self.refinement.dealer.grid_failed(key)

    def waiting(self) -> bool:
        return self.refinement.waiting()
