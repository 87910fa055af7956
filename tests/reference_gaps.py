"""A slow, trusted reference gap solver: every break point graded finely, mu by a secant around
full gap solves.

It solves the equations of solver/gaps.py the plain way: the q panels of every subband are graded
geometrically towards every break point down to q_depth * pi/d (no change of variable at the
square-root end points, no grading that stops at the nearest singularity), and the density
equation is solved by the secant method on mu, with a complete Newton solve of the gap equation
at each mu. tests/make_gaps_reference.py runs it to write tests/data/gaps_reference.json, which
tests/test_gaps_fast.py compares the fast solver with; a slow test there re-runs it on a few
points to check that the fixture is still what this code gives. Not imported by the package.

The gaps below Tc: the non-linear multigap gap equation with the density equation
(docs/model.md §5).

For T < Tc, with E = sqrt(xi^2 + Delta_n(q)^2) and xi = C k^2 + E_n(q) - mu (C = hbar^2/2m_x),

    Delta_n(q) = sum_n' g_nn' int_0^{pi/d} dq' I_nn'(q, q') F_n'(q') Delta_n'(q'),
    F_n(q)     = 1/(pi^2 N_0) int_0^inf dk theta(w - |xi|) tanh(E/2T) / (2E),  1/(pi^2 N_0) = 4C/pi,

and the density equation fixes mu at the density n of the normal state at the same eta
(mu0 = E_L + eta dE) and the same T:

    n = (2/pi^2) sum_n int_0^{pi/d} dq int_0^inf dk <n_k>,   <n_k> = (1 - (xi/E) tanh(E/2T)) / 2.

At T = 0, <n_k> is the v^2 of docs/model.md; at T > 0 it is its thermal generalisation (the
occupation of a Bogoliubov state), so that with Delta = 0 the density is that of a Fermi gas at T.
Delta is non-zero only inside the pairing window |xi| < w; outside it <n_k> is the Fermi function
(whose tails beyond the window matter at strong coupling: w/k_B Tc ~ 5 on the paper's dome), so
n = (2/pi^2) sum_n int dq [k_F(q) + int dk (<n_k> - theta(-xi))], the last integral over the
window and the thermal tails around it.
Taking the normal state at the same T (not at T = 0) keeps mu = mu0 at and above Tc, so the gaps
close exactly at the Tc of the Tc kernel, which holds mu0 fixed; at T = 0 the two coincide.

Numerics. As in the Tc kernel, Delta_n(q) = sum_j Delta_n(q_j) l_j(q) on the structure's basis
nodes and I_nn'(q_i, q') = sum_k I[n, i, n', k] l_k(q'), so the gap equation is
Delta = A B(Delta) Delta with A = [g_nn' I_nn'(q_i, q_k)] and B_n,kj = int dq l_k l_j F_n(q; Delta).
Below Tc the gap rounds the pair kernel off on the scale s = sqrt(Delta^2 + (pi T)^2) (its nearest
complex singularities sit at xi = +-i s), so B is a plain two-dimensional quadrature:
- k: k = k_c + w sinh(u) around the Fermi point k_c = k_F(q) (or k_c = 0 above mu), w the distance
  of the singularity from the real k axis, composite Gauss-Legendre panels in u of width <= h_u,
  broken at the Fermi point (the occupation jumps there) and ending exactly on the window edges.
- q: composite Gauss-Legendre on panels graded geometrically towards the zone ends and towards the
  q where E_n(q) = mu (where F peaks on the scale s) and mu +- w (square-root kinks of F).
The equation is solved by Newton's method with the analytic Jacobian I - A B'(Delta),
B'_kj = int dq l_k l_j (F + Delta dF/dDelta), and a backtracking line search, starting from the
leading eigenvector of the linearised kernel scaled above a BCS-sized gap (Newton on the convex
residual converges monotonically from above). mu is found by the secant method on the density,
with Newton on the gaps at each mu (warm-started).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np

from solver.bands import band_energy, discriminant
from solver.jit import njit
from solver.constants import HBAR2_2ME, KB
from solver.dos import basis_values
from solver.parameters import STATUS_OK
from solver.structure import Structure, prepare_structure
from solver.tc import _check_points, coupling_matrix, cutoff, tc_on_structure

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
    q_depth: float = 1e-11
    """Grading stops at q_depth * pi/d from a break point; the square-root end points of the
    density and of F leave an error ~ q_depth^1.5 there."""
    q_bulk: int = 8
    """Equal q panels across the zone, before grading."""
    n_gauss_k: int = 8
    """Gauss-Legendre nodes per panel of the k integral (in u, k = k_c + w sinh u)."""
    h_u: float = 0.75
    """Largest panel in u: the integrand is analytic in |Im u| < pi/2, so 8 nodes on panels of
    0.75 converge to ~1e-13."""
    gap_tol: float = 1e-10
    """Newton stops when the step is below gap_tol times the gap (relative, max norm)."""
    density_tol: float = 1e-12
    """The density equation is solved to density_tol relative to n."""
    max_newton: int = 60
    """Newton steps allowed for one gap solve."""
    max_mu: int = 60
    """Secant steps allowed for the density equation."""

    def doubled(self) -> "GapResolution":
        """Twice the resolution in every parameter (tolerances unchanged)."""
        return replace(self, n_gauss_q=2 * self.n_gauss_q, q_ratio=math.sqrt(self.q_ratio),
                       q_depth=self.q_depth ** 1.25, q_bulk=2 * self.q_bulk,
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
    """Status code of that Tc (solver.status)."""
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
    """Largest eigenvalue of the linearised gap equation at T (NaN at T = 0); <= 1: normal."""
    newton_steps: np.ndarray
    """Newton steps of the last gap solve at each T."""

    @property
    def mu_shift_meV(self) -> np.ndarray:
        """mu - mu0, meV."""
        return self.mu_meV - self.mu0_meV


# ------------------------------------------------------------------------------------ kernels

@njit
def pair_terms(xi, delta, T):
    """At one k: (f, Delta df/dDelta, <n_k> - theta(-xi), grand-potential density term).

    f = tanh(E/2T)/(2E) (1/meV); the occupation term is dimensionless; the last,
    -Delta^2/(E + |xi|) + Delta^2 tanh(E/2T)/(2E) - 2T [ln(1 + e^{-E/T}) - ln(1 + e^{-|xi|/T})]
    (meV),
    integrates to Omega_S - Omega_N (at a self-consistent Delta).
    """
    ax = abs(xi)
    d2 = delta * delta
    e = math.sqrt(xi * xi + d2)
    if T > 0.0:
        em = math.exp(-e / T)
        t = -math.expm1(-e / T) / (1.0 + em)
        omt = 2.0 * em / (1.0 + em)
        sech2 = 4.0 * em / ((1.0 + em) * (1.0 + em))
        lg = -2.0 * T * (math.log1p(em) - math.log1p(math.exp(-ax / T)))
    else:
        t = 1.0
        omt = 0.0
        sech2 = 0.0
        lg = 0.0
    if e == 0.0:  # Delta = 0 and xi = 0 (T > 0): the limits
        return 1.0 / (4.0 * T), 0.0, 0.0, 0.0
    f = t / (2.0 * e)
    dfde = (0.5 * e / T * sech2 - t) / (2.0 * e * e) if T > 0.0 else -1.0 / (2.0 * e * e)
    gdf = d2 / e * dfde
    one_minus = d2 / (e * (e + ax)) + ax / e * omt  # 1 - (|xi|/E) tanh(E/2T)
    occ = 0.5 * one_minus if xi > 0.0 else (-0.5 * one_minus if xi < 0.0 else 0.0)
    om = -d2 / (e + ax) + d2 * t / (2.0 * e) + lg
    return f, gdf, occ, om


THERMAL_TAIL = 40.0
"""The density integral extends THERMAL_TAIL * T beyond the window, where the occupation is the
Fermi function (Delta = 0): the tail left out weighs e^-40 ~ 4e-18 of the Fermi sea."""


@njit
def band_sums(e_q, w_q, lq, dnodes, T, omega, cx, xg, wg, h_u, s_floor, B, Bp, acc):
    """Quadrature over (q, k) of one subband at the gap values dnodes (meV) on the basis nodes.

    e_q: E_n(q) - mu at the q nodes (meV), w_q their weights (1/Å), lq[a, j] = l_j(q_a).
    Adds to B, Bp (P x P, dimensionless) int dq l_k l_j F and int dq l_k l_j (F + Delta dF/dDelta);
    to acc: [0] int dq int dk (<n_k> - theta(-xi)) (1/Å^2; Delta inside the window, the Fermi
    function in the thermal tails THERMAL_TAIL * T beyond it), [1] int dq k_F (1/Å^2),
    [2] int dq int_window dk (grand-potential term) (meV/Å^2), [3] int dq Delta/(2 C k_F)
    (1/Å^2) and [4] int dq 1/(2 C k_F) (the Fermi-line density of states, 1/(meV Å^2)).
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
        if e >= ext:
            continue
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
        for piece in range(4):
            if kb[piece + 1] <= kb[piece]:
                continue
            inside = piece == 1 or piece == 2
            gap = dl if inside else 0.0
            ua = math.asinh((kb[piece] - kc) / w)
            ub = math.asinh((kb[piece + 1] - kc) / w)
            npan = max(1, int(math.ceil((ub - ua) / h_u)))
            hu = (ub - ua) / npan
            for m in range(npan):
                u0 = ua + m * hu
                for r in range(xg.size):
                    u = u0 + 0.5 * hu * (xg[r] + 1.0)
                    jac = 0.5 * hu * wg[r] * w * math.cosh(u)
                    dk = w * math.sinh(u)
                    k = kc + dk
                    if e < 0.0:
                        xi = cx * dk * (k + kf)
                    else:
                        xi = cx * k * k + e
                    f, gdf, occ, om = pair_terms(xi, gap, T)
                    n_sum += jac * occ
                    if inside:
                        f_sum += jac * f
                        g_sum += jac * gdf
                        o_sum += jac * om
        fw = wq * pref * f_sum
        gw = wq * pref * (f_sum + g_sum)
        for i in range(p):
            li = lq[a, i]
            for j in range(p):
                B[i, j] += fw * li * lq[a, j]
                Bp[i, j] += gw * li * lq[a, j]
        acc[0] += wq * n_sum
        acc[2] += wq * o_sum


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


