"""The critical temperature: the linearised multigap gap equation (docs/model.md §3).

With Delta_n(q) = sum_j Delta_n(q_j) l_j(q) and I_{nn'}(q_i, q') interpolated on the same basis,

    Delta_n(q_i) = sum_{n'} g_{nn'} sum_{k, j} I_{nn'}(q_i, q_k) B_{n',kj}(T) Delta_{n'}(q_j),

i.e. the kernel is A B with A = [g_{nn'} I_{nn'}(q_i, q_k)] symmetric and B = blockdiag(B_n)
positive semi-definite, so its eigenvalues are those of the symmetric B^1/2 A B^1/2. Lambda(T),
the largest, falls monotonically with T; Tc solves Lambda(Tc) = 1, found in log T (where Lambda is
nearly linear: Lambda ~ lambda ln(omega/T) in the BCS regime) by the Illinois method.

B_n(T) is one energy integral over the window |eps - mu| < omega of the tabulated weighted DOS
D_n(eps) against tanh((eps - mu)/2T)/(2 (eps - mu)). The integration panels are graded
geometrically towards the band's bottom and top (the square-root and logarithmic edges of D) and
towards mu down to x_lo, which resolves the kernel's peak of width T for every T above the floor
with the same nodes, computed once per (mu, omega); the sliver |eps - mu| < x_lo
(x_lo << k_B T_floor) is integrated analytically with D taken constant, and nodes with
|eps - mu| < 0.05 T are summed from running sums with the kernel's Taylor series (numerics:
docs/model.md §6).

The numba kernels come first (arrays and floats only); then the public functions, which validate
their keywords against :mod:`solver.parameters`, take a :class:`~solver.structure.Structure` from
:func:`~solver.structure.prepare_structure` and call the kernels per (omega0, g, eta).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .constants import KB
from .dos import MAX_PANEL_STEPS, chebyshev_basis, subdivide, table_eval, unpack
from .jit import njit
from .parameters import (PARAMETERS as _P, STATUS_BELOW_FLOOR, STATUS_NAMES, STATUS_OK, check,
                         check_g)
from .structure import DEFAULT_RESOLUTION, Resolution, Structure, _gauss, prepare_structure


# ------------------------------------------------------------------------------------ kernels

@njit
def window_breaks(mu, omega, lo, hi, e_bottom, e_top, x_lo, ratio, depth, bulk, parts):
    """Panel boundaries of one band's energy window [lo, hi] (meV), sorted.

    Graded geometrically (ratio) towards the band bottom (D jumps, then rises like a square root)
    and both sides of the band top (D diverges logarithmically) down to depth * width, and towards
    mu (the pair kernel's peak of width T) from x_lo up; ``bulk`` equal panels in between; each
    panel then cut into ``parts`` (for the oscillations of D_ij with many basis functions).
    """
    pts = [lo, hi, e_bottom, e_top]
    width = e_top - e_bottom
    for k in range(bulk + 1):
        pts.append(e_bottom + width * (0.25 + 0.5 * k / bulk))
    h = 0.25 * width
    for _ in range(MAX_PANEL_STEPS):
        if not h > depth * width:
            break
        h /= ratio
        pts.append(e_bottom + h)
        pts.append(e_top - h)
        pts.append(e_top + h)
    h = width
    for _ in range(MAX_PANEL_STEPS):
        if not e_top + h < hi:
            break
        pts.append(e_top + h)
        h *= ratio
    x = x_lo
    for _ in range(MAX_PANEL_STEPS):
        if not x < omega:
            break
        pts.append(mu - x)
        pts.append(mu + x)
        x *= ratio
    out = np.unique(np.array(pts))
    return subdivide(out[(out >= lo) & (out <= hi)], parts)


@njit
def window_edges(mu, omega, breaks, e_bottom, e_top, x_lo, ratio, depth, bulk, parts):
    """One band's window panels, clipped to its table, and how many lie outside the sliver."""
    lo = mu - omega
    hi = mu + omega
    if breaks.size >= 2:
        lo = max(lo, breaks[0])
        hi = min(hi, breaks[-1])
    if breaks.size < 2 or hi <= lo:
        return np.empty(0), 0
    edges = window_breaks(mu, omega, lo, hi, e_bottom, e_top, x_lo, ratio, depth, bulk, parts)
    npan = 0
    for k in range(edges.size - 1):
        if edges[k + 1] <= mu - x_lo or edges[k] >= mu + x_lo:
            npan += 1
    return edges, npan


@njit
def fill_window(mu, edges, breaks, vals, cheb, cheb_bary, x_lo, xg, wg, ax, xs, ws, dv, c0, c2,
                dmid):
    """Quadrature of one band's window into the given buffers, sorted by |x| = |eps - mu|.

    Writes ax = |x| (ascending), x, w, dv[k] (packed D at the nodes), the running sums
    c0[k] = sum_{k' < k} w D and c2[k] = sum_{k' < k} w x^2 D (one row more than nodes) and
    dmid = (D(mu - x_lo) + D(mu + x_lo)) / 2. The buffers are views of a workspace reused from
    point to point: a sweep allocates nothing per point.
    """
    npk = dmid.size
    lv = np.empty(cheb.size)
    tmp = np.empty(npk)
    m = 0
    for k in range(edges.size - 1):
        a = edges[k]
        b = edges[k + 1]
        if not (b <= mu - x_lo or a >= mu + x_lo):
            continue
        for j in range(xg.size):
            xs[m] = 0.5 * (a + b) + 0.5 * (b - a) * xg[j] - mu
            ws[m] = 0.5 * (b - a) * wg[j]
            m += 1
    order = np.argsort(np.abs(xs))
    xs[:] = xs[order]
    ws[:] = ws[order]
    c0[0, :] = 0.0
    c2[0, :] = 0.0
    for k in range(xs.size):
        ax[k] = abs(xs[k])
        table_eval(mu + xs[k], breaks, vals, cheb, cheb_bary, lv, dv[k])
        w0 = ws[k]
        w2 = ws[k] * xs[k] * xs[k]
        for j in range(npk):
            c0[k + 1, j] = c0[k, j] + w0 * dv[k, j]
            c2[k + 1, j] = c2[k, j] + w2 * dv[k, j]
    table_eval(mu - x_lo, breaks, vals, cheb, cheb_bary, lv, tmp)
    for j in range(npk):
        dmid[j] = 0.5 * tmp[j]
    table_eval(mu + x_lo, breaks, vals, cheb, cheb_bary, lv, tmp)
    for j in range(npk):
        dmid[j] += 0.5 * tmp[j]


MAX_TC_EXPANSIONS = 200
"""Times the upper bracket of Tc is multiplied by 4 while Lambda(T) > 1: 4^200 times the cut-off
is far beyond any temperature of the model; more means the coupling is unphysical."""

SERIES_X = 0.05
"""Below |x| = SERIES_X * T the pair kernel is replaced by 1/(4T) - x^2/(48 T^3) and summed from the
running sums: the next term is 2 (x/2T)^4 / 15 < 5e-8 relative there."""


@njit
def pair_kernel(x, T):
    """tanh(x / 2T) / (2x), its limit 1/(4T) at x = 0."""
    y = x / (2.0 * T)
    if abs(y) < 1e-8:
        return 1.0 / (4.0 * T)
    return math.tanh(y) / (2.0 * x)


@njit
def inner_integral(a):
    """F(a) = int_0^a tanh(y/2)/y dy for a <= 1e-2 (series; the sliver around mu)."""
    a2 = a * a
    return a * (0.5 - a2 / 72.0 + a2 * a2 / 1200.0)


@njit
def susceptibility(T, ax, xs, ws, dv, c0, c2, dmid, x_lo, out):
    """Packed B_ij(T) = int K_T(eps - mu) D_ij(eps) d eps of one band, into out."""
    kc = np.searchsorted(ax, SERIES_X * T)
    f = inner_integral(x_lo / T)
    a0 = 1.0 / (4.0 * T)
    a2 = 1.0 / (48.0 * T * T * T)
    npk = out.size
    for j in range(npk):
        out[j] = f * dmid[j] + a0 * c0[kc, j] - a2 * c2[kc, j]
    for k in range(kc, xs.size):
        w = ws[k] * pair_kernel(xs[k], T)
        for j in range(npk):
            out[j] += w * dv[k, j]


@njit
def leading_eigenvalue(T, a_mat, win, x_lo):
    """Largest eigenvalue of the linearised gap equation at temperature T (meV).

    a_mat: (nb*P, nb*P) matrix g_{nn'} I_{nn'}(q_i, q_k). win = (offsets, ax, xs, ws, dv, c0,
    c0_off, c2, dmid): band n's window nodes are [offsets[n], offsets[n+1]) of ax, xs, ws, dv,
    its running sums the rows [c0_off[n], c0_off[n+1]) of c0, c2, and dmid[n] its sliver value
    (see fill_window).
    """
    offsets, ax, xs, ws, dv, c0, c0_off, c2, dmid = win
    nb = offsets.size - 1
    npk = dmid.shape[1]
    p = int(round((math.sqrt(8 * npk + 1) - 1) / 2))
    half = np.zeros((nb * p, nb * p))
    bp = np.empty(npk)
    b = np.empty((p, p))
    for n in range(nb):
        s = offsets[n]
        e = offsets[n + 1]
        cs = c0_off[n]
        ce = c0_off[n + 1]
        susceptibility(T, ax[s:e], xs[s:e], ws[s:e], dv[s:e], c0[cs:ce], c2[cs:ce], dmid[n],
                       x_lo, bp)
        unpack(bp, p, b)
        lam, vec = np.linalg.eigh(b)
        for i in range(p):
            lam[i] = math.sqrt(lam[i]) if lam[i] > 0.0 else 0.0
        half[n * p:(n + 1) * p, n * p:(n + 1) * p] = (vec * lam) @ vec.T
    c = half @ a_mat @ half
    return np.linalg.eigvalsh(0.5 * (c + c.T))[-1]


@njit
def critical_temperature(a_mat, win, x_lo, t_floor, t_start, u_tol):
    """Tc (meV) with Lambda(Tc) = 1, or (t_floor, STATUS_BELOW_FLOOR).

    t_floor: lowest temperature searched, meV; t_start: first upper guess, meV (the cut-off);
    u_tol: tolerance on ln Tc.
    """
    f_lo = leading_eigenvalue(t_floor, a_mat, win, x_lo) - 1.0
    if f_lo < 0.0:
        return t_floor, STATUS_BELOW_FLOOR
    u_lo = math.log(t_floor)
    u_hi = math.log(max(t_start, 2.0 * t_floor))
    f_hi = leading_eigenvalue(math.exp(u_hi), a_mat, win, x_lo) - 1.0
    for _ in range(MAX_TC_EXPANSIONS):
        if not f_hi >= 0.0:
            break
        u_lo, f_lo = u_hi, f_hi
        u_hi += math.log(4.0)
        f_hi = leading_eigenvalue(math.exp(u_hi), a_mat, win, x_lo) - 1.0
    else:
        raise ValueError("Tc search: Lambda stays above 1 up to 4^MAX_TC_EXPANSIONS times "
                         "the cut-off")
    if f_lo == 0.0:
        return math.exp(u_lo), STATUS_OK
    side = 0
    for _ in range(100):
        u = u_hi - f_hi * (u_hi - u_lo) / (f_hi - f_lo)
        if not (u_lo < u < u_hi):
            u = 0.5 * (u_lo + u_hi)
        f = leading_eigenvalue(math.exp(u), a_mat, win, x_lo) - 1.0
        if f == 0.0:
            return math.exp(u), STATUS_OK
        if f > 0.0:
            u_lo, f_lo = u, f
            if side == 1:
                f_hi *= 0.5
            side = 1
        else:
            u_hi, f_hi = u, f
            if side == -1:
                f_lo *= 0.5
            side = -1
        if u_hi - u_lo < u_tol:
            break
    return math.exp(u_lo - f_lo * (u_hi - u_lo) / (f_hi - f_lo)), STATUS_OK


# ----------------------------------------------------------------------------- public API

@dataclass(frozen=True)
class TcGrid:
    """Tc over a grid of one structure. Arrays have shape (n_omega0, n_g, n_eta)."""

    tc_K: np.ndarray
    """Critical temperature, K; NaN where status is not STATUS_OK."""
    status: np.ndarray
    """int8 status codes (:data:`solver.parameters.STATUS_NAMES`)."""
    E_L: float
    """Lifshitz energy (bottom of the resonant subband), meV."""
    dE: float
    """Width of the resonant subband, meV."""

    @staticmethod
    def status_name(code: int) -> str:
        """The name of a status code: "ok" or "below_floor"."""
        return STATUS_NAMES[code]


def coupling_matrix(*, nbands: int, g: float, g_lower: float, g_inter: float) -> np.ndarray:
    """g_{nn'}: g_lower on the lower diagonal, g_inter off it, g for the resonant subband."""
    gm = np.full((nbands, nbands), g_inter)
    np.fill_diagonal(gm, g_lower)
    gm[-1, -1] = g
    return gm


def cutoff(*, omega0: float, g: float, softening: bool) -> float:
    """Pairing cut-off, meV: omega0 sqrt(1 - 2g) with Migdal softening, else omega0."""
    return omega0 * math.sqrt(1.0 - 2.0 * g) if softening else omega0


def _as_axis(name, values) -> np.ndarray:
    """A number or a non-empty 1-D sequence as a float array; ValueError naming the parameter."""
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence")
    return arr


def _check_points(*, eta, g, omega0, g_lower, g_inter, softening, t_floor):
    """Validated (eta, g, omega0) arrays and model options, checked against the parameter table.

    Returns (eta, g, omega0, model) with model = {g_lower, g_inter, softening, t_floor};
    :class:`~solver.parameters.ParameterError` (a ValueError) names the first bad parameter.
    """
    softening = check("softening", softening)
    eta = _as_axis("eta", eta)
    g = _as_axis("g", g)
    omega0 = _as_axis("omega0", omega0)
    for v in eta:
        check("eta", float(v))
    for v in g:
        check_g(float(v), softening=softening)
    for v in omega0:
        check("omega0", float(v))
    model = dict(g_lower=check("g_lower", g_lower), g_inter=check("g_inter", g_inter),
                 softening=softening, t_floor=check("t_floor", t_floor))
    return eta, g, omega0, model


def tc_grid(*, eta, g, omega0=_P["omega0"].default, L: float = _P["L"].default,
            W: float = _P["W"].default, V: float = _P["V"].default,
            m_well: float = _P["m_well"].default, m_barrier: float = _P["m_barrier"].default,
            m_x: float = _P["m_x"].default, nbands: int = _P["nbands"].default,
            g_lower: float = _P["g_lower"].default, g_inter: float = _P["g_inter"].default,
            softening: bool = _P["softening"].default, t_floor: float = _P["t_floor"].default,
            ben_daniel_duke: bool = _P["ben_daniel_duke"].default,
            resolution: Resolution = DEFAULT_RESOLUTION) -> TcGrid:
    """Critical temperature over a grid of (omega0, g, eta) for one structure.

    Parameters (keyword-only; defaults are the paper's, from :data:`solver.PARAMETERS`)
    ---------------------------------------------------------------------------------
    eta : Lifshitz parameter(s) (mu - E_L) / dE, dimensionless.
    g : coupling(s) g_{N N} of the resonant subband, dimensionless (>= 0).
    omega0 : pairing cut-off(s) before softening, meV.
    L, W : well and barrier widths, Å.  V : barrier height, meV (>= 0).
    m_well, m_barrier : masses along z, m_e.  m_x : mass along the wires, m_e.
    nbands : subbands kept; the highest is the resonant one.
    g_lower : intraband coupling of the lower subbands.  g_inter : coupling between subbands.
    softening : cut-off omega0 sqrt(1 - 2g) (requires g < G_SOFTENING_LIMIT = 1/2); else omega0.
    t_floor : lowest temperature searched, K; below it the status is STATUS_BELOW_FLOOR.
    ben_daniel_duke : psi'/m continuous at the interfaces instead of psi'.
    resolution : discretisation (tests refine it; users keep the default).

    Bands, wavefunctions, overlaps and the DOS tables are computed once for all points.
    :class:`~solver.parameters.ParameterError` (a ValueError) names a bad parameter.
    """
    _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower, g_inter=g_inter,
                  softening=softening, t_floor=t_floor)  # before the structure's cost
    st = prepare_structure(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier, m_x=m_x,
                           nbands=nbands, ben_daniel_duke=ben_daniel_duke, resolution=resolution)
    return tc_on_structure(st, eta=eta, g=g, omega0=omega0, g_lower=g_lower, g_inter=g_inter,
                           softening=softening, t_floor=t_floor)


