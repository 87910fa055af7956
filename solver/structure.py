"""The prepared structure: everything that depends on the superlattice only, computed once.

:func:`prepare_structure` finds the subbands (docs/model.md §1), chooses the Chebyshev basis in q
that carries Delta_n(q), computes the exchange integrals I_{nn'}(q_i, q_k) on it (§2) and the band
top curvatures; :class:`Structure` holds them as arrays and floats, with the weighted DOS tables
(§3, §6) built on demand and cached, so that one structure serves every (eta, g, omega0) of a
sweep. :class:`Resolution` gathers every discretisation parameter of the Tc calculation.
"""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from .bands import BandStructure, band_edge, band_edges, check_edges, flux_factors
from .constants import HBAR2_2ME
from .dos import basis_values, build_table, chebyshev_basis, table_breaks, top_curvature
from .overlaps import exchange_integrals
from .parameters import PARAMETERS as _P, check_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolution:
    """Every discretisation parameter of the Tc calculation; ``doubled()`` refines all of them.

    The defaults give Tc converged to better than 1e-4 relative on the paper's grid (checked by
    tests/test_convergence.py against ``doubled()``).
    """

    n_basis: int = 8
    """Chebyshev nodes in q carrying Delta_n(q) and I(q, q'): the starting number; it grows by
    half until I(q, q') is interpolated to overlap_tol (wide bands with Bragg mixing need more)."""
    overlap_tol: float = 1e-5
    """Largest interpolation error of I between the nodes, relative to max I. The error it leaves
    in Tc was measured no larger than itself (L = 7 ... 10 Å, tests/test_convergence.py)."""
    max_basis: int = 32
    """Upper bound of the adaptive basis size (cost grows like its cube)."""
    n_z: int = 48
    """Gauss-Legendre nodes per region (well, barrier) for the exchange integrals."""
    n_t: int = 12
    """Gauss-Legendre nodes per panel of the q integral inside D(eps)."""
    h_t: float = 1.0
    """Largest panel of that integral in the substitution variable t, for 8 basis nodes; it
    shrinks as 8/P for P > 8 nodes (the integrand carries polynomials of degree 2P - 2)."""
    n_cheb: int = 10
    """Chebyshev nodes per panel of the D(eps) table."""
    bulk_panels: int = 4
    """Equal table panels over the middle half of a band (every panel is cut in P/8 pieces)."""
    depth: float = 1e-10
    """Table grading towards a band top stops at depth * band width."""
    n_gauss: int = 8
    """Gauss-Legendre nodes per energy panel of B(T)."""
    ratio: float = 4.0
    """Geometric ratio of the energy panels graded towards mu and towards a band top."""
    int_depth: float = 1e-7
    """Energy panels graded towards a band top stop at int_depth * band width (the rest of the
    log singularity carries a weight ~ int_depth * ln(int_depth) of the window)."""
    int_bulk: int = 4
    """Equal energy panels over the middle half of a band (every panel is cut in P/8 pieces)."""
    x_lo_factor: float = 1e-3
    """Innermost graded panel at x_lo = x_lo_factor * k_B min(T_floor, x_lo_t_max) from mu."""
    x_lo_t_max: float = 1e-3
    """Highest floor (K) that x_lo follows. Inside |eps - mu| < x_lo D is taken constant, which
    is off where a band edge lies there (mu at eta = 1, the top of the resonant band, a log
    singularity): x_lo from a 100 K floor moved Tc at eta = 1 by 5e-5 relative."""
    u_tol: float = 1e-9
    """Tolerance on ln Tc of the root search."""

    def doubled(self) -> "Resolution":
        """Twice the resolution in every parameter."""
        return replace(self, n_basis=2 * self.n_basis, overlap_tol=self.overlap_tol / 100,
                       max_basis=2 * self.max_basis, n_z=2 * self.n_z, n_t=2 * self.n_t,
                       h_t=self.h_t / 2, n_cheb=2 * self.n_cheb, bulk_panels=2 * self.bulk_panels,
                       depth=self.depth ** 1.25, n_gauss=2 * self.n_gauss,
                       ratio=math.sqrt(self.ratio), int_depth=self.int_depth ** 1.5,
                       int_bulk=2 * self.int_bulk, x_lo_factor=self.x_lo_factor / 10,
                       u_tol=self.u_tol / 10)


DEFAULT_RESOLUTION = Resolution()


