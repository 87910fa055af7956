"""The fast gap solver against the slow reference (tests/reference_gaps.py) and its own derivatives.

tests/data/gaps_reference.json holds the reference's answers (written by
tests/make_gaps_reference.py) on 28 points spread over the paper's grid and 6 on a wide-band
structure, at T/Tc = 0, 0.5, 0.9 and 0.99. The fast path must give every subband gap to 1e-6
relative and mu - mu0 to 1e-5 meV there (it does to ~3e-9 of both).
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import make_gaps_reference
import reference_gaps
from solver import prepare_structure
from solver.constants import KB
from solver.gaps import DEFAULT_GAP_RESOLUTION, _density, _evaluate, _Problem, gaps_on_structure
from solver.tc import coupling_matrix, cutoff

FIXTURE = json.loads(make_gaps_reference.FIXTURE.read_text())
CASES = FIXTURE["cases"]
GAP_RTOL = 1e-6
MU_ATOL = 1e-5  # meV
BCS_2DELTA_KTC = 2 * math.pi / math.exp(np.euler_gamma)  # 3.528


@pytest.fixture(scope="module")
def structures():
    return {}


def _structure(structures, case):
    key = tuple(sorted(case["structure"].items()))
    if key not in structures:
        structures[key] = prepare_structure(**case["structure"])
    return structures[key]


def _compare(st, case):
    r = gaps_on_structure(st, eta=case["eta"], g=case["g"], omega0=case["omega0"],
                          T_over_tc=case["T_over_tc"])
    assert r.tc_K == pytest.approx(case["tc_K"], rel=1e-12)
    ref = np.array(case["delta_nodes"], dtype=float)
    assert np.all(ref > 0)  # every T below Tc, every subband paired
    assert r.delta_nodes == pytest.approx(ref, rel=GAP_RTOL, abs=0)
    fermi = np.array(case["delta_fermi"], dtype=float)  # NaN: no Fermi line
    assert np.array_equal(np.isnan(r.delta_fermi), np.isnan(fermi))
    ok = ~np.isnan(fermi)
    assert r.delta_fermi[ok] == pytest.approx(fermi[ok], rel=GAP_RTOL, abs=0)
    assert r.mu_shift_meV == pytest.approx(case["mu_shift_meV"], rel=0, abs=MU_ATOL)
    # the density equation holds at the answer
    assert r.density.sum(axis=1) == pytest.approx(r.density_target, rel=1e-10, abs=0)


def test_fixture_covers_the_grid():
    paper = [c for c in CASES if not c["structure"] and "skipped" not in c]
    wide = [c for c in CASES if c["structure"] and "skipped" not in c]
    assert len(paper) + len(wide) >= 30 and len(wide) >= 5
    etas, gs = [c["eta"] for c in paper], [c["g"] for c in paper]
    assert min(etas) <= -0.45 and max(etas) >= 2.9 and min(gs) <= 0.1 and max(gs) >= 0.48
    assert max(FIXTURE["T_over_tc"]) == 0.99
    assert min(c["tc_K"] for c in paper) < 1e-2  # the antiresonance is in


def test_matches_reference_on_the_paper_grid(structures):
    for case in CASES:
        if not case["structure"] and "skipped" not in case:
            _compare(_structure(structures, case), case)


@pytest.mark.slow
@pytest.mark.ci
def test_matches_reference_on_a_wide_band_structure(structures):
    cases = [c for c in CASES if c["structure"] and "skipped" not in c]
    for case in cases:
        _compare(_structure(structures, case), case)


@pytest.mark.slow
def test_fixture_reproducible(structures):
    """The reference, run again, writes the same numbers (two paper points, one deep)."""
    for case in (CASES[1], CASES[-7]):
        rec = make_gaps_reference.run_case(case, {})
        for key in ("tc_K", "delta_nodes", "mu_shift_meV", "density"):
            assert np.array(rec[key], dtype=float) == pytest.approx(
                np.array(case[key], dtype=float), rel=1e-12, abs=1e-15)


def test_deep_antiresonance():
    """eta = -0.3, g = 0.3: Tc ~ 1 mK, the resonant subband empty. The occupied subbands pair
    like weak-coupling BCS; the empty one has no Fermi line and says so."""
    st = prepare_structure()
    r = gaps_on_structure(st, eta=-0.3, g=0.3, T_over_tc=[0.0, 0.5])
    assert 1e-4 < r.tc_K < 1e-2
    ratio = r.ratio_2delta_kTc[0, :2]
    assert ratio == pytest.approx([BCS_2DELTA_KTC] * 2, rel=0.03)
    assert np.all(r.delta_nodes[:, :2] > 0)
    # the empty resonant subband: no Fermi line, no crossing, no ratio; a negligible density
    assert np.isnan(r.delta_fermi[:, 2]).all() and np.isnan(r.delta_crossing[:, 2]).all()
    assert np.isnan(r.ratio_2delta_kTc[:, 2]).all()
    assert r.density_normal[2] == 0.0 and np.all(r.density[:, 2] < 1e-6 * r.density[:, :2].sum(1))
    # weak coupling: Delta(T/Tc = 0.5)/Delta(0) near BCS's 0.9518 (Muehlschlegel's table)
    assert r.delta_fermi[1, :2] / r.delta_fermi[0, :2] == pytest.approx([0.9518] * 2, rel=0.01)
    assert np.all(np.abs(r.mu_shift_meV) < 1e-6)


def test_reference_agrees_in_the_antiresonance():
    """The deep point against the reference solver itself (run here, not from the fixture)."""
    st = prepare_structure()
    kw = dict(eta=-0.3, g=0.3, T_over_tc=[0.0])
    fast = gaps_on_structure(st, **kw)
    ref = reference_gaps.gaps_on_structure(st, **kw)
    assert fast.delta_nodes == pytest.approx(ref.delta_nodes, rel=GAP_RTOL, abs=0)
    assert fast.mu_shift_meV == pytest.approx(ref.mu_shift_meV, abs=MU_ATOL)


@pytest.mark.parametrize("eta, t_over_tc", [(0.5, 0.0), (1.0, 0.6), (2.0, 0.9)])
def test_jacobian_against_finite_differences(eta, t_over_tc):
    """band_sums' derivatives (d(B x)/dmu, dn/dDelta_j, dn/dmu) against central differences of
    the same sums, each on the q grid of its own mu (as the solver builds them)."""
    st = prepare_structure()
    g = 0.3
    r = gaps_on_structure(st, eta=eta, g=g, T_over_tc=[t_over_tc])
    nb, p = st.bottoms.size, st.n_basis
    gm = coupling_matrix(nbands=nb, g=g, g_lower=0.1, g_inter=0.1)
    a_mat = np.kron(gm, np.ones((p, p))) * st.overlaps.reshape(nb * p, nb * p)
    prob = _Problem(st, a_mat=a_mat, omega=cutoff(omega0=230.0, g=g, softening=True),
                    res=DEFAULT_GAP_RESOLUTION)
    T = KB * r.T_K[0]
    x, mu = r.delta_nodes[0].ravel(), float(r.mu_meV[0])
    scales = prob.scales(x, T)

    def ev(x, mu):
        return _evaluate(prob.grids(mu, scales), x.reshape(nb, p), mu=mu, T=T,
                         omega=prob.omega, cx=prob.cx, res=prob.res, s_floor=prob.s_floor)

    e0 = ev(x, mu)
    h = 1e-3  # meV
    ep, em = ev(x, mu + h), ev(x, mu - h)
    bx = lambda e: np.concatenate([b @ x[n * p:(n + 1) * p] for n, b in enumerate(e.B)])  # noqa
    assert e0.vmu.ravel() == pytest.approx((bx(ep) - bx(em)) / (2 * h), rel=1e-4,
                                           abs=1e-6 * np.abs(e0.vmu).max())
    dn = (_density(ep).sum() - _density(em).sum()) / (2 * h)
    assert 2 / math.pi ** 2 * e0.acc[:, 5].sum() == pytest.approx(dn, rel=1e-4)
    j = int(np.argmax(x))
    dx = np.zeros_like(x)
    dx[j] = 1e-4 * x[j]
    dnx = (_density(ev(x + dx, mu)).sum() - _density(ev(x - dx, mu)).sum()) / (2 * dx[j])
    assert 2 / math.pi ** 2 * e0.nx.ravel()[j] == pytest.approx(dnx, rel=1e-4)


def test_warmup_compiles_the_gap_kernels():
    code = ("import solver, solver.gaps as g; solver.warmup(); "
            "print(len(g.band_sums.signatures), len(g.grid_values.signatures))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, cwd=Path(__file__).parent.parent)
    assert out.returncode == 0, out.stderr
    counts = [int(v) for v in out.stdout.split()]
    assert len(counts) == 2 and all(c >= 1 for c in counts), out.stdout
