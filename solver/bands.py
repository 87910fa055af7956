"""Kronig-Penney subbands of a superlattice of stripes (docs/model.md §1).

One period: a well of width L (potential 0, mass m_well along z) from z = 0 to L, then a barrier
of width W (potential V, mass m_barrier) from L to d = L + W. The state vector carried across an
interface is (psi, psi'/f): f = 1 keeps psi' continuous (the paper's choice), f = m keeps psi'/m
continuous (BenDaniel-Duke). The transfer matrix of a region of length a with signed squared
wavenumber Q = m (U - E) / (hbar^2/2m_e) is

    [[ch,            f a shc],
     [Q a shc / f,   ch     ]],   ch = cosh(sqrt(Q) a), shc = sinh(sqrt(Q) a) / (sqrt(Q) a),

continued to cos / sinc for Q < 0, so every formula is continuous through E = V. Both functions are
carried scaled by exp(-sqrt(Q) a) with the exponent returned separately, so wide, high barriers
(kappa W of hundreds) never overflow.

Band n (n = 1, 2, ...) is located without a q grid: the Dirichlet eigenvalues of one period
interlace the bands (Sturm oscillation), so "E is below the bottom (top) of band n" is a monotone
predicate built from the zero count of the Dirichlet solution and the discriminant
D(E) = tr(M)/2 = cos(qd). Bisection on it gives every edge to machine precision, also when a gap
closes (V -> 0) and D only touches +-1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .constants import HBAR2_2ME
from .jit import njit
from .parameters import PARAMETERS as _P, check_all

MAX_BISECTIONS = 400
"""Bisection steps for an edge; 64-bit floats are exhausted after ~60 on any bracket."""
MAX_DOUBLINGS = 1100
"""Doublings of the upper bracket of an edge: a finite float overflows after ~1024, so more
means no edge can be bracketed (NaN is returned and the caller refuses the structure)."""


@njit
def _ch_shc(x2):
    """Scaled (cosh x, sinh(x)/x) and the scale exponent, for signed x2 = x^2.

    x2 > 0: returns (cosh(x) e^-x, sinh(x)/x e^-x, x). x2 < 0: (cos y, sin(y)/y, 0), y^2 = -x2.
    """
    if x2 > 0.0:
        x = math.sqrt(x2)
        e = math.exp(-2.0 * x)
        return 0.5 * (1.0 + e), -math.expm1(-2.0 * x) / (2.0 * x), x
    if x2 < 0.0:
        y = math.sqrt(-x2)
        return math.cos(y), math.sin(y) / y, 0.0
    return 1.0, 1.0, 0.0


@njit
def period_matrix_scaled(E, L, W, V, m_well, m_barrier, f_w, f_b):
    """Elements of M = M_barrier M_well, scaled by exp(-s); returns (m11, m12, m21, m22, s)."""
    q_w = -m_well * E / HBAR2_2ME
    q_b = m_barrier * (V - E) / HBAR2_2ME
    c_w, s_w, x_w = _ch_shc(q_w * L * L)
    c_b, s_b, x_b = _ch_shc(q_b * W * W)
    w12 = f_w * L * s_w
    w21 = q_w * L * s_w / f_w
    b12 = f_b * W * s_b
    b21 = q_b * W * s_b / f_b
    return (c_b * c_w + b12 * w21, c_b * w12 + b12 * c_w,
            b21 * c_w + c_b * w21, b21 * w12 + c_b * c_w, x_w + x_b)


@njit
def discriminant_scaled(E, L, W, V, m_well, m_barrier, f_w, f_b):
    """D(E) = tr(M)/2 of one period, as (D e^-s, s)."""
    m11, _, _, m22, s = period_matrix_scaled(E, L, W, V, m_well, m_barrier, f_w, f_b)
    return 0.5 * (m11 + m22), s


@njit
def discriminant(E, L, W, V, m_well, m_barrier, f_w, f_b):
    """D(E) = tr(M)/2, unscaled (finite for kappa W up to ~700)."""
    d, s = discriminant_scaled(E, L, W, V, m_well, m_barrier, f_w, f_b)
    return d * math.exp(s)


@njit
def dirichlet_zeros(E, L, W, V, m_well, m_barrier, f_w, f_b):
    """Zeros in (0, d] of the solution with psi(0) = 0, psi'(0)/f = 1 at energy E.

    By Sturm oscillation this counts the Dirichlet eigenvalues of one period below E; the j-th of
    them lies in the j-th gap (between bands j and j+1, inclusive).
    """
    count = 0
    q_w = -m_well * E / HBAR2_2ME
    if q_w < 0.0:
        count += int(math.floor(math.sqrt(-q_w) * L / math.pi))
    c_w, s_w, _ = _ch_shc(q_w * L * L)
    psi_l = f_w * L * s_w
    u_l = c_w
    q_b = m_barrier * (V - E) / HBAR2_2ME
    if q_b >= 0.0:
        c_b, s_b, _ = _ch_shc(q_b * W * W)
        psi_d = psi_l * c_b + f_b * W * s_b * u_l
        if psi_l != 0.0 and (psi_d == 0.0 or (psi_d > 0.0) != (psi_l > 0.0)):
            count += 1
    else:
        k_b = math.sqrt(-q_b)
        phi = math.atan2(psi_l, f_b * u_l / k_b)
        count += int(math.floor((phi + k_b * W) / math.pi) - math.floor(phi / math.pi))
    return count


@njit
def _below_edge(E, n, top, L, W, V, m_well, m_barrier, f_w, f_b):
    """True while E lies below the bottom (top=False) or the top (top=True) of band n >= 1."""
    z = dirichlet_zeros(E, L, W, V, m_well, m_barrier, f_w, f_b)
    if z < n - 1:
        return True
    if z > n - 1:
        return False
    d, s = discriminant_scaled(E, L, W, V, m_well, m_barrier, f_w, f_b)
    sign = 1.0 if n % 2 == 1 else -1.0
    one = math.exp(-s)
    if top:
        return sign * d > -one
    return sign * d >= one


@njit
def band_edge(n, top, L, W, V, m_well, m_barrier, f_w, f_b):
    """Bottom (top=False) or top (top=True) of band n, meV, by bisection on a monotone predicate."""
    lo = min(0.0, V) - 1.0
    hi = max(V, 0.0) + HBAR2_2ME * (n * math.pi / L) ** 2 / min(m_well, m_barrier) + 1.0
    for _ in range(MAX_DOUBLINGS):
        if not _below_edge(hi, n, top, L, W, V, m_well, m_barrier, f_w, f_b):
            break
        lo = hi
        hi *= 2.0
    else:
        return math.nan
    if not math.isfinite(hi):
        return math.nan
    for _ in range(MAX_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if mid <= lo or mid >= hi:
            break
        if _below_edge(mid, n, top, L, W, V, m_well, m_barrier, f_w, f_b):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit
def band_edges(nbands, L, W, V, m_well, m_barrier, f_w, f_b):
    """(bottoms, tops) of bands 1..nbands, meV."""
    edges = np.empty((2, nbands))
    for i in range(nbands):
        for k in range(2):  # top = k == 1, a run-time bool: one compiled band_edge for both
            edges[k, i] = band_edge(i + 1, k == 1, L, W, V, m_well, m_barrier, f_w, f_b)
    return edges[0].copy(), edges[1].copy()


@njit
def band_energy(q, e_bottom, e_top, L, W, V, m_well, m_barrier, f_w, f_b):
    """E_n(q) in [e_bottom, e_top]: the root of D(E) = cos(q d) in that band (Illinois method).

    D is monotone on a band, so the bracket is the band itself and the root is unique.
    """
    c = math.cos(q * (L + W))
    a = e_bottom
    b = e_top
    d, s = discriminant_scaled(a, L, W, V, m_well, m_barrier, f_w, f_b)
    fa = d - c * math.exp(-s)
    d, s = discriminant_scaled(b, L, W, V, m_well, m_barrier, f_w, f_b)
    fb = d - c * math.exp(-s)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0.0) == (fb > 0.0):
        # cos(qd) = +-1 at an edge, met only up to rounding: the nearer edge is the answer
        return a if abs(fa) < abs(fb) else b
    side = 0
    for _ in range(200):
        x = b - fb * (b - a) / (fb - fa)
        if not (min(a, b) < x < max(a, b)):
            x = 0.5 * (a + b)
        d, s = discriminant_scaled(x, L, W, V, m_well, m_barrier, f_w, f_b)
        fx = d - c * math.exp(-s)
        if fx == 0.0:
            return x
        if (fx > 0.0) == (fb > 0.0):
            b, fb = x, fx
            if side == -1:
                fa *= 0.5
            side = -1
        else:
            a, fa = x, fx
            if side == 1:
                fb *= 0.5
            side = 1
        if abs(b - a) <= 4e-16 * max(abs(a), abs(b)):
            break
    return b if abs(fb) < abs(fa) else a


def flux_factors(*, m_well: float, m_barrier: float, ben_daniel_duke: bool) -> tuple[float, float]:
    """(f_w, f_b) of the well and the barrier: psi'/f is continuous at the interfaces.

    1 for the paper's choice (psi' continuous), the masses for BenDaniel-Duke (psi'/m continuous).
    """
    return (m_well, m_barrier) if ben_daniel_duke else (1.0, 1.0)


@dataclass(frozen=True)
class BandStructure:
    """Subbands of one superlattice. Energies in meV, measured from the well bottom."""

    E_min: np.ndarray
    """Bottom of each subband n = 1..nbands, meV."""
    E_max: np.ndarray
    """Top of each subband, meV."""

    @property
    def E_L(self) -> float:
        """Lifshitz energy: bottom of the resonant (highest kept) subband, meV."""
        return float(self.E_min[-1])

    @property
    def dE(self) -> float:
        """Transverse width of the resonant subband, meV."""
        return float(self.E_max[-1] - self.E_min[-1])


def band_structure(*, L: float = _P["L"].default, W: float = _P["W"].default,
                   V: float = _P["V"].default, m_well: float = _P["m_well"].default,
                   m_barrier: float = _P["m_barrier"].default, m_x: float = _P["m_x"].default,
                   nbands: int = _P["nbands"].default,
                   ben_daniel_duke: bool = _P["ben_daniel_duke"].default) -> BandStructure:
    """Subband edges of the superlattice.

    Parameters (keyword-only; defaults are the paper's, from :data:`solver.PARAMETERS`)
    ---------------------------------------------------------------------------------
    L : well (wire) width, Å.
    W : barrier (spacer) width, Å.
    V : barrier height, meV (>= 0).
    m_well, m_barrier : masses along z in the well and in the barrier, m_e.
    m_x : mass along the wires, m_e (checked here; it does not change E_n(q)).
    nbands : number of subbands kept; the highest is the resonant one.
    ben_daniel_duke : keep psi'/m continuous instead of psi'.

    :class:`~solver.parameters.ParameterError` (a ValueError) names a bad parameter.
    """
    s = check_all(dict(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier, m_x=m_x, nbands=nbands,
                       ben_daniel_duke=ben_daniel_duke))
    f_w, f_b = flux_factors(m_well=s["m_well"], m_barrier=s["m_barrier"],
                            ben_daniel_duke=s["ben_daniel_duke"])
    lo, hi = band_edges(s["nbands"], s["L"], s["W"], s["V"], s["m_well"], s["m_barrier"], f_w,
                        f_b)
    check_edges(lo, hi)
    return BandStructure(E_min=lo, E_max=hi)


def check_edges(bottoms: np.ndarray, tops: np.ndarray) -> None:
    """ValueError when a band edge could not be bracketed (NaN from :func:`band_edge`)."""
    if not (np.all(np.isfinite(bottoms)) and np.all(np.isfinite(tops))):
        raise ValueError("band edges could not be bracketed for these parameters "
                         "(the transfer matrices overflow)")