def tc_on_structure(st: Structure, *, eta, g, omega0=_P["omega0"].default,
                    g_lower: float = _P["g_lower"].default, g_inter: float = _P["g_inter"].default,
                    softening: bool = _P["softening"].default,
                    t_floor: float = _P["t_floor"].default) -> TcGrid:
    """Tc over (omega0, g, eta) on a structure from :func:`~solver.structure.prepare_structure`.

    Keywords and units as :func:`tc_grid`.
    """
    eta, g, omega0, model = _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower,
                                          g_inter=g_inter, softening=softening, t_floor=t_floor)
    g_lower, g_inter = model["g_lower"], model["g_inter"]
    softening, t_floor = model["softening"], model["t_floor"]
    res = st.res
    nb, p = st.bottoms.size, st.n_basis
    cuts = np.array([[cutoff(omega0=w, g=gg, softening=softening) for gg in g] for w in omega0])
    mus = st.E_L + eta * st.dE
    # a range that does not depend on g (softening only narrows the window), so that chunks of
    # a sweep that differ in g share one build of the tables
    tables = st.tables(lo=mus.min() - omega0.max(), hi=mus.max() + omega0.max())
    cheb, cheb_bary = chebyshev_basis(res.n_cheb)
    xg, wg = _gauss(res.n_gauss)
    t_floor_mev = KB * t_floor
    x_lo = res.x_lo_factor * t_floor_mev
    tc = np.full((omega0.size, g.size, eta.size), np.nan)
    status = np.empty(tc.shape, dtype=np.int8)
    overlaps = st.overlaps.reshape(nb * p, nb * p)
    for i in range(omega0.size):
        for j, gg in enumerate(g):
            gm = coupling_matrix(nbands=nb, g=gg, g_lower=g_lower, g_inter=g_inter)
            a_mat = np.kron(gm, np.ones((p, p))) * overlaps
            omega = cuts[i, j]
            for k, mu in enumerate(mus):
                win = _window(st, tables, mu=mu, omega=omega, x_lo=x_lo, cheb=cheb,
                              cheb_bary=cheb_bary, xg=xg, wg=wg)
                t, code = critical_temperature(a_mat, win, x_lo, t_floor_mev, omega, res.u_tol)
                status[i, j, k] = code
                if code == STATUS_OK:
                    tc[i, j, k] = t / KB
    return TcGrid(tc, status, st.E_L, st.dE)


