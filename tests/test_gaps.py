"""The gaps below Tc (docs/model.md §5) against limits whose answer is known independently.

The BCS limits use the nearly free 2D gas of test_tc_limits.py (I = 1 and free bands to ~1e-7);
every reference value is computed here with scipy from the BCS integrals, not assumed.
"""
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, optimize

import naive
from solver import prepare_structure
from solver.constants import HBAR2_2ME, KB
from solver.gaps import GapResolution, gaps_on_structure, gaps_point

FREE = dict(L=2.0, W=1.0, V=1e-3, m_well=1.0, m_barrier=1.0, m_x=1.0, nbands=2)
E2 = HBAR2_2ME * (math.pi / 3.0) ** 2  # bottom of band 2 (zone boundary)
N0 = 1.0 / (4.0 * math.pi * HBAR2_2ME)  # 2D density of states per spin, m_x = 1, 1/(meV Å^2)
LAM, OMEGA = 0.25, 50.0  # Tc = 1.04 meV: Tc/omega = 0.02, so e^{-2/lam} = 3e-4 corrections


@pytest.fixture(scope="module")
def free():
    return prepare_structure(**FREE)


def _eta(st, mu):
    return (mu - st.E_L) / st.dE


def _bcs(st, **kw):
    """All g_nn' = LAM, I = 1, flat total DOS: one-band BCS with a hard cut-off OMEGA."""
    return gaps_on_structure(st, eta=_eta(st, 1.5 * E2), g=LAM, g_lower=LAM, g_inter=LAM,
                             omega0=OMEGA, softening=False, **kw)


def bcs_delta(T, *, lam=LAM, omega=OMEGA):
    """Delta(T) (meV) from 1/lam = int_0^omega tanh(E/2T)/E dxi (scipy)."""
    def f(d):
        def k(x):
            e = math.hypot(x, d)
            return (math.tanh(e / (2 * T)) if T > 0 else 1.0) / e
        return integrate.quad(k, 0, omega, points=[d], limit=200, epsabs=0,
                              epsrel=1e-13)[0] - 1 / lam
    return optimize.brentq(f, 1e-9 * omega, omega, xtol=1e-15, rtol=1e-15)


def test_bcs_zero_temperature(free):
    r = _bcs(free, T=[0.0])
    exact = OMEGA / math.sinh(1 / LAM)
    assert bcs_delta(0.0) == pytest.approx(exact, rel=1e-12)  # the reference itself
    # the gap is the same in both subbands and flat in q
    assert np.allclose(r.delta_nodes, exact, rtol=1e-9, atol=0)
    assert np.allclose(r.delta_fermi, exact, rtol=1e-9) and np.allclose(r.delta_avg, exact,
                                                                        rtol=1e-9)
    # 2 Delta(0) / k_B Tc: exact at this lam from the same integrals, and 3.528 to O(e^{-2/lam})
    tc = naive.bcs_tc(lam=LAM, omega=OMEGA)
    ratio = 2 * exact / tc
    assert r.ratio_2delta_kTc[0] == pytest.approx([ratio, ratio], rel=1e-6)
    assert ratio == pytest.approx(2 * math.pi / math.exp(np.euler_gamma), rel=1e-3)
    # condensation energy: N_0 int (|xi| - E + Delta^2/2E) = -N_0 omega (sqrt(omega^2 + D^2)
    # - omega)
    want = -N0 * OMEGA * (math.hypot(OMEGA, exact) - OMEGA)
    assert r.condensation_energy[0] == pytest.approx(want, rel=1e-8)
    assert abs(r.mu_shift_meV[0]) < 1e-6 * OMEGA  # flat DOS: no shift


