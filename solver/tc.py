"""The critical temperature: the linearised multigap gap equation (docs/model.md §3).

With Delta_n(q) = sum_j Delta_n(q_j) l_j(q) and I_{nn'}(q_i, q') interpolated on the same basis,

    Delta_n(q_i) = sum_{n'} g_{nn'} sum_{k, j} I_{nn'}(q_i, q_k) B_{n',kj}(T) Delta_{n'}(q_j),

i.e. the kernel is A B with A = [g_{nn'} I_{nn'}(q_i, q_k)] symmetric and B = blockdiag(B_n)
positive semi-definite, so its eigenvalues are those of the symmetric G^T A G for any G with
G G^T = B. Lambda(T), the largest, falls monotonically with T; Tc solves Lambda(Tc) = 1, found in
u = ln T (where Lambda is nearly linear: Lambda ~ lambda ln(omega/T) in the BCS regime) by
Newton's method with the exact slope dLambda/du (Hellmann-Feynman), safeguarded by bisection.

B_n(T) is one energy integral over the window |eps - mu| < omega of the tabulated weighted DOS
D_n(eps) against tanh((eps - mu)/2T)/(2 (eps - mu)). The integration panels are graded
geometrically towards the band's bottom and top (the square-root and logarithmic edges of D) and
towards mu down to x_lo, which resolves the kernel's peak of width T for every T above the floor
with the same nodes, computed once per (mu, omega); the sliver |eps - mu| < x_lo
(x_lo << k_B T_floor) is integrated analytically with D taken constant, and nodes with
|eps - mu| < 0.05 T take the kernel's Taylor series (numerics: docs/model.md §6). The points of
a call that share mu share one window's D values: a narrower cut-off's panels are the widest
one's but for its two ends.

The numba kernels come first (arrays and floats only); then the public functions, which validate
their keywords against :mod:`solver.parameters`, take a :class:`~solver.structure.Structure` from
:func:`~solver.structure.prepare_structure` and call the kernels on the (omega0, g, eta) grid.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from .constants import KB
from .dos import MAX_PANEL_STEPS, chebyshev_basis, subdivide, table_eval_ascending, unpack
from .eigen import largest_eigenpair, psd_factor
from .jit import njit, njit_inlined
from .parameters import (PARAMETERS as _P, STATUS_BELOW_FLOOR, STATUS_NAMES, STATUS_OK,
                         ParameterError, check, check_g)
from .relations import cutoff, eta_up
from .structure import (DEFAULT_RESOLUTION, Resolution, Structure, _gauss, pack_tables,
                        prepare_structure)


# ------------------------------------------------------------------------------------ kernels

SHELL_GAPS = (701, 301, 132, 57, 23, 10, 4, 1)
"""Gap sequence of the Shell sort of a window's break points (Ciura's; ~100 points a band)."""


@njit
def sort_unique(a, n):
    """Sorts a[:n] in place and moves its distinct values to the front; returns their count."""
    for gap in SHELL_GAPS:
        for i in range(gap, n):
            v = a[i]
            j = i
            while j >= gap and a[j - gap] > v:
                a[j] = a[j - gap]
                j -= gap
            a[j] = v
    m = 0
    for i in range(n):
        if m == 0 or a[i] != a[m - 1]:
            a[m] = a[i]
            m += 1
    return m


@njit
def break_capacity(bulk):
    """Length of the scratch that :func:`window_breaks` fills: every loop there is bounded by
    :data:`~solver.dos.MAX_PANEL_STEPS`."""
    return 5 + bulk + 6 * MAX_PANEL_STEPS


@njit
def window_breaks(mu, omega, lo, hi, e_bottom, e_top, x_lo, ratio, depth, bulk, parts, pts):
    """Panel boundaries of one band's energy window [lo, hi] (meV), sorted.

    Graded geometrically (ratio) towards the band bottom (D jumps, then rises like a square root)
    and both sides of the band top (D diverges logarithmically) down to depth * width, and towards
    mu (the pair kernel's peak of width T) from x_lo up; ``bulk`` equal panels in between; each
    panel then cut into ``parts`` (for the oscillations of D_ij with many basis functions).
    pts: scratch of :func:`break_capacity` entries (the result may be a view of it).
    """
    width = e_top - e_bottom
    pts[0] = lo
    pts[1] = hi
    pts[2] = e_bottom
    pts[3] = e_top
    m = 4
    for k in range(bulk + 1):
        pts[m] = e_bottom + width * (0.25 + 0.5 * k / bulk)
        m += 1
    h = 0.25 * width
    for _ in range(MAX_PANEL_STEPS):
        if not h > depth * width:
            break
        h /= ratio
        pts[m] = e_bottom + h
        pts[m + 1] = e_top - h
        pts[m + 2] = e_top + h
        m += 3
    h = width
    for _ in range(MAX_PANEL_STEPS):
        if not e_top + h < hi:
            break
        pts[m] = e_top + h
        m += 1
        h *= ratio
    x = x_lo
    for _ in range(MAX_PANEL_STEPS):
        if not x < omega:
            break
        pts[m] = mu - x
        pts[m + 1] = mu + x
        m += 2
        x *= ratio
    kept = np.int64(0)  # not the literal 0: numba would compile sort_unique for it too
    for i in range(m):
        if pts[i] >= lo and pts[i] <= hi:
            pts[kept] = pts[i]
            kept += 1
    return subdivide(pts[:sort_unique(pts, kept)], parts)


@njit
def panel_nodes(mu, a, b, xg, wg, xs, ws, start):
    """The Gauss-Legendre nodes x = eps - mu and weights of the energy panel [a, b] into
    xs[start:], ws[start:], ascending."""
    for j in range(xg.size):
        xs[start + j] = 0.5 * (a + b) + 0.5 * (b - a) * xg[j] - mu
        ws[start + j] = 0.5 * (b - a) * wg[j]


MAX_TC_EXPANSIONS = 200
"""The Tc search climbs no higher than 4^MAX_TC_EXPANSIONS times the cut-off: far beyond any
temperature of the model; Lambda(T) > 1 there means the coupling is unphysical."""

MAX_ROOT_STEPS = 400
"""Evaluations of Lambda in one Tc search. The climb (steps of ln 4 at the least) is bounded by
MAX_TC_EXPANSIONS, the descent by the floor, and a bracketed search halves its bracket at least
every other step: fewer than 200 + 30 + 2 * 60 in all (on the paper grid: 3.9 on average, 7 at
most)."""

SERIES_X = 0.05
"""Below |x| = SERIES_X * T the pair kernel is replaced by 1/(4T) - x^2/(48 T^3): the next term
is 2 (x/2T)^4 / 15 < 5e-8 relative there."""

T_START = 0.1
"""First temperature of the Tc search, as a fraction of the cut-off: Lambda(ln T) is nearly
linear below it (Lambda ~ lambda ln(1.13 omega/T) in the BCS regime), so Newton's method lands
close to the root in one step (a start at 0.01 or 1 times the cut-off took 3.7 and 4.7
evaluations on average over a quarter of the paper grid, 0.1 times 3.9)."""

LN4 = math.log(4.0)


@njit
def inner_integral(a):
    """F(a) = int_0^a tanh(y/2)/y dy for a <= 1e-2 (series; the sliver around mu)."""
    a2 = a * a
    return a * (0.5 - a2 / 72.0 + a2 * a2 / 1200.0)


@njit
def susceptibility(T, xs, ws, dv, nodes, dmid, x_lo, b, bt):
    """Packed B_ij(T) = int K_T(eps - mu) D_ij(eps) d eps of one band into b, and T dB_ij/dT
    into bt, from the band's window nodes (indices ``nodes`` into xs, ws, dv) and its sliver
    value dmid.

    K_T = tanh(x/2T)/(2x), T dK_T/dT = -(1 - tanh^2(x/2T))/(4T); below |x| = SERIES_X T their
    series 1/(4T) - x^2/(48 T^3) and -1/(4T) + x^2/(16 T^3); the sliver |x| < x_lo gives
    F(x_lo/T) D and its T-derivative -a F'(a) D, a = x_lo/T.
    """
    npk = b.size
    a = x_lo / T
    f = inner_integral(a)
    ft = -a * (0.5 - a * a / 24.0 + a * a * a * a / 240.0)
    for j in range(npk):
        b[j] = f * dmid[j]
        bt[j] = ft * dmid[j]
    c0 = 1.0 / (4.0 * T)
    c2 = 1.0 / (48.0 * T * T * T)
    near = SERIES_X * T
    for k in nodes:
        x = xs[k]
        if abs(x) < near:
            x2 = x * x
            wk = ws[k] * (c0 - c2 * x2)
            wt = ws[k] * (3.0 * c2 * x2 - c0)
        else:
            t = math.tanh(x / (2.0 * T))
            wk = ws[k] * t / (2.0 * x)
            wt = -ws[k] * (1.0 - t * t) * c0
        row = dv[k]
        for j in range(npk):
            b[j] += wk * row[j]
            bt[j] += wt * row[j]


@njit_inlined
def new_work(nb, p):
    """Buffers of :func:`leading_eigenvalue` for nb bands and p basis nodes, reused from call to
    call: (bp, btp, blk, g, gw, gv, gs, gh, bt, ag, c, vec, d, e, hv, pv, y, z)."""
    n = nb * p
    npk = p * (p + 1) // 2
    return (np.empty(npk), np.empty(npk), np.empty((p, p)), np.empty((nb, p, p)),
            np.empty((p, p)), np.empty(p), np.empty((4, p)), np.empty((p, p)),
            np.empty((nb, p, p)),
            np.empty((n, n)), np.empty((n, n)), np.empty(n), np.empty(n), np.empty(n),
            np.empty((n, n)), np.empty(n), np.empty(n), np.empty(n))


@njit
def leading_eigenvalue(T, a_mat, xs, ws, dv, nodes, node_off, dmid, x_lo, work):
    """Lambda(T), the largest eigenvalue of the linearised gap equation at T (meV), and its slope
    dLambda/d ln T.

    a_mat: (nb P, nb P) matrix g_{nn'} I_{nn'}(q_i, q_k). Band n's window nodes are the entries
    nodes[node_off[n]:node_off[n+1]] of xs (x = eps - mu), ws (weights) and dv (packed D_ij),
    dmid[n] its sliver value (see :func:`susceptibility`). work: :func:`new_work`.

    With G G^T = B (block-diagonal, the positive part of each B_n:
    :func:`~solver.eigen.psd_factor`), Lambda is the largest eigenvalue of the symmetric
    G^T A G, eigenvector w. Delta = A G w is then the gap (the right eigenvector of A B) and
    B Delta the left one, so the Hellmann-Feynman theorem gives
    T dLambda/dT = Delta^T (T dB/dT) Delta / Lambda.
    """
    bp, btp, blk, g, gw, gv, gs, gh, bt, ag, c, vec, d, e, hv, pv, y, z = work
    nb = node_off.size - 1
    p = blk.shape[0]
    n = nb * p
    for m in range(nb):
        susceptibility(T, xs, ws, dv, nodes[node_off[m]:node_off[m + 1]], dmid[m], x_lo, bp,
                       btp)
        unpack(bp, p, blk)
        psd_factor(blk, g[m], gw, gv, gs, gh)
        unpack(btp, p, bt[m])
    # ag = A G, then c = G^T A G (symmetrised)
    for i in range(n):
        for j in range(n):
            ag[i, j] = 0.0
        for m in range(nb):
            for l in range(p):
                s = a_mat[i, m * p + l]
                gl = g[m, l]
                for k in range(p):
                    ag[i, m * p + k] += s * gl[k]
    for m in range(nb):
        for r in range(p):
            for j in range(n):
                c[m * p + r, j] = 0.0
        for l in range(p):
            gl = g[m, l]
            row = ag[m * p + l]
            for r in range(p):
                s = gl[r]
                out = c[m * p + r]
                for j in range(n):
                    out[j] += s * row[j]
    for i in range(n):
        for j in range(i):
            v = 0.5 * (c[i, j] + c[j, i])
            c[i, j] = v
            c[j, i] = v
    lam = largest_eigenpair(c, vec, d, e, hv, pv, y)
    if not lam > 0.0:
        return lam, 0.0
    for i in range(n):  # z = Delta = A G w
        s = 0.0
        for j in range(n):
            s += ag[i, j] * vec[j]
        z[i] = s
    slope = 0.0
    for m in range(nb):
        for i in range(p):
            s = 0.0
            for j in range(p):
                s += bt[m, i, j] * z[m * p + j]
            slope += z[m * p + i] * s
    return lam, slope / lam


@njit_inlined
def critical_temperature(a_mat, xs, ws, dv, nodes, node_off, dmid, x_lo, t_floor, t_start,
                         u_tol, work):
    """Tc (meV) with Lambda(Tc) = 1, or (t_floor, STATUS_BELOW_FLOOR).

    t_floor: lowest temperature searched, meV; t_start: the cut-off, meV; u_tol: tolerance on
    ln Tc. Newton's method in u = ln T with the exact slope of :func:`leading_eigenvalue`, from
    T_START * t_start; it climbs (Lambda > 1) or descends (Lambda < 1, down to the floor, where
    Lambda < 1 means Tc below it) by Newton steps, ln 4 where a step goes the wrong way, until
    the root is bracketed; then a Newton step that leaves the bracket or does not halve the step
    before it is replaced by bisection (rtsafe, Press et al., "Numerical Recipes", 3rd ed.,
    §9.4). It returns after a Newton step shorter than u_tol, whose error is of the order of its
    square, or when the bracket is narrower than u_tol.
    """
    u_floor = math.log(t_floor)
    u_top = math.log(max(t_start, 2.0 * t_floor)) + MAX_TC_EXPANSIONS * LN4
    u = math.log(max(T_START * t_start, t_floor))
    have_lo = False
    have_hi = False
    u_lo = f_lo = u_hi = f_hi = 0.0
    step_old = math.inf
    for evaluations in range(1, MAX_ROOT_STEPS + 1):
        lam, slope = leading_eigenvalue(math.exp(u), a_mat, xs, ws, dv, nodes, node_off, dmid,
                                        x_lo, work)
        f = lam - 1.0
        if f == 0.0:
            return math.exp(u), STATUS_OK, evaluations
        if f > 0.0:
            have_lo, u_lo, f_lo = True, u, f
        else:
            if u <= u_floor:
                return t_floor, STATUS_BELOW_FLOOR, evaluations
            have_hi, u_hi, f_hi = True, u, f
        newton = u - f / slope if slope < 0.0 else math.nan
        if abs(newton - u) < u_tol:
            return math.exp(newton), STATUS_OK, evaluations
        if have_lo and have_hi:
            if not (u_lo < newton < u_hi and abs(newton - u) <= 0.5 * abs(step_old)):
                newton = 0.5 * (u_lo + u_hi)
        elif have_lo:  # Lambda > 1 so far: up, to u_top at most
            if u >= u_top:
                raise ValueError("Tc search: Lambda stays above 1 up to 4^MAX_TC_EXPANSIONS "
                                 "times the cut-off")
            if not newton > u:
                newton = u + LN4
            newton = min(newton, u_top)
        else:  # Lambda < 1 so far: down, to the floor at most
            if not newton < u:
                newton = u - LN4
            newton = max(newton, u_floor)
        if have_lo and have_hi and u_hi - u_lo < u_tol:
            return math.exp(u_lo - f_lo * (u_hi - u_lo) / (f_hi - f_lo)), STATUS_OK, evaluations
        step_old = newton - u
        u = newton
    raise RuntimeError("Tc search: no convergence in MAX_ROOT_STEPS evaluations of Lambda")


@njit
def ensure_nodes(store, need):
    """The node store (xs, ws, dv) with room for ``need`` nodes: itself, or a larger copy."""
    xs, ws, dv = store
    if need <= xs.size:
        return store
    cap = 2 * need
    xs2 = np.empty(cap)
    ws2 = np.empty(cap)
    dv2 = np.empty((cap, dv.shape[1]))
    for i in range(xs.size):
        xs2[i] = xs[i]
        ws2[i] = ws[i]
        for j in range(dv.shape[1]):
            dv2[i, j] = dv[i, j]
    return xs2, ws2, dv2


@njit_inlined
def new_buffers(nb, npk, n_cheb, bulk, parts, x_lo):
    """Scratch of the window assembly, shared by the points of a call: (pts, wide, wide_off,
    first, lv, dmid, sliver, ends); see :func:`wide_window`."""
    cap = break_capacity(bulk)
    return (np.empty(cap), np.empty(nb * cap * parts), np.zeros(nb + 1, dtype=np.int64),
            np.empty(nb * cap * parts, dtype=np.int64), np.empty(n_cheb), np.empty((nb, npk)),
            np.array([-x_lo, x_lo]), np.empty((2, npk)))


@njit_inlined
def fitted_scratch(scratch, nb, npk, n_cheb, bulk, parts, x_lo):
    """A previous call's scratch (buffers, node store, node indices; :func:`tc_kernel`) where
    its shapes fit this call's, else new; the sliver's ends set to -+x_lo. Every value a call
    reads from it, it wrote first (the node store: from index 0; ``wide_off[0]`` stays 0)."""
    buffers, store, nodes = scratch
    cap = break_capacity(bulk)
    if (buffers[0].size != cap or buffers[1].size != nb * cap * parts
            or buffers[4].size != n_cheb or buffers[5].shape[0] != nb
            or buffers[5].shape[1] != npk):
        buffers = new_buffers(nb, npk, n_cheb, bulk, parts, x_lo)
    if store[2].shape[1] != npk:
        store = (np.empty(0), np.empty(0), np.empty((0, npk)))
    sliver = buffers[6]
    sliver[0] = -x_lo
    sliver[1] = x_lo
    return buffers, store, nodes


@njit
def band_range(mu, omega, bks):
    """The window [mu - omega, mu + omega] clipped to a band's table; empty if hi <= lo."""
    if bks.size < 2:
        return 0.0, 0.0
    return max(mu - omega, bks[0]), min(mu + omega, bks[-1])


@njit_inlined
def wide_window(mu, omega, tables, bottoms, tops, quad, grading, buffers, store):
    """The window of cut-off omega at mu, the widest of a call: every band's break points
    (:func:`window_breaks`) into buffers (wide[wide_off[n]:wide_off[n+1]]; first[i]: the first
    node of panel i, -1 inside the sliver |x| < x_lo), the Gauss nodes and D of its panels into
    store = (xs, ws, dv) from index 0, and dmid, D at mu -+ x_lo averaged (the sliver's value).

    quad = (cheb, cheb_bary, xg, wg); grading = (x_lo, ratio, depth, bulk, parts).
    Returns (store, end): the nodes are [0, end).
    """
    cheb, cheb_bary, xg, wg = quad
    x_lo, ratio, depth, bulk, parts = grading
    pts, wide, wide_off, first, lv, dmid, sliver, ends = buffers
    ng = xg.size
    m = np.int64(0)  # not the literal 0: numba would compile the callees for it too
    for b in range(bottoms.size):
        bks = tables.breaks[tables.band_breaks[b]:tables.band_breaks[b + 1]]
        vls = tables.values[tables.band_panels[b]:tables.band_panels[b + 1]]
        w0 = wide_off[b]
        wide_off[b + 1] = w0
        lo, hi = band_range(mu, omega, bks)
        if hi > lo:
            edges = window_breaks(mu, omega, lo, hi, bottoms[b], tops[b], x_lo, ratio, depth,
                                  bulk, parts, pts)
            store = ensure_nodes(store, m + (edges.size - 1) * ng)
            xs, ws, dv = store
            start = m
            for i in range(edges.size - 1):
                wide[w0 + i] = edges[i]
                first[w0 + i] = -1
                if edges[i + 1] <= mu - x_lo or edges[i] >= mu + x_lo:
                    first[w0 + i] = m
                    panel_nodes(mu, edges[i], edges[i + 1], xg, wg, xs, ws, m)
                    m += ng
            wide[w0 + edges.size - 1] = edges[edges.size - 1]
            wide_off[b + 1] = w0 + edges.size
            table_eval_ascending(mu, xs[start:m], bks, vls, cheb, cheb_bary, lv, dv[start:m])
        table_eval_ascending(mu, sliver, bks, vls, cheb, cheb_bary, lv, ends)
        for j in range(dmid.shape[1]):
            dmid[b, j] = 0.5 * ends[0, j] + 0.5 * ends[1, j]
    return store, m


@njit_inlined
def row_nodes(mu, omega, tables, bottoms, tops, quad, grading, buffers, store, end, nodes,
              node_off):
    """The nodes of the window of cut-off omega (no wider than the one :func:`wide_window`
    built at mu, whose nodes end at ``end``), band n's as indices
    nodes[node_off[n]:node_off[n+1]] into the store, in the order of its panels.

    Its break points inside it are the wide window's (the gradings do not depend on omega), so
    its panels are the wide window's, found by their end points, except those at its own ends:
    their nodes and D go into the store after ``end``. Every point thus gets the nodes and D it
    would get alone. Returns (store, nodes), grown if needed.
    """
    cheb, cheb_bary, xg, wg = quad
    x_lo, ratio, depth, bulk, parts = grading
    pts, wide, wide_off, first, lv, dmid, sliver, ends = buffers
    ng = xg.size
    extra = end
    q = np.int64(0)
    for b in range(bottoms.size):
        node_off[b] = q
        bks = tables.breaks[tables.band_breaks[b]:tables.band_breaks[b + 1]]
        vls = tables.values[tables.band_panels[b]:tables.band_panels[b + 1]]
        lo, hi = band_range(mu, omega, bks)
        if not hi > lo:
            continue
        edges = window_breaks(mu, omega, lo, hi, bottoms[b], tops[b], x_lo, ratio, depth, bulk,
                              parts, pts)
        iw = wide_off[b]
        last = wide_off[b + 1] - 1
        for e in range(edges.size - 1):
            a = edges[e]
            c = edges[e + 1]
            if not (c <= mu - x_lo or a >= mu + x_lo):
                continue
            while iw < last and wide[iw] < a:
                iw += 1
            if iw < last and wide[iw] == a and wide[iw + 1] == c:
                start = first[iw]
            else:  # a panel at this window's end
                store = ensure_nodes(store, extra + ng)
                xs, ws, dv = store
                panel_nodes(mu, a, c, xg, wg, xs, ws, extra)
                table_eval_ascending(mu, xs[extra:extra + ng], bks, vls, cheb, cheb_bary, lv,
                                     dv[extra:extra + ng])
                start = extra
                extra += ng
            if nodes.size < q + ng:
                grown = np.empty(2 * (q + ng), dtype=np.int64)
                for t in range(q):
                    grown[t] = nodes[t]
                nodes = grown
            for t in range(ng):
                nodes[q + t] = start + t
            q += ng
    node_off[bottoms.size] = q
    return store, nodes


@njit
def coupled_overlaps(coupling, overlaps, a_mat):
    """a_mat = g_{nn'} I_{nn'}(q_i, q_k): the nb x nb coupling times the (nb P)^2 overlaps."""
    n = overlaps.shape[0]
    p = n // coupling.shape[0]
    for r in range(n):
        for c in range(n):
            a_mat[r, c] = coupling[r // p, c // p] * overlaps[r, c]


@njit
def tc_kernel(mus, omegas, couplings, overlaps, tables, bottoms, tops, quad, grading, t_floor,
              u_tol, tc, status, evaluations, scratch):
    """Tc (meV), status and the evaluations of Lambda of every (omega0_i, g_j, mu_k) into
    tc[i, j, k], status[i, j, k], evaluations[i, j, k]; returns the scratch for the next call.

    mus: chemical potentials, meV; omegas[i, j]: the cut-off of (omega0_i, g_j), meV;
    couplings[j]: the nb x nb matrix g_{nn'} of g_j; overlaps: I_{nn'}(q_i, q_k) as an
    (nb P, nb P) matrix; tables: :class:`~solver.structure.DosTables`; bottoms, tops: the band
    edges, meV; quad, grading: see :func:`wide_window`; t_floor (meV), u_tol: see
    :func:`critical_temperature`. At each mu the widest cut-off's window is built once and
    every (omega0, g) takes its nodes from it (:func:`row_nodes`). ``scratch``: the previous
    call's (:func:`fitted_scratch`; :data:`NO_SCRATCH` for none).
    """
    nb = bottoms.size
    npk = tables.values.shape[2]
    p = int(round((math.sqrt(8 * npk + 1) - 1) / 2))
    work = new_work(nb, p)
    a_mat = np.empty((nb * p, nb * p))
    buffers, store, nodes = fitted_scratch(scratch, nb, npk, quad[0].size, grading[3],
                                           grading[4], grading[0])
    node_off = np.zeros(nb + 1, dtype=np.int64)
    omega_wide = omegas[0, 0]
    for i in range(omegas.shape[0]):
        for j in range(omegas.shape[1]):
            omega_wide = max(omega_wide, omegas[i, j])
    for k in range(mus.size):
        store, end = wide_window(mus[k], omega_wide, tables, bottoms, tops, quad, grading,
                                 buffers, store)
        for i in range(omegas.shape[0]):
            for j in range(omegas.shape[1]):
                store, nodes = row_nodes(mus[k], omegas[i, j], tables, bottoms, tops, quad,
                                         grading, buffers, store, end, nodes, node_off)
                coupled_overlaps(couplings[j], overlaps, a_mat)
                xs, ws, dv = store
                tc[i, j, k], status[i, j, k], evaluations[i, j, k] = critical_temperature(
                    a_mat, xs, ws, dv, nodes, node_off, buffers[5], grading[0], t_floor,
                    omegas[i, j], u_tol, work)
    return buffers, store, nodes


NO_SCRATCH = ((np.empty(0), np.empty(0), np.empty(0, dtype=np.int64),
               np.empty(0, dtype=np.int64), np.empty(0), np.empty((0, 0)), np.empty(0),
               np.empty((0, 0))),
              (np.empty(0), np.empty(0), np.empty((0, 0))), np.empty(0, dtype=np.int64))
"""A scratch of :func:`tc_kernel` that fits no call (empty arrays of its types)."""

_SCRATCH = threading.local()
"""This thread's scratch of :func:`tc_kernel` (``.value``), kept from call to call: its buffers
are sized for the longest grading (:data:`~solver.dos.MAX_PANEL_STEPS`), about 0.7 MB on three
bands, which glibc maps or trims anew for each call that allocates them: 0.25-0.3 ms a call,
as much as the whole root search of a one-point call (each evaluation of a refinement)."""


@njit
def lambda_kernel(T, mu, omega, coupling, overlaps, tables, bottoms, tops, quad, grading):
    """Lambda(T) and dLambda/d ln T at one point (T, mu, omega in meV), on the window and the
    nodes :func:`tc_kernel` uses there."""
    nb = bottoms.size
    npk = tables.values.shape[2]
    p = int(round((math.sqrt(8 * npk + 1) - 1) / 2))
    a_mat = np.empty((nb * p, nb * p))
    coupled_overlaps(coupling, overlaps, a_mat)
    buffers = new_buffers(nb, npk, quad[0].size, grading[3], grading[4], grading[0])
    store = (np.empty(0), np.empty(0), np.empty((0, npk)))
    node_off = np.zeros(nb + 1, dtype=np.int64)
    store, end = wide_window(mu, omega, tables, bottoms, tops, quad, grading, buffers, store)
    store, nodes = row_nodes(mu, omega, tables, bottoms, tops, quad, grading, buffers, store,
                             end, np.empty(0, dtype=np.int64), node_off)
    xs, ws, dv = store
    return leading_eigenvalue(T, a_mat, xs, ws, dv, nodes, node_off, buffers[5], grading[0],
                              new_work(nb, p))


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
    evaluations: np.ndarray | None = None
    """Evaluations of Lambda(T) that each point's root search took (int16), a diagnostic."""
    eta_up: np.ndarray | None = None
    """Highest eta at which the model holds, per (omega0, g), shape (n_omega0, n_g)
    (:func:`eta_up`): Tc at a larger eta is computed all the same, outside the model."""

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

    Keywords and units as :func:`tc_grid`. Each point's Tc depends on that point alone, not on
    the others of the call.
    """
    eta, g, omega0, model = _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower,
                                          g_inter=g_inter, softening=softening, t_floor=t_floor)
    k = _kernel_inputs(st, eta=eta, g=g, omega0=omega0, **model)
    t_mev = np.empty((omega0.size, g.size, eta.size))
    status = np.empty(t_mev.shape, dtype=np.int8)
    evaluations = np.empty(t_mev.shape, dtype=np.int16)
    _SCRATCH.value = tc_kernel(
        k["mus"], k["omegas"], k["couplings"], k["overlaps"], k["tables"], st.bottoms, st.tops,
        k["quad"], k["grading"], k["t_floor"], st.res.u_tol, t_mev, status, evaluations,
        getattr(_SCRATCH, "value", NO_SCRATCH))
    tc = np.where(status == STATUS_OK, t_mev / KB, np.nan)
    top = st.E_left_out
    up = np.array([[eta_up(E_L=st.E_L, dE=st.dE, E_left_out=top, omega0=w, g=gg,
                           softening=model["softening"]) for gg in g] for w in omega0])
    return TcGrid(tc, status, st.E_L, st.dE, evaluations, up)


def pairing_eigenvalue(st: Structure, *, T: float, eta: float, g: float,
                       omega0: float = _P["omega0"].default,
                       g_lower: float = _P["g_lower"].default,
                       g_inter: float = _P["g_inter"].default,
                       softening: bool = _P["softening"].default,
                       t_floor: float = _P["t_floor"].default) -> tuple[float, float]:
    """Lambda(T), the largest eigenvalue of the linearised gap equation at temperature T (K),
    and its slope dLambda/d ln T, at one point: the function whose root Lambda(Tc) = 1
    :func:`tc_on_structure` finds, on the same quadrature (t_floor sets its innermost panel).
    Keywords and units as :func:`tc_grid`.
    """
    T = float(T)
    if not (math.isfinite(T) and T > 0.0):
        raise ParameterError("T", f"must be a positive temperature in K, got {T!r}")
    eta, g, omega0, model = _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower,
                                          g_inter=g_inter, softening=softening, t_floor=t_floor)
    k = _kernel_inputs(st, eta=eta[:1], g=g[:1], omega0=omega0[:1], **model)
    lam, slope = lambda_kernel(KB * T, k["mus"][0], k["omegas"][0, 0], k["couplings"][0],
                               k["overlaps"], k["tables"], st.bottoms, st.tops, k["quad"],
                               k["grading"])
    return float(lam), float(slope)


def _kernel_inputs(st: Structure, *, eta, g, omega0, g_lower, g_inter, softening,
                   t_floor) -> dict:
    """The arguments of :func:`tc_kernel` for checked (eta, g, omega0) arrays on ``st``."""
    res = st.res
    nb, p = st.bottoms.size, st.n_basis
    mus = st.E_L + eta * st.dE
    # a range that does not depend on g (softening only narrows the window), so that chunks of
    # a sweep that differ in g share one build of the tables
    tables = st.tables(lo=mus.min() - omega0.max(), hi=mus.max() + omega0.max())
    x_lo = res.x_lo_factor * KB * min(t_floor, res.x_lo_t_max)
    return dict(
        mus=mus,
        omegas=np.array([[cutoff(omega0=w, g=gg, softening=softening) for gg in g]
                         for w in omega0]),
        couplings=np.array([coupling_matrix(nbands=nb, g=gg, g_lower=g_lower, g_inter=g_inter)
                            for gg in g]),
        overlaps=st.overlaps.reshape(nb * p, nb * p), tables=tables,
        quad=chebyshev_basis(res.n_cheb) + _gauss(res.n_gauss),
        grading=(x_lo, res.ratio, res.int_depth, res.int_bulk, st.parts),
        t_floor=KB * t_floor)


def tc_point(*, eta: float, g: float, **kwargs) -> tuple[float, str]:
    """Tc (K, NaN unless ok) and status name for one (eta, g); keywords as :func:`tc_grid`."""
    r = tc_grid(eta=[eta], g=[g], **kwargs)
    return float(r.tc_K[0, 0, 0]), STATUS_NAMES[int(r.status[0, 0, 0])]


def compile_tc_kernels() -> None:
    """Compile (or load from the numba cache) the kernels of :func:`tc_on_structure`; part of
    :func:`solver.warmup`.

    On a one-band structure made of arrays alone, a flat DOS table (the free 2D gas, I = 1),
    so that no band or DOS kernel is needed for it: :func:`solver.warmup` compiles those in
    another process meanwhile. The same code as for a real structure builds the kernels'
    arguments, so their types, and the compiled code, are the same.
    """
    res = DEFAULT_RESOLUTION
    cheb, _ = chebyshev_basis(res.n_cheb)
    width = 100.0  # meV
    table = pack_tables([(np.array([0.0, 10.0 * width]), np.ones((1, cheb.size, 1)))])
    st = Structure(args=(_P["L"].default, _P["W"].default, 0.0, 1.0, 1.0, 1.0, 1.0),
                   m_x=1.0, bottoms=np.array([0.0]), tops=np.array([width]),
                   overlaps=np.ones((1, 1, 1, 1)), curvatures=np.array([width]), res=res,
                   basis=chebyshev_basis(1), overlap_error=0.0,
                   _tables=[(-math.inf, math.inf, table)])
    r = tc_on_structure(st, eta=[0.5], g=[0.25])
    if r.status[0, 0, 0] != STATUS_OK:  # BCS: Tc = 1.13 omega exp(-1/0.25) on a flat DOS
        raise RuntimeError("the Tc kernels' compile run found no Tc")