class DosTables(NamedTuple):
    """The weighted DOS D_{n,ij}(eps) of every band, tabulated (:func:`solver.dos.build_table`):
    band n's panel boundaries (meV) are ``breaks[band_breaks[n]:band_breaks[n+1]]`` and its
    values ``values[band_panels[n]:band_panels[n+1]]``, indexed [panel, Chebyshev node, ij
    packed]. Arrays only, for the kernels."""

    breaks: np.ndarray
    band_breaks: np.ndarray
    values: np.ndarray
    band_panels: np.ndarray

    def band(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(breaks, values) of band n."""
        return (self.breaks[self.band_breaks[n]:self.band_breaks[n + 1]],
                self.values[self.band_panels[n]:self.band_panels[n + 1]])


@dataclass(frozen=True)
class Structure:
    """Everything that depends only on the superlattice, computed once (arrays and floats)."""

    args: tuple          # (L, W, V, m_well, m_barrier, f_w, f_b) for the kernels
    m_x: float
    bottoms: np.ndarray  # meV
    tops: np.ndarray     # meV
    overlaps: np.ndarray  # I[n, i, m, k]
    curvatures: np.ndarray  # a_top per band, meV Å^2
    res: Resolution
    basis: tuple         # (nodes x_j on [-1, 1], barycentric weights); q_j = (pi/d)(1 + x_j)/2
    overlap_error: float  # achieved interpolation error of I, relative to max I
    _tables: list = field(default_factory=list, repr=False, compare=False)
    """The last DOS tables built, as [(lo, hi, tables)]; reused when they cover a request."""

    def tables(self, *, lo: float, hi: float) -> DosTables:
        """The weighted DOS tables of every band over at least [lo, hi] meV.

        Reused across calls on this structure. A request outside the cached range widens them to
        the union widened by the resonant band's width on both sides, so that the chunks of a
        sweep, blocks of eta less than a band width apart, share one build. The panel lattice
        does not depend on the range, so a widening computes only the panels it adds
        (:func:`dos_tables`): the values are those of one build over the whole range, bit for bit.
        """
        cached = None
        if self._tables:
            c_lo, c_hi, cached = self._tables[0]
            if c_lo <= lo and hi <= c_hi:
                return cached
            lo, hi = min(lo, c_lo), max(hi, c_hi)
        lo, hi = lo - self.dE, hi + self.dE
        built = dos_tables(self, lo=lo, hi=hi, reuse=cached)
        self._tables[:] = [(lo, hi, built)]
        return built

    @property
    def n_basis(self) -> int:
        """Basis nodes P in q."""
        return self.basis[0].size

    @property
    def parts(self) -> int:
        """Pieces per energy panel: D_ij(eps) oscillates ~P times across a band for P nodes."""
        return max(1, self.n_basis // 8)

    @property
    def bands(self) -> BandStructure:
        """The subband edges, meV (``bands.E_L``, ``bands.dE``: the resonant subband)."""
        return BandStructure(E_min=self.bottoms, E_max=self.tops)

    @property
    def E_L(self) -> float:
        """Lifshitz energy, meV (:attr:`BandStructure.E_L`)."""
        return self.bands.E_L

    @property
    def dE(self) -> float:
        """Width of the resonant subband, meV (:attr:`BandStructure.dE`)."""
        return self.bands.dE

    @property
    def E_left_out(self) -> float:
        """Bottom of subband nbands + 1, the first subband the model leaves out, meV (NaN when
        its edge cannot be bracketed). Pairing that reaches it (mu + omega~ above it) is
        outside the model."""
        return float(band_edge(self.bottoms.size + 1, False, *self.args))


@functools.lru_cache(maxsize=8)
def _gauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (read-only, shared: computed once per n)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x.flags.writeable = False
    w.flags.writeable = False
    return x, w


def prepare_structure(*, L: float = _P["L"].default, W: float = _P["W"].default,
                      V: float = _P["V"].default, m_well: float = _P["m_well"].default,
                      m_barrier: float = _P["m_barrier"].default,
                      m_x: float = _P["m_x"].default, nbands: int = _P["nbands"].default,
                      ben_daniel_duke: bool = _P["ben_daniel_duke"].default,
                      resolution: Resolution = DEFAULT_RESOLUTION) -> Structure:
    """Bands, Bloch functions and exchange integrals of one structure, for :func:`tc_on_structure`.

    Parameters (keyword-only)
    -------------------------
    L : well (wire) width, Å.  W : barrier (spacer) width, Å.  V : barrier height, meV (>= 0).
    m_well, m_barrier : masses along z in the well and in the barrier, m_e.
    m_x : mass along the wires, m_e.
    nbands : subbands kept; the highest is the resonant one.
    ben_daniel_duke : keep psi'/m continuous at the interfaces instead of psi'.
    resolution : discretisation (tests refine it; users keep the default).

    Keep the result to reuse it for many (eta, g, omega0) calls of
    :func:`solver.tc.tc_on_structure` and :func:`solver.gaps.gaps_on_structure`: it also caches
    the DOS tables. :class:`solver.parameters.ParameterError` (a ValueError) names a bad parameter.
    """
    res = resolution
    s = check_all(dict(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier, m_x=m_x, nbands=nbands,
                       ben_daniel_duke=ben_daniel_duke))
    L, W, nbands = s["L"], s["W"], s["nbands"]
    f_w, f_b = flux_factors(m_well=s["m_well"], m_barrier=s["m_barrier"],
                            ben_daniel_duke=s["ben_daniel_duke"])
    args = (L, W, s["V"], s["m_well"], s["m_barrier"], f_w, f_b)
    bottoms, tops = band_edges(nbands, *args)
    check_edges(bottoms, tops)
    xz, wz = _gauss(res.n_z)
    z = np.concatenate([(xz + 1) * L / 2, L + (xz + 1) * W / 2])
    w = np.concatenate([wz * L / 2, wz * W / 2])
    half_zone = 0.5 * math.pi / (L + W)
    p = res.n_basis
    while True:
        nodes, bary = chebyshev_basis(p)
        check, _ = chebyshev_basis(2 * p + 1)  # between the nodes, and nearer the zone ends
        q = half_zone * (1.0 + np.concatenate([nodes, check]))
        both, _ = exchange_integrals(q, bottoms, tops, z, w, *args)
        overlaps = both[:, :p, :, :p]
        lv = np.empty(p)
        interp = np.empty((check.size, p))
        for k, x in enumerate(check):
            basis_values(x, nodes, bary, lv)
            interp[k] = lv
        approx = np.einsum("kj,nimj->nimk", interp, overlaps)
        error = float(np.max(np.abs(approx - both[:, :p, :, p:])) / np.max(overlaps))
        if error <= res.overlap_tol or p >= res.max_basis:
            break
        p = min(res.max_basis, math.ceil(1.5 * p))
    if error > res.overlap_tol:
        log.warning("exchange integrals interpolated only to %.1e (tolerance %.1e) with the "
                    "largest basis, %d nodes: a Bragg gap much smaller than the band width; "
                    "Tc converges more slowly here (check with Resolution().doubled())", error,
                    res.overlap_tol, p)
    curv = np.array([top_curvature(n % 2 == 0, bottoms[n], tops[n], *args)
                     for n in range(nbands)])
    return Structure(args, s["m_x"], bottoms, tops, np.ascontiguousarray(overlaps), curv, res,
                     (nodes, bary), error)


def dos_tables(st: Structure, *, lo: float, hi: float,
               reuse: DosTables | None = None) -> DosTables:
    """The weighted DOS tables of every band over [lo, hi] meV.

    ``reuse``: tables of ``st`` over a range inside [lo, hi], whose panels are kept rather than
    computed again. A band's panels form one lattice whatever the range
    (:func:`solver.dos.table_breaks`), a range keeps a run of them, and each panel's values
    depend only on its own ends: the result equals a build without ``reuse``, bit for bit.
    """
    res = st.res
    c_nodes, bary = st.basis
    h_t = res.h_t * min(1.0, 8.0 / st.n_basis)
    pref = 2.0 / math.pi * math.sqrt(HBAR2_2ME / st.m_x)
    xt, wt = _gauss(res.n_t)
    cheb, _ = chebyshev_basis(res.n_cheb)
    out = []
    for n in range(st.bottoms.size):
        breaks = table_breaks(e_bottom=st.bottoms[n], e_top=st.tops[n], lo=lo, hi=hi,
                              depth=res.depth, bulk_panels=res.bulk_panels, parts=st.parts)

        def build(b: np.ndarray, n: int = n) -> np.ndarray:
            return build_table(b, cheb, n % 2 == 0, st.bottoms[n], st.tops[n],
                               st.curvatures[n], *st.args, c_nodes, bary, pref, xt, wt, h_t)

        kept = None if reuse is None else reuse.band(n)
        if kept is not None and kept[0].size >= 2:
            i = int(np.searchsorted(breaks, kept[0][0]))
            j = i + kept[0].size
            if np.array_equal(breaks[i:j], kept[0]):  # a run of this lattice: keep its panels
                out.append((breaks, np.concatenate([build(breaks[:i + 1]), kept[1],
                                                    build(breaks[j - 1:])])))
                continue
        out.append((breaks, build(breaks)))
    return pack_tables(out)


def pack_tables(bands: list[tuple[np.ndarray, np.ndarray]]) -> DosTables:
    """:class:`DosTables` from each band's (breaks, values) of :func:`solver.dos.build_table`."""
    return DosTables(np.concatenate([b for b, _ in bands]),
                     np.cumsum([0] + [b.size for b, _ in bands]),
                     np.concatenate([v for _, v in bands]),
                     np.cumsum([0] + [v.shape[0] for _, v in bands]))


def compile_structure_kernels() -> None:
    """Compile (or load from the numba cache) the kernels of :func:`prepare_structure` and of
    the DOS tables, on the paper structure; part of :func:`solver.warmup`."""
    st = prepare_structure()
    st.tables(lo=st.E_L, hi=st.E_L + st.dE)