def _band_grids(st: Structure, *, mu: float, omega: float, res: GapResolution) -> list:
    """Per subband, the graded q quadrature for (mu, omega) with energies and basis values."""
    d = st.args[0] + st.args[1]
    zone = math.pi / d
    xg, wg = np.polynomial.legendre.leggauss(res.n_gauss_q)
    nodes, bary = st.basis
    grids = []
    for n in range(st.bottoms.size):
        q_f = _crossing(st, n, mu)
        breaks = [0.0, zone] + [b for b in (_crossing(st, n, mu - omega), q_f,
                                            _crossing(st, n, mu + omega)) if not math.isnan(b)]
        pts = list(np.linspace(0.0, zone, res.q_bulk + 1))
        for b in breaks:
            h = 0.25 * zone
            while h > res.q_depth * zone:
                pts += [b - h, b + h]
                h /= res.q_ratio
            pts.append(b)
        edges = np.unique(np.clip(np.array(pts), 0.0, zone))
        a, b = edges[:-1, None], edges[1:, None]
        q = (0.5 * (a + b) + 0.5 * (b - a) * xg[None, :]).ravel()
        w = (0.5 * (b - a) * wg[None, :]).ravel()
        e, lq = grid_values(q, st.bottoms[n], st.tops[n], *st.args, nodes, bary)
        grids.append(_BandGrid(w, e, lq, q_f))
    return grids


