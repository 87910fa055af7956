"""What one refine task computes: a block of curves of one structure, or the top of one dome.

A :class:`RefineTask` is one structure (L, W, V) at one omega0 times a block of g: the task
reads its curves' grid values from the store, refines each with the solver
(:mod:`sweep.refine.searches`) on the structure's prepared work (this process's
:data:`sweep.worker.structures.STRUCTURES`, shared with the sweep's tasks), and writes the
block's region; a block that is every curve of its dome (``with_top``) also searches the dome's
top from the maxima it just refined and writes it in the same trip. A :class:`TopTask` reads
the refined maxima of one dome and writes its top over (eta, g). Both run wherever
:func:`sweep.execution.runner.run_tasks` sends them; results never travel through the client.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from solver.relations import eta_up

from .. import store as store_mod
from ..config import SECONDS_PER_POINT, RefineSettings
from ..flags import (MAX_AT_BOUND, MAX_AT_FIRST_ETA, MAX_OUTSIDE_MODEL, STATUS_BELOW_FLOOR,
                     STATUS_OK, TOP_OUTSIDE_MODEL, has)
from ..worker.structures import STRUCTURES, OnStructure
from . import searches

log = logging.getLogger(__name__)


REFINE_EVALUATIONS_PER_CURVE = 45
"""Solver evaluations a refined curve costs, its dome's top included, for the estimate of a
refinement's work: 34 on the paper store (1350 for 40 curves and a top), 41 on 9 structures
with two g each (729 for 18 curves and 9 tops), 44 on 81 (7124 for 162 curves and 81 tops)."""

REFINE_GIL_SHARE = 0.25
"""Share of a refine task's time that holds the GIL: the searches between solver evaluations
and the Python of each single-point solver call; 25-30 % measured with cProfile on the
9-structure store (2-core development machine, 2026-12)."""


def refine_work_s(curves: int) -> float:
    """Seconds of solver time on one core that refining ``curves`` curves (and their domes'
    tops) costs, at :data:`sweep.config.SECONDS_PER_POINT` an evaluation."""
    return curves * REFINE_EVALUATIONS_PER_CURVE * SECONDS_PER_POINT


@dataclass(frozen=True)
class RefineTask(OnStructure):
    """Curves (L, W, V, omega0, g[g_start:g_stop]) of a store, by index; ``model``: the sweep's
    ``[model]`` options; ``settings``: :meth:`RefineSettings.to_dict` items; ``with_top``: the
    block is every curve of its dome, whose top the task then searches too (one task, one read
    and one write of the store instead of two each)."""

    store: str
    index: tuple[int, ...]  # (iL, iW, iV, io, g_start, g_stop)
    L: float
    W: float
    V: float
    omega0: float
    model: tuple[tuple[str, object], ...]
    settings: tuple[tuple[str, object], ...]
    storage_options: tuple[tuple[str, object], ...] = ()
    with_top: bool = False

    @property
    def n_points(self) -> int:
        """Curves in the task, and its dome's top (the units of the progress log)."""
        return self.index[5] - self.index[4] + self.with_top

    def region_slices(self) -> dict[str, slice]:
        iL, iW, iV, io, g0, g1 = self.index
        return {"L": slice(iL, iL + 1), "W": slice(iW, iW + 1), "V": slice(iV, iV + 1),
                "omega0": slice(io, io + 1), "g": slice(g0, g1)}

    def refine_settings(self) -> RefineSettings:
        s = dict(self.settings)
        s["thresholds"] = tuple(s.get("thresholds", ()))
        s.pop("curves_per_task", None)
        return RefineSettings(**s)


@dataclass(frozen=True)
class TopTask(RefineTask):
    """The top of the dome (L, W, V, omega0); ``index`` is (iL, iW, iV, io)."""

    @property
    def n_points(self) -> int:
        return 1

    def region_slices(self) -> dict[str, slice]:
        iL, iW, iV, io = self.index
        return {"L": slice(iL, iL + 1), "W": slice(iW, iW + 1), "V": slice(iV, iV + 1),
                "omega0": slice(io, io + 1)}


