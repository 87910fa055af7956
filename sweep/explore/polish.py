"""The polish: a bounded local maximisation of the objective from the best sample.

SciPy's Nelder-Mead (points clipped into the box) on -Tc, from a simplex as large as the
learner's sample spacing, to :data:`XTOL` in every axis and :data:`RTOL` relative in Tc.
Nelder-Mead needs no gradient, which the objective does not have at its kinks (where the
maximum over eta changes branch), and its simplex shrinks onto an edge of the box without
stalling there. On a ridge that is itself a kink its simplex can collapse short of the top,
so a converged run is restarted from its best point with a simplex :data:`RESTART_SHRINK`
times smaller; the polish has converged when a restart no longer gains :data:`RTOL`. Points
are computed
by ``evaluate`` (one solver task each); a point already known (``known``: every sample in the
store, the learner's and a polish's cut short) is never computed again and is free, so the
polish reuses the learner's samples its simplex lands on and a resumed polish retraces its
path; at most ``max_points`` points are computed.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from ..config import EXPLORE_XTOL

XTOL = EXPLORE_XTOL
"""The polish's tolerance in each axis: :data:`sweep.config.EXPLORE_XTOL`, also the narrowest
box axis an explore takes."""
RTOL = 1e-6
"""The polish's tolerance in Tc, relative: 0.3 mK at 300 K, far below the model's own accuracy
and well above the solver's (1e-9 on ln Tc)."""
RESTART_SHRINK = 10.0
"""A restart's simplex is the first one over this: large enough to turn a collapsed simplex
round on a kinked ridge (a closed-form kink top is then found to 5e-4 in each axis), small
enough to cost 20-40 points, not a second polish."""
MAX_RESTARTS = 20
"""A bound on the restarts (``max_points`` bounds them first in practice)."""


class _Spent(Exception):
    """The polish has used its points (or one failed: ``failed``)."""

    def __init__(self, failed: bool = False):
        super().__init__()
        self.failed = failed


@dataclass
class PolishResult:
    """The best point the polish found (``x``, ``tc`` in K), the points it computed, the points
    it found known, and why it stopped: ``converged`` (Nelder-Mead met its tolerances),
    ``points`` (it used ``max_points``) or ``failed`` (a point's computation failed)."""

    x: tuple[float, ...]
    tc: float
    computed: int
    reused: int
    stopped: str

    @property
    def converged(self) -> bool:
        return self.stopped == "converged"


def initial_simplex(x0: Sequence[float], *, bounds: Sequence[tuple[float, float]],
                    steps: Sequence[float]) -> np.ndarray:
    """x0 and, per axis, x0 moved by that axis's step (towards the inside of the box where
    the step would leave it)."""
    x0 = np.asarray(x0, dtype=float)
    simplex = [x0]
    for i, (step, (lo, hi)) in enumerate(zip(steps, bounds)):
        x = x0.copy()
        x[i] = x0[i] + step if x0[i] + step <= hi else x0[i] - step
        x[i] = min(max(x[i], lo), hi)
        simplex.append(x)
    return np.array(simplex)


def polish(evaluate: Callable[[tuple[float, ...]], float | None], x0: Sequence[float], *,
           tc0: float, bounds: Sequence[tuple[float, float]], steps: Sequence[float],
           max_points: int, known: Mapping[tuple[float, ...], float] | None = None,
           xtol: float = XTOL, rtol: float = RTOL) -> PolishResult:
    """Maximise Tc from ``x0`` (whose value ``tc0`` is known) within ``bounds``.

    ``evaluate(point)``: Tc (K) at a point, or None when its computation failed (the polish
    then stops). ``steps``: the first simplex's size per axis (the learner's sample spacing).
    ``max_points``: most points ``evaluate`` computes. ``known``: Tc (K) of points computed
    before (the learner's samples, a resumed polish's points), used as they are and counted
    against nothing (``reused``: how often).
    """
    known = dict(known or {})
    memo: dict[tuple[float, ...], float] = dict(known)
    memo[tuple(float(v) for v in x0)] = float(tc0)
    counts = {"computed": 0, "reused": 0}
    budget = int(max_points)
    best = [tuple(float(v) for v in x0), float(tc0)]

    def f(x: np.ndarray) -> float:
        p = tuple(float(v) for v in x)
        if p in memo:
            if p in known:
                counts["reused"] += 1
            if memo[p] > best[1]:
                best[:] = [p, memo[p]]
            return -memo[p]
        if counts["computed"] >= budget:
            raise _Spent
        value = evaluate(p)
        counts["computed"] += 1
        if value is None:
            raise _Spent(failed=True)
        memo[p] = value
        if value > best[1]:
            best[:] = [p, value]
        return -value

    stopped = "points"
    maxfev = 10 * (budget + len(known)) + 100  # a bound that the points reach first
    x, simplex, restarted = np.asarray(x0, dtype=float), list(steps), False
    try:
        for _ in range(MAX_RESTARTS):
            before = best[1]
            res = minimize(f, x, method="Nelder-Mead", bounds=list(bounds),
                           options={"xatol": xtol, "fatol": rtol * abs(tc0),
                                    "initial_simplex": initial_simplex(x, bounds=bounds,
                                                                       steps=simplex),
                                    "maxfev": maxfev, "adaptive": False})
            if not res.success:
                break
            if restarted and best[1] - before <= rtol * abs(before):
                stopped = "converged"  # a restart gained nothing
                break
            x, restarted = np.asarray(best[0], dtype=float), True
            simplex = [step / RESTART_SHRINK for step in steps]
    except _Spent as spent:
        stopped = "failed" if spent.failed else "points"
    return PolishResult(best[0], best[1], counts["computed"], counts["reused"], stopped)
