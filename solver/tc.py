"""Public Tc functions: validate, prepare a structure once, call the kernels per (omega0, g, eta)."""
from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field, replace

import numpy as np

from .bands import band_edges, check_structure, flux_factors
from .constants import HBAR2_2ME, KB
from .dos import basis_values, build_table, chebyshev_basis, table_breaks, top_curvature
from .gap import critical_temperature, fill_window, window_edges
from .overlaps import exchange_integrals
from .status import STATUS_BELOW_FLOOR, STATUS_OK
from .validation import check_finite, check_nonnegative, check_positive

log = logging.getLogger(__name__)

STATUS_NAMES = {STATUS_OK: "ok", STATUS_BELOW_FLOOR: "below_floor"}


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
    """Innermost graded panel at x_lo = x_lo_factor * k_B T_floor from mu."""
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


@dataclass(frozen=True)
class TcGrid:
    """Tc over a grid of one structure. Arrays have shape (n_omega0, n_g, n_eta)."""

    tc_K: np.ndarray
    """Critical temperature, K; NaN where status is not STATUS_OK."""
    status: np.ndarray
    """int8 status codes (solver.status)."""
    E_L: float
    """Lifshitz energy (bottom of the resonant subband), meV."""
    dE: float
    """Width of the resonant subband, meV."""

    @staticmethod
    def status_name(code: int) -> str:
        return STATUS_NAMES[code]


