"""The prepared structures a process keeps: every task that runs here (the calling thread, a
thread pool, a process-pool or Dask worker process) shares them, so that the bands, overlaps and
DOS tables of a structure are built once per process, not once per task."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

import solver
from solver.parameters import STRUCTURE


class OnStructure:
    """What a task on one structure knows of it (a mixin of frozen dataclasses with fields
    ``L``, ``W`` (Å), ``V`` (meV) and ``model``, the ``[model]`` options as sorted items)."""

    def structure_params(self) -> dict[str, object]:
        """Keyword arguments of :func:`solver.prepare_structure` for this task."""
        params = {k: v for k, v in self.model if k in STRUCTURE}
        params.update(L=self.L, W=self.W, V=self.V)
        return params

    def model_params(self) -> dict[str, object]:
        """The ``[model]`` options that are not the structure's (pairing, Tc search)."""
        return {k: v for k, v in self.model if k not in STRUCTURE}

STRUCTURES_PER_PROCESS = 8
"""Prepared structures a process keeps (~1 MB each): the tasks of one structure usually arrive
together (:mod:`sweep.execution.dealer` sends them to the worker that holds it), so a few
suffice to avoid recomputing bands, overlaps and DOS tables per task."""


class StructureCache:
    """The most recently used prepared structures (bands, overlaps, DOS tables), by parameters.

    Thread-safe: the lock guards the mapping only, so two threads may build the same structure
    at once (both results are equal; the later one is kept) but never wait on each other's
    builds.
    """

    def __init__(self, size: int = STRUCTURES_PER_PROCESS):
        self.size = size
        self._structures: OrderedDict[tuple, solver.Structure] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, params: Mapping[str, object]) -> solver.Structure:
        """The prepared structure of ``params`` (keyword arguments of
        :func:`solver.prepare_structure`), built on a miss."""
        return self.get_timed(params)[0]

    def get_timed(self, params: Mapping[str, object]) -> tuple[solver.Structure, float | None]:
        """Like :meth:`get`, and the seconds spent building it (None: it was cached)."""
        key = tuple(sorted(params.items()))
        with self._lock:
            st = self._structures.get(key)
            if st is not None:
                self._structures.move_to_end(key)
                return st, None
        t0 = time.perf_counter()
        st = solver.prepare_structure(**params)
        seconds = time.perf_counter() - t0
        with self._lock:
            self._structures[key] = st
            while len(self._structures) > self.size:
                self._structures.popitem(last=False)
        return st, seconds

    def __len__(self) -> int:
        return len(self._structures)


STRUCTURES = StructureCache()
"""This process's cache: shared by every task that runs here (the calling thread, a thread
pool, a process-pool or Dask worker process). A cache, not a setting: it changes no result."""
