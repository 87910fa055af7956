"""Weighted densities of states of one subband, and their table (docs/model.md §3 and §6).

With Delta_n(q) expanded on smooth basis functions l_i(q), the pair susceptibility enters the gap
equation only through

    B_{n,ij}(mu, T) = int dq l_i l_j chi_n(q; T)
                    = int_{mu - w}^{mu + w} d eps  tanh((eps - mu)/2T) / (2 (eps - mu))
                      D_{n,ij}(eps),

    D_{n,ij}(eps) = (2/pi) sqrt(hbar^2/2m_x)
                    int_0^{pi/d} dq  l_i(q) l_j(q) theta(eps - E_n(q)) / sqrt(eps - E_n(q)),

(the factor 1/(pi^2 N_0) and the k_x -> eps Jacobian combine into
(2/pi) sqrt(hbar^2/2m_x) / sqrt(eps - E)). D depends on the structure only. It is a step at the
band bottom, smooth inside the band, and diverges like log|eps - E_top| at the band top (the van
Hove point eta = 1 of the resonant band).

The basis: Lagrange polynomials of degree P - 1 in q on the zone [0, pi/d], through P Chebyshev
points of the first kind (x_j on [-1, 1], q_j = (pi/d)(1 + x_j)/2), evaluated with the
barycentric formula (:func:`chebyshev_basis`, :func:`basis_values`). Delta_n(q) is smooth on the
zone, so this interpolation converges spectrally in P; the basis does not impose the evenness
of Delta in q (it is not a cosine series).

D at one energy is an integral over q with an inverse-square-root end point at q*(eps) and, near the
band top, a near-logarithmic pile-up. Measuring q from the top's q, p = |q - q_top|, with
E_top - E ~ a p^2, the substitutions p = p* cosh t (eps inside the band) and
p = sqrt((eps - E_top)/a) sinh t (above it) turn both into smooth integrands in t, integrated with
composite Gauss-Legendre panels. The table stores D on Chebyshev nodes of panels graded
geometrically towards each band's bottom and top (:func:`table_breaks`).

Precision limit: q*(eps) = arccos(D(eps))/d is computed from the discriminant, whose distance to
+-1 is known only to ~1e-16 absolute; within ~1e-6 meV of a band top that leaves D(eps) good to
~1e-4 relative (the end point sliver the substitution misses grows like the square root of the
error in q*). Those energies carry a weight below 1e-9 in B, far below the 1e-4 target on Tc.
"""
from __future__ import annotations

import math

import numpy as np

from .bands import band_energy, discriminant
from .jit import njit

MAX_PANEL_STEPS = 2100
"""Geometric steps of a panel grading: a ratio of 2 (or the window's) from any positive float
reaches any finite bound in fewer; a bound it cannot reach (NaN, overflow) ends the loop here."""

TINY_P = 1e-15
"""Smallest distance from the band top, in units of pi/d, used by the substitutions (avoids
log(0) exactly at the top; the region it cuts off carries a weight below 1e-14)."""


@njit
def basis_values(x, c_nodes, bary, out):
    """Lagrange basis l_j(x) on the nodes c_nodes (barycentric weights bary), into out.

    x in [-1, 1]; for the basis in q, x = 2 q / (pi/d) - 1.
    """
    p = c_nodes.size
    for j in range(p):
        if x == c_nodes[j]:
            out[:] = 0.0
            out[j] = 1.0
            return
    s = 0.0
    for j in range(p):
        out[j] = bary[j] / (x - c_nodes[j])
        s += out[j]
    for j in range(p):
        out[j] /= s


def packed_size(p: int) -> int:
    """Entries of a symmetric p x p matrix stored as its upper triangle (i <= j, row by row)."""
    return p * (p + 1) // 2


@njit
def unpack(packed, p, out):
    """Symmetric p x p matrix from its packed upper triangle."""
    m = 0
    for i in range(p):
        for j in range(i, p):
            out[i, j] = packed[m]
            out[j, i] = packed[m]
            m += 1


