"""What one explore sample computes: the objective at a point of the box, on the solver.

Without ``eta`` among the explored axes the objective is the maximum of Tc over eta >= the
first eta of the config's ``[grid]`` eta axis: Tc on that axis (one solver call), then the
maximum refined and followed upward past the axis's last eta without clipping
(:func:`sweep.refine.searches.curve_maximum`, up to
:func:`sweep.refine.searches.eta_upper_bound`). With ``eta`` among them it is Tc at the point
(0 K below the temperature floor, flagged). A :class:`SampleTask` runs wherever
:func:`sweep.execution.runner.run_tasks` sends it, on the worker's prepared structures
(:data:`sweep.worker.structures.STRUCTURES`); its :class:`SampleOutcome` is a handful of
numbers, which the explorer tells its learner and writes into the store.
"""
from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

import solver

from ..config import RefineSettings
from ..flags import (BRANCHES, MAX_AT_BOUND, MAX_AT_FIRST_ETA, MAX_OUTSIDE_GRID, NOT_CONVERGED,
                     SAMPLE_BELOW_FLOOR, SAMPLE_MAX_AT_BOUND, SAMPLE_MAX_AT_FIRST_ETA,
                     SAMPLE_MAX_OUTSIDE_GRID, SAMPLE_NOT_CONVERGED, SAMPLE_OUTSIDE_MODEL,
                     STATUS_BELOW_FLOOR, STATUS_OK)
from ..refine import searches
from ..worker.structures import STRUCTURES, OnStructure


KINK_SLOPE = 1e-2
"""K/meV: a maximum of Tc(eta) whose one-sided slopes, in K per meV of mu, both exceed this
sits on a kink. Measured on L 7-11, W 3-10 Å (g = 1/3): kinks have 0.05-0.7 K/meV, smooth tops
at most 2e-3 K/meV even 1e-4 in eta away, where their slopes vanish; the search's own points
lie within ~1e-5 of the maximum."""


@dataclass(frozen=True)
class Value:
    """The objective at one point: ``tc`` (K), ``eta`` (where it sits; the point's own eta when
    eta is explored), ``flags`` (:data:`sweep.flags.SAMPLE_FLAGS`), solver ``evaluations``,
    the resonant subband's ``E_L`` and ``dE`` (meV), and the ``branch`` of the maximum (an
    index of :data:`sweep.flags.BRANCHES`; 0 when eta is explored)."""

    tc: float
    eta: float
    flags: int
    evaluations: int
    E_L: float
    dE: float
    branch: int = 0


def branch_of(curve: searches.Curve, *, eta: float, dE: float, flags: int) -> int:
    """The branch (:data:`sweep.flags.BRANCHES`) of the maximum at ``eta`` of ``curve``, from
    the one-sided slopes to its nearest known points (the search's own)."""
    if flags & (SAMPLE_MAX_AT_BOUND | SAMPLE_MAX_AT_FIRST_ETA):
        return BRANCHES.index("bound")
    xs, ys = curve.known
    k = int(np.searchsorted(xs, eta))
    if 0 < k < xs.size - 1:
        left = (ys[k] - ys[k - 1]) / ((xs[k] - xs[k - 1]) * dE)
        right = (ys[k] - ys[k + 1]) / ((xs[k + 1] - xs[k]) * dE)
        if min(left, right) > KINK_SLOPE:
            return BRANCHES.index("kink")
    return BRANCHES.index("below_lifshitz" if eta < 1.0 else "above_lifshitz")


