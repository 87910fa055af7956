"""What one task of a sweep computes: a structure times a block of (omega0, g, eta).

A task is one structure (L, W in Å, V in meV) times a block of (omega0, g, eta), whole store
chunks: one :func:`solver.tc_on_structure` call on the structure's prepared work (kept by the
worker process, :mod:`sweep.worker.structures`; and, with gaps on, one
:func:`solver.gaps.gaps_on_structure` per point whose Tc is ok), then a region write into the
store, done where the task runs so that results never travel through the client. How tasks run
is :mod:`sweep.execution`'s job: a task only names its Dask worker in its outcome.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

import distributed
import numpy as np

import solver

from .. import store as store_mod
from ..config import SECONDS_PER_POINT
from ..flags import STATUS_BELOW_FLOOR, STATUS_OK
from ..grid import AXES, CURVE_AXES
from ..refine.tasks import REFINE_GIL_SHARE, refine_work_s
from ..worker.structures import STRUCTURES, OnStructure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkTask(OnStructure):
    """One task: a structure (L, W in Å, V in meV) and a block of omega0 (meV), g, eta.

    ``index``: block index per axis of :data:`sweep.grid.AXES` (of the first store chunk when
    the task spans several, see :mod:`sweep.execution.dealer`); ``region``: (start, stop) per axis;
    ``model``: the ``[model]`` options; ``store``: where the result goes.
    ``gap_T_over_tc``: temperatures (fractions of Tc) of the gaps to store; empty: none.
    """

    store: str
    index: tuple[int, ...]
    region: tuple[tuple[int, int], ...]
    L: float
    W: float
    V: float
    omega0: tuple[float, ...]
    g: tuple[float, ...]
    eta: tuple[float, ...]
    model: tuple[tuple[str, object], ...]
    storage_options: tuple[tuple[str, object], ...] = ()
    gap_T_over_tc: tuple[float, ...] = ()

    @property
    def n_points(self) -> int:
        return len(self.omega0) * len(self.g) * len(self.eta)

    def region_slices(self) -> dict[str, slice]:
        return {a: slice(lo, hi) for a, (lo, hi) in zip(AXES, self.region)}


@dataclass(frozen=True)
class ChunkOutcome:
    """What a finished task sends back: counts only, never the values."""

    index: tuple[int, ...]
    n_points: int
    n_ok: int
    n_below_floor: int
    seconds: float
    worker: str = ""
    """Where it ran: the Dask worker's address, else ``pid N``."""
    structure_builds: int = 0
    """Structures this task prepared (0: its structure was in the worker's cache)."""
    build_s: float = 0.0
    """Seconds of ``seconds`` spent preparing structures."""


def compute_chunk(task: ChunkTask) -> ChunkOutcome:
    """Run the solver on one task and write it into the store (runs where the task runs)."""
    t0 = time.perf_counter()
    model = task.model_params()
    st, build_s = STRUCTURES.get_timed(task.structure_params())
    r = solver.tc_on_structure(st, eta=np.asarray(task.eta), g=np.asarray(task.g),
                               omega0=np.asarray(task.omega0), **model)
    gaps = _chunk_gaps(st, task, status=r.status, model=model) if task.gap_T_over_tc else {}
    store_mod.write_chunk(store=task.store, region=task.region_slices(), tc=r.tc_K,
                          status=r.status, E_L=float(r.E_L), dE=float(r.dE),
                          E_left_out=st.E_left_out,
                          storage_options=dict(task.storage_options) or None, **gaps)
    n_ok = int(np.count_nonzero(r.status == STATUS_OK))
    n_below = int(np.count_nonzero(r.status == STATUS_BELOW_FLOOR))
    return ChunkOutcome(task.index, task.n_points, n_ok, n_below, time.perf_counter() - t0,
                        worker=worker_name(), structure_builds=int(build_s is not None),
                        build_s=build_s or 0.0)