def _window(st: Structure, tables, *, mu, omega, x_lo, cheb, cheb_bary, xg, wg) -> tuple:
    """The energy quadrature of every band at (mu, omega), in the structure's workspace."""
    res = st.res
    edges = [window_edges(mu, omega, br, st.bottoms[n], st.tops[n], x_lo, res.ratio,
                          res.int_depth, res.int_bulk, st.parts)
             for n, (br, _) in enumerate(tables)]
    offsets = np.cumsum([0] + [npan * xg.size for _, npan in edges])
    c_off = offsets + np.arange(offsets.size)  # one running-sum row more per band
    ws = st.workspace(int(offsets[-1]), tables[0][1].shape[2] if len(tables) else 0)
    ax, xs, w, dv, c0, c2, dmid = ws
    for n, ((e, _), (br, va)) in enumerate(zip(edges, tables)):
        s, t = offsets[n], offsets[n + 1]
        fill_window(mu, e, br, va, cheb, cheb_bary, x_lo, xg, wg, ax[s:t], xs[s:t], w[s:t],
                    dv[s:t], c0[c_off[n]:c_off[n + 1]], c2[c_off[n]:c_off[n + 1]], dmid[n])
    n_nodes = int(offsets[-1])
    n_rows = int(c_off[-1])
    return (offsets, ax[:n_nodes], xs[:n_nodes], w[:n_nodes], dv[:n_nodes], c0[:n_rows], c_off,
            c2[:n_rows], dmid)


def tc_point(*, eta: float, g: float, **kwargs) -> tuple[float, str]:
    """Tc (K, NaN unless ok) and status name for one (eta, g); keywords as :func:`tc_grid`."""
    r = tc_grid(eta=[eta], g=[g], **kwargs)
    return float(r.tc_K[0, 0, 0]), STATUS_NAMES[int(r.status[0, 0, 0])]


def compile_tc_kernels() -> None:
    """Compile (or load from the numba cache) every kernel that :func:`tc_grid` uses, by one
    small Tc grid; part of :func:`solver.warmup`."""
    tc_grid(eta=[1.0], g=[0.25])
