"""Refinement of the numbers a sweep is read for, on a callable Tc(eta) (no Dask, no store).

A grid gives the picture; the numbers come from the solver itself, started from the grid's
brackets. Everything here works on a :class:`Curve`: a callable eta -> Tc (K) at fixed
(structure, omega0, g) that returns ``0.0`` below the solver's temperature floor and counts its
evaluations. :func:`solver_curve` makes one from a prepared structure; tests pass closed-form
functions with known answers.

Methods
-------
Maximum of Tc(eta)
    Brent's method for a minimum (golden section with parabolic steps, Brent 1973, ch. 5) on
    -Tc, started from the grid maximum and its two neighbours. It keeps a bracket that always
    contains the best point, and falls back to golden steps whenever a parabolic step does not
    shrink it fast enough, so it converges on kinks (the maxima of the paper's curves sit where
    the pairing window mu +- omega meets a band edge) at the golden-section rate at worst. It
    stops when the bracket is ``eta_tol`` wide on either side of the best point, or when the
    values at both bracket ends are within ``tc_rtol`` of the best (Tc is flat there to the
    solver's own precision, 1e-9 on ln Tc). The result is a solver value, never an
    interpolation, and never lower than the grid maximum. A grid maximum on the grid's last
    eta is first **followed upward** (steps growing by the golden ratio) until Tc falls, up to
    :func:`eta_upper_bound`: where mu + omega~ meets the bottom of the first subband the model
    leaves out (beyond it that subband would pair too, and the model no longer holds), or the
    user's ``eta_max_bound``. The search never goes below the grid's first eta: the maximum is
    over eta >= that eta.
Antiresonance
    The same method on ln Tc over eta below the maximum, from the lowest grid point there. When
    that point is the grid's first eta the search walks outward (steps growing by the golden
    ratio) until Tc rises again, down to the bound ``antiresonance_bound`` (below, per curve): past
    eta = -omega~/dE the pairing window no longer reaches the resonant subband and Tc(eta) is
    that of the lower subbands alone, so the Fano minimum cannot lie further out. A point below
    the temperature floor makes the minimum unmeasurable: the result is then the eta interval
    where Tc is below the floor, its edges bisected to ``floor_tol``.
Windows Tc >= T*
    For each threshold, the connected interval around the maximum where Tc >= T*: each edge is
    the root of Tc - T* between the nearest known points on either side of the crossing (grid and
    every evaluation so far), by Brent's method for a root (:func:`brent_root`) to ``root_tol``.
    An edge the known points do not close is followed outward (steps growing by the golden
    ratio) until Tc < T*, down to the antiresonance's bound and up to the maximum's; one still
    open there is reported at the bound, flagged open.
Top of the dome
    Brent's method over g within the store's g range (never beyond), on F(g) = the maximum of
    Tc(eta) at g (the method above, bracketed from the grid maxima of the neighbouring g, within
    the same eta bounds).
"""
from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from solver.parameters import PARAMETERS
from solver.relations import cutoff, eta_up

from ..config import RefineSettings
from ..flags import (ANTI_AT_BOUND, ANTI_BELOW_FLOOR, ANTI_OUTSIDE_GRID, BELOW_THRESHOLD, DONE,
                     MAX_AT_BOUND, MAX_AT_FIRST_ETA, MAX_OUTSIDE_GRID, NO_ANTIRESONANCE,
                     NO_MAXIMUM, NOT_CONVERGED, OPEN_ABOVE, OPEN_BELOW, TOP_AT_ETA_BOUND,
                     TOP_AT_G_EDGE, TOP_DONE, TOP_NONE, WINDOW_OUTSIDE_GRID)

log = logging.getLogger(__name__)

METHOD = ("maximum of Tc(eta): Brent's method (golden section with parabolic steps) from the "
          "grid maximum and its neighbours, followed upward past the grid's last eta up to "
          "where mu + omega~ meets the first subband left out (or eta_max_bound); "
          "antiresonance: the same on ln Tc below eta_max, followed outward past the grid's "
          "first eta to -omega~/dE - follow_margin; below the temperature floor: the interval, "
          "edges bisected; windows Tc >= T*: brentq between the known points around each "
          "crossing, followed outward to the same bounds; top of the dome: Brent's method "
          "over g within the store's g range on the refined maximum over eta")
