"""Tc against limits whose answer is known independently (docs/model.md §4)."""
import math

import numpy as np
import pytest
from scipy import optimize

import naive
from solver import band_structure, tc_grid
from solver.constants import HBAR2_2ME, KB

# A nearly free 2D gas: d = 3 Å puts the first zone boundary at C (pi/d)^2 = 4178 meV, far from
# the windows used below; V = 1e-3 meV leaves I = 1 and the folded free bands to ~1e-7.
FREE = dict(L=2.0, W=1.0, V=1e-3, m_well=1.0, m_barrier=1.0, m_x=1.0, nbands=2)
E2 = HBAR2_2ME * (math.pi / 3.0) ** 2  # bottom of band 2 (zone boundary)


def _eta(mu):
    bs = band_structure(**FREE)
    return (mu - bs.E_L) / bs.dE


@pytest.mark.parametrize("lam, omega", [(0.2, 50.0), (0.087, 50.0)])
def test_bcs_limit(lam, omega):
    # all g_nn' = lam, I = 1, total DOS = N_0: 1/lam = int_0^omega tanh(x/2T)/x dx
    mu = 1.5 * E2  # inside band 2, both bands contribute, no edge within the window
    r = tc_grid(eta=[_eta(mu)], g=[lam], g_lower=lam, g_inter=lam, omega0=[omega],
                softening=False, **FREE)
    exact = naive.bcs_tc(lam=lam, omega=omega) / KB
    assert r.tc_K[0, 0, 0] == pytest.approx(exact, rel=1e-4)
    if lam < 0.1:
        assert r.tc_K[0, 0, 0] * KB / omega < 2e-5  # the deep weak-coupling case
    # and the closed form of weak coupling, Tc = (2 e^gamma / pi) omega e^{-1/lam}
    assert exact * KB == pytest.approx(2 * math.exp(np.euler_gamma) / math.pi * omega
                                       * math.exp(-1 / lam), rel=1e-6)


def _band1_dos(e):
    """Exact D_1 of the folded free gas above the zone boundary: (2/pi) arcsin(sqrt(E2/e))."""
    return 2 / math.pi * math.asin(math.sqrt(E2 / e))


G = np.array([[0.15, 0.05], [0.05, 0.25]])


def test_multiband_limit_with_exact_densities():
    # I = 1 and Delta constant in q: Lambda(T) = max eig [g_nm B_m(T)], B_m = int K_T D_m,
    # with the folded free-electron densities D_1 and D_2 = 1 - D_1 integrated by quad
    mu, omega = 1.5 * E2, 40.0
    dos = (_band1_dos, lambda e: 1 - _band1_dos(e))

    def lam(t):
        b = [naive.kernel_integral(f, mu=mu, omega=omega, T=t) for f in dos]
        return max(np.linalg.eigvals(G * np.array(b)[None, :]).real)

    exact = math.exp(optimize.brentq(lambda u: lam(math.exp(u)) - 1, math.log(1e-3),
                                     math.log(omega), xtol=1e-12)) / KB
    r = tc_grid(eta=[_eta(mu)], g=[G[1, 1]], g_lower=G[0, 0], g_inter=G[0, 1], omega0=[omega],
                softening=False, **FREE)
    assert r.tc_K[0, 0, 0] == pytest.approx(exact, rel=1e-4)


def test_multiband_limit_with_flat_densities():
    # narrow window (DOS flat to (omega/mu)^2 ~ 3e-6): Tc = BCS with the largest eigenvalue of
    # N_n g_nn' / N_0, N_n / N_0 = D_n(mu)
    mu, omega = 1.5 * E2, 10.0
    n = np.array([_band1_dos(mu), 1 - _band1_dos(mu)])
    lam_max = max(np.linalg.eigvals(G * n[None, :]).real)
    r = tc_grid(eta=[_eta(mu)], g=[G[1, 1]], g_lower=G[0, 0], g_inter=G[0, 1], omega0=[omega],
                softening=False, **FREE)
    assert r.tc_K[0, 0, 0] == pytest.approx(naive.bcs_tc(lam=lam_max, omega=omega) / KB,
                                            rel=1e-4)


def test_below_floor_is_a_status_not_a_number():
    r = tc_grid(eta=[_eta(1.5 * E2)], g=[0.05], g_lower=0.05, g_inter=0.05, omega0=[50.0],
                softening=False, t_floor=1.0, **FREE)  # BCS Tc ~ 50 meV e^-20 ~ 1e-6 K
    assert r.status[0, 0, 0] == 1 and math.isnan(r.tc_K[0, 0, 0])
    assert r.status_name(int(r.status[0, 0, 0])) == "below_floor"
