"""The gaps below Tc (docs/model.md §5): the non-linear gap equation with the density equation.

For T < Tc, with E = sqrt(xi^2 + Delta_n(q)^2) and xi = C k^2 + E_n(q) - mu (C = hbar^2/2m_x),

    Delta_n(q) = sum_n' g_nn' int_0^{pi/d} dq' I_nn'(q, q') F_n'(q') Delta_n'(q'),
    F_n(q)     = 1/(pi^2 N_0) int_0^inf dk theta(w - |xi|) tanh(E/2T) / (2E),  1/(pi^2 N_0) = 4C/pi,

and the density equation fixes mu at the density n of the normal state at the same eta
(mu0 = E_L + eta dE) and the same T:

    n = (2/pi^2) sum_n int_0^{pi/d} dq int_0^inf dk <n_k>,   <n_k> = (1 - (xi/E) tanh(E/2T)) / 2.

At T = 0, <n_k> is the v^2 of docs/model.md §5; at T > 0 it is its thermal generalisation (the
occupation of a Bogoliubov state), so that with Delta = 0 the density is that of a Fermi gas at T.
Delta is non-zero only inside the pairing window |xi| < w; outside it <n_k> is the Fermi function
(whose tails beyond the window matter at strong coupling: w/k_B Tc ~ 5 on the paper's dome), so
n = (2/pi^2) sum_n int dq [k_F(q) + int dk (<n_k> - theta(-xi))], the last integral over the
window and the thermal tails around it.
Taking the normal state at the same T (not at T = 0) keeps mu = mu0 at and above Tc, so the gaps
close exactly at the Tc of the Tc kernel, which holds mu0 fixed; at T = 0 the two coincide.

Numerics (docs/model.md §6). As in the Tc kernel (solver.tc), Delta_n(q) = sum_j Delta_n(q_j)
l_j(q) on the structure's basis nodes and I_nn'(q_i, q') = sum_k I[n, i, n', k] l_k(q'), so the
gap equation is
Delta = A B(Delta) Delta with A = [g_nn' I_nn'(q_i, q_k)] and B_n,kj = int dq l_k l_j F_n(q; Delta).
Below Tc the gap rounds the pair kernel off on the scale s = sqrt(Delta^2 + (pi T)^2) (its nearest
complex singularities sit at xi = +-i s), so B is a plain two-dimensional quadrature:
- k: k = k_c + w sinh(u) around the Fermi point k_c = k_F(q) (or k_c = 0 above mu), w the distance
  of the singularity from the real k axis, composite Gauss-Legendre panels in u of width <= h_u,
  broken at the Fermi point (the occupation jumps there) and ending exactly on the window edges.
- q: composite Gauss-Legendre on panels graded geometrically towards the zone ends and towards the
  q where E_n(q) = mu (where F peaks on the scale s) and mu +- w (square-root kinks of F, removed
  by q = b +- t^2 on the panels next to them), down to a fraction of the distance of the nearest
  singularity the break point does not carry (GapResolution.q_resolve).
The gap equation and the density equation are solved together, by one Newton iteration on
(Delta, mu) with their analytic Jacobian: I - A B'(Delta) in Delta,
B'_kj = int dq l_k l_j (F + Delta dF/dDelta), -A (int dq l_k Delta dF/dmu) in mu, and the
derivatives of the density in Delta and mu, all from the same quadrature (band_sums); a
backtracking line search on the larger of the two residuals keeps the steps from overshooting.
With fixed_mu (or once the step in mu is lost to rounding) the iteration goes on in Delta alone.
Temperatures are solved from the highest down: the first starts from the leading eigenvector of
the linearised kernel scaled above a BCS-sized gap (Newton on the convex residual converges
monotonically from above), each next from the gaps and mu found at the one above it, the gaps
scaled by the BCS law Delta(T).
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from .bands import band_edge, band_energy, discriminant
from .constants import HBAR2_2ME, KB
from .dos import basis_values
from .jit import compile_in_child, in_cache, njit
from .overlaps import exchange_integrals
from .parameters import PARAMETERS as _P, STATUS_OK, Parameter
from .structure import Structure, _gauss, compile_structure_kernels, prepare_structure
from .tc import _check_points, compile_tc_kernels, coupling_matrix, cutoff, tc_on_structure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GapResolution:
    """Discretisation and tolerances of the gap solver; ``doubled()`` refines all of them.

    The defaults give the gaps to ~1e-7 relative in the BCS limits of tests/test_gaps.py
    (checked against ``doubled()`` there).
    """

    n_gauss_q: int = 8
    """Gauss-Legendre nodes per q panel."""
    q_ratio: float = 2.0
    """Geometric ratio of the q panels graded towards a break point (panel size = distance, so
    a singularity at the break point leaves each panel a Bernstein ellipse of rho ~ 5.8)."""
    q_resolve: float = 0.1
    """Grading towards a break point stops at q_resolve times the distance of the nearest
    singularity the break point does not remove (another break point; E_n(q) - mu = +-i s, the
    paired Fermi line, s from the gap; at a zone end, E_n(q) - mu = +-omega): the innermost
    panel (in t = sqrt(q - b) next to a crossing) then sees it beyond a Bernstein ellipse of
    rho > 8, 8 nodes converge to < 1e-14."""
    q_depth: float = 1e-11
    """Floor of that grading, times pi/d (reached only where two break points nearly meet)."""
    gap_margin: float = 20.0
    """The q grids resolve the paired Fermi line on the scale sqrt((Delta/gap_margin)^2 +
    (pi T)^2), Delta the largest gap of the subband at the start of the iteration: the start
    is at most ~2.5 times the gap found, so the scale resolved is ~8 times finer than the one
    met (at T = 0: a margin, at no cost beyond a few panels, as the grading is logarithmic)."""
    q_bulk: int = 8
    """Equal q panels across the zone, before grading."""
    q_bulk_far: int = 2
    """The same for a subband whose energies all lie outside the window mu +- omega (the lower
    subbands on the paper's dome): its integrands are then as smooth in q as E_n(q) and the
    basis polynomials (degree 2P - 2 <= 2 * 8 - 1 per panel of 8 nodes), 1e-13 measured."""
    n_gauss_k: int = 8
    """Gauss-Legendre nodes per panel of the k integral (in u, k = k_c + w sinh u)."""
    h_u: float = 1.0
    """Largest panel in u: the integrand is analytic in |Im u| < pi/2, so 8 nodes on panels of
    1.0 see a Bernstein ellipse of rho = 6.4, ~1e-13 (measured: 1.5 leaves 4e-6 in the gaps at
    T = 0.99 Tc near eta = 0.85, 1.2 leaves 1e-11, as 0.75 does)."""
    gap_tol: float = 1e-10
    """Newton stops when the step is below gap_tol times the gap (relative, max norm)."""
    density_tol: float = 1e-12
    """The density equation is solved to density_tol relative to n."""
    max_newton: int = 60
    """Newton steps allowed for one gap solve (Delta and mu together)."""

    def doubled(self) -> "GapResolution":
        """Twice the resolution in every parameter (tolerances unchanged)."""
        return replace(self, n_gauss_q=2 * self.n_gauss_q, q_ratio=math.sqrt(self.q_ratio),
                       q_resolve=self.q_resolve / 2, q_depth=self.q_depth ** 1.25,
                       gap_margin=2 * self.gap_margin, q_bulk=2 * self.q_bulk,
                       q_bulk_far=2 * self.q_bulk_far,
                       n_gauss_k=2 * self.n_gauss_k, h_u=self.h_u / 2)


DEFAULT_GAP_RESOLUTION = GapResolution()


@dataclass(frozen=True)
class GapResult:
    """Gaps, chemical potential and densities at each temperature of one (eta, g) point.

    Arrays have a leading axis over the temperatures T_K; per-subband quantities then an axis
    over the subbands n = 1..nbands; Delta on the basis nodes a last axis over the nodes q_nodes.
    """

    T_K: np.ndarray
    """Temperatures, K."""
    tc_K: float
    """Critical temperature of the Tc kernel (tc_on_structure), K; NaN if below its floor."""
    tc_status: int
    """Status code of that Tc (:data:`solver.parameters.STATUS_NAMES`)."""
    q_nodes: np.ndarray
    """Basis nodes in q, 1/Å."""
    delta_nodes: np.ndarray
    """Delta_n(q_j), meV: shape (nT, nbands, P)."""
    delta_fermi: np.ndarray
    """Fermi-surface average of Delta_n (weighted by the density of states on the Fermi line),
    meV; NaN for a subband with no Fermi surface."""
    delta_crossing: np.ndarray
    """Delta_n(q_F) where E_n(q_F) = mu (a closed Fermi line crosses the zone), meV; NaN if none."""
    delta_avg: np.ndarray
    """Delta_n(q) averaged over 0 <= q <= pi/d, meV."""
    ratio_2delta_kTc: np.ndarray
    """2 delta_fermi / (k_B Tc), dimensionless."""
    mu0_meV: float
    """Chemical potential of the normal state at T = 0, E_L + eta dE, meV."""
    mu_meV: np.ndarray
    """Chemical potential that conserves the density of the normal state at mu0 and the same T
    (mu0 with fixed_mu), meV."""
    density: np.ndarray
    """Partial densities n_n of each subband (both spins), 1/Å^2."""
    density_normal: np.ndarray
    """Partial densities of the normal state at T = 0 and mu0, 1/Å^2."""
    density_target: np.ndarray
    """Total density the density equation holds, that of the normal state at mu0 and T, 1/Å^2."""
    condensation_energy: np.ndarray
    """Omega_S - Omega_N at the final mu and T (grand potential per area), meV/Å^2 (< 0)."""
    linear_eigenvalue: np.ndarray
    """Largest eigenvalue of the linearised gap equation at (mu0, T) (NaN at T = 0); <= 1:
    normal."""
    newton_steps: np.ndarray
    """Newton steps of the last gap solve at each T."""

    @property
    def mu_shift_meV(self) -> np.ndarray:
        """mu - mu0, meV."""
        return self.mu_meV - self.mu0_meV


# ------------------------------------------------------------------------------------ kernels

BOLTZMANN_CUT = 40.0
"""Beyond E = BOLTZMANN_CUT * T the thermal factors e^{-E/T} < 4e-18 are dropped (tanh = 1)."""


@njit
def pair_terms(xi, delta, T):
    """At one k: (f, df/dE, E, <n_k> - theta(-xi), grand-potential density term).

    f = tanh(E/2T)/(2E) (1/meV), df/dE (1/meV^2), E = sqrt(xi^2 + Delta^2) (meV); the occupation
    term is dimensionless; the last,
    -Delta^2/(E + |xi|) + Delta^2 tanh(E/2T)/(2E) - 2T [ln(1 + e^{-E/T}) - ln(1 + e^{-|xi|/T})]
    (meV),
    integrates to Omega_S - Omega_N (at a self-consistent Delta).
    """
    ax = abs(xi)
    d2 = delta * delta
    e = math.sqrt(xi * xi + d2)
    if T > 0.0 and e < BOLTZMANN_CUT * T:
        emx = math.expm1(-e / T)
        em = 1.0 + emx
        t = -emx / (1.0 + em)
        omt = 2.0 * em / (1.0 + em)
        sech2 = 4.0 * em / ((1.0 + em) * (1.0 + em))
        lg = -2.0 * T * (math.log1p(em) - math.log1p(math.exp(-ax / T)))
    else:  # T = 0, or e^{-E/T} below 1e-17: the thermal terms vanish in double precision
        t = 1.0
        omt = 0.0
        sech2 = 0.0
        lg = 0.0
    if e == 0.0:  # Delta = 0 and xi = 0 (T > 0): the limits
        return 1.0 / (4.0 * T), 0.0, 0.0, 0.0, 0.0
    f = t / (2.0 * e)
    dfde = (0.5 * e / T * sech2 - t) / (2.0 * e * e) if T > 0.0 else -1.0 / (2.0 * e * e)
    one_minus = d2 / (e * (e + ax)) + ax / e * omt  # 1 - (|xi|/E) tanh(E/2T)
    occ = 0.5 * one_minus if xi > 0.0 else (-0.5 * one_minus if xi < 0.0 else 0.0)
    om = -d2 / (e + ax) + d2 * t / (2.0 * e) + lg
    return f, dfde, e, occ, om


THERMAL_TAIL = 40.0
"""The density integral extends THERMAL_TAIL * T beyond the window, where the occupation is the
Fermi function (Delta = 0): the tail left out weighs e^-40 ~ 4e-18 of the Fermi sea."""


U_GROWTH = 0.75
"""k panels in u grow as U_GROWTH |u| away from the peak: a panel [u, u (1 + U_GROWTH)] sees the
singularities at +-i pi/2 beyond a Bernstein ellipse of rho > 7 (8 nodes: < 1e-13)."""
U_MIRROR = 0.4
"""Towards k = 0 (e < 0) panels stay below U_MIRROR times their distance from the mirror
singularities at u_m (rho > 6 there)."""


@njit
def k_sums(e, kf, dl, T, omega, ext, cx, xg, wg, h_u, s_floor, kb):
    """The k integrals of band_sums at one q node, where e = E_n(q) - mu < ext (meV), kf = k_F(q)
    (1/Å; 0 above mu), dl = Delta_n(q) (meV) and ext = omega + THERMAL_TAIL * T (meV); kb holds
    the five break points in k (scratch). Returns (f, g, n, o, fm, nd, nm):

    f = int_window dk f and g = int_window dk Delta^2/E df/dE (1/(meV Å)),
    n = int dk (<n_k> - theta(-xi)) (1/Å), o = int_window dk (grand-potential term) (meV/Å),
    fm = d/dmu int_window dk f (1/(meV^2 Å)), nd = int_window dk d<n_k>/dDelta and
    nm = d/dmu int dk <n_k> (1/(meV Å)), the mu derivatives with the window edges moving.

    Composite Gauss-Legendre in u, k = k_c + w sinh(u), on four pieces: the lower thermal tail,
    the window below k_F, the window above it, the upper tail.
    """
    # pieces in k: lower tail, window below k_F, window above k_F, upper tail
    kb[0] = math.sqrt(max(-ext - e, 0.0) / cx)
    kb[1] = math.sqrt(max(-omega - e, 0.0) / cx)
    kb[3] = math.sqrt(max(omega - e, 0.0) / cx)
    kb[2] = kf if e < 0.0 else kb[1]
    kb[4] = math.sqrt((ext - e) / cx)
    s = max(math.sqrt(dl * dl + (math.pi * T) ** 2), s_floor)
    # the pair kernel's singularities in k: k^2 = (-e +- i s)/C; centre and distance
    ar = -e / cx
    bi = s / cx
    z = math.hypot(ar, bi)
    if e < 0.0:
        kc = kf
        w = bi / (2.0 * math.sqrt(0.5 * (z + ar)))
    else:
        kc = 0.0
        w = math.sqrt(0.5 * (z - ar))
    f_sum = 0.0
    g_sum = 0.0
    n_sum = 0.0
    o_sum = 0.0
    fm_sum = 0.0  # d/dmu int_window dk f
    nd_sum = 0.0  # int_window dk d<n_k>/dDelta
    nm_sum = 0.0  # d/dmu int dk <n_k>
    # the mirror singularities near k = -k_F (e < 0) lie beyond the k = 0 end, at u_m
    u_m = -math.asinh((math.sqrt(0.5 * (z + ar)) + kf) / w) if e < 0.0 else -math.inf
    for piece in range(4):
        if kb[piece + 1] <= kb[piece]:
            continue
        inside = piece == 1 or piece == 2
        ua = math.asinh((kb[piece] - kc) / w)
        ub = math.asinh((kb[piece + 1] - kc) / w)
        # panels outward from the end nearer the peak (u = 0), growing with the distance
        # from the singularities at u = +-i pi/2 and shrinking towards u_m
        if ub <= 0.0:
            u, stop, sgn = ub, ua, -1.0
        else:
            u, stop, sgn = ua, ub, 1.0
        while True:
            rem = (stop - u) * sgn
            if rem <= 0.0:
                break
            hu = max(h_u, U_GROWTH * abs(u))
            if sgn < 0.0:
                hu = min(hu, U_MIRROR * (u - u_m))
            if rem <= hu:
                hu = rem
            elif rem < 2.0 * hu:
                hu = 0.5 * rem
            u0 = u if sgn > 0.0 else u - hu
            u += sgn * hu
            for r in range(xg.size):
                uu = u0 + 0.5 * hu * (xg[r] + 1.0)
                ex = math.exp(uu)
                dk = 0.5 * w * (ex - 1.0 / ex)
                jac = 0.25 * hu * wg[r] * w * (ex + 1.0 / ex)
                k = kc + dk
                if e < 0.0:
                    xi = cx * dk * (k + kf)
                else:
                    xi = cx * k * k + e
                if not inside:  # the thermal tails (T > 0): the Fermi function
                    em = math.exp(-abs(xi) / T)
                    nf = em / (1.0 + em)
                    n_sum += jac * (nf if xi > 0.0 else -nf)
                    nm_sum += jac * em / (T * (1.0 + em) * (1.0 + em))
                    continue
                f, dfde, en, occ, om = pair_terms(xi, dl, T)
                n_sum += jac * occ
                f_sum += jac * f
                o_sum += jac * om
                if en > 0.0:
                    # d<n_k>/dmu = -d<n_k>/dxi = f + xi^2/E df/dE
                    nm_sum += jac * (f + xi * xi / en * dfde)
                    g_sum += jac * dl * dl / en * dfde
                    fm_sum -= jac * dfde * xi / en
                    nd_sum -= jac * xi * dfde * dl / en
                else:
                    nm_sum += jac * f
    # the window edges xi = +-omega move with mu: dk/dmu = 1/(2 C k) there
    if kb[3] > 0.0:
        f_in, _, _, occ_in, _ = pair_terms(omega, dl, T)
        occ_out = pair_terms(omega, 0.0, T)[3]
        fm_sum += f_in / (2.0 * cx * kb[3])
        nm_sum += (occ_in - occ_out) / (2.0 * cx * kb[3])
    if kb[1] > 0.0:
        f_in, _, _, occ_in, _ = pair_terms(-omega, dl, T)
        occ_out = pair_terms(-omega, 0.0, T)[3]
        fm_sum -= f_in / (2.0 * cx * kb[1])
        nm_sum += (occ_out - occ_in) / (2.0 * cx * kb[1])
    return f_sum, g_sum, n_sum, o_sum, fm_sum, nd_sum, nm_sum


@njit
def band_sums(e_q, w_q, lq, dnodes, T, omega, cx, xg, wg, h_u, s_floor, B, Bp, vmu, nx, fl, ox,
              acc):
    """Quadrature over (q, k) of one subband at the gap values dnodes (meV) on the basis nodes.

    e_q: E_n(q) - mu at the q nodes (meV), w_q their weights (1/Å), lq[a, j] = l_j(q_a).
    Adds to B, Bp (P x P, dimensionless) int dq l_k l_j F and int dq l_k l_j (F + Delta dF/dDelta);
    to vmu (P, dimensionless) int dq l_k Delta dF/dmu and to nx (P, 1/(meV Å^2))
    int dq l_j int dk d<n_k>/dDelta, the derivatives the joint Newton step on (Delta, mu) needs;
    to fl (P, 1/(meV Å^2)) int dq l_j/(2 C k_F), acc[3] per unit Delta_j, and to ox (P, 1/Å^2)
    int dq l_j int_window dk Delta^3/E df/dE, acc[2] per unit Delta_j (d/dDelta of the
    grand-potential term is Delta^3/E df/dE);
    to acc: [0] int dq int dk (<n_k> - theta(-xi)) (1/Å^2; Delta inside the window, the Fermi
    function in the thermal tails THERMAL_TAIL * T beyond it), [1] int dq k_F (1/Å^2),
    [2] int dq int_window dk (grand-potential term) (meV/Å^2), [3] int dq Delta/(2 C k_F)
    (1/Å^2), [4] int dq 1/(2 C k_F) (the Fermi-line density of states, 1/(meV Å^2)) and
    [5] int dq d/dmu int dk <n_k> (1/(meV Å^2)). The mu derivatives include the window edges,
    which move with mu (the occupation jumps there from the paired to the normal value).
    """
    p = dnodes.size
    pref = 4.0 * cx / math.pi
    ext = omega + THERMAL_TAIL * T
    kb = np.empty(5)
    for a in range(e_q.size):
        e = e_q[a]
        wq = w_q[a]
        dl = 0.0
        for j in range(p):
            dl += lq[a, j] * dnodes[j]
        kf = 0.0
        if e < 0.0:
            kf = math.sqrt(-e / cx)
            acc[1] += wq * kf
            nf = wq / (2.0 * cx * kf)
            acc[3] += nf * dl
            acc[4] += nf
            for j in range(p):
                fl[j] += nf * lq[a, j]
        if e >= ext:
            continue
        f_sum, g_sum, n_sum, o_sum, fm_sum, nd_sum, nm_sum = k_sums(
            e, kf, dl, T, omega, ext, cx, xg, wg, h_u, s_floor, kb)
        fw = wq * pref * f_sum
        gw = wq * pref * (f_sum + g_sum)
        mw = wq * pref * fm_sum * dl
        dw = wq * nd_sum
        ow = wq * dl * g_sum
        for i in range(p):
            li = lq[a, i]
            vmu[i] += mw * li
            nx[i] += dw * li
            ox[i] += ow * li
            for j in range(p):
                B[i, j] += fw * li * lq[a, j]
                Bp[i, j] += gw * li * lq[a, j]
        acc[0] += wq * n_sum
        acc[2] += wq * o_sum
        acc[5] += wq * nm_sum


@njit
def grid_values(q, e_bottom, e_top, L, W, V, m_well, m_barrier, f_w, f_b, c_nodes, bary):
    """E_n(q) (meV) and the basis values l_j(q) at the points q (1/Å)."""
    p_zone = math.pi / (L + W)
    e = np.empty(q.size)
    lq = np.empty((q.size, c_nodes.size))
    for a in range(q.size):
        e[a] = band_energy(q[a], e_bottom, e_top, L, W, V, m_well, m_barrier, f_w, f_b)
        basis_values(2.0 * q[a] / p_zone - 1.0, c_nodes, bary, lq[a])
    return e, lq


# ------------------------------------------------------------------------------ the q grids

@dataclass
class _BandGrid:
    w: np.ndarray      # q weights, 1/Å
    e: np.ndarray      # E_n(q), meV
    lq: np.ndarray     # basis values
    q_fermi: float     # q with E_n(q) = mu, or NaN




def _crossing(st: Structure, n: int, energy: float) -> float:
    """q (1/Å) in [0, pi/d] with E_n(q) = energy, NaN if the energy is outside the band."""
    if not st.bottoms[n] < energy < st.tops[n]:
        return math.nan
    d = st.args[0] + st.args[1]
    c = min(1.0, max(-1.0, discriminant(energy, *st.args)))
    return math.acos(c) / d


def _energy(st: Structure, n: int, q: float) -> float:
    return band_energy(q, st.bottoms[n], st.tops[n], *st.args)


def _bragg_gaps(st: Structure, n: int) -> tuple[float, float]:
    """Gaps (meV) between subband n and the subbands below and above it (inf below the first)."""
    below = st.bottoms[n] - st.tops[n - 1] if n > 0 else math.inf
    above = (st.bottoms[n + 1] if n + 1 < st.bottoms.size else
             band_edge(n + 2, False, *st.args)) - st.tops[n]
    return float(below), float(above)


def _feature_radius(st: Structure, n: int, b: float, *, mu, omega, s, zone, bragg,
                    crossing) -> float:
    """Distance (1/Å) from the break point b to the nearest singularity of the q integrands
    that b itself does not carry: where E_n(q) - mu = +-i s (the paired Fermi line, width s),
    0 (k_F of the Fermi sea) or +-omega (the window edges). At the Fermi crossing E_n is
    linear, at a zone end quadratic, E_n(q) - mu ~ e_b + a (q - b)^2, up to the branch points
    of E_n itself at |q - b| ~ sqrt(G/4a), G the Bragg gap to the neighbouring subband there
    (the avoided crossing)."""
    h = 1e-6 * zone
    if crossing:  # E_n(q) - mu ~ E' (q - b): the points +-i s / E'
        lo, hi = max(b - h, 0.0), min(b + h, zone)
        slope = abs(_energy(st, n, hi) - _energy(st, n, lo)) / (hi - lo)
        return s / slope if slope > 0.0 else math.inf
    # a zone end: the points (q - b)^2 = (e* - e_b)/a
    h = 1e-3 * zone
    e_end = _energy(st, n, b)
    e_b = e_end - mu
    a = abs(_energy(st, n, abs(b - h)) - e_end) / (h * h)
    if a == 0.0:
        return math.inf
    below, above = bragg
    bragg = below if e_end - st.bottoms[n] < st.tops[n] - e_end else above
    # e = 0 itself: k_F = sqrt(-e/C) of the Fermi sea terms (a band edge just below mu)
    dist = min(abs(e_b), abs(e_b - omega), abs(e_b + omega), 0.25 * bragg)
    return math.sqrt(dist / a)


def _band_panels(st: Structure, n: int, *, mu: float, omega: float, s: float, bragg: tuple,
                 res: GapResolution) -> tuple:
    """The graded q panels of subband n for (mu, omega, s): (edges, at_lo, at_hi, q_fermi).

    Break points: the zone ends, and the q where E_n(q) = mu (the Fermi crossing) and mu +- omega
    (the window edges). The integrands have square-root end points at the crossings (F and the
    density at mu +- omega; k_F and the Fermi-line density of states at mu), removed by the
    substitution q = b +- t^2 on the panels next to them; at the zone ends they are analytic.
    Panels are graded geometrically towards every break point down to q_resolve times the
    distance of the nearest singularity the substitution does not remove (see
    _feature_radius; bragg: the gaps below and above the subband, meV), with q_depth * pi/d as
    the floor.
    """
    d = st.args[0] + st.args[1]
    zone = math.pi / d
    q_f = _crossing(st, n, mu)
    sqrt_breaks = [b for b in (_crossing(st, n, mu - omega), q_f, _crossing(st, n, mu + omega))
                   if not math.isnan(b)]
    breaks = sorted(set([0.0, zone] + sqrt_breaks))
    far = st.tops[n] < mu - omega or st.bottoms[n] > mu + omega
    levels = []
    for b in breaks:
        rho = min([abs(b - c) for c in breaks if c != b] + [zone])
        if b == q_f:
            rho = min(rho, _feature_radius(st, n, b, mu=mu, omega=omega, s=s, zone=zone,
                                           bragg=bragg, crossing=True))
        elif b not in sqrt_breaks:
            rho = min(rho, _feature_radius(st, n, b, mu=mu, omega=omega, s=s, zone=zone,
                                           bragg=bragg, crossing=False))
        depth = max(res.q_depth * zone, res.q_resolve * rho)
        h, m = 0.25 * zone, 0
        while h > depth:
            h /= res.q_ratio
            m += 1
        levels.append(m)
    edges, at_lo, at_hi = _panel_edges(zone, tuple(breaks), tuple(sqrt_breaks), tuple(levels),
                                       res.q_bulk_far if far else res.q_bulk, st.n_basis, res)
    return edges, at_lo, at_hi, q_f


@functools.lru_cache(maxsize=256)
def _panel_edges(zone, breaks, sqrt_breaks, levels, bulk, n_basis, res) -> tuple:
    """Panel edges (1/Å) and which panels carry the t^2 substitution at their lower / upper end:
    bulk equal panels, and levels[i] panels graded towards breaks[i] on each side (read-only
    arrays, cached: the lower subbands' panels do not move with mu)."""
    pts = list(np.linspace(0.0, zone, bulk + 1))
    inner = []  # (break, its innermost panel): no other point may fall inside
    for b, m in zip(breaks, levels):
        h = 0.25 * zone
        for _ in range(m):
            pts += [b - h, b + h]
            h /= res.q_ratio
        pts.append(b)
        if m:
            inner.append((b, h * res.q_ratio))
    edges = np.unique(np.clip(np.array(pts), 0.0, zone))
    for b, h in inner:  # a bulk point just beside a break would leave a panel far wider than
        near = (np.abs(edges - b) < h * (1.0 - 1e-9)) & (edges != b)  # its distance to it
        edges = edges[~near]
    # Delta and I carry polynomials of degree P - 1 in q: panels no wider than the bulk ones,
    # cut in P/8 pieces for P > 8 basis nodes (as the Tc kernel's energy panels)
    h_max = zone / (bulk * max(1.0, n_basis / 8.0))
    width = np.diff(edges)
    pieces = np.ceil(width / h_max * (1.0 - 1e-12)).astype(int)
    if pieces.max() > 1:
        first = np.repeat(np.cumsum(pieces) - pieces, pieces)
        k = np.arange(first.size) - first
        edges = np.append(np.repeat(edges[:-1], pieces) + k * np.repeat(width / pieces, pieces),
                          edges[-1])
    sq = np.array(sqrt_breaks)
    both = np.isin(edges[:-1], sq) & np.isin(edges[1:], sq)
    if both.any():  # a panel between two crossings: split it, one substitution per half
        edges = np.sort(np.concatenate([edges, 0.5 * (edges[:-1] + edges[1:])[both]]))
    at_lo = np.isin(edges[:-1], sq)
    at_hi = np.isin(edges[1:], sq) & ~at_lo
    for arr in (edges, at_lo, at_hi):
        arr.flags.writeable = False
    return edges, at_lo, at_hi


def _band_nodes(st: Structure, n: int, edges, at_lo, at_hi, *, res: GapResolution) -> tuple:
    """Nodes and weights of the panels between edges (1/Å), q = lo + t^2 on the panels at_lo
    and q = hi - t^2 on those at_hi; returns (weights, E_n at the nodes, basis values)."""
    lo, hi = edges[:-1], edges[1:]
    xg, wg = _gauss(res.n_gauss_q)
    half = 0.5 * (hi - lo)[:, None]
    # plain panels
    q = 0.5 * (lo + hi)[:, None] + half * xg[None, :]
    w = half * wg[None, :]
    # q = lo + t^2 (or hi - t^2), t in [0, sqrt(hi - lo)]: dq = 2 t dt
    root = np.sqrt(hi - lo)[:, None]
    t = 0.5 * root * (xg[None, :] + 1.0)
    wt = 0.5 * root * wg[None, :] * 2.0 * t
    q = np.where(at_lo[:, None], lo[:, None] + t * t, np.where(at_hi[:, None],
                                                               hi[:, None] - t * t, q))
    w = np.where((at_lo | at_hi)[:, None], wt, w)
    q, w = q.ravel(), w.ravel()
    nodes, bary = st.basis
    e, lq = grid_values(q, st.bottoms[n], st.tops[n], *st.args, nodes, bary)
    return w, e, lq


# ---------------------------------------------------------------------------- one evaluation

@dataclass
class _Eval:
    B: list
    Bp: list
    vmu: np.ndarray   # (nbands, P), see band_sums
    nx: np.ndarray    # (nbands, P)
    fl: np.ndarray    # (nbands, P)
    ox: np.ndarray    # (nbands, P)
    acc: np.ndarray   # (nbands, 6)
    grids: list       # the q grids it used


def _evaluate(grids, delta: np.ndarray, *, mu, T, omega, cx, res, s_floor) -> _Eval:
    """B, B', the derivatives and the sums of band_sums for gaps delta[n, j] (meV) at (mu, T)
    (meV)."""
    nb, p = delta.shape
    xg, wg = _gauss(res.n_gauss_k)
    out = _Eval([], [], np.zeros((nb, p)), np.zeros((nb, p)), np.zeros((nb, p)),
                np.zeros((nb, p)), np.zeros((nb, 6)), grids)
    for n, gr in enumerate(grids):
        B = np.zeros((p, p))
        Bp = np.zeros((p, p))
        band_sums(gr.e - mu, gr.w, gr.lq, np.ascontiguousarray(delta[n]), T, omega, cx, xg, wg,
                  res.h_u, s_floor, B, Bp, out.vmu[n], out.nx[n], out.fl[n], out.ox[n],
                  out.acc[n])
        out.B.append(B)
        out.Bp.append(Bp)
    return out


def _normal_eval(grids, *, mu, cx, p) -> _Eval:
    """The sums of band_sums with Delta = 0 at T = 0: only the Fermi-sea terms are non-zero."""
    nb = len(grids)
    out = _Eval([np.zeros((p, p))] * nb, [np.zeros((p, p))] * nb, np.zeros((nb, p)),
                np.zeros((nb, p)), np.zeros((nb, p)), np.zeros((nb, p)), np.zeros((nb, 6)),
                grids)
    for n, gr in enumerate(grids):
        e = gr.e - mu
        occ = e < 0.0
        kf = np.sqrt(-e[occ] / cx)
        out.acc[n, 1] = gr.w[occ] @ kf
        out.acc[n, 4] = gr.w[occ] @ (1.0 / (2.0 * cx * kf))
    return out


def _apply(a_mat, blocks, x):
    """A blockdiag(blocks) x."""
    p = blocks[0].shape[0]
    y = np.concatenate([blk @ x[n * p:(n + 1) * p] for n, blk in enumerate(blocks)])
    return a_mat @ y


def _blockdiag(blocks):
    p = blocks[0].shape[0]
    out = np.zeros((len(blocks) * p, len(blocks) * p))
    for n, blk in enumerate(blocks):
        out[n * p:(n + 1) * p, n * p:(n + 1) * p] = blk
    return out


def _leading(a_mat, blocks):
    """Largest eigenvalue of A blockdiag(B) and its eigenvector (made positive)."""
    vals, vecs = np.linalg.eig(a_mat @ _blockdiag(blocks))
    k = int(np.argmax(vals.real))
    v = vecs[:, k].real
    if v.sum() < 0:
        v = -v
    return float(vals[k].real), v


def _density(ev: _Eval) -> np.ndarray:
    """Partial densities (1/Å^2) from an evaluation."""
    return 2.0 / math.pi ** 2 * (ev.acc[:, 1] + ev.acc[:, 0])


FINISH_STEP = 1e-4
"""A Newton step below FINISH_STEP times the gap, whose successor the quadratic rate predicts
below gap_tol, is the last: the outputs follow it to first order (their error is second order
in the step, < 1e-8 of themselves), which saves the evaluation that would only confirm it."""


def _moved(ev: _Eval, dx: np.ndarray, dmu: float) -> _Eval:
    """The evaluation's density, Fermi-line and grand-potential sums carried to (x + dx,
    mu + dmu) to first order (the last two in dx only: dmu is ~1e-9 meV there); B, B' as they
    are."""
    acc = ev.acc.copy()
    acc[:, 0] += np.einsum("nj,nj->n", ev.nx, dx) + ev.acc[:, 5] * dmu
    acc[:, 3] += np.einsum("nj,nj->n", ev.fl, dx)
    acc[:, 2] += np.einsum("nj,nj->n", ev.ox, dx)
    return replace(ev, acc=acc)


MU_ROUNDING = 1e-15
"""A step in mu below MU_ROUNDING * |mu| is a few units in the last place of mu: the density
cannot be brought nearer its target (mu ~ 3 eV against gaps of ~1e-4 meV deep in the
antiresonance), so the iteration stops there too."""


class _Problem:
    """One (structure, eta, g, omega) point: the kernels' inputs and the solves at (mu, T)."""

    def __init__(self, st, *, a_mat, omega, res):
        self.st, self.a_mat, self.omega, self.res = st, a_mat, omega, res
        self.nb, self.p = st.bottoms.size, st.n_basis
        self.cx = HBAR2_2ME / st.m_x
        self.s_floor = 1e-12 * omega
        self.bragg = [_bragg_gaps(st, n) for n in range(self.nb)]
        self._grids = {}

    def grids(self, mu, scales):
        """Per subband the q grid at mu, resolving the paired Fermi line on the scales s_n
        (meV). The nodes of a subband whose panels did not move (no crossing near mu, as for
        the lower subbands) are reused: E_n(q) does not depend on mu."""
        out = []
        for n, s in enumerate(scales):
            edges, at_lo, at_hi, q_f = _band_panels(self.st, n, mu=mu, omega=self.omega,
                                                    s=max(s, self.s_floor),
                                                    bragg=self.bragg[n], res=self.res)
            key = (n, edges.tobytes(), at_lo.tobytes(), at_hi.tobytes())
            nodes = self._grids.get(key)
            if nodes is None:
                if len(self._grids) > 4 * self.nb:
                    self._grids.clear()
                nodes = self._grids[key] = _band_nodes(self.st, n, edges, at_lo, at_hi,
                                                       res=self.res)
            out.append(_BandGrid(*nodes, q_f))
        return out

    def scales(self, x, T):
        """The width s_n = sqrt((Delta_n/gap_margin)^2 + (pi T)^2) the q grids resolve, from a
        gap estimate x (meV): finer than the gap by GapResolution.gap_margin."""
        dx = np.max(np.abs(x.reshape(self.nb, self.p)), axis=1) / self.res.gap_margin
        return [float(math.hypot(d, math.pi * T)) for d in dx]

    def evaluate(self, x, *, mu, T, scales):
        return _evaluate(self.grids(mu, scales), x.reshape(self.nb, self.p), mu=mu, T=T,
                         omega=self.omega, cx=self.cx, res=self.res, s_floor=self.s_floor)

    def linear(self, *, mu, T):
        """Leading eigenvalue and eigenvector of the linearised equation at T > 0 (meV), and the
        evaluation at Delta = 0 it comes from."""
        zero = np.zeros(self.nb * self.p)
        ev = self.evaluate(zero, mu=mu, T=T, scales=self.scales(zero, T))
        lam, v = _leading(self.a_mat, ev.B)
        return lam, v, ev

    def solve(self, x0, *, mu0, T, n_target, fixed_mu):
        """Newton on (Delta, mu) together: R = x - A B(x, mu) x = 0 and n(x, mu) = n_target
        (mu held at mu0 with fixed_mu). Returns (x, evaluation at x, mu, steps).

        The Jacobian is analytic (band_sums' derivatives); a backtracking line search on
        max(|R|, |n - n_target| / (dn/dmu)) keeps the steps from overshooting. Converged when
        the step in x is below gap_tol times the gap and n is within density_tol of n_target
        (or, once the step in mu is lost to rounding, MU_ROUNDING, the gaps are finished at that
        mu).
        """
        res = self.res
        nbp = self.nb * self.p
        scales = self.scales(x0, T)
        n_tol = res.density_tol * n_target
        x, mu = x0.copy(), mu0
        ev = self.evaluate(x, mu=mu, T=T, scales=scales)

        def residual(x, mu, ev):
            r = x - _apply(self.a_mat, ev.B, x)
            gd = _density(ev).sum() - n_target
            dndmu = 2.0 / math.pi ** 2 * ev.acc[:, 5].sum()
            return r, gd, dndmu

        r, gd, dndmu = residual(x, mu, ev)
        merit = max(np.max(np.abs(r)), 0.0 if fixed_mu else abs(gd) / dndmu)
        frozen = fixed_mu  # mu held: asked for, or its steps lost to rounding
        last = None  # the previous full Newton step (max norm), meV
        for step in range(1, res.max_newton + 1):
            jxx = np.eye(nbp) - self.a_mat @ _blockdiag(ev.Bp)
            if frozen:
                dx = np.linalg.solve(jxx, -r)
                dmu = 0.0
            else:
                jac = np.empty((nbp + 1, nbp + 1))
                jac[:nbp, :nbp] = jxx
                jac[:nbp, nbp] = -self.a_mat @ ev.vmu.ravel()
                jac[nbp, :nbp] = 2.0 / math.pi ** 2 * ev.nx.ravel() / dndmu
                jac[nbp, nbp] = 1.0
                sol = np.linalg.solve(jac, -np.concatenate([r, [gd / dndmu]]))
                dx, dmu = sol[:nbp], sol[nbp]
                if abs(dmu) <= MU_ROUNDING * abs(mu):
                    frozen = True  # mu is as near the root as rounding allows: finish in x
                    dx, dmu = np.linalg.solve(jxx, -r), 0.0
                    merit = np.max(np.abs(r))
            size, step_x = np.max(np.abs(x)), np.max(np.abs(dx))
            if step_x <= res.gap_tol * size and (frozen or abs(gd) <= n_tol):
                return x, ev, mu, step
            if last is not None and step_x <= FINISH_STEP * size and \
                    step_x ** 3 / last ** 2 <= res.gap_tol * size:
                # quadratic convergence: the step after this one would be below gap_tol, so take
                # this one and carry the evaluation's outputs along it to first order
                return x + dx, _moved(ev, dx.reshape(self.nb, self.p), dmu), mu + dmu, step
            alpha = 1.0
            while True:
                xn, mun = x + alpha * dx, mu + alpha * dmu
                evn = self.evaluate(xn, mu=mun, T=T, scales=scales)
                rn, gdn, dndmun = residual(xn, mun, evn)
                meritn = max(np.max(np.abs(rn)), 0.0 if frozen else abs(gdn) / dndmun)
                if meritn <= (1.0 - 1e-4 * alpha) * merit or alpha < 1e-3:
                    break
                alpha *= 0.5
            x, mu, ev, r, gd, dndmu, merit = xn, mun, evn, rn, gdn, dndmun, meritn
            last = step_x if alpha == 1.0 else None
            if np.max(np.abs(x)) < 1e-9 * np.max(np.abs(x0)):
                log.warning("the gap iteration fell to the normal state at T = %g meV", T)
                zero = np.zeros(nbp)
                return zero, self.evaluate(zero, mu=mu0, T=T, scales=scales), mu0, step
        raise RuntimeError(f"gap equation: Newton did not converge in {res.max_newton} steps "
                           f"(T = {T} meV, mu = {mu} meV, residual {merit:.2e} meV)")


# ----------------------------------------------------------------------------- public API

TEMPERATURE = Parameter("T", None, "K", "temperature", minimum=0.0)
"""The temperatures of :func:`gaps_on_structure`, checked like the model's parameters."""
TEMPERATURE_OVER_TC = Parameter("T_over_tc", None, "1", "temperature as a fraction of Tc",
                                minimum=0.0)
"""The same, as fractions of Tc."""


def gaps_on_structure(st: Structure, *, eta: float, g: float, T=None, T_over_tc=None,
                      omega0: float = _P["omega0"].default,
                      g_lower: float = _P["g_lower"].default,
                      g_inter: float = _P["g_inter"].default,
                      softening: bool = _P["softening"].default,
                      t_floor: float = _P["t_floor"].default, fixed_mu: bool = False,
                      resolution: GapResolution = DEFAULT_GAP_RESOLUTION) -> GapResult:
    """Gaps Delta_n(q), mu and the partial densities below Tc at one (eta, g).

    Parameters (keyword-only)
    -------------------------
    st : structure from :func:`solver.structure.prepare_structure` (bands, basis, exchange
        integrals).
    eta : Lifshitz parameter (mu0 - E_L)/dE of the normal state at T = 0, dimensionless.
    g : coupling g_NN of the resonant subband, dimensionless.
    T : temperature(s), K (>= 0); or T_over_tc : temperature(s) as fractions of Tc (exactly one).
    omega0 : pairing cut-off before softening, meV.  g_lower, g_inter, softening, t_floor : as
        :func:`solver.tc_grid` (t_floor, K, is the floor of the Tc used for T_over_tc and the
        ratios).
    fixed_mu : keep mu = mu0 instead of solving the density equation.
    resolution : discretisation of the gap solver.

    :class:`~solver.parameters.ParameterError` (a ValueError) names a bad parameter.
    Temperatures are solved from the highest down: the first from the leading eigenvector of the
    linearised equation scaled above a BCS-sized gap, each next from the gaps (and mu) found at
    the one above it. ``linear_eigenvalue`` is that of the linearised equation at (mu0, T).
    """
    eta, g, omega0, model, temps = _checked_inputs(eta=eta, g=g, T=T, T_over_tc=T_over_tc,
                                                   omega0=omega0, g_lower=g_lower,
                                                   g_inter=g_inter, softening=softening,
                                                   t_floor=t_floor)
    tcg = tc_on_structure(st, eta=[eta], g=[g], omega0=[omega0], **model)
    tc_status = int(tcg.status[0, 0, 0])
    tc_K = float(tcg.tc_K[0, 0, 0])
    if T_over_tc is not None:
        temps = _temperatures_from_tc(temps, tc_status=tc_status, tc_K=tc_K,
                                      t_floor=model["t_floor"])
    nb, p = st.bottoms.size, st.n_basis
    gm = coupling_matrix(nbands=nb, g=g, g_lower=model["g_lower"], g_inter=model["g_inter"])
    a_mat = np.kron(gm, np.ones((p, p))) * st.overlaps.reshape(nb * p, nb * p)
    omega = cutoff(omega0=omega0, g=g, softening=model["softening"])
    prob = _Problem(st, a_mat=a_mat, omega=omega, res=resolution)
    mu0 = st.E_L + eta * st.dE
    # the normal state at T = 0 has only the square-root end points at the Fermi crossings
    normal = _normal_eval(prob.grids(mu0, [omega] * nb), mu=mu0, cx=prob.cx, p=p)
    n_normal = _density(normal)
    tc_mev = KB * tc_K if tc_status == STATUS_OK else 0.0
    rows = _solve_temperatures(prob, temps, mu0=mu0, normal=normal, n_normal=n_normal.sum(),
                               tc_ok=tc_status == STATUS_OK, tc_mev=tc_mev, fixed_mu=fixed_mu)
    return _gap_result(st, rows, temps=temps, tc_K=tc_K, tc_status=tc_status, tc_mev=tc_mev,
                       mu0=mu0, density_normal=n_normal)


def _checked_inputs(*, eta, g, T, T_over_tc, omega0, g_lower, g_inter, softening, t_floor):
    """The point and the temperatures of :func:`gaps_on_structure`, validated: (eta, g, omega0,
    model, temps) with model = {g_lower, g_inter, softening, t_floor} and temps a 1-D array of
    T (K) or of T/Tc, as given."""
    if (T is None) == (T_over_tc is None):
        raise ValueError("give exactly one of T and T_over_tc")
    eta_a, g_a, om_a, model = _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower,
                                            g_inter=g_inter, softening=softening,
                                            t_floor=t_floor)
    if eta_a.size != 1 or g_a.size != 1 or om_a.size != 1:
        raise ValueError("eta, g and omega0 must be single numbers here")
    temps = np.atleast_1d(np.asarray(T if T is not None else T_over_tc, dtype=float))
    if temps.ndim != 1 or temps.size == 0:
        raise ValueError("T must be a number or a non-empty 1-D sequence")
    for v in temps:
        (TEMPERATURE if T is not None else TEMPERATURE_OVER_TC).check(float(v))
    return float(eta_a[0]), float(g_a[0]), float(om_a[0]), model, temps


def _temperatures_from_tc(t_over_tc, *, tc_status, tc_K, t_floor):
    """Temperatures (K) from fractions of Tc (K); a ValueError where Tc is below its floor."""
    if tc_status != STATUS_OK:
        raise ValueError(f"T_over_tc needs a Tc; Tc is below the floor {t_floor} K here")
    return t_over_tc * tc_K


def _solve_temperatures(prob: _Problem, temps, *, mu0, normal, n_normal, tc_ok, tc_mev,
                        fixed_mu) -> dict:
    """Gaps and mu at each temperature of temps (K), from the highest down, each started from
    the gaps and mu found at the one above it; normal: the evaluation of the normal state at
    T = 0 and mu0 (meV), n_normal its density (1/Å^2). Returns the rows of :class:`GapResult` by
    name (delta_nodes, mu, density, target, cond, lam, steps and the gap averages)."""
    nb, p = prob.nb, prob.p
    shape = (temps.size, nb)
    rows = dict(delta_nodes=np.zeros((temps.size, nb, p)), delta_fermi=np.full(shape, np.nan),
                delta_crossing=np.full(shape, np.nan), delta_avg=np.zeros(shape),
                mu=np.full(temps.size, mu0), density=np.zeros(shape),
                cond=np.zeros(temps.size), target=np.full(temps.size, n_normal),
                lam=np.full(temps.size, np.nan), steps=np.zeros(temps.size, dtype=int))
    prev, mu_prev = None, mu0
    for idx in np.argsort(-temps):
        t_mev = KB * float(temps[idx])
        if not tc_ok and t_mev == 0.0:
            # no Tc above the floor: the normal state
            x, ev, mu, n_target, steps, lam = np.zeros(nb * p), normal, mu0, n_normal, 0, math.nan
        else:
            x, ev, mu, n_target, steps, lam = _solve_at(prob, T=t_mev, mu0=mu0, n_normal=n_normal,
                                                        tc_mev=tc_mev, prev=prev,
                                                        mu_prev=mu_prev, fixed_mu=fixed_mu)
        if x.any():
            prev, mu_prev = (x, t_mev), mu
        rows["target"][idx] = n_target
        rows["lam"][idx] = lam
        rows["steps"][idx] = steps
        _record(rows, idx, prob.st, x=x, ev=ev, mu=mu)
    return rows


def _solve_at(prob: _Problem, *, T, mu0, n_normal, tc_mev, prev, mu_prev, fixed_mu):
    """Gaps and mu at T (meV) with the density of the normal state at (mu0, T) as the target;
    prev = (gaps, T') and mu_prev found at T' > T, or None. Returns (x, evaluation at x, mu,
    n_target, Newton steps, leading eigenvalue of the linearised equation at (mu0, T))."""
    n_target, lam, lin = n_normal, math.nan, None
    if T > 0.0:  # the linearised equation at (mu0, T), and the normal density there
        lam, v, ev = prob.linear(mu=mu0, T=T)
        lin = (T, v)
        n_target = _density(ev).sum()
        if lam <= 1.0:
            return np.zeros(prob.nb * prob.p), ev, mu0, n_target, 0, lam  # normal at T
    x_start, from_prev = _start_vector(prob, mu=mu0, T=T, tc=tc_mev, prev=prev, lin=lin)
    x, ev, mu, steps = prob.solve(x_start, mu0=mu_prev if from_prev else mu0, T=T,
                                  n_target=n_target, fixed_mu=fixed_mu)
    return x, ev, mu, n_target, steps, lam


def _record(rows: dict, idx, st: Structure, *, x, ev: _Eval, mu) -> None:
    """Writes row idx of the gaps x (meV, on the basis nodes), mu (meV) and what the evaluation
    ev at them gives: densities, condensation energy, the Fermi-surface, crossing and zone
    averages of each subband's gap."""
    nb, p = st.bottoms.size, st.n_basis
    nodes, bary = st.basis
    zone = math.pi / (st.args[0] + st.args[1])
    dn = x.reshape(nb, p)
    rows["delta_nodes"][idx] = dn
    rows["mu"][idx] = mu
    rows["density"][idx] = _density(ev)
    rows["cond"][idx] = ev.acc[:, 2].sum() / math.pi ** 2
    lv = np.empty(p)
    for n in range(nb):
        gr = ev.grids[n]
        rows["delta_avg"][idx, n] = float(gr.w @ (gr.lq @ dn[n])) / zone
        if ev.acc[n, 4] > 0.0:
            rows["delta_fermi"][idx, n] = ev.acc[n, 3] / ev.acc[n, 4]
        if not math.isnan(gr.q_fermi):
            basis_values(2.0 * gr.q_fermi / zone - 1.0, nodes, bary, lv)
            rows["delta_crossing"][idx, n] = float(lv @ dn[n])


def _gap_result(st: Structure, rows: dict, *, temps, tc_K, tc_status, tc_mev, mu0,
                density_normal) -> GapResult:
    """The :class:`GapResult` of the rows of :func:`_solve_temperatures`."""
    nodes, _ = st.basis
    zone = math.pi / (st.args[0] + st.args[1])
    ratio = 2.0 * rows["delta_fermi"] / tc_mev if tc_mev > 0 else \
        np.full(rows["delta_fermi"].shape, np.nan)
    return GapResult(T_K=temps, tc_K=tc_K, tc_status=tc_status,
                     q_nodes=0.5 * zone * (1.0 + nodes), delta_nodes=rows["delta_nodes"],
                     delta_fermi=rows["delta_fermi"], delta_crossing=rows["delta_crossing"],
                     delta_avg=rows["delta_avg"], ratio_2delta_kTc=ratio, mu0_meV=mu0,
                     mu_meV=rows["mu"], density=rows["density"], density_normal=density_normal,
                     density_target=rows["target"], condensation_energy=rows["cond"],
                     linear_eigenvalue=rows["lam"], newton_steps=rows["steps"])


BCS_RATIO = 1.764
"""Delta(0) / (k_B Tc) of weak-coupling BCS, the scale of the starting gap."""
START_FACTOR = 1.5
"""The start is START_FACTOR times a BCS-sized gap: Newton on the convex residual converges
monotonically from above, while from below ~ 0.6 of the root it can head to Delta = 0. On the
paper's dome 2 Delta/k_B Tc reaches ~4.5, 1.3 times BCS, so 1.5 stays above (2 costs one
Newton step more)."""


PREV_MARGIN = 1.1
"""A lower T starts from the gaps found at a higher one, scaled by the BCS law Delta(T) and then
by PREV_MARGIN: above the root by more than the law's error (a few per cent across the dome),
and near enough for ~3 Newton steps."""


def _bcs_shape(T, tc):
    """Delta(T)/Delta(0) of BCS, the interpolation tanh(1.74 sqrt(Tc/T - 1)) (T < Tc)."""
    return math.tanh(1.74 * math.sqrt(tc / T - 1.0)) if T > 0 else 1.0


def _start_vector(prob: _Problem, *, mu, T, tc, prev, lin):
    """Start of the Newton iteration at T (meV): from prev = (gaps, T') found at T' > T, those
    gaps scaled by the BCS law; else the leading eigenvector of the linearised equation (at
    max(T, Tc/4); lin = (T, v) reuses one already found) scaled above a BCS-sized gap.
    Returns (x, whether it comes from prev).
    """
    if prev is not None and 0 < tc and prev[1] < tc and T < tc:
        x_prev, t_prev = prev
        return PREV_MARGIN * _bcs_shape(T, tc) / _bcs_shape(t_prev, tc) * x_prev, True
    t_lin = max(T, 0.25 * tc) if tc > 0 else max(T, 1e-9 * prob.omega)
    if lin is not None and lin[0] == t_lin:
        v = lin[1]
    else:
        _, v, _ = prob.linear(mu=mu, T=t_lin)
    if tc > 0 and T < tc:
        size = BCS_RATIO * tc * _bcs_shape(T, tc)
    else:
        size = BCS_RATIO * max(tc, T)
    return START_FACTOR * size * v / np.max(np.abs(v)), False


def gaps_point(*, eta: float, g: float, T=None, T_over_tc=None,
               omega0: float = _P["omega0"].default, L: float = _P["L"].default,
               W: float = _P["W"].default, V: float = _P["V"].default,
               m_well: float = _P["m_well"].default, m_barrier: float = _P["m_barrier"].default,
               m_x: float = _P["m_x"].default, nbands: int = _P["nbands"].default,
               g_lower: float = _P["g_lower"].default, g_inter: float = _P["g_inter"].default,
               softening: bool = _P["softening"].default, t_floor: float = _P["t_floor"].default,
               ben_daniel_duke: bool = _P["ben_daniel_duke"].default, fixed_mu: bool = False,
               resolution: GapResolution = DEFAULT_GAP_RESOLUTION) -> GapResult:
    """:func:`gaps_on_structure` on the structure given by its parameters.

    Keywords and units as :func:`solver.tc.tc_grid` (structure) and :func:`gaps_on_structure`
    (the point, the temperatures and the gap solver's options).
    """
    st = prepare_structure(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier, m_x=m_x,
                           nbands=nbands, ben_daniel_duke=ben_daniel_duke)
    return gaps_on_structure(st, eta=eta, g=g, T=T, T_over_tc=T_over_tc, omega0=omega0,
                             g_lower=g_lower, g_inter=g_inter, softening=softening,
                             t_floor=t_floor, fixed_mu=fixed_mu, resolution=resolution)


def warmup(*, gaps: bool = True, parallel: bool = False) -> None:
    """Compile (or load from the numba cache) the kernels of the solver: the band, overlap and
    DOS kernels (:func:`solver.structure.compile_structure_kernels`), the Tc kernels
    (:func:`solver.tc.compile_tc_kernels`) and, with ``gaps``, the gap kernels, at T = 0 and
    T > 0.

    A sweep's workers call it once at start, so no task pays the compile cost (with
    ``[outputs] gaps = true`` the first chunk would otherwise pay ~10 s for the gap kernels);
    a sweep without gaps leaves them out (loading them from the cache costs ~0.5 s a worker).

    ``parallel``: when the cache lacks the structure kernels, compile them in a second Python
    process while this one compiles the Tc kernels (the two groups share no kernel), so that on
    two free cores the first run waits for the larger group alone. Not from a process that may
    not start children (a daemonic one).
    """
    helper = None
    if parallel and not in_cache(exchange_integrals):
        helper = compile_in_child("solver.structure", "compile_structure_kernels")
    compile_tc_kernels()
    if helper is not None:
        _, err = helper.communicate()
        if helper.returncode != 0:
            raise RuntimeError(f"compiling the structure kernels in a child process failed "
                               f"(exit code {helper.returncode}): {err.strip()}")
    compile_structure_kernels()  # loads what the child compiled
    if gaps:
        gaps_on_structure(prepare_structure(), eta=1.0, g=0.25, T_over_tc=[0.0, 0.5])