"""One paragraph on the methods, stored with the results (``refine_method``)."""

CGOLD = 0.5 * (3.0 - math.sqrt(5.0))
"""Golden-section fraction of Brent's method, 0.381966..."""
GROWTH = 0.5 * (1.0 + math.sqrt(5.0))
"""Ratio of successive steps when a search walks outward past the grid."""
ETA_LIMITS = (PARAMETERS["eta"].minimum, PARAMETERS["eta"].maximum)
"""The solver's range of eta: no walk goes beyond it, whatever the bounds."""


class Curve:
    """Tc(eta) in K at fixed (structure, omega0, g), ``0.0`` below the temperature floor.

    Remembers every value it knows (grid points given at the start, free) and counts the calls
    of ``tc`` it makes (``evaluations``). ``tc`` must return a finite number >= 0.
    """

    def __init__(self, tc: Callable[[float], float], *, eta: Sequence[float] = (),
                 values: Sequence[float] = ()):
        self._tc = tc
        self.evaluations = 0
        self._x: list[float] = []
        self._y: list[float] = []
        for x, y in zip(eta, values):
            if math.isfinite(x) and math.isfinite(y):
                self._store(float(x), max(float(y), 0.0))

    def _store(self, x: float, y: float) -> None:
        i = bisect.bisect_left(self._x, x)
        if i < len(self._x) and self._x[i] == x:
            return
        self._x.insert(i, x)
        self._y.insert(i, y)

    def __call__(self, x: float) -> float:
        x = float(x)
        i = bisect.bisect_left(self._x, x)
        if i < len(self._x) and self._x[i] == x:
            return self._y[i]
        y = float(self._tc(x))
        if not (math.isfinite(y) and y >= 0.0):
            raise ValueError(f"Tc({x}) = {y}: not a temperature")
        self.evaluations += 1
        self._store(x, y)
        return y

    @property
    def known(self) -> tuple[np.ndarray, np.ndarray]:
        """(eta, Tc) of every known point, eta increasing."""
        return np.array(self._x), np.array(self._y)


def solver_curve(st, *, g: float, omega0: float, model: dict, eta: Sequence[float] = (),
                 values: Sequence[float] = ()) -> Curve:
    """A :class:`Curve` on a prepared structure (``solver.prepare_structure``).

    ``g``: coupling of the resonant subband; ``omega0``: cut-off, meV; ``model``: the keywords
    g_lower, g_inter, softening, t_floor (K) of ``solver.tc_on_structure``; ``eta``, ``values``:
    known grid points (Tc in K, 0 below the floor). A point past the structure's DOS tables
    widens them by the panels it needs (:meth:`solver.Structure.tables`).
    """
    import solver

    kw = {k: model[k] for k in solver.parameters.MODEL if k in model}

    def tc(x: float) -> float:
        r = solver.tc_on_structure(st, eta=[x], g=[g], omega0=[omega0], **kw)
        code = int(r.status[0, 0, 0])
        if code == solver.STATUS_OK:
            return float(r.tc_K[0, 0, 0])
        if code == solver.STATUS_BELOW_FLOOR:
            return 0.0
        raise RuntimeError(f"solver status {code} at eta = {x}, g = {g}")

    return Curve(tc, eta=eta, values=values)


class BelowFloor(Exception):
    """A minimisation met a point below the temperature floor."""


@dataclass
class Extremum:
    x: float
    value: float
    converged: bool