def test_bcs_temperature_dependence_and_tc(free):
    ts = np.array([0.999, 0.998, 0.9, 0.5, 1.001, 1.05])
    r = _bcs(free, T_over_tc=ts)
    tc = r.tc_K * KB
    for i, t in enumerate(ts):
        if t < 1:
            assert r.delta_fermi[i, 0] == pytest.approx(bcs_delta(t * tc), rel=1e-8)
        else:  # normal above Tc, the linearised equation below 1
            assert np.all(r.delta_nodes[i] == 0) and r.linear_eigenvalue[i] < 1
            assert r.mu_shift_meV[i] == 0.0
    # Delta^2 is linear in T near Tc: the extrapolated zero is the Tc of the Tc kernel
    d2 = r.delta_fermi[:2, 0] ** 2
    t_zero = ts[0] + d2[0] * (ts[0] - ts[1]) / (d2[1] - d2[0])
    assert t_zero == pytest.approx(1.0, abs=1e-4)
    # and Delta ~ sqrt(8 pi^2 / 7 zeta(3)) k_B Tc sqrt(1 - T/Tc) = 3.063 k_B Tc sqrt(1 - T/Tc)
    slope = r.delta_fermi[0, 0] / (tc * math.sqrt(1 - ts[0]))
    assert slope == pytest.approx(math.sqrt(8 * math.pi ** 2 / (7 * 1.2020569031595942)),
                                  rel=2e-3)


def test_density_normal_state_and_conservation():
    # one folded free band with mu just above its top (E2): a van Hove edge inside the window,
    # a strongly asymmetric DOS, so mu must move to conserve the density
    st = prepare_structure(**{**FREE, "nbands": 1})
    mu0 = E2 + 20.0
    kw = dict(eta=(mu0 - st.E_L) / st.dE, g=0.3, omega0=OMEGA, softening=False)
    t_hot = 150.0  # K, above Tc (13 meV: the thermal tails reach beyond the window)
    r = gaps_on_structure(st, T=[0.0, t_hot], **kw)
    assert r.delta_fermi[0, 0] > 0 and np.all(r.delta_nodes[1] == 0) and r.tc_K < t_hot

    def density(T):
        """(2/pi^2) int dq int dk f((C (k^2 + q^2) - mu0)/T) of the free band, by quad."""
        def inner(q):
            top = math.sqrt(max(mu0 + 60 * T - HBAR2_2ME * q * q, 0) / HBAR2_2ME)
            if T == 0:
                return math.sqrt(max(mu0 - HBAR2_2ME * q * q, 0) / HBAR2_2ME)
            return integrate.quad(lambda k: 1 / (1 + math.exp((HBAR2_2ME * (k * k + q * q) - mu0)
                                                             / T)), 0, top, epsabs=0,
                                  epsrel=1e-12, limit=200)[0]
        return 2 / math.pi ** 2 * integrate.quad(inner, 0, math.pi / 3.0, epsabs=0,
                                                 epsrel=1e-11, limit=200)[0]

    # gaps off: the normal density at T = 0 and, above Tc (mu = mu0), the Fermi gas at T
    assert r.density_normal[0] == pytest.approx(density(0.0), rel=1e-6)  # V = 1e-3 meV
    assert r.mu_shift_meV[1] == 0.0
    assert r.density[1, 0] == pytest.approx(density(KB * t_hot), rel=1e-6)
    # gaps on: the density is conserved while mu moves
    assert r.density[0, 0] == pytest.approx(r.density_normal[0], rel=1e-8, abs=0)
    shift = r.mu_shift_meV[0]
    assert 1e-4 < abs(shift) < 0.1 * OMEGA
    fixed = gaps_on_structure(st, T=[0.0], fixed_mu=True, **kw)
    assert fixed.mu_shift_meV[0] == 0.0
    assert abs(fixed.density[0, 0] / r.density_normal[0] - 1) > 1e3 * abs(
        r.density[0, 0] / r.density_normal[0] - 1)


def _band1_dos(e):
    """D_1 of the folded free gas above the zone boundary: (2/pi) arcsin(sqrt(E2/e))."""
    return 2 / math.pi * math.asin(math.sqrt(E2 / e))


