"""Weighted DOS D(eps): free-electron value, the quad reference, and the table's interpolation."""
import math

import numpy as np
import pytest

import naive
from solver.bands import band_edges
from solver.constants import HBAR2_2ME
from solver.dos import (build_table, chebyshev_basis, packed_size, table_breaks, table_eval,
                        top_curvature, weighted_dos)

XT, WT = np.polynomial.legendre.leggauss(12)


def _total(eps, n, args, m_x, p=5):
    lo, hi = band_edges(n + 1, *args)
    c, b = chebyshev_basis(p)
    a = top_curvature(n % 2 == 0, lo[n], hi[n], *args)
    out = np.zeros(packed_size(p))
    weighted_dos(eps, n % 2 == 0, lo[n], hi[n], a, *args, c, b,
                 2 / math.pi * math.sqrt(HBAR2_2ME / m_x), XT, WT, 1.0, out)
    # sum_ij D_ij = D for Delta = 1 (off-diagonal entries count twice)
    iu = np.triu_indices(p)
    return np.sum(out * np.where(iu[0] == iu[1], 1.0, 2.0))


@pytest.mark.parametrize("eps", [50.0, 1000.0, 2500.0, 4000.0])
def test_free_gas_has_unit_dos(eps):
    # isotropic free electrons inside the first zone: (2/pi) sqrt(C) int dq / sqrt(eps - C q^2) = 1
    args = (2.0, 1.0, 1e-6, 1.0, 1.0, 1.0, 1.0)
    assert _total(eps, 0, args, 1.0) == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("offset", [-100.0, -30.0, -0.5, 0.5, 20.0, 300.0])
def test_resonant_band_dos_matches_quad(paper_structure, offset):
    s = paper_structure
    args = (s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], 1.0, 1.0)
    lo, hi = band_edges(3, *args)
    eps = hi[2] + offset
    ref = naive.weighted_dos_total(eps, lo[2], hi[2], m_x=0.86, **s)
    assert _total(eps, 2, args, 0.86) == pytest.approx(ref, rel=1e-8)


def test_table_interpolates_direct_evaluation(paper_structure):
    # within ~1e-6 meV of the band top q*(eps) = arccos(D(eps))/d itself is only good to ~1e-8,
    # and D to ~1e-4 there; that sliver has no weight in B (see solver/dos.py), so it is not tested
    s = paper_structure
    args = (s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], 1.0, 1.0)
    lo, hi = band_edges(3, *args)
    p = 5
    c, b = chebyshev_basis(p)
    pref = 2 / math.pi * math.sqrt(HBAR2_2ME / 0.86)
    a = top_curvature(True, lo[2], hi[2], *args)
    breaks = table_breaks(e_bottom=lo[2], e_top=hi[2], lo=lo[2] - 50, hi=hi[2] + 200,
                          depth=1e-10, bulk_panels=4)
    cheb, cb = chebyshev_basis(10)
    vals = build_table(breaks, cheb, True, lo[2], hi[2], a, *args, c, b, pref, XT, WT, 1.0)
    rng = np.random.default_rng(1)
    got = np.empty(packed_size(p))
    lv = np.empty(10)
    for eps in np.concatenate([rng.uniform(lo[2] - 40, hi[2] + 190, 40),
                               hi[2] + np.array([-1e-2, -1e-3, 1e-3, 1e-2])]):
        want = np.zeros(packed_size(p))
        weighted_dos(eps, True, lo[2], hi[2], a, *args, c, b, pref, XT, WT, 1.0, want)
        table_eval(eps, breaks, vals, cheb, cb, lv, got)
        # Chebyshev interpolation on panels [y, 2y] from a log singularity:
        # error ~ (3+sqrt 8)^-10 ~ 2e-8
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7 * np.abs(want).max())