def chebyshev_basis(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Chebyshev points of the first kind on [-1, 1] (descending) and their barycentric weights."""
    k = np.arange(n)
    theta = (2 * k + 1) * np.pi / (2 * n)
    return np.cos(theta), (-1.0) ** k * np.sin(theta)


@njit
def top_curvature(odd, e_bottom, e_top, L, W, V, m_well, m_barrier, f_w, f_b):
    """a in E_top - E(p) ~ a p^2 near the band top, from one point at p = 1e-3 pi/d (meV Å^2).

    Only a scale for the substitution: a rough value costs accuracy nowhere, only node placement.
    """
    d = L + W
    p = 1e-3 * math.pi / d
    q = math.pi / d - p if odd else p
    e = band_energy(q, e_bottom, e_top, L, W, V, m_well, m_barrier, f_w, f_b)
    return max((e_top - e) / (p * p), 1e-300)


@njit
def weighted_dos(eps, odd, e_bottom, e_top, a_top, L, W, V, m_well, m_barrier, f_w, f_b,
                 c_nodes, bary, pref, xt, wt, h_t, out):
    """Add D_{ij}(eps) of one band to out (packed upper triangle, i <= j).

    pref = (2/pi) sqrt(hbar^2/2m_x), meV^1/2 Å; a_top: the band top's curvature
    (:func:`top_curvature`); c_nodes, bary: the basis (:func:`chebyshev_basis`).

    xt, wt: Gauss-Legendre nodes/weights on [-1, 1] for each t panel; h_t: largest t panel (the
    integrand carries l_i l_j, polynomials of degree 2P - 2 in q: callers shrink h_t as 1/P).
    """
    if eps <= e_bottom:
        return
    d = L + W
    p_zone = math.pi / d
    q_top = p_zone if odd else 0.0
    inside = eps < e_top
    if inside:
        dd = discriminant(eps, L, W, V, m_well, m_barrier, f_w, f_b)
        dd = min(1.0, max(-1.0, dd))
        p_star = max(abs(math.acos(dd) / d - q_top), TINY_P * p_zone)
        t_max = math.acosh(p_zone / p_star) if p_zone > p_star else 0.0
        scale = p_star
    else:
        delta = eps - e_top
        scale = max(math.sqrt(delta / a_top), TINY_P * p_zone)
        t_max = math.asinh(p_zone / scale)
    if t_max <= 0.0:
        return
    npan = max(1, int(math.ceil(t_max / h_t)))
    ht = t_max / npan
    lv = np.empty(c_nodes.size)
    for k in range(npan):
        t0 = k * ht
        for m in range(xt.size):
            t = t0 + 0.5 * ht * (xt[m] + 1.0)
            w = 0.5 * ht * wt[m]
            if inside:
                p = scale * math.cosh(t)
                jac = scale * math.sinh(t)
            else:
                p = scale * math.sinh(t)
                jac = scale * math.cosh(t)
            p = min(p, p_zone)
            q = q_top - p if odd else p
            e = band_energy(q, e_bottom, e_top, L, W, V, m_well, m_barrier, f_w, f_b)
            gap = (e_top - e) - (e_top - eps) if inside else (eps - e_top) + (e_top - e)
            if gap <= 0.0:
                continue
            f = pref * w * jac / math.sqrt(gap)
            basis_values(2.0 * q / p_zone - 1.0, c_nodes, bary, lv)
            idx = 0
            for i in range(lv.size):
                fi = f * lv[i]
                for j in range(i, lv.size):
                    out[idx] += fi * lv[j]
                    idx += 1


@njit
def subdivide(edges, parts):
    """Every interval between consecutive edges cut into ``parts`` equal pieces."""
    if parts <= 1 or edges.size < 2:
        return edges
    out = np.empty((edges.size - 1) * parts + 1)
    for k in range(edges.size - 1):
        for j in range(parts):
            out[k * parts + j] = edges[k] + (edges[k + 1] - edges[k]) * j / parts
    out[-1] = edges[-1]
    return out


def table_breaks(*, e_bottom: float, e_top: float, lo: float, hi: float, depth: float,
                 bulk_panels: int, parts: int = 1) -> np.ndarray:
    """Panel boundaries of one band's D table covering [lo, hi] (meV).

    D has a square-root edge at the band bottom (the basis is polynomial in q, not in q^2) and a
    logarithmic one at the top, so panels are halved geometrically towards both, down to
    depth * width; between them ``bulk_panels`` equal panels; above the top the panels double
    from depth * width on. Only panels that meet [lo, hi] are kept (none if hi <= e_bottom).
    Each panel is then cut into ``parts`` (D_ij oscillates ~P times across a band for P basis
    functions; callers pass parts ~ P / 8).
    """
    width = e_top - e_bottom
    if hi <= e_bottom or width <= 0:
        return np.empty(0)
    quarter = 0.25 * width
    if not (math.isfinite(width) and math.isfinite(hi)):
        return np.empty(0)
    pts = [e_bottom + quarter + 0.5 * width * k / bulk_panels for k in range(bulk_panels + 1)]
    h = quarter
    while h > depth * width:
        h *= 0.5
        pts += [e_bottom + h, e_top - h]
    pts += [e_bottom, e_top]
    h = depth * width
    for _ in range(MAX_PANEL_STEPS):
        pts.append(e_top + h)
        if not e_top + h < hi:  # also ends on NaN
            break
        h *= 2.0
    b = np.unique(np.array(pts))
    keep = np.zeros(b.size, dtype=bool)
    for k in range(b.size - 1):
        if b[k + 1] > lo and b[k] < hi:
            keep[k] = keep[k + 1] = True
    return subdivide(b[keep], parts)


@njit
def build_table(breaks, cheb, odd, e_bottom, e_top, a_top, L, W, V, m_well, m_barrier, f_w,
                f_b, c_nodes, bary, pref, xt, wt, h_t):
    """D at the Chebyshev nodes (cheb on [-1, 1]) of every panel: [panel, node, ij packed]."""
    npan = breaks.size - 1
    p = c_nodes.size
    vals = np.zeros((max(npan, 0), cheb.size, p * (p + 1) // 2))
    for k in range(npan):
        a = breaks[k]
        b = breaks[k + 1]
        for m in range(cheb.size):
            eps = 0.5 * (a + b) + 0.5 * (b - a) * cheb[m]
            weighted_dos(eps, odd, e_bottom, e_top, a_top, L, W, V, m_well, m_barrier, f_w, f_b,
                         c_nodes, bary, pref, xt, wt, h_t, vals[k, m])
    return vals


@njit
def panel_value(x, panel, cheb, cheb_bary, lv, out):
    """A table panel's interpolant at x in [-1, 1] into out (packed). lv: scratch of cheb.size."""
    basis_values(x, cheb, cheb_bary, lv)
    w = lv[0]
    for j in range(out.size):
        out[j] = w * panel[0, j]
    for m in range(1, cheb.size):
        w = lv[m]
        for j in range(out.size):
            out[j] += w * panel[m, j]


@njit
def table_eval(eps, breaks, vals, cheb, cheb_bary, lv, out):
    """Interpolate the table at eps into out (packed); zero outside. lv: scratch of cheb.size."""
    if breaks.size < 2 or eps <= breaks[0] or eps >= breaks[-1]:
        for j in range(out.size):
            out[j] = 0.0
        return
    k = np.searchsorted(breaks, eps) - 1
    a = breaks[k]
    b = breaks[k + 1]
    panel_value((2.0 * eps - a - b) / (b - a), vals[k], cheb, cheb_bary, lv, out)


@njit
def table_eval_ascending(mu, xs, breaks, vals, cheb, cheb_bary, lv, dv):
    """:func:`table_eval` at eps = mu + xs[k] into dv[k] for every k, the energies ascending:
    the panel is followed from one energy to the next instead of searched."""
    last = breaks.size - 1
    ip = 0
    for k in range(xs.size):
        eps = mu + xs[k]
        row = dv[k]
        if last < 1 or eps <= breaks[0] or eps >= breaks[last]:
            for j in range(row.size):
                row[j] = 0.0
            continue
        while ip > 0 and eps <= breaks[ip]:
            ip -= 1
        while eps > breaks[ip + 1]:
            ip += 1
        a = breaks[ip]
        b = breaks[ip + 1]
        panel_value((2.0 * eps - a - b) / (b - a), vals[ip], cheb, cheb_bary, lv, row)