def test_two_band_gaps(free):
    # I = 1, Delta_n constant in q: Delta_n = sum_m G_nm Delta_m int dxi D_m(mu + xi)/(2 E_m)
    G = np.array([[0.25, 0.08], [0.08, 0.45]])
    mu, omega = 1.5 * E2, 20.0
    dos = (_band1_dos, lambda e: 1 - _band1_dos(e))

    def rhs(d):
        b = [integrate.quad(lambda x, f=f, dm=dm: f(mu + x) / (2 * math.hypot(x, dm)), -omega,
                            omega, points=[0.0], epsabs=0, epsrel=1e-13, limit=200)[0]
             for f, dm in zip(dos, d)]
        return d - G @ (np.array(b) * d)

    exact = optimize.fsolve(rhs, [1.0, 1.0], xtol=1e-14)
    r = gaps_on_structure(free, eta=_eta(free, mu), g=G[1, 1], g_lower=G[0, 0],
                          g_inter=G[0, 1], omega0=omega, softening=False, T=[0.0],
                          fixed_mu=True)
    assert r.delta_fermi[0] == pytest.approx(exact, rel=1e-6)  # V = 1e-3 meV: I, D ~1e-7 off
    assert r.delta_fermi[0, 0] / r.delta_fermi[0, 1] == pytest.approx(exact[0] / exact[1],
                                                                      rel=1e-6)
    # flat-DOS weak-coupling form, Delta_n = sum_m G_nm N_m Delta_m asinh(omega/Delta_m),
    # holds to the DOS curvature (omega/mu)^2 ~ 1e-5
    n = np.array([f(mu) for f in dos])
    flat = optimize.fsolve(lambda d: d - G @ (n * d * np.arcsinh(omega / d)), exact,
                           xtol=1e-14)
    assert r.delta_fermi[0] == pytest.approx(flat, rel=1e-4)
    assert exact[1] > exact[0]


def test_paper_point():
    st = prepare_structure()
    r = gaps_on_structure(st, eta=1.0, g=1 / 3, T_over_tc=[0.0, 0.999, 0.998])
    d0 = r.delta_fermi[0]
    assert np.argmax(d0) == 2 and d0[2] > 3 * d0[:2].max()  # the resonant subband's gap
    assert 3.5 < r.ratio_2delta_kTc[0, 2] < 5
    assert np.all(r.density.sum(axis=1) > 0)
    assert r.density.sum(axis=1) == pytest.approx(r.density_target, rel=1e-8, abs=0)
    assert r.density_target[0] == r.density_normal.sum()
    assert abs(r.mu_shift_meV[0]) < 0.05 * 230.0
    d2 = (r.delta_nodes[1:] ** 2).sum(axis=(1, 2))
    t_zero = 0.999 + d2[0] * 0.001 / (d2[1] - d2[0])
    assert t_zero == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
@pytest.mark.ci
def test_paper_point_converged():
    st = prepare_structure()
    kw = dict(eta=1.0, g=1 / 3, T_over_tc=[0.0, 0.5])
    r = gaps_on_structure(st, **kw)
    r2 = gaps_on_structure(st, resolution=GapResolution().doubled(), **kw)
    assert r2.delta_nodes == pytest.approx(r.delta_nodes, rel=1e-6)
    assert r2.mu_meV == pytest.approx(r.mu_meV, abs=1e-6)


def test_gaps_point_builds_the_structure(free):
    kw = dict(eta=_eta(free, 1.5 * E2), g=LAM, g_lower=LAM, g_inter=LAM, omega0=OMEGA,
              softening=False, T=[0.0])
    r = gaps_point(**kw, **FREE)
    assert r.delta_nodes == pytest.approx(gaps_on_structure(free, **kw).delta_nodes, rel=1e-12)


def test_bad_input(free):
    with pytest.raises(ValueError, match="exactly one"):
        gaps_on_structure(free, eta=1.0, g=0.2, T=[0.0], T_over_tc=[0.5])
    with pytest.raises(ValueError, match="T must be >= 0"):
        gaps_on_structure(free, eta=1.0, g=0.2, T=[-1.0])
    with pytest.raises(ValueError, match="g must be < 1/2"):
        gaps_on_structure(free, eta=1.0, g=0.5, T=[0.0])