# ---------------------------------------------------------------------------- one evaluation

@dataclass
class _Eval:
    B: list
    Bp: list
    acc: np.ndarray   # (nbands, 5), see band_sums


def _evaluate(grids, delta: np.ndarray, *, mu, T, omega, cx, res, s_floor) -> _Eval:
    """B, B' and the sums of band_sums for gaps delta[n, j] (meV) at (mu, T) (meV)."""
    nb, p = delta.shape
    xg, wg = np.polynomial.legendre.leggauss(res.n_gauss_k)
    out = _Eval([], [], np.zeros((nb, 5)))
    for n, gr in enumerate(grids):
        B = np.zeros((p, p))
        Bp = np.zeros((p, p))
        band_sums(gr.e - mu, gr.w, gr.lq, np.ascontiguousarray(delta[n]), T, omega, cx, xg, wg,
                  res.h_u, s_floor, B, Bp, out.acc[n])
        out.B.append(B)
        out.Bp.append(Bp)
    return out


def _normal_eval(grids, *, mu, cx, p) -> _Eval:
    """The sums of band_sums with Delta = 0 at T = 0: only the Fermi-sea terms are non-zero."""
    out = _Eval([np.zeros((p, p))] * len(grids), [np.zeros((p, p))] * len(grids),
                np.zeros((len(grids), 5)))
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


