"""Which tasks go to which worker: structure affinity and measured task sizes (no Dask, no I/O).

A worker prepares a structure (L, W, V: bands, overlaps, DOS tables) once and keeps its last few
in a cache (:mod:`sweep.worker.structures`); a task of another structure makes it prepare that
one. :class:`StructureDealer` hands each worker the store chunks of *its* structure: a worker
that asks first gets a structure of its own (the next one in store order), keeps it until its
chunks are all handed out, then takes the next unopened structure; only when none is left does
it help with the structure that has the most points left, preferring one it prepared before. A
run over S structures on W workers then prepares each structure about once, plus about one
structure per worker at the end (and W per structure when S < W: every worker must hold one to
work).

Each hand-out is a rectangle of whole store chunks of one structure, as many points as
:func:`sweep.execution.sizing.task_points` asks for from the measured cost (one store chunk per
task until the first task has finished, or always when ``sizing`` is None). The dealer is the
source of a :func:`sweep.execution.runner.run_tasks` run: ``take(worker, workers=n)`` and
``finished(outcome)``.
"""
from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable

from ..config import TaskSizing
from ..grid import AXES, ChunkPlan
from .sizing import PointCost, task_points


class HeldStructures:
    """Which structures each worker holds prepared, as its cache of ``size`` structures does:
    the last ones it was handed (:meth:`handed`), most recent first (:meth:`of`)."""

    def __init__(self, size: int):
        self.size = max(1, size)
        self._by_worker: dict[object, OrderedDict] = {}

    def handed(self, worker: object, key) -> None:
        """``worker`` was handed a task of structure ``key``."""
        held = self._by_worker.setdefault(worker, OrderedDict())
        held[key] = True
        held.move_to_end(key)
        while len(held) > self.size:
            held.popitem(last=False)

    def of(self, worker: object) -> list:
        """The structures ``worker`` holds, the most recently handed first."""
        return list(reversed(self._by_worker.get(worker, ())))


class _Structure:
    """The chunks of one structure not handed out yet, as block indices (omega0, g, eta)."""

    def __init__(self, key: tuple[int, int, int], blocks: list[tuple[int, int, int]],
                 numblocks: tuple[int, int, int], points: int):
        self.key = key
        self.order = blocks  # store order (C order of the block grid)
        self.left = set(blocks)
        self.cursor = 0
        self.numblocks = numblocks
        self.points_left = points

    def cut(self, n_blocks: int) -> tuple[tuple[int, int], ...]:
        """Take a rectangle of at most ``n_blocks`` remaining blocks from the front: a run
        along eta, whole eta rows along g when it holds whole rows, whole planes along omega0
        when it holds whole planes. Returns (start, stop) in blocks per (omega0, g, eta)."""
        while self.order[self.cursor] not in self.left:
            self.cursor += 1
        o, g, e = self.order[self.cursor]
        no, ng, ne = self.numblocks
        left = self.left
        m = 1
        while m < n_blocks and e + m < ne and (o, g, e + m) in left:
            m += 1
        r = p = 1
        if e == 0 and m == ne:
            while (g + r < ng and (r + 1) * ne <= n_blocks
                   and all((o, g + r, j) in left for j in range(ne))):
                r += 1
            if g == 0 and r == ng:
                while (o + p < no and (p + 1) * ne * ng <= n_blocks
                       and all((o + p, i, j) in left for i in range(ng) for j in range(ne))):
                    p += 1
        for b in itertools.product(range(o, o + p), range(g, g + r), range(e, e + m)):
            left.discard(b)
        return (o, o + p), (g, g + r), (e, e + m)


class StructureDealer:
    """Hands out tasks, structure by structure, to the workers that ask (see the module).

    ``plan``: the store's chunks; ``chunks``: the block indices to compute, structure-major (as
    :meth:`ChunkPlan.chunks` or :func:`sweep.store.chunks_to_do` yield them), read one
    structure at a time; ``make_task(index, region)``: the task of a rectangle (``index`` its
    first block, ``region`` a slice per axis of :data:`sweep.grid.AXES`); ``points``: the
    points of ``chunks``; ``sizing``: measured task sizes, None for one store chunk a task;
    ``held_per_worker``: how many structures a worker keeps prepared (its cache's size).
    """

    def __init__(self, *, plan: ChunkPlan, chunks: Iterable[tuple[int, ...]],
                 make_task: Callable[[tuple[int, ...], dict[str, slice]], object],
                 points: int, held_per_worker: int, sizing: TaskSizing | None = None):
        self.plan = plan
        self.make_task = make_task
        self.sizing = sizing
        self.cost = PointCost()
        self.points_left = points
        self._stream = itertools.groupby(chunks, key=lambda index: tuple(index[:3]))
        self._open: dict[tuple[int, int, int], _Structure] = {}
        self._current: dict[object, tuple[int, int, int]] = {}
        self._held = HeldStructures(held_per_worker)
        self._chunk_points = math.prod(plan.chunk[a] for a in AXES)

    def take(self, worker: object = None, *, workers: int = 1):
        """The next task for ``worker`` (any hashable name; None: no placement), or None when
        every chunk has been handed out. ``workers``: worker threads of the cluster."""
        s = self._open.get(self._current.get(worker))
        if s is None:
            s = self._next_structure() or self._steal(worker)
            if s is None:
                return None
            self._current[worker] = s.key
            self._held.handed(worker, s.key)
        (o0, o1), (g0, g1), (e0, e1) = s.cut(self._blocks_per_task(workers))
        index = (*s.key, o0, g0, e0)
        region = self.plan.region(index)
        for a, (lo, hi) in zip(AXES[3:], ((o0, o1), (g0, g1), (e0, e1))):
            c = self.plan.chunk[a]
            region[a] = slice(lo * c, min(hi * c, self.plan.shape[a]))
        n = math.prod(r.stop - r.start for r in region.values())
        s.points_left -= n
        self.points_left -= n
        if not s.left:
            del self._open[s.key]
        return self.make_task(index, region)

    def finished(self, outcome) -> None:
        """Learn the cost of a point from a finished task's outcome (``seconds``,
        ``n_points``, ``build_s``)."""
        self.cost.add(seconds=outcome.seconds, points=outcome.n_points,
                      build_s=getattr(outcome, "build_s", 0.0))

    def dealing(self, key: tuple[int, int, int]) -> bool:
        """Whether structure ``key`` (iL, iW, iV) has chunks not handed out yet, as far as the
        dealer has read (a structure it has not reached yet is not being dealt)."""
        return key in self._open

    def _blocks_per_task(self, workers: int) -> int:
        point_s = self.cost.point_s
        if self.sizing is None or point_s is None:
            return 1
        n = task_points(self.sizing, point_s=point_s, workers=workers,
                        points_left=self.points_left)
        return max(1, round(n / self._chunk_points))

    def _next_structure(self) -> _Structure | None:
        for key, indices in self._stream:
            blocks = [tuple(i[3:]) for i in indices]
            if not blocks:
                continue
            points = sum(self.plan.n_points_in((*key, *b)) for b in blocks)
            s = _Structure(key, blocks, self.plan.numblocks[3:], points)
            self._open[key] = s
            return s
        return None

    def _steal(self, worker: object) -> _Structure | None:
        """The open structure with the most points left, preferring one ``worker`` held."""
        if not self._open:
            return None
        held = self._held.of(worker)
        mine = [s for k, s in self._open.items() if k in held]
        return max(mine or self._open.values(), key=lambda s: s.points_left)