@dataclass(frozen=True)
class RefineOutcome:
    """Counts only: curves and tops refined (``n_points``, of which ``tops``), solver
    evaluations, seconds."""

    index: tuple[int, ...]
    n_points: int
    evaluations: int
    seconds: float
    tops: int = 0


def _grid_rows(task: RefineTask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """eta (n,), and tc (K, 0 below the floor, NaN elsewhere) and g of the task's curves."""
    iL, iW, iV, io, g0, g1 = task.index
    eta, gs, tc, status = store_mod.read_curves(
        task.store, index=(iL, iW, iV, io), g=slice(g0, g1),
        storage_options=dict(task.storage_options) or None)
    tc = np.where(status == STATUS_OK, tc, np.where(status == STATUS_BELOW_FLOOR, 0.0, np.nan))
    return eta, tc, gs


def _eta_bounds(st, task: RefineTask, *, g: float, settings: RefineSettings
                ) -> tuple[float, float]:
    """(lowest, highest) eta the searches of one curve walk to: the antiresonance's bound and
    the maximum's (:func:`sweep.refine.searches.antiresonance_bound`, :func:`eta_upper_bound
    <sweep.refine.searches.eta_upper_bound>`)."""
    softening = bool(task.model_params().get("softening", True))
    lower = searches.antiresonance_bound(omega0=task.omega0, g=g, softening=softening,
                                         dE=st.dE, settings=settings)
    upper = searches.eta_upper_bound(omega0=task.omega0, g=g, softening=softening, E_L=st.E_L,
                                     dE=st.dE, E_left_out=st.E_left_out, settings=settings)
    return lower, upper


def _outside_model(st, task: RefineTask, *, g: float, eta: float) -> bool:
    """Whether ``eta`` lies above eta_up at ``g`` on the task's structure (the model's own
    bound, :func:`solver.relations.eta_up`, not a user's ``eta_max_bound``)."""
    softening = bool(task.model_params().get("softening", True))
    return eta > eta_up(E_L=st.E_L, dE=st.dE, E_left_out=st.E_left_out, omega0=task.omega0,
                        g=g, softening=softening)


def compute_refine_block(task: RefineTask) -> RefineOutcome:
    """Refine the task's curves and write them into the store (runs where the task runs)."""
    t0 = time.perf_counter()
    settings = task.refine_settings()
    model = task.model_params()
    st = STRUCTURES.get(task.structure_params())
    eta, tc, gs = _grid_rows(task)
    n, nt = gs.size, len(settings.thresholds)
    out = {k: np.full(n, np.nan) for k in ("eta_max", "tc_max", "eta_antiresonance",
                                           "tc_antiresonance", "eta_antiresonance_lo",
                                           "eta_antiresonance_hi")}
    evals = np.zeros(n, dtype=np.int32)
    evals_max = np.zeros(n, dtype=np.int32)
    status = np.zeros(n, dtype=np.int16)
    w_lo, w_hi = np.full((n, nt), np.nan), np.full((n, nt), np.nan)
    w_status = np.zeros((n, nt), dtype=np.int8)
    spans = [_eta_bounds(st, task, g=float(g), settings=settings) for g in gs]
    for j, g in enumerate(gs):
        if np.isnan(tc[j]).any():
            raise ValueError(f"curve g = {g} of {task.index} has points without a value "
                             f"(pending or failed): finish the sweep before refining")
        curve = searches.solver_curve(st, g=float(g), omega0=task.omega0, model=model, eta=eta,
                                      values=tc[j])
        r = searches.refine_curve(curve, bound=spans[j][0], upper=spans[j][1], settings=settings)
        m, a = r.maximum, r.antiresonance
        out["eta_max"][j], out["tc_max"][j] = m.eta, m.tc
        out["eta_antiresonance"][j], out["tc_antiresonance"][j] = a.eta, a.tc
        out["eta_antiresonance_lo"][j], out["eta_antiresonance_hi"][j] = a.lo, a.hi
        evals[j], evals_max[j] = sum(r.evaluations), r.evaluations[0]
        status[j] = r.flags
        if math.isfinite(m.eta) and _outside_model(st, task, g=float(g), eta=m.eta):
            status[j] |= MAX_OUTSIDE_MODEL
        for k, w in enumerate(r.windows):
            w_lo[j, k], w_hi[j, k], w_status[j, k] = w.lo, w.hi, w.flags
    shape5 = (1, 1, 1, 1, n)
    values = {k: v.reshape(shape5) for k, v in out.items()}
    values.update(refine_evaluations=evals.reshape(shape5),
                  refine_evaluations_max=evals_max.reshape(shape5),
                  refine_status=status.reshape(shape5))
    if nt:
        values.update(eta_window_lo=w_lo.reshape(shape5 + (nt,)),
                      eta_window_hi=w_hi.reshape(shape5 + (nt,)),
                      window_status=w_status.reshape(shape5 + (nt,)))
    top = None
    if task.with_top:
        top = _top(st, task, settings=settings, model=model, g=gs, eta_max=out["eta_max"],
                   tc_max=out["tc_max"], status=status.astype(np.int64), eta=eta)
    store_mod.write_refined_curves(store=task.store, region=task.region_slices(), values=values,
                                   top=top, storage_options=dict(task.storage_options) or None)
    evaluations = int(evals.sum()) + (top["top_evaluations"] if top else 0)
    return RefineOutcome(task.index, task.n_points, evaluations, time.perf_counter() - t0,
                         tops=int(task.with_top))


def compute_top(task: TopTask) -> RefineOutcome:
    """The top of one dome over (eta, g), from its refined maxima; written into the store."""
    t0 = time.perf_counter()
    g, eta_max, tc_max, status, eta = store_mod.read_dome_maxima(
        task.store, index=task.index, storage_options=dict(task.storage_options) or None)
    st = STRUCTURES.get(task.structure_params())
    values = _top(st, task, settings=task.refine_settings(), model=task.model_params(), g=g,
                  eta_max=eta_max, tc_max=tc_max, status=status.astype(np.int64), eta=eta)
    store_mod.write_top(store=task.store, region=task.region_slices(), values=values,
                        storage_options=dict(task.storage_options) or None)
    return RefineOutcome(task.index, 1, values["top_evaluations"], time.perf_counter() - t0,
                         tops=1)


def _top(st, task: RefineTask, *, settings: RefineSettings, model: dict, g: np.ndarray,
         eta_max: np.ndarray, tc_max: np.ndarray, status: np.ndarray, eta: np.ndarray) -> dict:
    """The top of the dome of ``task`` (the store's top variables) from the refined maxima of
    every curve of the dome (over ``g``), their ``refine_status`` and the grid's ``eta``."""
    step = float(np.median(np.diff(eta))) if eta.size > 1 else 0.05

    def bounds(gg: float) -> tuple[float, float]:
        return float(eta[0]), _eta_bounds(st, task, g=gg, settings=settings)[1]

    def curve_at(gg: float) -> searches.Curve:
        return searches.solver_curve(st, g=gg, omega0=task.omega0, model=model)

    top = searches.search_top(curve_at, g=g, eta_max=eta_max, tc_max=tc_max, eta_step=step,
                              settings=settings, eta_bounds=bounds,
                              at_bound=has(status, MAX_AT_BOUND | MAX_AT_FIRST_ETA))
    flags = top.flags
    if math.isnan(top.tc):
        log.warning("dome %s: no refined maximum, no top", task.index[:4])
    elif _outside_model(st, task, g=top.g, eta=top.eta):
        flags |= TOP_OUTSIDE_MODEL
    return {"top_g": top.g, "top_eta": top.eta, "top_tc": top.tc,
            "top_evaluations": top.evaluations, "top_status": flags}