@dataclass(frozen=True)
class Structure:
    """Everything that depends only on the superlattice, computed once (arrays and floats)."""

    args: tuple          # (L, W, V, m_w, m_b, f_w, f_b) for the kernels
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
    _workspaces: dict = field(default_factory=dict, repr=False, compare=False)
    """Quadrature buffers per thread (see workspace)."""

    def tables(self, *, lo: float, hi: float) -> list:
        """Per band, (breaks, values) of the weighted DOS over at least [lo, hi] meV.

        Reused across calls on this structure. A request outside the cached range rebuilds over
        the union widened by the resonant band's width on both sides, so that the chunks of a
        sweep, blocks of eta less than a band width apart, share one build. The panel lattice
        does not depend on the range: every build gives the same values where they overlap.
        """
        if self._tables:
            c_lo, c_hi, cached = self._tables[0]
            if c_lo <= lo and hi <= c_hi:
                return cached
            lo, hi = min(lo, c_lo), max(hi, c_hi)
        lo, hi = lo - self.dE, hi + self.dE
        built = dos_tables(self, lo=lo, hi=hi)
        self._tables[:] = [(lo, hi, built)]
        return built

    def workspace(self, n_nodes: int, npk: int) -> list:
        """Buffers for the energy quadrature of all bands, grown as needed, reused per point.

        Allocating them per point costs more than the arithmetic once the allocator returns
        large blocks to the system (as dask workers make it do: MALLOC_TRIM_THRESHOLD_).
        """
        nb = self.bottoms.size
        thread = threading.get_ident()  # one workspace per thread: a structure may be shared
        ws = self._workspaces.get(thread)
        if ws is None or ws[0].size < n_nodes:
            cap = max(n_nodes, 2 * (ws[0].size if ws else 0), 1)
            ws = [np.empty(cap), np.empty(cap), np.empty(cap), np.empty((cap, npk)),
                  np.empty((cap + nb, npk)), np.empty((cap + nb, npk)), np.empty((nb, npk))]
            self._workspaces[thread] = ws
        return ws

    @property
    def n_basis(self) -> int:
        return self.basis[0].size

    @property
    def parts(self) -> int:
        """Pieces per energy panel: D_ij(eps) oscillates ~P times across a band for P nodes."""
        return max(1, self.n_basis // 8)

    @property
    def E_L(self) -> float:
        return float(self.bottoms[-1])

    @property
    def dE(self) -> float:
        return float(self.tops[-1] - self.bottoms[-1])


def _gauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def prepare_structure(*, L: float = 8.5, W: float = 5.5, V: float = 4160.0,
                      m_well: float = 0.86, m_barrier: float = 1.0, m_x: float = 0.86,
                      nbands: int = 3, ben_daniel_duke: bool = False,
                      resolution: Resolution = DEFAULT_RESOLUTION) -> Structure:
    """Bands, Bloch functions and exchange integrals of one structure, for :func:`tc_on_structure`.

    Keywords and units as :func:`tc_grid`. Keep the result to reuse it for many (eta, g, omega0)
    calls: it also caches the DOS tables.
    """
    res = resolution
    check_structure(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier, m_x=m_x, nbands=nbands)
    f_w, f_b = flux_factors(m_well=m_well, m_barrier=m_barrier, ben_daniel_duke=ben_daniel_duke)
    args = (float(L), float(W), float(V), float(m_well), float(m_barrier), f_w, f_b)
    bottoms, tops = band_edges(int(nbands), *args)
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
    return Structure(args, float(m_x), bottoms, tops, np.ascontiguousarray(overlaps), curv, res,
                     (nodes, bary), error)


def dos_tables(st: Structure, *, lo: float, hi: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per band, (breaks, values) of the weighted DOS table over [lo, hi] meV."""
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
        vals = build_table(breaks, cheb, n % 2 == 0, st.bottoms[n], st.tops[n], st.curvatures[n],
                           *st.args, c_nodes, bary, pref, xt, wt, h_t)
        out.append((breaks, vals))
    return out


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
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a non-empty 1-D sequence")
    for v in arr:
        check_finite(name, float(v))
    return arr


def _check_points(*, eta, g, omega0, g_lower, g_inter, softening, t_floor):
    """Validated (eta, g, omega0) arrays; ValueError naming the first bad parameter."""
    eta = _as_axis("eta", eta)
    g = _as_axis("g", g)
    omega0 = _as_axis("omega0", omega0)
    for v in omega0:
        check_positive("omega0", float(v))
    for v in g:
        check_nonnegative("g", float(v))
        if softening and v >= 0.5:
            raise ValueError(f"g must be < 1/2 with softening (cut-off omega0*sqrt(1-2g)), got {v}")
    check_nonnegative("g_lower", g_lower)
    check_nonnegative("g_inter", g_inter)
    check_positive("t_floor", t_floor)
    return eta, g, omega0


def tc_grid(*, eta, g, omega0=230.0, L: float = 8.5, W: float = 5.5, V: float = 4160.0,
            m_well: float = 0.86, m_barrier: float = 1.0, m_x: float = 0.86, nbands: int = 3,
            g_lower: float = 0.1, g_inter: float = 0.1, softening: bool = True,
            t_floor: float = 1e-6, ben_daniel_duke: bool = False,
            resolution: Resolution = DEFAULT_RESOLUTION) -> TcGrid:
    """Critical temperature over a grid of (omega0, g, eta) for one structure.

    Parameters (keyword-only)
    -------------------------
    eta : Lifshitz parameter(s) (mu - E_L) / dE, dimensionless.
    g : coupling(s) g_{N N} of the resonant subband, dimensionless.
    omega0 : pairing cut-off(s) before softening, meV.
    L, W : well and barrier widths, Å.  V : barrier height, meV.
    m_well, m_barrier : masses along z, m_e.  m_x : mass along the wires, m_e.
    nbands : subbands kept; the highest is the resonant one.
    g_lower : intraband coupling of the lower subbands.  g_inter : coupling between subbands.
    softening : cut-off omega0 sqrt(1 - 2g) (requires g < 1/2); else omega0.
    t_floor : lowest temperature searched, K; below it the status is STATUS_BELOW_FLOOR.
    ben_daniel_duke : psi'/m continuous at the interfaces instead of psi'.
    resolution : discretisation (tests refine it; users keep the default).

    Bands, wavefunctions, overlaps and the DOS tables are computed once for all points.
    """
    _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower, g_inter=g_inter,
                  softening=softening, t_floor=t_floor)  # before the structure's cost
    st = prepare_structure(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier, m_x=m_x,
                           nbands=nbands, ben_daniel_duke=ben_daniel_duke, resolution=resolution)
    return tc_on_structure(st, eta=eta, g=g, omega0=omega0, g_lower=g_lower, g_inter=g_inter,
                           softening=softening, t_floor=t_floor)


def tc_on_structure(st: Structure, *, eta, g, omega0=230.0, g_lower: float = 0.1,
                    g_inter: float = 0.1, softening: bool = True,
                    t_floor: float = 1e-6) -> TcGrid:
    """Tc over (omega0, g, eta) on a structure from :func:`prepare_structure`.

    Keywords and units as :func:`tc_grid`.
    """
    eta, g, omega0 = _check_points(eta=eta, g=g, omega0=omega0, g_lower=g_lower,
                                   g_inter=g_inter, softening=softening, t_floor=t_floor)
    g_lower, g_inter, t_floor = float(g_lower), float(g_inter), float(t_floor)
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


def warmup() -> None:
    """Compile (or load from the numba cache) every kernel that tc_grid uses."""
    tc_grid(eta=[1.0], g=[0.25])
