"""Kronig-Penney bands: the paper's numbers, known limits, and the naive reference."""
import math

import numpy as np
import pytest
from scipy import optimize

import naive
from solver import band_structure
from solver.bands import band_edges, band_energy, discriminant
from solver.constants import HBAR2_2ME


def test_paper_structure_matches_model():
    bs = band_structure()
    # docs/model.md §4: dE = 142.2 +- 0.1 meV, three subbands below 3.4 eV, lower two nearly flat
    assert bs.dE == pytest.approx(142.2, abs=0.1)
    assert np.all(bs.E_max < 3400.0)
    widths = bs.E_max - bs.E_min
    assert widths[0] == pytest.approx(2.4, abs=0.3)
    assert widths[1] == pytest.approx(19.0, abs=0.5)
    assert bs.E_L == bs.E_min[2]
    assert np.all(bs.E_min[1:] > bs.E_max[:-1])


def test_ben_daniel_duke_width():
    # docs/model.md §1, §4: BenDaniel-Duke gives dE ~ 124 meV on the paper structure
    assert band_structure(ben_daniel_duke=True).dE == pytest.approx(124.0, abs=0.5)


@pytest.mark.parametrize("s", [
    dict(L=8.5, W=5.5, V=4160.0, m_well=0.86, m_barrier=1.0),
    dict(L=8.5, W=5.5, V=4160.0, m_well=0.86, m_barrier=1.0, f_w=0.86, f_b=1.0),
    dict(L=6.0, W=2.0, V=800.0, m_well=0.7, m_barrier=1.3),
])
def test_edges_match_naive_scan(s):
    f_w, f_b = s.pop("f_w", 1.0), s.pop("f_b", 1.0)
    lo, hi = band_edges(3, s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], f_w, f_b)
    lo_n, hi_n = naive.band_edges(3, e_max=hi[-1] * 1.2, f_w=f_w, f_b=f_b, **s)
    np.testing.assert_allclose(lo, lo_n, rtol=1e-12)
    np.testing.assert_allclose(hi, hi_n, rtol=1e-12)


def test_edges_satisfy_half_trace_one(paper_structure):
    s = paper_structure
    args = (s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], 1.0, 1.0)
    lo, hi = band_edges(3, *args)
    for n in range(3):
        sign = 1 if n % 2 == 0 else -1  # odd bands start at q = 0 (D = +1)
        assert discriminant(lo[n], *args) == pytest.approx(sign, abs=1e-9)
        assert discriminant(hi[n], *args) == pytest.approx(-sign, abs=1e-9)


def test_band_energy_matches_naive_and_is_monotone(paper_structure):
    s = paper_structure
    args = (s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], 1.0, 1.0)
    lo, hi = band_edges(3, *args)
    d = s["L"] + s["W"]
    q = np.linspace(0, math.pi / d, 9)[1:-1]
    for n in range(3):
        e = np.array([band_energy(x, lo[n], hi[n], *args) for x in q])
        e_n = [naive.band_energy(x, lo[n], hi[n], **s) for x in q]
        np.testing.assert_allclose(e, e_n, rtol=1e-13)
        assert np.all(np.diff(e) > 0) if n % 2 == 0 else np.all(np.diff(e) < 0)


@pytest.mark.parametrize("V", [0.0, 1e-6])
def test_free_electron_limit_folds_the_parabola(V):
    # V -> 0 with equal masses: E_n(q) = C (q + G)^2 folded into the zone, edges at C (j pi/d)^2
    L, W, m = 8.5, 5.5, 1.0
    d = L + W
    bs = band_structure(L=L, W=W, V=V, m_well=m, m_barrier=m, m_x=m, nbands=4)
    levels = HBAR2_2ME * (np.arange(5) * math.pi / d) ** 2
    np.testing.assert_allclose(bs.E_min, levels[:4], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bs.E_max, levels[1:], rtol=1e-6)
    args = (L, W, V, m, m, 1.0, 1.0)
    q = 0.3 * math.pi / d
    for n, g in [(0, q), (1, 2 * math.pi / d - q), (2, 2 * math.pi / d + q)]:
        e = band_energy(q, bs.E_min[n], bs.E_max[n], *args)
        assert e == pytest.approx(HBAR2_2ME * g * g, rel=1e-6)


def _finite_well_levels(*, L, V, m, n):
    """Levels of one square well of depth V (equal masses), from the even/odd conditions."""
    k_max = math.sqrt(m * V / HBAR2_2ME)
    out = []
    for j in range(n):
        def f(k, j=j):
            kap = math.sqrt(max(k_max ** 2 - k ** 2, 0.0))
            x = k * L / 2
            if j % 2 == 0:
                return kap * math.cos(x) - k * math.sin(x)
            return kap * math.sin(x) + k * math.cos(x)
        a = j * math.pi / L + 1e-12
        b = min((j + 1) * math.pi / L, k_max) - 1e-12
        k = optimize.brentq(f, a, b, xtol=1e-15)
        out.append(HBAR2_2ME * k * k / m)
    return np.array(out)


def test_wide_high_barrier_gives_isolated_wells_without_overflow():
    # kappa W ~ 100 (and ~1500) must neither overflow nor lose the levels of one finite well
    L, W, m = 8.5, 30.0, 1.0
    for V in (HBAR2_2ME * (100 / W) ** 2, 1e7):
        bs = band_structure(L=L, W=W, V=V, m_well=m, m_barrier=m, m_x=m, nbands=3)
        assert np.all(np.isfinite(bs.E_min)) and np.all(np.isfinite(bs.E_max))
        levels = _finite_well_levels(L=L, V=V, m=m, n=3)
        np.testing.assert_allclose(bs.E_min, levels, rtol=1e-10)
        np.testing.assert_allclose(bs.E_max, levels, rtol=1e-10)


def test_infinite_barrier_limit_gives_infinite_well_levels():
    # V -> infinity: E_n -> C (n pi / L)^2 / m_well; the error falls like the penetration
    # 1/(kappa L)
    L, W, m = 8.5, 5.5, 0.86
    exact = HBAR2_2ME * (np.arange(1, 4) * math.pi / L) ** 2 / m
    errors = []
    for V in (1e6, 1e8, 1e10):
        bs = band_structure(L=L, W=W, V=V, m_well=m, m_barrier=1.0, m_x=m, nbands=3)
        errors.append(np.max(np.abs(bs.E_max / exact - 1)))
        assert np.all(bs.E_min <= exact)
    assert errors[-1] < 1e-3
    assert errors[0] / errors[1] == pytest.approx(10, rel=0.05)  # ~ 1/sqrt(V)
    assert errors[1] / errors[2] == pytest.approx(10, rel=0.05)