def objective(st: solver.Structure, *, g: float, omega0: float, model: Mapping[str, object],
              settings: RefineSettings, eta: float | None = None,
              eta_grid: Sequence[float] = ()) -> Value:
    """The objective on a prepared structure: Tc (K) at ``eta`` when it is given, else the
    maximum of Tc over eta >= ``eta_grid[0]``, started on ``eta_grid`` (at least two values)
    and followed upward without clipping. ``g``, ``omega0`` (meV), ``model`` (the ``[model]``
    options), ``settings``: the refinement's tolerances and ``eta_max_bound``."""
    kw = {k: model[k] for k in solver.parameters.MODEL if k in model}
    if eta is not None:
        r = solver.tc_on_structure(st, eta=[eta], g=[g], omega0=[omega0], **kw)
        code = int(r.status[0, 0, 0])
        if code not in (STATUS_OK, STATUS_BELOW_FLOOR):
            raise RuntimeError(f"solver status {code} at eta = {eta}, g = {g}")
        below = code == STATUS_BELOW_FLOOR
        outside = float(eta) > float(r.eta_up[0, 0])
        return Value(0.0 if below else float(r.tc_K[0, 0, 0]), float(eta),
                     (SAMPLE_BELOW_FLOOR if below else 0)
                     | (SAMPLE_OUTSIDE_MODEL if outside else 0), 1, st.E_L, st.dE)
    grid = np.asarray(eta_grid, dtype=float)
    softening = bool(kw.get("softening", solver.PARAMETERS["softening"].default))
    upper = searches.eta_upper_bound(omega0=omega0, g=g, softening=softening, E_L=st.E_L,
                                     dE=st.dE, E_left_out=st.E_left_out, settings=settings)
    r = solver.tc_on_structure(st, eta=grid, g=[g], omega0=[omega0], **kw)
    status = r.status[0, 0]
    if np.any((status != STATUS_OK) & (status != STATUS_BELOW_FLOOR)):
        raise RuntimeError(f"solver statuses {sorted(set(status.tolist()))} on the eta axis")
    tc = np.where(status == STATUS_OK, r.tc_K[0, 0], 0.0)
    curve = searches.solver_curve(st, g=g, omega0=omega0, model=dict(model), eta=grid,
                                  values=tc)
    m = searches.curve_maximum(curve, settings=settings, upper=upper)
    if not math.isfinite(m.tc):  # Tc below the floor on the whole axis
        return Value(0.0, float(grid[0]), SAMPLE_BELOW_FLOOR, grid.size, st.E_L, st.dE,
                     BRANCHES.index("bound"))
    flags = 0
    for have, want in ((MAX_AT_BOUND, SAMPLE_MAX_AT_BOUND),
                       (MAX_AT_FIRST_ETA, SAMPLE_MAX_AT_FIRST_ETA),
                       (MAX_OUTSIDE_GRID, SAMPLE_MAX_OUTSIDE_GRID),
                       (NOT_CONVERGED, SAMPLE_NOT_CONVERGED)):
        if m.flags & have:
            flags |= want
    if m.eta > float(r.eta_up[0, 0]):
        flags |= SAMPLE_OUTSIDE_MODEL
    return Value(m.tc, m.eta, flags, grid.size + m.evaluations, st.E_L, st.dE,
                 branch_of(curve, eta=m.eta, dE=st.dE, flags=flags))


@dataclass(frozen=True)
class SampleTask(OnStructure):
    """One sample: the structure (``L``, ``W`` in Å, ``V`` in meV), ``omega0`` (meV), ``g``
    and ``eta`` (None: the maximum over eta from ``eta_grid``) of the point ``point`` (the
    explored axes' values, in the order of the ``[explore]`` axes); ``index``: the sample's
    identity for the runner; ``model``, ``settings``: the ``[model]`` options and the
    refinement's settings as sorted items."""

    index: tuple[int, ...]
    point: tuple[float, ...]
    L: float
    W: float
    V: float
    omega0: float
    g: float
    eta: float | None
    eta_grid: tuple[float, ...]
    model: tuple[tuple[str, object], ...]
    settings: tuple[tuple[str, object], ...]
    polish: bool = False

    @property
    def n_points(self) -> int:
        return 1

    def refine_settings(self) -> RefineSettings:
        s = dict(self.settings)
        s["thresholds"] = tuple(s.get("thresholds", ()))
        return RefineSettings(**s)


@dataclass(frozen=True)
class SampleOutcome:
    """What a finished sample sends back: its task's ``index``, ``point`` and ``polish``, the
    objective (:class:`Value`) and the seconds it took."""

    index: tuple[int, ...]
    point: tuple[float, ...]
    polish: bool
    value: Value
    seconds: float

    @property
    def n_points(self) -> int:
        return 1


def compute_sample(task: SampleTask) -> SampleOutcome:
    """The objective at the task's point (runs where the task runs)."""
    t0 = time.perf_counter()
    st = STRUCTURES.get(task.structure_params())
    value = objective(st, g=task.g, omega0=task.omega0, model=task.model_params(),
                      settings=task.refine_settings(), eta=task.eta, eta_grid=task.eta_grid)
    return SampleOutcome(task.index, task.point, task.polish, value, time.perf_counter() - t0)
