"""The linearised multigap gap equation and its critical temperature (MODEL.md section 3).

With Delta_n(q) = sum_j Delta_n(q_j) l_j(q) and I_{nn'}(q_i, q') interpolated on the same basis,

    Delta_n(q_i) = sum_{n'} g_{nn'} sum_{k, j} I_{nn'}(q_i, q_k) B_{n',kj}(T) Delta_{n'}(q_j),

i.e. the kernel is A B with A = [g_{nn'} I_{nn'}(q_i, q_k)] symmetric and B = blockdiag(B_n)
positive semi-definite, so its eigenvalues are those of the symmetric B^1/2 A B^1/2. Lambda(T), the
largest, falls monotonically with T; Tc solves Lambda(Tc) = 1, found in log T (where Lambda is nearly
linear: Lambda ~ lambda ln(omega/T) in the BCS regime) by the Illinois method.

B_n(T) is one energy integral over the window |eps - mu| < omega of the tabulated weighted DOS
D_n(eps) against tanh((eps - mu)/2T)/(2 (eps - mu)). The integration panels break at every table
panel boundary (so the integrand is smooth on each) and are graded geometrically towards mu down to
x_lo, which resolves the peak of width T for every T above the floor with the same nodes; the
sliver |eps - mu| < x_lo (x_lo << k_B T_floor) is integrated analytically with D taken constant.
"""
from __future__ import annotations

import math

import numpy as np

from .config import njit
from .dos import table_eval

STATUS_ROOT_OK = 0
STATUS_ROOT_BELOW_FLOOR = 1


@njit
def window_nodes(mu, omega, breaks, vals, cheb, cheb_bary, x_lo, mu_ratio, xg, wg):
    """Quadrature of one band's window: (x = eps - mu, weights, D at the nodes, D around mu).

    Returns x[k], w[k], dvals[k, i, j] and dmid[i, j] = (D(mu - x_lo) + D(mu + x_lo)) / 2.
    """
    p = vals.shape[2]
    dmid = np.zeros((p, p))
    tmp = np.zeros((p, p))
    if breaks.size < 2:
        return np.empty(0), np.empty(0), np.empty((0, p, p)), dmid
    lo = max(mu - omega, breaks[0])
    hi = min(mu + omega, breaks[-1])
    if hi <= lo:
        return np.empty(0), np.empty(0), np.empty((0, p, p)), dmid
    pts = [lo, hi]
    for b in breaks:
        if lo < b < hi:
            pts.append(b)
    x = x_lo
    while x < omega:
        for s in (mu - x, mu + x):
            if lo < s < hi:
                pts.append(s)
        x *= mu_ratio
    edges = np.unique(np.array(pts))
    npan = 0
    for k in range(edges.size - 1):
        if edges[k + 1] <= mu - x_lo or edges[k] >= mu + x_lo:
            npan += 1
    n = npan * xg.size
    xs = np.empty(n)
    ws = np.empty(n)
    dv = np.empty((n, p, p))
    m = 0
    for k in range(edges.size - 1):
        a = edges[k]
        b = edges[k + 1]
        if not (b <= mu - x_lo or a >= mu + x_lo):
            continue
        for j in range(xg.size):
            e = 0.5 * (a + b) + 0.5 * (b - a) * xg[j]
            xs[m] = e - mu
            ws[m] = 0.5 * (b - a) * wg[j]
            table_eval(e, breaks, vals, cheb, cheb_bary, dv[m])
            m += 1
    table_eval(mu - x_lo, breaks, vals, cheb, cheb_bary, tmp)
    dmid += 0.5 * tmp
    table_eval(mu + x_lo, breaks, vals, cheb, cheb_bary, tmp)
    dmid += 0.5 * tmp
    return xs, ws, dv, dmid


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
def susceptibility_matrix(T, xs, ws, dv, dmid, x_lo, out):
    """B_{ij}(T) = sum_k w_k K_T(x_k) D_ij(x_k) + F(x_lo/T) Dmid_ij, into out."""
    out[:] = dmid * inner_integral(x_lo / T)
    for k in range(xs.size):
        out += (ws[k] * pair_kernel(xs[k], T)) * dv[k]


@njit
def leading_eigenvalue(T, a_mat, offsets, xs, ws, dv, dmid, x_lo):
    """Largest eigenvalue of the linearised gap equation at temperature T (meV).

    a_mat: (nb*P, nb*P) matrix g_{nn'} I_{nn'}(q_i, q_k); band n's window nodes are
    xs[offsets[n]:offsets[n+1]] (and ws, dv alike); dmid[n] its sliver value.
    """
    nb = offsets.size - 1
    p = dmid.shape[1]
    half = np.zeros((nb * p, nb * p))
    b = np.empty((p, p))
    for n in range(nb):
        s = offsets[n]
        e = offsets[n + 1]
        susceptibility_matrix(T, xs[s:e], ws[s:e], dv[s:e], dmid[n], x_lo, b)
        lam, vec = np.linalg.eigh(b)
        for i in range(p):
            lam[i] = math.sqrt(lam[i]) if lam[i] > 0.0 else 0.0
        half[n * p:(n + 1) * p, n * p:(n + 1) * p] = (vec * lam) @ vec.T
    c = half @ a_mat @ half
    return np.linalg.eigvalsh(0.5 * (c + c.T))[-1]


@njit
def critical_temperature(a_mat, offsets, xs, ws, dv, dmid, x_lo, t_floor, t_start, u_tol):
    """Tc (meV) with Lambda(Tc) = 1, or (t_floor, STATUS_ROOT_BELOW_FLOOR).

    t_floor: lowest temperature searched, meV; t_start: first upper guess, meV (the cut-off);
    u_tol: tolerance on ln Tc.
    """
    f_lo = leading_eigenvalue(t_floor, a_mat, offsets, xs, ws, dv, dmid, x_lo) - 1.0
    if f_lo < 0.0:
        return t_floor, STATUS_ROOT_BELOW_FLOOR
    u_lo = math.log(t_floor)
    u_hi = math.log(max(t_start, 2.0 * t_floor))
    f_hi = leading_eigenvalue(math.exp(u_hi), a_mat, offsets, xs, ws, dv, dmid, x_lo) - 1.0
    while f_hi >= 0.0:
        u_lo, f_lo = u_hi, f_hi
        u_hi += math.log(4.0)
        f_hi = leading_eigenvalue(math.exp(u_hi), a_mat, offsets, xs, ws, dv, dmid, x_lo) - 1.0
    if f_lo == 0.0:
        return math.exp(u_lo), STATUS_ROOT_OK
    side = 0
    for _ in range(100):
        u = u_hi - f_hi * (u_hi - u_lo) / (f_hi - f_lo)
        if not (u_lo < u < u_hi):
            u = 0.5 * (u_lo + u_hi)
        f = leading_eigenvalue(math.exp(u), a_mat, offsets, xs, ws, dv, dmid, x_lo) - 1.0
        if f == 0.0:
            return math.exp(u), STATUS_ROOT_OK
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
    return math.exp(u_lo - f_lo * (u_hi - u_lo) / (f_hi - f_lo)), STATUS_ROOT_OK
