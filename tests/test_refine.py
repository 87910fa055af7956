"""Refinement of maxima, antiresonances, windows and dome tops: exact answers on synthetic curves
with a known answer, then the solver itself against dense scans."""
import math
from pathlib import Path

import numpy as np
import pytest

from sweep.grid import inclusive_range
from sweep.config import RefineSettings
from sweep.flags import (ANTI_AT_BOUND, ANTI_BELOW_FLOOR, ANTI_OUTSIDE_GRID, BELOW_THRESHOLD,
                         MAX_AT_BOUND, MAX_AT_FIRST_ETA, MAX_OUTSIDE_GRID, NOT_CONVERGED,
                         OPEN_ABOVE, OPEN_BELOW, TOP_AT_ETA_BOUND, TOP_AT_G_EDGE,
                         WINDOW_OUTSIDE_GRID)
from sweep.refine.searches import (Curve, brent_minimize, brent_root, curve_antiresonance,
                                   curve_maximum, curve_window, refine_curve, search_top)

PAPER_ETA = inclusive_range(-0.5, 3.0, 0.05)
S = RefineSettings(thresholds=(273.15, 293.15))


def grid_curve(f, eta=PAPER_ETA):
    """A Curve of ``f`` that knows ``f`` on the grid (free) and counts what it computes beyond."""
    eta = np.asarray(eta, dtype=float)
    return Curve(f, eta=eta, values=[f(x) for x in eta])


def smooth(x):  # a maximum between grid points, 300 K at eta = 0.9371
    return 300.0 * math.exp(-(x - 0.9371) ** 2 / 0.5) + 1e-3


def kink(x):  # a kink maximum (one-sided slopes 300 and 50 K per unit eta) at eta = 0.9343
    return max(1.0, 290.0 - (300.0 * (0.9343 - x) if x < 0.9343 else 50.0 * (x - 0.9343)))


def fano(x):  # an antiresonance at eta = -0.8217 (1 mK), outside the paper grid, and a dome
    return 1e-3 * math.exp(2.0 * (x + 0.8217) ** 2) + 300.0 * math.exp(-(x - 1.0) ** 2 / 0.05)


def test_brent_minimize_on_a_parabola_and_a_kink():
    for h, x_star in ((lambda x: (x - 0.3) ** 2, 0.3), (lambda x: abs(x - 0.2718), 0.2718)):
        r = brent_minimize(h, 0.0, 1.0, 0.5, ha=h(0.0), hb=h(1.0), hx=h(0.5), xtol=1e-9,
                           ftol=1e-300, max_evaluations=200)
        assert r.converged and abs(r.x - x_star) <= 1e-9


def test_brent_root_is_scipys_brentq_to_the_bit():
    """The windows' root finder against scipy's brentq on the same functions: the same root, bit
    for bit, after the same evaluations (smooth, kinked and floored crossings, the curves above
    minus a threshold, four tolerances)."""
    from scipy.optimize import brentq

    rng = np.random.default_rng(7)
    shapes = [lambda x, r: (x - r) ** 3 + 0.1 * (x - r),
              lambda x, r: math.tanh((x - r) / 0.07) - 0.2,
              lambda x, r: (x - r) if x < r else 5.0 * (x - r),
              lambda x, r: max(1e-3, 300.0 * (1.0 - (x - r) ** 2)) - 150.0,
              lambda x, r: smooth(x - r + 0.9371) - 273.15,
              lambda x, r: kink(x - r + 0.9343) - 273.15]
    compared = 0
    for i in range(600):
        shape, r = shapes[i % len(shapes)], rng.uniform(-0.5, 3.0)
        f = lambda x: shape(x, r)  # noqa: E731
        a, b = r - rng.uniform(0.01, 0.5), r + rng.uniform(0.01, 0.5)
        if not (f(a) < 0) ^ (f(b) < 0):
            continue
        kw = {"xtol": (1e-8, 1e-12, 1e-4, 2e-12)[i % 4], "rtol": 4 * np.finfo(float).eps}
        ours, theirs = [], []
        root = brent_root(lambda x: ours.append(x) or f(x), a, b, maxiter=100, **kw)
        ref = brentq(lambda x: theirs.append(x) or f(x), a, b, maxiter=100, **kw)
        assert root == ref and ours == theirs
        compared += 1
    assert compared > 400
    with pytest.raises(ValueError, match="opposite signs"):
        brent_root(lambda x: x * x + 1.0, -1.0, 1.0, xtol=1e-8, rtol=1e-15, maxiter=100)
    with pytest.raises(RuntimeError, match="after 3 steps"):
        brent_root(lambda x: math.tanh((x - 0.3) / 1e-3), 0.0, 1.0, xtol=1e-12, rtol=1e-15,
                   maxiter=3)