class _Problem:
    """One (structure, eta, g, omega) point: the kernels' inputs and the solves at (mu, T)."""

    def __init__(self, st, *, a_mat, omega, res):
        self.st, self.a_mat, self.omega, self.res = st, a_mat, omega, res
        self.nb, self.p = st.bottoms.size, st.n_basis
        self.cx = HBAR2_2ME / st.m_x
        self.s_floor = 1e-12 * omega
        self._grids = {}

    def grids(self, mu):
        g = self._grids.get(mu)
        if g is None:
            if len(self._grids) > 8:
                self._grids.clear()
            g = self._grids[mu] = _band_grids(self.st, mu=mu, omega=self.omega, res=self.res)
        return g

    def evaluate(self, x, *, mu, T):
        return _evaluate(self.grids(mu), x.reshape(self.nb, self.p), mu=mu, T=T,
                         omega=self.omega, cx=self.cx, res=self.res, s_floor=self.s_floor)

    def linear(self, *, mu, T):
        """Leading eigenvalue and eigenvector of the linearised equation at T > 0 (meV)."""
        ev = self.evaluate(np.zeros(self.nb * self.p), mu=mu, T=T)
        return _leading(self.a_mat, ev.B)

    def solve_gap(self, x0, *, mu, T):
        """Newton on R(x) = x - A B(x) x from x0; returns (x, evaluation at x, steps).

        The normal state (x = 0) is returned when the linearised eigenvalue at T is <= 1.
        """
        res = self.res
        zero = np.zeros(self.nb * self.p)
        if T > 0.0:
            lam, _ = self.linear(mu=mu, T=T)
            if lam <= 1.0:
                return zero, self.evaluate(zero, mu=mu, T=T), 0, lam
        else:
            lam = math.nan
        x = x0.copy()
        ev = self.evaluate(x, mu=mu, T=T)
        r = x - _apply(self.a_mat, ev.B, x)
        rn = np.max(np.abs(r))
        for step in range(1, res.max_newton + 1):
            jac = np.eye(x.size) - self.a_mat @ _blockdiag(ev.Bp)
            dx = np.linalg.solve(jac, -r)
            if np.max(np.abs(dx)) <= res.gap_tol * np.max(np.abs(x)):
                x = x + dx
                return x, self.evaluate(x, mu=mu, T=T), step, lam
            alpha = 1.0
            while True:
                xn = x + alpha * dx
                evn = self.evaluate(xn, mu=mu, T=T)
                rnew = xn - _apply(self.a_mat, evn.B, xn)
                rnn = np.max(np.abs(rnew))
                if rnn <= (1.0 - 1e-4 * alpha) * rn or alpha < 1e-3:
                    break
                alpha *= 0.5
            x, ev, r, rn = xn, evn, rnew, rnn
            if np.max(np.abs(x)) < 1e-9 * np.max(np.abs(x0)):
                log.warning("the gap iteration fell to the normal state at T = %g meV", T)
                return zero, self.evaluate(zero, mu=mu, T=T), step, lam
        raise RuntimeError(f"gap equation: Newton did not converge in {res.max_newton} steps "
                           f"(T = {T} meV, mu = {mu} meV, residual {rn:.2e} meV)")