def brent_root(f: Callable[[float], float], a: float, b: float, *, xtol: float, rtol: float,
               maxiter: int) -> float:
    """Root of ``f`` in [a, b], where f(a) and f(b) have opposite signs, by Brent's method
    (Brent 1973, ch. 4: secant and inverse quadratic steps, bisection whenever they do not shrink
    the bracket fast enough).

    The variant of scipy's ``brentq``, step for step the same arithmetic, so the same root to the
    bit and the same evaluations (``tests/test_refine.py`` compares them): written here so that a
    refinement does not import ``scipy.optimize`` and what it brings (0.37 s of importing this
    package's refine service; docs/performance.md). Stops when half the bracket is below
    (xtol + rtol |x|) / 2; raises ``RuntimeError`` after ``maxiter`` steps.
    """
    xpre, xcur = a, b
    fpre, fcur = f(xpre), f(xcur)
    if fpre == 0:
        return xpre
    if fcur == 0:
        return xcur
    if (fpre < 0) == (fcur < 0):
        raise ValueError(f"f({a}) and f({b}) must have opposite signs")
    xblk = fblk = spre = scur = 0.0
    for _ in range(maxiter):
        if fpre != 0 and fcur != 0 and (fpre < 0) != (fcur < 0):
            xblk, fblk = xpre, fpre
            spre = scur = xcur - xpre
        if abs(fblk) < abs(fcur):  # xcur: the end with the smaller |f|
            xpre, xcur, xblk = xcur, xblk, xcur
            fpre, fcur, fblk = fcur, fblk, fcur
        delta = (xtol + rtol * abs(xcur)) / 2
        sbis = (xblk - xcur) / 2
        if fcur == 0 or abs(sbis) < delta:
            return xcur
        if abs(spre) > delta and abs(fcur) < abs(fpre):
            if xpre == xblk:  # secant
                stry = -fcur * (xcur - xpre) / (fcur - fpre)
            else:  # inverse quadratic
                dpre = (fpre - fcur) / (xpre - xcur)
                dblk = (fblk - fcur) / (xblk - xcur)
                stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre))
            if 2 * abs(stry) < min(abs(spre), 3 * abs(sbis) - delta):
                spre, scur = scur, stry
            else:
                spre = scur = sbis
        else:
            spre = scur = sbis
        xpre, fpre = xcur, fcur
        xcur += scur if abs(scur) > delta else (delta if sbis > 0 else -delta)
        fcur = f(xcur)
    raise RuntimeError(f"Brent's method: no root within {xtol} after {maxiter} steps")


