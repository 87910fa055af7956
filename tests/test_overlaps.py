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
    f = (s["m_well"], s["m_barrier"]) if bdd else (1.0, 1.0)
    args = (s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], *f)
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


@pytest.mark.parametrize("bdd", [False, True])
def test_cell_normalised_density_matches_ode_reference(paper_structure, bdd):
    # The kernel's |psi_{n,q}(z)|^2, normalised over one period with the Gauss-Legendre rule that
    # exchange_integrals uses, against scipy's ODE integration (tests/naive.py, normalised by
    # Simpson's rule on its own fine grid): the shape, the normalisation and the periodicity.
    s = paper_structure
    f = (s["m_well"], s["m_barrier"]) if bdd else (1.0, 1.0)
    args = (s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], *f)
    d = s["L"] + s["W"]
    lo, hi = band_edges(3, *args)
    z_gl, w_gl = _grid(s["L"], s["W"])
    zz = np.unique(np.concatenate([np.linspace(0.0, d, 4001), [s["L"]]]))
    for n in (0, 2):
        for q in (0.37 * math.pi / d, 0.9 * math.pi / d):
            e = band_energy(q, lo[n], hi[n], *args)
            rho = bloch_density(zz, e, q, *args) / np.sum(w_gl * bloch_density(z_gl, e, q, *args))
            ref = naive.bloch_density(zz, e, q, f_w=f[0], f_b=f[1], **s)
            np.testing.assert_allclose(rho, ref, rtol=0, atol=1e-7 * ref.max())
            well, barrier = zz <= s["L"], zz >= s["L"]  # Simpson on each side of the kink
            norm = integrate.simpson(rho[well], x=zz[well]) + integrate.simpson(rho[barrier],
                                                                                x=zz[barrier])
            assert norm == pytest.approx(1.0, rel=1e-9)
            assert rho[0] == pytest.approx(rho[-1], rel=1e-10)  # |psi(d)| = |psi(0)|
            assert np.all(rho > 0)