def _cli(*args):
    p = subprocess.run([sys.executable, "-m", "sweep.cli", "gaps", *args], capture_output=True,
                       text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_cli_gaps_json_and_errors():
    code, out, err = _cli("--eta", "1", "--g", "0.25", "--T", "0", "150:250:100", "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["T_K"] for r in records] == [0.0, 150.0, 250.0]
    r = gaps_on_structure(prepare_structure(), eta=1.0, g=0.25, T=[0.0, 150.0, 250.0])
    for i, rec in enumerate(records):
        assert rec["mu_shift_meV"] == pytest.approx(r.mu_shift_meV[i], rel=1e-9, abs=1e-12)
        assert [s["n"] for s in rec["subbands"]] == [1, 2, 3]
        assert set(rec["subbands"][0]) == {"n", "delta_meV", "delta_crossing_meV",
                                           "delta_avg_meV", "density_per_A2",
                                           "ratio_2delta_kTc"}
        assert [s["delta_meV"] for s in rec["subbands"]] == pytest.approx(r.delta_fermi[i],
                                                                          rel=1e-9)
    assert records[2]["subbands"][2]["delta_meV"] == 0.0  # 250 K > Tc = 193 K
    code, out, _ = _cli("--eta", "1", "--g", "0.25", "--T-over-tc", "0")
    assert code == 0 and "2Delta/kTc" in out
    code, _, err = _cli("--eta", "1", "--g", "0.6", "--T", "0")
    assert code == 2 and "g must be < 1/2" in err
    code, _, err = _cli("--eta", "1", "--g", "0.25", "--T", "-3")
    assert code == 2 and "T must be >= 0" in err


def test_cli_gaps_refuses_more_temperatures_than_it_solves_in_minutes():
    from sweep.cli.solver_commands import GAPS_MAX_TEMPERATURES
    code, out, err = _cli("--eta", "1", "--g", "0.3333", "--T", "0:100:0.001")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "--T: 100001 temperatures" in err and f"({GAPS_MAX_TEMPERATURES}" in err
    code, _, err = _cli("--eta", "1", "--g", "0.3333", "--T-over-tc", "0:1:0.0001")
    assert code == 2 and "--T-over-tc: 10001 temperatures" in err


def test_cli_gaps_refuses_a_second_eta():
    code, out, err = _cli("--eta", "1", "--g", "0.3333", "--T", "0", "--eta", "-0.9")
    assert code == 2 and out == ""
    assert err.strip() == ("fanodome gaps: error: --eta: given twice (1.0 and -0.9); it takes "
                           "one value")


def _table(out: str) -> list[str]:
    """The lines of the gaps table: its header and one line per (T, subband)."""
    return out.splitlines()[1:]


def test_cli_gaps_table_keeps_its_columns_where_a_value_is_missing():
    # eta = -0.9: subband 3 has no Fermi surface, so no Delta_FS and no 2 Delta/kTc
    code, out, err = _cli("--eta", "-0.9", "--g", "0.3333", "--T", "0")
    assert code == 0, err
    lines = _table(out)
    assert any(" - " in line for line in lines[1:]), out
    assert len({len(line) for line in lines}) == 1, out  # every column right-aligned
    head = lines[0]
    for line in lines[1:]:
        for column in ("Delta_FS (meV)", "Delta_avg (meV)", "2Delta/kTc"):
            end = head.index(column) + len(column)
            assert line[end - 1] != " " and line[end] == " ", (column, line)


def test_cli_gaps_says_when_there_is_no_tc():
    code, out, err = _cli("--eta", "-0.5", "--g", "0.25", "--T", "0", "--t-floor", "1")
    assert code == 0, err
    assert out.splitlines()[0].endswith("Tc: none (below_floor)")
    assert "Tc = -" not in out
    code, out, _ = _cli("--eta", "-0.5", "--g", "0.25", "--T", "0", "--t-floor", "1", "--json")
    (record,) = json.loads(out)
    assert record["tc_K"] is None and record["tc_status"] == "below_floor"
    code, out, _ = _cli("--eta", "1", "--g", "0.25", "--T", "0", "--json")
    assert json.loads(out)[0]["tc_status"] == "ok"