def _density(ev: _Eval) -> np.ndarray:
    """Partial densities (1/Å^2) from an evaluation."""
    return 2.0 / math.pi ** 2 * (ev.acc[:, 1] + ev.acc[:, 0])


def _solve_point(prob: _Problem, *, mu0, T, x_start, fixed_mu, n_target, dos):
    """Gaps and mu at temperature T (meV); returns (x, ev, mu, steps, lambda)."""
    res = prob.res
    x, ev, steps, lam = prob.solve_gap(x_start, mu=mu0, T=T)
    if fixed_mu:
        return x, ev, mu0, steps, lam
    tol = res.density_tol * n_target
    mu_a, g_a = mu0, _density(ev).sum() - n_target
    if abs(g_a) <= tol:
        return x, ev, mu0, steps, lam
    mu_b = mu0 - g_a / dos
    lo = hi = None  # bracket (mu, G) once the sign changes
    for _ in range(res.max_mu):
        xb, evb, steps, lam = prob.solve_gap(x if x.any() else x_start, mu=mu_b, T=T)
        g_b = _density(evb).sum() - n_target
        if abs(g_b) <= tol or abs(mu_b - mu_a) <= 1e-15 * abs(mu_b):
            return xb, evb, mu_b, steps, lam
        for m, gv in ((mu_a, g_a), (mu_b, g_b)):
            if gv < 0 and (lo is None or m > lo[0]):
                lo = (m, gv)
            if gv > 0 and (hi is None or m < hi[0]):
                hi = (m, gv)
        nxt = mu_b - g_b * (mu_b - mu_a) / (g_b - g_a) if g_b != g_a else mu_b - g_b / dos
        if lo is not None and hi is not None and not min(lo[0], hi[0]) < nxt < max(lo[0], hi[0]):
            nxt = 0.5 * (lo[0] + hi[0])
        mu_a, g_a, x = mu_b, g_b, xb
        mu_b = nxt
    raise RuntimeError(f"density equation: no convergence in {res.max_mu} steps (T = {T} meV)")


# ----------------------------------------------------------------------------- public API