def worker_name() -> str:
    """The Dask worker this runs on (its address), else this process (``pid N``)."""
    try:
        return distributed.get_worker().address
    except ValueError:
        return f"pid {os.getpid()}"


def _chunk_gaps(st: solver.Structure, task: ChunkTask, *, status: np.ndarray,
                model: Mapping[str, object]) -> dict[str, np.ndarray]:
    """``delta`` (meV; omega0, g, eta, subband, T_over_tc) and ``mu_shift`` (meV; omega0, g,
    eta, T_over_tc) of a task: one gap solve per point whose Tc is ok, NaN elsewhere."""
    from solver.gaps import gaps_on_structure

    nb, nt = st.bottoms.size, len(task.gap_T_over_tc)
    delta = np.full(status.shape + (nb, nt), np.nan)
    mu_shift = np.full(status.shape + (nt,), np.nan)
    for i, j, k in zip(*np.nonzero(status == STATUS_OK)):
        gr = gaps_on_structure(st, eta=task.eta[k], g=task.g[j], omega0=task.omega0[i],
                               T_over_tc=list(task.gap_T_over_tc), **model)
        delta[i, j, k] = gr.delta_fermi.T
        mu_shift[i, j, k] = gr.mu_shift_meV
    return {"delta": delta, "mu_shift": mu_shift}


TC_GIL_SHARE = 0.1
"""Share of a Tc task's time that holds the GIL: the Python between the numba kernels (which
release it) of :func:`solver.tc_on_structure`; 8 % measured with cProfile on the paper grid
(2-core development machine, 2026-12)."""

GAPS_GIL_SHARE = 0.4
"""The same for a point's gaps (:func:`solver.gaps.gaps_on_structure`): about 40 % of its time
is Python between kernels (cProfile, same machine and date)."""

GAP_SECONDS_PER_POINT = 11.5e-3
"""Seconds of a gap solve per (point, temperature) on one core, for the estimate of a sweep's
work (docs/performance.md, "Gaps below Tc")."""

def estimated_work(config, *, refine: bool) -> dict[str, float]:
    """What a local cluster's mode is chosen from (the keywords ``work_s``, ``gil_share`` of
    :func:`sweep.execution.clusters.resolve_local_mode`): the seconds of solver time on one
    core that ``config``'s grid (and, with ``refine``, its refinement,
    :func:`sweep.refine.tasks.refine_work_s`) costs, at :data:`sweep.config.SECONDS_PER_POINT`
    a point, and the share of it that holds the GIL."""
    points = config.plan().n_points
    work = points * SECONDS_PER_POINT
    gaps = points * len(config.gap_T_over_tc) * GAP_SECONDS_PER_POINT
    parts = [(work, TC_GIL_SHARE), (gaps, GAPS_GIL_SHARE)]
    if refine:
        curves = math.prod(len(config.axes[axis]) for axis in CURVE_AXES)
        parts.append((refine_work_s(curves), REFINE_GIL_SHARE))
    total = sum(w for w, _ in parts)
    return {"work_s": total, "gil_share": sum(w * share for w, share in parts) / total}


def task_for_region(*, store: str, index: tuple[int, ...], region: Mapping[str, slice],
                    axes: Mapping[str, tuple[float, ...]], model: Mapping[str, object],
                    storage_options: Mapping | None = None,
                    gap_T_over_tc: tuple[float, ...] = ()) -> ChunkTask:
    """The ChunkTask of one region (a slice per axis, one structure; whole store chunks),
    named ``index`` (the block index of its first store chunk)."""
    values = {a: tuple(axes[a][region[a]]) for a in AXES}
    return ChunkTask(store=store, index=tuple(index),
                     region=tuple((region[a].start, region[a].stop) for a in AXES),
                     L=values["L"][0], W=values["W"][0], V=values["V"][0],
                     omega0=values["omega0"], g=values["g"], eta=values["eta"],
                     model=tuple(sorted(model.items())),
                     storage_options=tuple(sorted((storage_options or {}).items())),
                     gap_T_over_tc=tuple(gap_T_over_tc))
