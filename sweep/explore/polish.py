"""The polish: a bounded local maximisation of the objective from the best sample.

SciPy's Nelder-Mead (points clipped into the box) on -Tc, from a simplex as large as the
learner's sample spacing, to :data:`XTOL` in every axis and :data:`RTOL` relative in Tc.
Nelder-Mead needs no gradient, which the objective does not have at its kinks (where the
maximum over eta changes branch), and its simplex shrinks onto an edge of the box without
stalling there. On a ridge that is itself a kink its simplex can collapse short of the top,
so a converged run is restarted from its best point with a simplex :data:`RESTART_SHRINK`
times smaller; the polish has converged when a restart no longer gains :data:`RTOL`. Points
are computed by ``evaluate`` (one solver task each); a point already known (``known``: every
sample in the store, the learner's and a polish's cut short) or computed in this call is
never computed again and is free, so the polish reuses the learner's samples its simplex
lands on and a resumed polish retraces its path; at most ``max_points`` points are
computed. Nelder-Mead
reaches a point it has been at before by other arithmetic (a reflection of a reflection, a
shrink, a clip onto the box), a few ulps from the first: a point within :data:`SAME_POINT`
of a known one is that point (:class:`KnownPoints`), and the best is always a point that was
computed, with its row in the store.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
SAME_POINT = 1e-6 * XTOL
"""Two points closer than this in every axis (1e-9 in the axis's unit: Å, meV, in g, in eta)
are one point, computed once. Far above rounding: Nelder-Mead's arithmetic puts a point it
reaches twice a few ulps apart (2e-15 Å at L = 9 Å, 1e-12 meV at V = 4160 meV), and 500 ulps
stay below it up to 1e4 in the axis's unit. Far below anything physical: a millionth of
:data:`XTOL`, the polish's own resolution and the narrowest box axis an explore takes; over
it Tc moves by about 1.5e-7 K at the objective's steepest (150 K/Å), 2000 times less than
:data:`RTOL` at 300 K. Absolute, not relative to the coordinate, because eta and g cross
zero, where ulps vanish but the rounding of a sum does not."""
RESTART_SHRINK = 10.0
"""A restart's simplex is the first one over this: large enough to turn a collapsed simplex
round on a kinked ridge (a closed-form kink top is then found to 5e-4 in each axis), small
enough to cost 20-40 points, not a second polish."""
MAX_RESTARTS = 20
"""A bound on the restarts (``max_points`` bounds them first in practice)."""


class KnownPoints:
    """Points (tuples of floats, one per axis) with a value each, where a point within ``tol``
    (:data:`SAME_POINT`) of a stored one in every axis is found as that one: ``find(p)`` gives
    the stored point (``p`` itself when stored, else one within ``tol``), ``p in known``
    whether there is one, ``known[p]`` its value. A dict of cells ``2 tol`` wide: a look-up
    reads at most two cells per axis, whatever the number of points."""

    def __init__(self, items: Mapping[tuple[float, ...], object] | Iterable = (), *,
                 tol: float = SAME_POINT):
        if not tol > 0:
            raise ValueError(f"tol must be positive, got {tol!r}")
        self.tol = float(tol)
        self._cell = 2.0 * self.tol
        self._cells: dict[tuple[int, ...], list[tuple[float, ...]]] = {}
        self._values: dict[tuple[float, ...], object] = {}
        pairs = items.items() if isinstance(items, Mapping) else ((p, None) for p in items)
        for p, value in pairs:
            self.add(p, value)

    def _key(self, x: float) -> int:
        return math.floor(x / self._cell)

    def find(self, point: Sequence[float]) -> tuple[float, ...] | None:
        """The stored point within ``tol`` of ``point`` in every axis, or None."""
        p = tuple(float(x) for x in point)
        if p in self._values:
            return p
        spans = [range(self._key(x - self.tol), self._key(x + self.tol) + 1) for x in p]
        for key in itertools.product(*spans):
            for q in self._cells.get(key, ()):
                if all(abs(a - b) <= self.tol for a, b in zip(p, q)):
                    return q
        return None

    def add(self, point: Sequence[float], value: object = None) -> tuple[float, ...]:
        """Store ``point`` with ``value``, unless a point within ``tol`` is stored: that one is
        kept (with its value). Returns the stored point."""
        q = self.find(point)
        if q is not None:
            return q
        p = tuple(float(x) for x in point)
        self._values[p] = value
        self._cells.setdefault(tuple(self._key(x) for x in p), []).append(p)
        return p

    def __contains__(self, point: object) -> bool:
        return self.find(point) is not None  # type: ignore[arg-type]

    def __getitem__(self, point: Sequence[float]) -> object:
        q = self.find(point)
        if q is None:
            raise KeyError(tuple(point))
        return self._values[q]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[tuple[float, ...]]:
        return iter(self._values)


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
    against nothing (``reused``: how often). A point within :data:`SAME_POINT` of a known or
    computed one is that one (:class:`KnownPoints`): never computed, and ``x`` of the result
    is always a point of ``known``, ``x0`` or one ``evaluate`` computed, exactly.
    """
    known = dict(known or {})
    memo = KnownPoints(known)
    x0 = memo.add(x0, float(tc0))  # a stored sample: known already, as it is stored
    counts = {"computed": 0, "reused": 0}
    budget = int(max_points)
    best = [x0, float(memo[x0])]

    def f(x: np.ndarray) -> float:
        p = memo.find(x)
        if p is not None:
            value = float(memo[p])
            if p in known:
                counts["reused"] += 1
        else:
            if counts["computed"] >= budget:
                raise _Spent
            p = tuple(float(v) for v in x)
            got = evaluate(p)
            counts["computed"] += 1
            if got is None:
                raise _Spent(failed=True)
            value = float(got)
            memo.add(p, value)
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