def brent_minimize(h: Callable[[float], float], a: float, b: float, x: float, *,
                   ha: float, hb: float, hx: float, xtol: float, ftol: float,
                   max_evaluations: int) -> Extremum:
    """Minimum of ``h`` in [a, b] by Brent's method, from a point x inside with known values.

    Keeps a < b with the best point x in [a, b]; stops when max(x - a, b - x) <= xtol, or when
    h(a) and h(b) are both within ``ftol`` (absolute) of h(x). ``ha``/``hb`` may be +inf when the
    ends are not evaluated (then only the first criterion applies there).
    """
    w = v = x
    hw = hv = hx
    d = e = 0.0
    tol1 = 0.5 * xtol  # the stop test below bounds max(x - a, b - x) by 2 tol1
    for _ in range(max_evaluations):
        xm = 0.5 * (a + b)
        if abs(x - xm) <= 2 * tol1 - 0.5 * (b - a):
            return Extremum(x, hx, True)
        if ha - hx <= ftol and hb - hx <= ftol:
            return Extremum(x, hx, True)
        golden = True
        if abs(e) > tol1:  # try a parabola through x, w, v
            r = (x - w) * (hx - hv)
            q = (x - v) * (hx - hw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            e_old, e = e, d
            if abs(p) < abs(0.5 * q * e_old) and q * (a - x) < p < q * (b - x):
                d = p / q
                u = x + d
                if u - a < 2 * tol1 or b - u < 2 * tol1:
                    d = tol1 if xm >= x else -tol1
                golden = False
        if golden:
            e = (a - x) if x >= xm else (b - x)
            d = CGOLD * e
        u = x + (d if abs(d) >= tol1 else math.copysign(tol1, d))
        hu = h(u)
        if hu <= hx:
            if u >= x:
                a, ha = x, hx
            else:
                b, hb = x, hx
            v, hv, w, hw, x, hx = w, hw, x, hx, u, hu
        else:
            if u < x:
                a, ha = u, hu
            else:
                b, hb = u, hu
            if hu <= hw or w == x:
                v, hv, w, hw = w, hw, u, hu
            elif hu <= hv or v == x or v == w:
                v, hv = u, hu
    return Extremum(x, hx, False)


# ----------------------------------------------------------------------------------- maximum

@dataclass
class Maximum:
    eta: float
    tc: float
    flags: int
    evaluations: int


def curve_maximum(curve: Curve, *, settings: RefineSettings,
                  upper: float | None = None) -> Maximum:
    """The maximum of Tc(eta) over eta >= the first known eta, from the best known point and
    its known neighbours; a best point on the last known eta is followed upward until Tc falls,
    up to ``upper`` (eta; None: not followed). Flags: :data:`~sweep.flags.MAX_AT_BOUND` when
    Tc still grows at ``upper`` (the value is Tc there, a lower bound),
    :data:`~sweep.flags.MAX_AT_FIRST_ETA`, :data:`~sweep.flags.MAX_OUTSIDE_GRID` (past the
    last known eta)."""
    start = curve.evaluations
    xs, ys = curve.known
    if xs.size == 0 or not np.any(ys > 0):
        return Maximum(math.nan, math.nan, NO_MAXIMUM, 0)
    k = int(np.argmax(ys))
    if xs.size == 1:
        return Maximum(float(xs[0]), float(ys[0]), MAX_AT_FIRST_ETA, 0)
    last = float(xs[-1])
    flags = 0
    if k == xs.size - 1:  # rising at the last known eta: follow it up
        bound = last if upper is None else min(float(upper), ETA_LIMITS[1])
        best = [last]

        def falls(x, y):
            if y < curve(best[-1]):
                return True
            best.append(x)
            return False

        end, stopped = _follow(curve, start=last, step=last - float(xs[-2]), direction=1,
                               bound=bound, stop=falls, max_evaluations=settings.max_evaluations)
        if best[-1] > last:
            flags |= MAX_OUTSIDE_GRID
        if not stopped:
            flags |= MAX_AT_BOUND if end >= bound else NOT_CONVERGED
            return Maximum(best[-1], curve(best[-1]), flags, curve.evaluations - start)
        xs, ys = curve.known
        k = int(np.searchsorted(xs, best[-1]))
    if k == 0:
        flags |= MAX_AT_FIRST_ETA
    lo, hi = max(k - 1, 0), min(k + 1, xs.size - 1)
    res = brent_minimize(lambda x: -curve(x), float(xs[lo]), float(xs[hi]), float(xs[k]),
                         ha=-float(ys[lo]), hb=-float(ys[hi]), hx=-float(ys[k]),
                         xtol=settings.eta_tol, ftol=settings.tc_rtol * float(ys[k]),
                         max_evaluations=settings.max_evaluations)
    if not res.converged:
        flags |= NOT_CONVERGED
    if res.x > last:
        flags |= MAX_OUTSIDE_GRID
    return Maximum(res.x, -res.value, flags, curve.evaluations - start)


# ----------------------------------------------------------------------------- antiresonance

@dataclass
class Antiresonance:
    eta: float
    """Location of the minimum; the centre of the below-floor interval if ANTI_BELOW_FLOOR."""
    tc: float
    """Tc at the minimum, K; NaN below the floor."""
    lo: float
    """Lowest eta of the below-floor interval (eta itself otherwise)."""
    hi: float
    flags: int
    evaluations: int


def _log_or_floor(curve: Curve, x: float) -> float:
    y = curve(x)
    if y <= 0.0:
        raise BelowFloor(x)
    return math.log(y)


def _floor_edge(curve: Curve, inside: float, outside: float, *, tol: float) -> float:
    """Bisect between a below-floor point ``inside`` and an ok point ``outside``; returns the
    below-floor side of the final interval (within ``tol`` of the edge)."""
    while abs(outside - inside) > tol:
        mid = 0.5 * (inside + outside)
        if mid in (inside, outside):  # adjacent floats: no eta lies between them
            break
        if curve(mid) <= 0.0:
            inside = mid
        else:
            outside = mid
    return inside


def _follow(curve: Curve, *, start: float, step: float, direction: int, bound: float,
            stop: Callable[[float, float], bool], max_evaluations: int) -> tuple[float, bool]:
    """Walk from ``start`` outward in ``direction`` (+1: up, -1: down) with steps growing by
    GROWTH until ``stop(x, Tc(x))``, no further than ``bound``; returns (last x, whether it
    stopped before the bound). A bound at or behind ``start`` (a user's ``eta_max_bound``
    inside the grid, a grid reaching past a physical bound) is reached at once, nothing
    evaluated: the walk never turns back into the known points. A walk that neither stops nor
    reaches the bound in ``max_evaluations`` steps ends short of it."""
    x = start
    step = abs(step)
    for _ in range(max_evaluations):
        if direction * (x - bound) >= 0:
            return x, False
        x = min(x + step, bound) if direction > 0 else max(x - step, bound)
        if stop(x, curve(x)):
            return x, True
        step *= GROWTH
    return x, False


def curve_antiresonance(curve: Curve, *, eta_max: float, bound: float,
                        settings: RefineSettings) -> Antiresonance:
    """The minimum of ln Tc on eta < eta_max (see the module's Methods), followed outward past
    the known points down to ``bound`` (eta): the minimum itself where Tc stays above the
    temperature floor, else the interval below the floor."""
    start = curve.evaluations
    xs, ys = curve.known
    side = xs < eta_max
    if not side.any():
        return Antiresonance(math.nan, math.nan, math.nan, math.nan, NO_ANTIRESONANCE, 0)
    walk = {"first": float(xs[0]), "step": float(xs[1] - xs[0]) if xs.size > 1 else 0.05,
            "bound": bound}
    try:
        found = _log_minimum(curve, eta_max=eta_max, settings=settings, **walk)
    except BelowFloor:
        found = _floor_interval(curve, eta_max=eta_max, settings=settings, **walk)
    found.evaluations = curve.evaluations - start
    return found


def _log_minimum(curve: Curve, *, eta_max: float, first: float, step: float, bound: float,
                 settings: RefineSettings) -> Antiresonance:
    """The minimum of ln Tc below ``eta_max`` by Brent's method, after walking outward from
    ``first`` (the grid's first eta) in steps from ``step`` down to ``bound`` while Tc keeps
    falling; :class:`BelowFloor` at the first point below the temperature floor."""
    xs, ys = curve.known
    side = xs < eta_max
    flags = 0
    if np.any(ys[side] <= 0.0):
        raise BelowFloor(float(xs[side][ys[side] <= 0.0][0]))
    m = int(np.argmin(np.where(side, ys, np.inf)))
    if m == 0:  # the lowest known point is the first: walk outward until Tc rises
        prev = [first]

        def rises(x, y):
            if y <= 0.0:
                raise BelowFloor(x)
            if y > curve(prev[-1]):
                return True
            prev.append(x)
            return False

        end, found = _follow(curve, start=first, step=step, direction=-1, bound=bound,
                             stop=rises, max_evaluations=settings.max_evaluations)
        if prev[-1] < first:
            flags |= ANTI_OUTSIDE_GRID
        if not found:
            xb = prev[-1]
            flags |= ANTI_AT_BOUND if end <= bound else NOT_CONVERGED
            return Antiresonance(xb, curve(xb), xb, xb, flags, 0)
        xs, ys = curve.known
        m = int(np.searchsorted(xs, prev[-1]))
    a, x, b = float(xs[m - 1]), float(xs[m]), float(xs[m + 1])
    res = brent_minimize(lambda u: _log_or_floor(curve, u), a, b, x,
                         ha=math.log(ys[m - 1]), hb=math.log(ys[m + 1]),
                         hx=math.log(ys[m]), xtol=settings.eta_tol, ftol=settings.tc_rtol,
                         max_evaluations=settings.max_evaluations)
    if not res.converged:
        flags |= NOT_CONVERGED
    if res.x < first:
        flags |= ANTI_OUTSIDE_GRID
    return Antiresonance(res.x, math.exp(res.value), res.x, res.x, flags, 0)


def _floor_interval(curve: Curve, *, eta_max: float, first: float, step: float, bound: float,
                    settings: RefineSettings) -> Antiresonance:
    """The interval below ``eta_max`` where Tc is below the temperature floor: its upper edge
    bisected, its lower edge bisected or, when the lowest known eta is below the floor,
    followed outward down to ``bound`` (flagged outside the grid below ``first``, the grid's
    first eta)."""
    flags = ANTI_BELOW_FLOOR
    xs, ys = curve.known
    below = np.flatnonzero((xs < eta_max) & (ys <= 0.0))
    i_lo, i_hi = int(below[0]), int(below[-1])
    hi = _floor_edge(curve, float(xs[i_hi]), float(xs[i_hi + 1]), tol=settings.floor_tol)
    if i_lo > 0:
        lo = _floor_edge(curve, float(xs[i_lo]), float(xs[i_lo - 1]), tol=settings.floor_tol)
    else:
        last = [float(xs[0])]

        def surfaces(x, y):
            if y > 0.0:
                return True
            last.append(x)
            return False

        x_out, found = _follow(curve, start=last[0], step=step, direction=-1, bound=bound,
                               stop=surfaces, max_evaluations=settings.max_evaluations)
        if last[-1] < first:
            flags |= ANTI_OUTSIDE_GRID
        if found:
            lo = _floor_edge(curve, last[-1], x_out, tol=settings.floor_tol)
        else:
            flags |= ANTI_AT_BOUND if x_out <= bound else NOT_CONVERGED
            lo = last[-1]
    return Antiresonance(0.5 * (lo + hi), math.nan, lo, hi, flags, 0)


def antiresonance_bound(*, omega0: float, g: float, softening: bool, dE: float,
                        settings: RefineSettings) -> float:
    """Lowest eta an antiresonance (and a window's lower edge) is followed to:
    -omega~/dE - follow_margin (RefineSettings)."""
    omega = cutoff(omega0=omega0, g=g, softening=softening)
    return max(-omega / dE - settings.follow_margin, ETA_LIMITS[0])


def eta_upper_bound(*, omega0: float, g: float, softening: bool, E_L: float, dE: float,
                    E_left_out: float, settings: RefineSettings) -> float:
    """Highest eta a maximum (and a window's upper edge) is followed to: the highest at which
    the model holds (:func:`solver.relations.eta_up`), or the user's ``settings.eta_max_bound`` when
    lower. ``E_L``, ``dE``: the resonant subband's bottom and width, meV; ``E_left_out``:
    :attr:`solver.Structure.E_left_out`, meV; ``omega0``: meV."""
    bound = eta_up(E_L=E_L, dE=dE, E_left_out=E_left_out, omega0=omega0, g=g,
                   softening=softening)
    if settings.eta_max_bound is not None:
        bound = min(bound, float(settings.eta_max_bound))
    return min(bound, ETA_LIMITS[1])


# ------------------------------------------------------------------------------------ windows

@dataclass
class Window:
    lo: float
    hi: float
    flags: int
    evaluations: int


def _window_side(curve: Curve, eta_max: float, threshold: float, direction: int
                 ) -> tuple[int, int | None]:
    """From the known point eta_max, walk the known points in ``direction`` while Tc >=
    ``threshold``: (index of the last such point, index of the first below it or None)."""
    xs, ys = curve.known
    i = int(np.searchsorted(xs, eta_max))  # xs[i] == eta_max: it is a known point
    inside, j = i, i + direction
    while 0 <= j < xs.size and ys[j] >= threshold:
        inside = j
        j += direction
    return inside, (j if 0 <= j < xs.size else None)


def curve_window(curve: Curve, *, eta_max: float, tc_max: float, threshold: float,
                 settings: RefineSettings, lower: float | None = None,
                 upper: float | None = None,
                 grid: tuple[float, float] = (-math.inf, math.inf)) -> Window:
    """The interval around eta_max where Tc >= ``threshold`` (K); see the module's Methods.
    An edge the known points do not close is followed down to ``lower`` and up to ``upper``
    (eta; None: not followed); ``grid``: the grid's first and last eta (an edge beyond them
    is flagged :data:`~sweep.flags.WINDOW_OUTSIDE_GRID`)."""
    start = curve.evaluations
    if not (tc_max >= threshold):
        return Window(math.nan, math.nan, BELOW_THRESHOLD, 0)
    flags = 0
    edges = []
    for direction, limit in ((-1, lower), (1, upper)):
        inside, j = _window_side(curve, eta_max, threshold, direction)
        if j is None:  # the known points do not close it: follow it outward
            xs, _ = curve.known
            x_in = float(xs[inside])
            bound = x_in if limit is None else float(np.clip(limit, *ETA_LIMITS))
            prev = inside - direction
            step = abs(x_in - float(xs[prev])) if 0 <= prev < xs.size else settings.root_tol
            above = [x_in]

            def drops(x, y):
                if y < threshold:
                    return True
                above.append(x)
                return False

            _, closed = _follow(curve, start=x_in, step=step, direction=direction, bound=bound,
                                stop=drops, max_evaluations=settings.max_evaluations)
            if not closed:
                flags |= OPEN_BELOW if direction < 0 else OPEN_ABOVE
                edges.append(above[-1])
                continue
            inside, j = _window_side(curve, eta_max, threshold, direction)
        xs, _ = curve.known
        a, b = sorted((float(xs[inside]), float(xs[j])))
        root = brent_root(lambda x: curve(x) - threshold, a, b, xtol=settings.root_tol,
                          rtol=4 * np.finfo(float).eps, maxiter=settings.max_evaluations)
        edges.append(float(root))
    if edges[0] < grid[0] or edges[1] > grid[1]:
        flags |= WINDOW_OUTSIDE_GRID
    return Window(edges[0], edges[1], flags, curve.evaluations - start)


# ---------------------------------------------------------------------------------- one curve

@dataclass
class CurveResult:
    maximum: Maximum
    antiresonance: Antiresonance
    windows: list[Window] = field(default_factory=list)

    @property
    def flags(self) -> int:
        return DONE | self.maximum.flags | self.antiresonance.flags

    @property
    def evaluations(self) -> tuple[int, int, int]:
        """(maximum, antiresonance, windows) solver evaluations."""
        return (self.maximum.evaluations, self.antiresonance.evaluations,
                sum(w.evaluations for w in self.windows))


def refine_curve(curve: Curve, *, bound: float, settings: RefineSettings,
                 upper: float | None = None) -> CurveResult:
    """Maximum, antiresonance and windows of one curve whose grid points ``curve`` knows.
    ``bound``: the lowest eta the antiresonance and the windows are followed to
    (:func:`antiresonance_bound`); ``upper``: the highest eta the maximum and the windows are
    followed to (:func:`eta_upper_bound`; None: not followed past the grid)."""
    grid = curve.known[0]
    mx = curve_maximum(curve, settings=settings, upper=upper)
    if not math.isfinite(mx.tc):
        nothing = Antiresonance(math.nan, math.nan, math.nan, math.nan, 0, 0)
        return CurveResult(mx, nothing, [Window(math.nan, math.nan, BELOW_THRESHOLD, 0)
                                         for _ in settings.thresholds])
    anti = curve_antiresonance(curve, eta_max=mx.eta, bound=bound, settings=settings)
    span = (float(grid[0]), float(grid[-1]))
    windows = [curve_window(curve, eta_max=mx.eta, tc_max=mx.tc, threshold=t, settings=settings,
                            lower=bound, upper=upper, grid=span) for t in settings.thresholds]
    return CurveResult(mx, anti, windows)


# -------------------------------------------------------------------------------- dome top

@dataclass
class Top:
    g: float
    eta: float
    tc: float
    flags: int
    evaluations: int


def search_top(curve_at: Callable[[float], Curve], *, g: Sequence[float],
               eta_max: Sequence[float], tc_max: Sequence[float], eta_step: float,
               settings: RefineSettings,
               eta_bounds: Callable[[float], tuple[float, float]] | None = None,
               at_bound: Sequence[bool] | None = None) -> Top:
    """The top of a dome: the maximum of Tc over (eta, g) with g in [min g, max g] (never
    beyond), searched with the solver (the store's ``top_g``, ``top_eta``, ``top_tc``).

    ``curve_at(g)``: a fresh :class:`Curve` at coupling g (no known points needed); ``g``,
    ``eta_max``, ``tc_max``: the refined maxima of the store's curves (NaN where none);
    ``eta_step``: the grid's eta spacing, the half-width of the first eta bracket at a new g;
    ``eta_bounds(g)``: the (lowest, highest) eta of the maximum at g (the grid's first eta and
    :func:`eta_upper_bound`; None: unbounded); ``at_bound``: whether each given maximum lies
    on such a bound (then a top there is flagged :data:`~sweep.flags.TOP_AT_ETA_BOUND`).

    The search assumes the maximum over eta unimodal in g between the neighbours of the best
    given g: Brent's method there, or, when the best is at an end of the range, one curve
    ``g_tol`` inside it (lower: the top is that end's maximum; else Brent's method).
    """
    g = np.asarray(g, dtype=float)
    tcm = np.asarray(tc_max, dtype=float)
    etm = np.asarray(eta_max, dtype=float)
    edge = np.zeros(g.size, dtype=bool) if at_bound is None else np.asarray(at_bound, bool)
    ok = np.isfinite(tcm)
    if not ok.any():
        return Top(math.nan, math.nan, math.nan, TOP_NONE, 0)
    g, tcm, etm, edge = g[ok], tcm[ok], etm[ok], edge[ok]
    order = np.argsort(g)
    g, tcm, etm, edge = g[order], tcm[order], etm[order], edge[order]
    k = int(np.argmax(tcm))
    evaluations = 0
    best: dict[float, tuple[float, float, bool]] = {
        float(gg): (float(e), float(t), bool(b)) for gg, e, t, b in zip(g, etm, tcm, edge)}

    def F(gg: float) -> float:
        nonlocal evaluations
        if gg in best:
            return best[gg][1]
        lo, hi = eta_bounds(gg) if eta_bounds is not None else (-math.inf, math.inf)
        e0 = min(max(float(np.interp(gg, g, etm)), lo), hi)
        curve = curve_at(gg)
        x = [max(e0 - eta_step, lo), e0, min(e0 + eta_step, hi)]
        y = [curve(v) for v in x]
        for _ in range(settings.max_evaluations):  # walk uphill until x[1] is a bracket
            if y[0] > y[1] and x[0] > lo:
                x = [max(x[0] - (x[1] - x[0]) * GROWTH, lo), x[0], x[1]]
                y = [curve(x[0]), y[0], y[1]]
            elif y[2] > y[1] and x[2] < hi:
                x = [x[1], x[2], min(x[2] + (x[2] - x[1]) * GROWTH, hi)]
                y = [y[1], y[2], curve(x[2])]
            else:
                break
        mx = curve_maximum(curve, settings=settings, upper=hi)
        evaluations += curve.evaluations
        best[gg] = (mx.eta, mx.tc, bool(mx.flags & (MAX_AT_BOUND | MAX_AT_FIRST_ETA)))
        return mx.tc

    if g.size == 1:
        gg = float(g[0])
        e, t, b = best[gg]
        return Top(gg, e, t, TOP_DONE | TOP_AT_G_EDGE | (TOP_AT_ETA_BOUND if b else 0), 0)
    lo, hi = max(k - 1, 0), min(k + 1, g.size - 1)
    ftol = settings.tc_rtol * float(tcm[k])
    res = None
    if k in (0, g.size - 1):
        # The best maximum at an end of the g range. Brent's method from there evaluates
        # points ever nearer to it until one lies within g_tol (about ten curves when Tc
        # rises towards the end, as it does with g): one curve g_tol inside gives its answer.
        # If Tc is lower there, the top of a unimodal F lies within g_tol of the end.
        other = hi if k == 0 else lo
        inner = float(g[k]) + (settings.g_tol if k == 0 else -settings.g_tol)
        if (abs(float(g[k] - g[other])) > settings.g_tol
                and float(tcm[k] - tcm[other]) > ftol and F(inner) < float(tcm[k])):
            res = Extremum(float(g[k]), -float(tcm[k]), True)
    if res is None:
        res = brent_minimize(lambda gg: -F(gg), float(g[lo]), float(g[hi]), float(g[k]),
                             ha=-float(tcm[lo]), hb=-float(tcm[hi]), hx=-float(tcm[k]),
                             xtol=settings.g_tol, ftol=ftol,
                             max_evaluations=settings.max_evaluations)
    flags = TOP_DONE
    if min(res.x - g[0], g[-1] - res.x) <= settings.g_tol:
        flags |= TOP_AT_G_EDGE
    e, t, b = best[res.x]
    if b:
        flags |= TOP_AT_ETA_BOUND
    return Top(float(res.x), e, t, flags, evaluations)