def gaps_on_structure(st: Structure, *, eta: float, g: float, T=None, T_over_tc=None,
                      omega0: float = 230.0, g_lower: float = 0.1, g_inter: float = 0.1,
                      softening: bool = True, t_floor: float = 1e-6, fixed_mu: bool = False,
                      resolution: GapResolution = DEFAULT_GAP_RESOLUTION) -> GapResult:
    """Gaps Delta_n(q), mu and the partial densities below Tc at one (eta, g).

    Parameters (keyword-only)
    -------------------------
    st : structure from :func:`solver.prepare_structure` (bands, basis, exchange integrals).
    eta : Lifshitz parameter (mu0 - E_L)/dE of the normal state at T = 0, dimensionless.
    g : coupling g_NN of the resonant subband, dimensionless.
    T : temperature(s), K (>= 0); or T_over_tc : temperature(s) as fractions of Tc (exactly one).
    omega0 : pairing cut-off before softening, meV.  g_lower, g_inter, softening, t_floor : as
        :func:`solver.tc_grid` (t_floor, K, is the floor of the Tc used for T_over_tc and the
        ratios).
    fixed_mu : keep mu = mu0 instead of solving the density equation.
    resolution : discretisation of the gap solver.

    Temperatures are solved from the highest down, each starting from the leading eigenvector of
    the linearised equation scaled above a BCS-sized gap.
    """
    if (T is None) == (T_over_tc is None):
        raise ValueError("give exactly one of T and T_over_tc")
    eta_a, g_a, om_a, _ = _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower,
                                        g_inter=g_inter, softening=softening, t_floor=t_floor)
    if eta_a.size != 1 or g_a.size != 1 or om_a.size != 1:
        raise ValueError("eta, g and omega0 must be single numbers here")
    temps = np.atleast_1d(np.asarray(T if T is not None else T_over_tc, dtype=float))
    if temps.ndim != 1 or temps.size == 0:
        raise ValueError("T must be a number or a non-empty 1-D sequence")
    if np.any(temps < 0):
        raise ValueError("T must be >= 0")
    eta, g, omega0 = float(eta_a[0]), float(g_a[0]), float(om_a[0])
    tcg = tc_on_structure(st, eta=[eta], g=[g], omega0=[omega0], g_lower=g_lower,
                          g_inter=g_inter, softening=softening, t_floor=t_floor)
    tc_status = int(tcg.status[0, 0, 0])
    tc_K = float(tcg.tc_K[0, 0, 0])
    if T_over_tc is not None:
        if tc_status != STATUS_OK:
            raise ValueError(f"T_over_tc needs a Tc; Tc is below the floor {t_floor} K here")
        temps = temps * tc_K
    nb, p = st.bottoms.size, st.n_basis
    gm = coupling_matrix(nbands=nb, g=g, g_lower=g_lower, g_inter=g_inter)
    a_mat = np.kron(gm, np.ones((p, p))) * st.overlaps.reshape(nb * p, nb * p)
    omega = cutoff(omega0=omega0, g=g, softening=softening)
    prob = _Problem(st, a_mat=a_mat, omega=omega, res=resolution)
    mu0 = st.E_L + eta * st.dE
    zero = np.zeros(nb * p)
    normal = _normal_eval(prob.grids(mu0), mu=mu0, cx=prob.cx, p=p)
    n_normal = _density(normal)
    dos = 2.0 / math.pi ** 2 * normal.acc[:, 4].sum()  # dn/dmu of the normal state, 1/(meV Å^2)
    if not dos > 0.0:  # no Fermi surface: the first secant step uses one free 2D band's dn/dmu
        dos = 1.0 / (2.0 * math.pi * prob.cx)
    tc_mev = KB * tc_K if tc_status == STATUS_OK else 0.0
    order = np.argsort(-temps)
    shape = (temps.size, nb)
    out = dict(delta_nodes=np.zeros((temps.size, nb, p)), delta_fermi=np.full(shape, np.nan),
               delta_crossing=np.full(shape, np.nan), delta_avg=np.zeros(shape),
               mu=np.full(temps.size, mu0), density=np.zeros(shape),
               cond=np.zeros(temps.size), target=np.full(temps.size, n_normal.sum()),
               lam=np.full(temps.size, np.nan), steps=np.zeros(temps.size, dtype=int))
    nodes, bary = st.basis
    zone = math.pi / (st.args[0] + st.args[1])
    x_prev = None
    for idx in order:
        t_mev = KB * float(temps[idx])
        if tc_status != STATUS_OK and t_mev == 0.0:
            x, ev, mu = zero, normal, mu0  # no Tc above the floor: the normal state
            steps, lam = 0, math.nan
        else:
            x_start = _start_vector(prob, mu=mu0, T=t_mev, tc=tc_mev, x_prev=x_prev)
            n_target = n_normal.sum() if t_mev == 0.0 else \
                _density(prob.evaluate(zero, mu=mu0, T=t_mev)).sum()
            out["target"][idx] = n_target
            x, ev, mu, steps, lam = _solve_point(prob, mu0=mu0, T=t_mev, x_start=x_start,
                                                 fixed_mu=fixed_mu, n_target=n_target, dos=dos)
        if x.any():
            x_prev = x
        dn = x.reshape(nb, p)
        grids = prob.grids(mu)
        out["delta_nodes"][idx] = dn
        out["mu"][idx] = mu
        out["density"][idx] = _density(ev)
        out["cond"][idx] = ev.acc[:, 2].sum() / math.pi ** 2
        out["lam"][idx] = lam
        out["steps"][idx] = steps
        lv = np.empty(p)
        for n in range(nb):
            gr = grids[n]
            out["delta_avg"][idx, n] = float(gr.w @ (gr.lq @ dn[n])) / zone
            if ev.acc[n, 4] > 0.0:
                out["delta_fermi"][idx, n] = ev.acc[n, 3] / ev.acc[n, 4]
            if not math.isnan(gr.q_fermi):
                basis_values(2.0 * gr.q_fermi / zone - 1.0, nodes, bary, lv)
                out["delta_crossing"][idx, n] = float(lv @ dn[n])
    ratio = 2.0 * out["delta_fermi"] / tc_mev if tc_mev > 0 else np.full(shape, np.nan)
    return GapResult(T_K=temps, tc_K=tc_K, tc_status=tc_status,
                     q_nodes=0.5 * zone * (1.0 + nodes), delta_nodes=out["delta_nodes"],
                     delta_fermi=out["delta_fermi"], delta_crossing=out["delta_crossing"],
                     delta_avg=out["delta_avg"], ratio_2delta_kTc=ratio, mu0_meV=mu0,
                     mu_meV=out["mu"], density=out["density"], density_normal=n_normal,
                     density_target=out["target"], condensation_energy=out["cond"],
                     linear_eigenvalue=out["lam"],
                     newton_steps=out["steps"])


