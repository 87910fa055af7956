"""Which refine task runs when, and where (no Dask, no I/O).

A refinement's tasks depend on each other and on the grid: a block of curves needs its
structure's grid values, the top of a dome needs the refined maxima of all its curves. The
:class:`RefineDealer` releases each task once what it needs is there: a structure's curve
blocks when its grid is done (:meth:`RefineDealer.grid_done`; at once for a finished store),
a dome's top when its last curve block has finished, or with the block when one block is all
the dome's curves (a design store's few g: one task, one read and one write of the store). It
hands each worker the tasks of the structure that worker already holds prepared (its last
few, as the grid's dealer :class:`sweep.execution.dealer.StructureDealer` gave them out), tops
before curves (a top ends its dome), and only then opens another structure: a structure is
prepared about once per refinement, not once per task. It is the source of a
:func:`sweep.execution.runner.run_tasks` run (``take``, ``finished``, ``waiting``) on its own,
or inside a sweep's run (:mod:`sweep.run.service`).
"""
from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from ..execution.dealer import HeldStructures

Key = tuple[int, int, int]
"""A structure by its indices (iL, iW, iV)."""


class RefineDealer:
    """Refine tasks in dependency order and with structure affinity (see the module).

    ``curves``: the curve blocks to refine, ``(iL, iW, iV, io, g_start, g_stop)``; ``tops``:
    the domes whose top to search, ``(iL, iW, iV, io)`` (each after its curve blocks among
    ``curves``); ``make_curve_task(index)``, ``make_top_task(index)``: the tasks;
    ``grid_pending``: structures whose grid is not done yet (their tasks wait for
    :meth:`grid_done`); ``held_per_worker``: how many structures a worker keeps prepared;
    ``g_size``: the store's number of g (0: unknown), so that the one block of a dome that
    spans them all carries the dome's top (``make_curve_task(index, with_top=True)``).
    """

    def __init__(self, *, curves: Iterable[tuple[int, ...]], tops: Iterable[tuple[int, ...]],
                 make_curve_task: Callable[[tuple[int, ...]], object],
                 make_top_task: Callable[[tuple[int, ...]], object],
                 grid_pending: Iterable[Key] = (), held_per_worker: int = 1,
                 g_size: int = 0):
        self.make_curve_task = make_curve_task
        self.make_top_task = make_top_task
        self.g_size = g_size
        self._blocked: set[Key] = set(grid_pending)
        self._curves: dict[Key, list[tuple[int, ...]]] = {}
        self._blocks_left: dict[tuple[int, ...], int] = {}
        for c in curves:
            c = tuple(int(i) for i in c)
            self._curves.setdefault(c[:3], []).append(c)
            self._blocks_left[c[:4]] = self._blocks_left.get(c[:4], 0) + 1
        self._tops = {tuple(int(i) for i in t) for t in tops}
        self._ready: OrderedDict[Key, deque] = OrderedDict()
        self._held = HeldStructures(held_per_worker)
        for key in list(self._curves):
            if key not in self._blocked:
                self._release(key)
        for top in sorted(self._tops):
            if top[:3] not in self._blocked and not self._blocks_left.get(top):
                self._ready.setdefault(top[:3], deque()).appendleft(("top", top))

    # ------------------------------------------------------------------ what the grid says

    def grid_done(self, key: Key) -> None:
        """The grid of structure ``key`` is complete: its curve blocks (and the tops of domes
        without any) are released."""
        if key in self._blocked:
            self._blocked.discard(key)
            self._release(key)
            for top in sorted(t for t in self._tops if t[:3] == key
                              and not self._blocks_left.get(t)):
                self._ready.setdefault(key, deque()).appendleft(("top", top))

    def grid_failed(self, key: Key) -> None:
        """The grid of structure ``key`` will not be complete in this run: its refinement
        is dropped (a later run refines it)."""
        self._blocked.discard(key)
        for c in self._curves.pop(key, []):
            self._blocks_left.pop(c[:4], None)
        self._tops = {t for t in self._tops if t[:3] != key}

    def _release(self, key: Key) -> None:
        blocks = self._curves.get(key, [])
        if blocks:
            self._ready.setdefault(key, deque()).extend((self._kind(c), c) for c in blocks)

    def _kind(self, block: tuple[int, ...]) -> str:
        """``curves+top`` for the one block of a dome that spans its g axis (the dome's top,
        taken out of the tops to release, goes with it), else ``curves``."""
        dome = block[:4]
        if (self.g_size and block[4:] == (0, self.g_size) and dome in self._tops
                and self._blocks_left.get(dome) == 1):
            self._tops.discard(dome)
            return "curves+top"
        return "curves"

    @property
    def grid_pending(self) -> list[Key]:
        """The structures whose tasks wait for their grid, in store order."""
        return sorted(self._blocked)

    # -------------------------------------------------------------------- a runner's source

    def take(self, worker: object = None, *, workers: int = 1, held_only: bool = False,
             held: Iterable[Key] = ()):
        """The next ready task for ``worker``: of a structure it holds first (``held``: more
        structures it holds, e.g. from the grid's dealer), else of the structure with the most
        ready tasks (None with ``held_only``); None when none is ready."""
        for key in [*self._held.of(worker), *held]:
            if self._ready.get(key):
                return self._hand_out(worker, key)
        if held_only or not self._ready:
            return None
        key = max(self._ready, key=lambda k: len(self._ready[k]))
        return self._hand_out(worker, key)

    def _hand_out(self, worker: object, key: Key):
        queue = self._ready[key]
        kind, index = queue.popleft()
        if not queue:
            del self._ready[key]
        self._held.handed(worker, key)
        if kind == "top":
            return self.make_top_task(index)
        if kind == "curves+top":
            return self.make_curve_task(index, with_top=True)
        return self.make_curve_task(index)

    def finished(self, outcome) -> None:
        """A refine task finished (``outcome.index``): the top of its dome is released after
        the dome's last curve block."""
        self._settle(tuple(outcome.index), ok=True)

    def failed(self, index: tuple[int, ...]) -> None:
        """A refine task failed for good: the top of its dome is dropped."""
        self._settle(tuple(index), ok=False)

    def _settle(self, index: tuple[int, ...], *, ok: bool) -> None:
        if len(index) != 6:  # a top: nothing depends on it
            return
        dome = index[:4]
        if not ok:
            self._blocks_left.pop(dome, None)
            self._tops.discard(dome)
            return
        left = self._blocks_left.get(dome, 0) - 1
        if left > 0:
            self._blocks_left[dome] = left
            return
        self._blocks_left.pop(dome, None)
        if dome in self._tops:
            self._ready.setdefault(dome[:3], deque()).appendleft(("top", dome))

    def waiting(self) -> bool:
        """Whether tasks not ready now will be released later (by the grid or by curve blocks
        still to finish)."""
        return bool(self._blocked) or any(t[:4] in self._blocks_left or t[:3] in self._blocked
                                          for t in self._tops)
