"""Bloch functions and exchange integrals against plane waves and the ODE reference."""
import math

import numpy as np
import pytest
from scipy import integrate

import naive
from solver.bands import band_edges, band_energy
from solver.overlaps import bloch_density, exchange_integrals


def _grid(L, W, n=48):
    x, w = np.polynomial.legendre.leggauss(n)
    return (np.concatenate([(x + 1) * L / 2, L + (x + 1) * W / 2]),
            np.concatenate([w * L / 2, w * W / 2]))


def _q_nodes(d, p=5):
    return np.arccos(np.cos(np.pi * (np.arange(p) + 0.5) / p)) / d


def test_plane_waves_give_unit_overlaps():
    L, W, V = 8.5, 5.5, 1e-9
    args = (L, W, V, 1.0, 1.0, 1.0, 1.0)
    lo, hi = band_edges(3, *args)
    z, wz = _grid(L, W)
    I, _ = exchange_integrals(_q_nodes(L + W), lo, hi, z, wz, *args)
    np.testing.assert_allclose(I, 1.0, atol=1e-8)


@pytest.mark.parametrize("bdd", [False, True])
def test_overlaps_symmetric_and_match_ode_reference(paper_structure, bdd):
    s = paper_structure
    f = (s["m_w"], s["m_b"]) if bdd else (1.0, 1.0)
    args = (s["L"], s["W"], s["V"], s["m_w"], s["m_b"], *f)
    d = s["L"] + s["W"]
    lo, hi = band_edges(3, *args)
    q = _q_nodes(d, 3)
    z, wz = _grid(s["L"], s["W"])
    I, E = exchange_integrals(q, lo, hi, z, wz, *args)
    assert np.allclose(I, I.transpose(2, 3, 0, 1), rtol=1e-13)
    # naive: densities from scipy's ODE solver on a fine uniform grid, Simpson's rule
    zz = np.linspace(0.0, d, 4001)
    zz = np.unique(np.concatenate([zz, [s["L"]]]))
    rho = {(n, i): naive.bloch_density(zz, E[n, i], q[i], f_w=f[0], f_b=f[1], **s)
           for n in (0, 2) for i in (0, 2)}
    for (n, i) in rho:
        for (m, k) in rho:
            ref = naive.exchange_integral(rho[n, i], rho[m, k], zz)
            assert I[n, i, m, k] == pytest.approx(ref, rel=1e-7)


def test_density_is_periodic_and_normalised(paper_structure):
    s = paper_structure
    args = (s["L"], s["W"], s["V"], s["m_w"], s["m_b"], 1.0, 1.0)
    d = s["L"] + s["W"]
    lo, hi = band_edges(3, *args)
    q = 0.37 * math.pi / d
    e = band_energy(q, lo[2], hi[2], *args)
    z = np.linspace(0.0, d, 2001)
    rho = bloch_density(z, e, q, *args)
    assert rho[0] == pytest.approx(rho[-1], rel=1e-10)  # |psi(d)| = |psi(0)|
    assert np.all(rho > 0)
    assert integrate.simpson(rho / integrate.simpson(rho, x=z), x=z) == pytest.approx(1.0)