def test_the_run_and_refine_services_import_no_scipy_optimize():
    """scipy.optimize and what it brings cost 0.37 s to import (docs/performance.md): the
    services that refine do without it."""
    import subprocess
    import sys

    code = ("import sys, sweep.run.service, sweep.refine.service, sweep.cli.run_commands, "
            "sweep.cli.refine_commands; print('scipy.optimize' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("f, eta_star", [(smooth, 0.9371), (kink, 0.9343)])
def test_maximum_between_grid_points(f, eta_star):
    c = grid_curve(f)
    m = curve_maximum(c, settings=S)
    grid_max = max(f(x) for x in PAPER_ETA)
    assert m.tc >= grid_max
    # located to eta_tol, or to where Tc is flat to tc_rtol (a smooth top): Tc to the slope
    # times eta_tol at a kink, to tc_rtol at a smooth top
    assert abs(m.eta - eta_star) <= S.eta_tol or f(eta_star) - m.tc <= 1e-9 * m.tc
    assert abs(m.eta - eta_star) <= 1e-4
    assert 0 <= f(eta_star) - m.tc <= 300 * S.eta_tol
    assert m.flags & NOT_CONVERGED == 0 and m.flags & MAX_AT_BOUND == 0
    assert 0 < m.evaluations <= 40


def test_maximum_on_the_grid_edge_is_flagged():
    c = grid_curve(lambda x: 100.0 + x)
    m = curve_maximum(c, settings=S)
    assert m.flags & MAX_AT_BOUND and m.eta == 3.0 and m.tc == 103.0


def beyond(x):  # a smooth maximum at eta = 5.3172 (310 K), past the paper grid's last eta
    return 310.0 * math.exp(-(x - 5.3172) ** 2 / 8.0) + 1e-3


def test_maximum_followed_past_the_grid_edge():
    c = grid_curve(beyond)
    m = curve_maximum(c, settings=S, upper=40.0)
    assert m.flags == MAX_OUTSIDE_GRID
    assert abs(m.eta - 5.3172) <= 1e-3 and 0 <= 310.001 - m.tc <= 1e-9 * 310
    assert m.evaluations <= 60
    # not followed (no bound given): the last grid eta, flagged at its bound
    edge = curve_maximum(grid_curve(beyond), settings=S)
    assert edge.flags & MAX_AT_BOUND and edge.eta == 3.0


def test_maximum_stops_at_the_bound_and_only_then_is_flagged():
    rising = grid_curve(lambda x: 100.0 + x)
    m = curve_maximum(rising, settings=S, upper=4.5)
    assert m.flags == MAX_AT_BOUND | MAX_OUTSIDE_GRID and m.eta == 4.5 and m.tc == 104.5
    # a bound beyond the maximum stops nothing: no flag of a bound
    m = curve_maximum(grid_curve(beyond), settings=S, upper=5.5)
    assert m.flags == MAX_OUTSIDE_GRID and abs(m.eta - 5.3172) <= 1e-3
    # on the first eta: the search does not go below the grid
    m = curve_maximum(grid_curve(lambda x: 100.0 - x), settings=S, upper=40.0)
    assert m.flags == MAX_AT_FIRST_ETA and m.eta == -0.5


def test_windows_followed_past_both_grid_edges():
    def wide(x):  # Tc >= 250 K for eta in [-0.8123, 4.2345]: a broad flat-topped dome
        return 250.0 + 60.0 * (1.0 - ((x - 1.7111) / 2.5234) ** 2)
    w = refine_curve(grid_curve(wide), bound=-2.0, upper=40.0,
                     settings=RefineSettings(thresholds=(250.0,))).windows[0]
    assert w.flags == WINDOW_OUTSIDE_GRID
    assert abs(w.lo - (1.7111 - 2.5234)) <= 1e-8 and abs(w.hi - (1.7111 + 2.5234)) <= 1e-8
    # bounds inside the window: open there, at the bounds
    w = refine_curve(grid_curve(wide), bound=-0.6, upper=3.5,
                     settings=RefineSettings(thresholds=(250.0,))).windows[0]
    assert w.flags == OPEN_BELOW | OPEN_ABOVE | WINDOW_OUTSIDE_GRID
    assert (w.lo, w.hi) == (-0.6, 3.5)


def test_bounds_inside_the_grid_follow_nothing_and_flag_the_grid_edge():
    # an eta_max_bound below the grid's last eta, an antiresonance bound above its first: the
    # walks never turn back into the grid; what is still open at a grid edge is a bound there
    def rising(x):  # Tc >= 250 K from eta = 1.25 up, still rising at the grid's last eta
        return 200.0 + 40.0 * x

    r = refine_curve(grid_curve(rising), bound=0.2, upper=0.3,
                     settings=RefineSettings(thresholds=(250.0,)))
    assert r.maximum.flags == MAX_AT_BOUND and (r.maximum.eta, r.maximum.tc) == (3.0, 320.0)
    assert r.maximum.evaluations == 0
    w = r.windows[0]
    assert w.flags == OPEN_ABOVE and w.hi == 3.0 and abs(w.lo - 1.25) <= 1e-9
    falling = grid_curve(lambda x: 1e-3 * math.exp(x) + 300.0 * math.exp(-(x - 1.0) ** 2 / 0.05))
    m = curve_maximum(falling, settings=S)
    a = curve_antiresonance(falling, eta_max=m.eta, bound=0.2, settings=S)
    assert a.flags == ANTI_AT_BOUND and a.eta == -0.5 and a.evaluations == 0
    floored = grid_curve(lambda x: 0.0 if x < 0.0 else plateau(x))
    a = curve_antiresonance(floored, eta_max=1.0, bound=0.2, settings=S)
    assert a.flags == ANTI_BELOW_FLOOR | ANTI_AT_BOUND and a.lo == -0.5


def test_antiresonance_followed_past_the_grid_edge():
    c = grid_curve(fano)
    m = curve_maximum(c, settings=S)
    a = curve_antiresonance(c, eta_max=m.eta, bound=-2.0, settings=S)
    assert a.flags & ANTI_OUTSIDE_GRID and not a.flags & (ANTI_AT_BOUND | ANTI_BELOW_FLOOR)
    assert a.tc == pytest.approx(1e-3, rel=1e-9)
    # a parabola in ln Tc of curvature 2: flat to 1e-9 within 2e-5 of the minimum
    assert abs(a.eta + 0.8217) <= 3e-5 and a.lo == a.hi == a.eta
    # inside the grid: no outward walk, the same answer
    inside = grid_curve(fano, eta=inclusive_range(-1.5, 3.0, 0.05))
    b = curve_antiresonance(inside, eta_max=m.eta, bound=-2.0, settings=S)
    assert not b.flags & ANTI_OUTSIDE_GRID and b.tc == pytest.approx(1e-3, rel=1e-9)


def test_antiresonance_stops_at_the_bound():
    c = grid_curve(lambda x: 1e-3 * math.exp(x) + 300.0 * math.exp(-(x - 1.0) ** 2 / 0.05))
    m = curve_maximum(c, settings=S)
    a = curve_antiresonance(c, eta_max=m.eta, bound=-1.7, settings=S)
    assert a.flags & ANTI_AT_BOUND and a.flags & ANTI_OUTSIDE_GRID
    assert a.eta == -1.7 and a.tc == pytest.approx(1e-3 * math.exp(-1.7))


LO, HI = -0.3137, -0.1234


def plateau(x):  # Tc under the floor (0) on [LO, HI], a dome above
    return 0.0 if LO <= x <= HI else 1e-4 + 300.0 * math.exp(-(x - 1.0) ** 2 / 0.05)


@pytest.mark.parametrize("lo", [LO, -0.9137])
def test_below_floor_interval(lo):
    def f(x):
        return 0.0 if lo <= x <= HI else plateau(x)
    c = grid_curve(f)
    m = curve_maximum(c, settings=S)
    a = curve_antiresonance(c, eta_max=m.eta, bound=-2.0, settings=S)
    assert a.flags & ANTI_BELOW_FLOOR and math.isnan(a.tc)
    assert abs(a.hi - HI) <= S.floor_tol and abs(a.lo - lo) <= S.floor_tol
    assert a.eta == pytest.approx(0.5 * (a.lo + a.hi))
    assert bool(a.flags & ANTI_OUTSIDE_GRID) == (lo < -0.5)


def test_below_floor_between_grid_points_is_found():
    # the grid (step 0.05) sees no point under the floor; the minimisation does
    def f(x):
        if -0.2049 <= x <= -0.2001:
            return 0.0
        return 1e-4 * math.exp(min(100 * (x + 0.2025) ** 2, 5)) + plateau(x)
    c = grid_curve(f)
    assert min(c.known[1]) > 0
    a = curve_antiresonance(c, eta_max=1.0, bound=-2.0, settings=S)
    assert a.flags & ANTI_BELOW_FLOOR
    assert abs(a.lo + 0.2049) <= S.floor_tol and abs(a.hi + 0.2001) <= S.floor_tol


def test_windows_are_the_crossings():
    c = grid_curve(smooth)
    m = curve_maximum(c, settings=S)
    for t in S.thresholds:
        w = curve_window(c, eta_max=m.eta, tc_max=m.tc, threshold=t, settings=S)
        half = math.sqrt(0.5 * math.log(300.0 / (t - 1e-3)))
        assert abs(w.lo - (0.9371 - half)) <= 1e-8 and abs(w.hi - (0.9371 + half)) <= 1e-8
        assert smooth(w.lo) == pytest.approx(t, rel=1e-6)
    high = curve_window(c, eta_max=m.eta, tc_max=m.tc, threshold=301.0, settings=S)
    assert high.flags == BELOW_THRESHOLD and math.isnan(high.lo)
    wide = curve_window(c, eta_max=m.eta, tc_max=m.tc, threshold=1e-3, settings=S)
    assert wide.flags & OPEN_ABOVE and wide.hi == 3.0


def test_refine_curve_kink_windows_and_counts():
    r = refine_curve(grid_curve(kink), bound=-2.0, settings=S)
    assert 0 <= 290.0 - r.maximum.tc <= 300 * S.eta_tol
    lo, hi = r.windows[0].lo, r.windows[0].hi
    assert lo == pytest.approx(0.9343 - (290 - 273.15) / 300, abs=1e-8)
    assert hi == pytest.approx(0.9343 + (290 - 273.15) / 50, abs=1e-8)
    assert r.windows[1].flags == BELOW_THRESHOLD
    assert sum(r.evaluations) > 0


def dome2d(g, x):  # top at g = 0.4012, eta = 0.9006, 320 K; a kink in eta at every g
    e0 = 0.9 + 0.5 * (g - 0.4)
    return 320.0 - 1e4 * (g - 0.4012) ** 2 - (300 if x < e0 else 60) * abs(x - e0)


def _top(f, g):
    maxima = [curve_maximum(grid_curve(lambda x: f(gg, x)), settings=S) for gg in g]
    return search_top(lambda gg: Curve(lambda x: f(gg, x)), g=g,
                    eta_max=[m.eta for m in maxima], tc_max=[m.tc for m in maxima],
                    eta_step=0.05, settings=S)


def test_dome_top_in_g():
    g = inclusive_range(0.10, 0.49, 0.01)
    top = _top(dome2d, g)
    assert 0 <= 320.0 - top.tc <= 300 * S.eta_tol
    assert abs(top.g - 0.4012) <= 1e-4 and abs(top.eta - 0.9006) <= 1e-5
    assert not top.flags & TOP_AT_G_EDGE
    # Tc growing with g: the top is on the range's edge, never beyond
    edge = _top(lambda gg, x: dome2d(0.4012, x) + 100 * gg, inclusive_range(0.1, 0.3, 0.05))
    assert edge.flags & TOP_AT_G_EDGE and edge.g == 0.3


@pytest.mark.parametrize("g_top, at_edge", [(0.5, True), (0.2996, False), (0.2, False)])
def test_dome_top_at_the_end_of_the_g_range_costs_one_curve(g_top, at_edge):
    # the best grid maximum at g = 0.3, the end: one curve g_tol inside tells whether the top
    # is that end's maximum (Tc rises to it) or lies inside (Brent's method finds it)
    def f(gg, x):
        return dome2d(0.4012, x) - 1e3 * (gg - g_top) ** 2
    g = inclusive_range(0.1, 0.3, 0.05)
    maxima = [curve_maximum(grid_curve(lambda x: f(gg, x)), settings=S) for gg in g]
    curves = []

    def curve_at(gg):
        curves.append(gg)
        return Curve(lambda x: f(gg, x))

    top = search_top(curve_at, g=g, eta_max=[m.eta for m in maxima],
                     tc_max=[m.tc for m in maxima], eta_step=0.05, settings=S)
    assert abs(top.g - min(g_top, 0.3)) <= S.g_tol
    assert top.tc >= max(m.tc for m in maxima)
    if at_edge:
        assert curves == [0.3 - S.g_tol] and top.g == 0.3 and top.tc == maxima[-1].tc
        assert top.flags & TOP_AT_G_EDGE
    elif g_top > 0.25:
        assert len(curves) > 1 and not top.flags & TOP_AT_G_EDGE


def test_dome_top_within_the_eta_bounds():
    # Tc grows with eta at every g: the top's maximum over eta sits on the eta bound
    def f(gg, x):
        return 300.0 - 1e4 * (gg - 0.3012) ** 2 + 5.0 * x
    g = inclusive_range(0.2, 0.4, 0.05)
    maxima = [curve_maximum(grid_curve(lambda x: f(gg, x)), settings=S, upper=4.0) for gg in g]
    assert all(m.flags & MAX_AT_BOUND and m.eta == 4.0 for m in maxima)
    top = search_top(lambda gg: Curve(lambda x: f(gg, x)), g=g,
                     eta_max=[m.eta for m in maxima], tc_max=[m.tc for m in maxima],
                     eta_step=0.05, settings=S, eta_bounds=lambda gg: (-0.5, 4.0),
                     at_bound=[True] * len(g))
    assert top.flags & TOP_AT_ETA_BOUND and not top.flags & TOP_AT_G_EDGE
    assert top.eta == 4.0 and abs(top.g - 0.3012) <= 1e-5


def test_settings_are_checked():
    with pytest.raises(ValueError, match="eta_tol"):
        RefineSettings(eta_tol=0)
    with pytest.raises(ValueError, match="thresholds"):
        RefineSettings(thresholds=(-1.0,))
    assert RefineSettings(thresholds=(293.15, 273.15)).thresholds == (273.15, 293.15)
    with pytest.raises(ValueError, match="eta_max_bound"):
        RefineSettings(eta_max_bound=math.inf)
    assert RefineSettings(eta_max_bound=-1.0).eta_max_bound == -1.0


# ------------------------------------------------------------------------------ on the solver

MODEL = dict(g_lower=0.1, g_inter=0.1, softening=True, t_floor=1e-6)


@pytest.fixture(scope="module")
def structures():
    import solver
    return {"paper": solver.prepare_structure(L=8.5, W=5.5),
            "wide band": solver.prepare_structure(L=7.0, W=4.0)}


def _scan(st, eta, g):
    import solver
    r = solver.tc_on_structure(st, eta=eta, g=[g], **MODEL)
    return np.where(r.status[0, 0] == solver.STATUS_OK, r.tc_K[0, 0], 0.0)


def _solver_curve(st, g, eta):
    from sweep.refine import solver_curve
    return solver_curve(st, g=g, omega0=230.0, model=MODEL, eta=eta, values=_scan(st, eta, g))


def _bound(st, g):
    from sweep.refine import antiresonance_bound
    return antiresonance_bound(omega0=230.0, g=g, softening=True, dE=st.dE, settings=S)


@pytest.mark.slow
@pytest.mark.parametrize("name, g", [("paper", 0.25), ("paper", 1 / 3), ("paper", 0.4),
                                     pytest.param("wide band", 1 / 3, marks=pytest.mark.ci)])
def test_solver_maximum_against_a_dense_scan(structures, name, g):
    st = structures[name]
    eta = np.asarray(PAPER_ETA)
    c = _solver_curve(st, g, eta)
    grid = c.known[1].copy()
    m = curve_maximum(c, settings=S)
    assert m.tc >= grid.max() and m.flags == 0 and m.evaluations <= 40
    step = 1e-4
    scan_eta = m.eta + step * np.arange(-100, 101)
    scan = _scan(st, scan_eta, g)
    k = int(np.argmax(scan))
    assert 0 < k < scan.size - 1
    assert m.tc >= scan.max() * (1 - 1e-9)  # as high as every scan point
    assert abs(m.eta - scan_eta[k]) <= step  # where the scan puts it, to its resolution


@pytest.mark.slow
@pytest.mark.parametrize("name, g", [("paper", 0.25), pytest.param("paper", 1 / 3,
                                                                  marks=pytest.mark.ci),
                                     ("paper", 0.4), ("wide band", 1 / 3)])
def test_solver_antiresonance_followed_from_the_paper_axis(structures, name, g):
    st = structures[name]
    c = _solver_curve(st, g, np.asarray(PAPER_ETA))  # eta >= -0.5, as the paper plots it
    r = refine_curve(c, bound=_bound(st, g), settings=S)
    a = r.antiresonance
    assert not a.flags & (ANTI_BELOW_FLOOR | ANTI_AT_BOUND | NOT_CONVERGED)
    coarse_eta = np.arange(-1.5, 0.0, 0.01)
    coarse = _scan(st, coarse_eta, g)
    centre = coarse_eta[int(np.argmin(coarse))]
    fine_eta = centre + 1e-4 * np.arange(-150, 151)
    fine = _scan(st, fine_eta, g)
    assert a.tc <= fine.min() * (1 + 1e-9) and a.tc <= coarse.min()
    assert abs(a.eta - fine_eta[int(np.argmin(fine))]) <= 2e-4
    assert bool(a.flags & ANTI_OUTSIDE_GRID) == (a.eta < -0.5)
    # the windows' edges are the crossings
    for t, w in zip(S.thresholds, r.windows):
        if w.flags & BELOW_THRESHOLD:
            assert r.maximum.tc < t
            continue
        assert w.flags == 0
        for edge in (w.lo, w.hi):
            assert _scan(st, [edge], g)[0] == pytest.approx(t, rel=1e-6)


@pytest.mark.slow
def test_solver_dome_top_against_scans_in_g(structures):
    from sweep.refine import solver_curve
    st = structures["paper"]
    eta = np.asarray(PAPER_ETA)
    g = inclusive_range(0.36, 0.44, 0.02)
    maxima = [curve_maximum(_solver_curve(st, gg, eta), settings=S) for gg in g]
    top = search_top(lambda gg: solver_curve(st, g=gg, omega0=230.0, model=MODEL), g=g,
                   eta_max=[m.eta for m in maxima], tc_max=[m.tc for m in maxima],
                   eta_step=0.05, settings=S)
    assert top.tc >= max(m.tc for m in maxima) and not top.flags & TOP_AT_G_EDGE
    assert 0.36 < top.g < 0.44
    scan_eta = top.eta + 1e-4 * np.arange(-100, 101)
    for dg in (-2e-3, -1e-3, 1e-3, 2e-3):  # the dome is lower on either side in g
        assert _scan(st, scan_eta, top.g + dg).max() <= top.tc * (1 + 1e-9)
    assert _scan(st, [top.eta], top.g)[0] == pytest.approx(top.tc, rel=1e-12)


@pytest.mark.slow
@pytest.mark.ci
def test_solver_maximum_followed_past_the_paper_axis():
    """L = 9, W = 8.5 Å, g = 1/3 on the paper's eta axis (eta <= 3): Tc still rises at eta = 3;
    the refined maximum lies beyond it and is the maximum of a dense scan there."""
    import solver
    from sweep.refine import eta_upper_bound
    st = solver.prepare_structure(L=9.0, W=8.5)
    g = 1 / 3
    eta = np.asarray(PAPER_ETA)
    c = _solver_curve(st, g, eta)
    assert c.known[1][-1] == c.known[1].max()  # rising at the grid's last eta
    upper = eta_upper_bound(omega0=230.0, g=g, softening=True, E_L=st.E_L, dE=st.dE,
                            E_left_out=st.E_left_out, settings=S)
    r = refine_curve(c, bound=_bound(st, g), upper=upper, settings=S)
    m = r.maximum
    assert m.flags == MAX_OUTSIDE_GRID and 3.0 < m.eta < upper
    coarse_eta = np.arange(3.0, 8.0, 0.01)
    coarse = _scan(st, coarse_eta, g)
    centre = coarse_eta[int(np.argmax(coarse))]
    fine_eta = centre + 1e-4 * np.arange(-150, 151)
    fine = _scan(st, fine_eta, g)
    assert m.tc >= fine.max() * (1 - 1e-9) and m.tc >= coarse.max()
    assert abs(m.eta - fine_eta[int(np.argmax(fine))]) <= 2e-4
    assert _scan(st, [m.eta], g)[0] == pytest.approx(m.tc, rel=1e-12)
    for t, w in zip(S.thresholds, r.windows):  # each window closes beyond the grid
        assert w.flags == WINDOW_OUTSIDE_GRID and w.hi > 3.0
        assert _scan(st, [w.hi], g)[0] == pytest.approx(t, rel=1e-6)


def test_upper_bound_is_where_the_window_meets_the_first_subband_left_out():
    import solver
    st = solver.prepare_structure(L=9.0, W=8.5)
    four = solver.band_structure(L=9.0, W=8.5, nbands=4)
    assert st.E_left_out == pytest.approx(four.E_min[-1], rel=1e-12)
    from sweep.refine import eta_upper_bound
    g = 1 / 3
    upper = eta_upper_bound(omega0=230.0, g=g, softening=True, E_L=st.E_L, dE=st.dE,
                            E_left_out=st.E_left_out, settings=S)
    omega = 230.0 * math.sqrt(1 - 2 * g)
    assert st.E_L + upper * st.dE + omega == pytest.approx(four.E_min[-1], rel=1e-12)
    user = eta_upper_bound(omega0=230.0, g=g, softening=True, E_L=st.E_L, dE=st.dE,
                           E_left_out=st.E_left_out, settings=RefineSettings(eta_max_bound=4.0))
    assert user == 4.0