BCS_RATIO = 1.764
"""Delta(0) / (k_B Tc) of weak-coupling BCS, the scale of the starting gap."""
START_FACTOR = 2.0
"""The start is START_FACTOR times a BCS-sized gap: Newton on the convex residual converges
monotonically from above, while from below ~ 0.6 of the root it can head to Delta = 0."""


def _start_vector(prob: _Problem, *, mu, T, tc, x_prev):
    """Leading eigenvector of the linearised equation, scaled above a BCS-sized gap (meV)."""
    t_lin = max(T, 0.25 * tc) if tc > 0 else max(T, 1e-9 * prob.omega)
    _, v = prob.linear(mu=mu, T=t_lin)
    if tc > 0 and T < tc:
        size = BCS_RATIO * tc * math.tanh(1.74 * math.sqrt(tc / T - 1.0)) if T > 0 else \
            BCS_RATIO * tc
    else:
        size = BCS_RATIO * max(tc, T)
    x = START_FACTOR * size * v / np.max(np.abs(v))
    if x_prev is not None and np.max(x_prev) > np.max(x):
        x = x_prev.copy()  # a lower T continues from the gap found at the higher one
    return x


def gaps_point(*, eta: float, g: float, T=None, T_over_tc=None, omega0: float = 230.0,
               L: float = 8.5, W: float = 5.5, V: float = 4160.0, m_well: float = 0.86,
               m_barrier: float = 1.0, m_x: float = 0.86, nbands: int = 3,
               g_lower: float = 0.1, g_inter: float = 0.1, softening: bool = True,
               t_floor: float = 1e-6, ben_daniel_duke: bool = False, fixed_mu: bool = False,
               resolution: GapResolution = DEFAULT_GAP_RESOLUTION) -> GapResult:
    """:func:`gaps_on_structure` on the structure given by its parameters (as :func:`tc_grid`)."""
    st = prepare_structure(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier, m_x=m_x,
                           nbands=nbands, ben_daniel_duke=ben_daniel_duke)
    return gaps_on_structure(st, eta=eta, g=g, T=T, T_over_tc=T_over_tc, omega0=omega0,
                             g_lower=g_lower, g_inter=g_inter, softening=softening,
                             t_floor=t_floor, fixed_mu=fixed_mu, resolution=resolution)
