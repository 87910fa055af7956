"""Slow, obviously correct NumPy/SciPy versions of the solver's kernels (stumpy's naive.py).

Nothing here shares code with solver/ except the constants (solver.constants): the Kronig-Penney
discriminant is the textbook formula in complex arithmetic, band edges come from a dense scan plus
brentq, Bloch functions from scipy's ODE integrator, D(eps) and chi from scipy.integrate.quad, the
coupling matrix and the cut-off from their definitions (docs/model.md section 2).
"""
from __future__ import annotations

import numpy as np
from scipy import integrate, optimize

from solver.constants import HBAR2_2ME


def discriminant(E, *, L, W, V, m_well, m_barrier, f_w=1.0, f_b=1.0):
    """cos(k L) cos(k_b W) - (1/2)(r + 1/r) sin(k L) sin(k_b W), r = (f_b k)/(f_w k_b), complex
    k_b."""
    k = np.sqrt(complex(m_well * E / HBAR2_2ME))
    kb = np.sqrt(complex(m_barrier * (E - V) / HBAR2_2ME))
    if abs(kb) == 0:
        kb = 1e-300
    if abs(k) == 0:
        k = 1e-300
    r = (f_b * k) / (f_w * kb)
    d = np.cos(k * L) * np.cos(kb * W) - 0.5 * (r + 1 / r) * np.sin(k * L) * np.sin(kb * W)
    return d.real


def band_edges(nbands, *, e_max, n_scan=200_000, **s):
    """Edges of the first nbands bands: sign changes of D -/+ 1 on a dense grid, refined by brentq.

    Works for open gaps only (a closed gap has no sign change): use it on such structures.
    """
    grid = np.linspace(1e-9, e_max, n_scan)
    d = np.array([discriminant(e, **s) for e in grid])
    roots = []
    for target in (1.0, -1.0):
        f = d - target
        idx = np.nonzero(np.sign(f[:-1]) != np.sign(f[1:]))[0]
        roots += [optimize.brentq(lambda e: discriminant(e, **s) - target, grid[i], grid[i + 1],
                                  xtol=1e-13, rtol=1e-15) for i in idx]
    roots = np.sort(roots)
    assert roots.size >= 2 * nbands, "scan range too small"
    return roots[0:2 * nbands:2], roots[1:2 * nbands:2]


def band_energy(q, e_bottom, e_top, **s):
    d = s["L"] + s["W"]
    pad = 1e-9 * (e_top - e_bottom)  # the root sits on an edge at q = 0 and q = pi/d
    return optimize.brentq(lambda e: discriminant(e, **s) - np.cos(q * d), e_bottom - pad,
                           e_top + pad, xtol=1e-13, rtol=1e-15)


def bloch_density(z, E, q, *, L, W, V, m_well, m_barrier, f_w=1.0, f_b=1.0):
    """|psi|^2 at the sorted points z in [0, d], normalised on one period (Simpson on z).

    Integrates psi'' = m (U - E)/(hbar^2/2m_e) psi region by region with scipy (rtol 1e-12),
    carrying psi and psi'/f across the interfaces.
    """
    d = L + W
    regions = ((0.0, L, m_well, 0.0, f_w), (L, d, m_barrier, V, f_b))

    def rhs(_, y, m, u):
        k2 = m * (u - E) / HBAR2_2ME
        return [y[1], k2 * y[0], y[3], k2 * y[2]]

    def run(psi, dpsi, t_eval=None):
        out = []
        f_prev = f_w
        for z0, z1, m, u, f in regions:
            dpsi = dpsi * f / f_prev
            sel = None if t_eval is None else t_eval[(t_eval >= z0) & (t_eval <= z1)]
            if sel is not None and z0 > 0:
                sel = sel[sel > z0]
            sol = integrate.solve_ivp(rhs, (z0, z1), [psi.real, dpsi.real, psi.imag, dpsi.imag],
                                      args=(m, u), rtol=1e-12, atol=1e-14, method="DOP853",
                                      dense_output=True)
            if sel is not None:
                y = sol.sol(sel)
                out.append(y[0] + 1j * y[2])
            y = sol.y[:, -1]
            psi, dpsi = complex(y[0], y[2]), complex(y[1], y[3])
            f_prev = f
        return psi, dpsi * f_w / f_prev, out

    a = run(1.0 + 0j, 0j)
    b = run(0j, 1.0 + 0j)
    mat = np.array([[a[0], b[0]], [a[1], b[1]]])
    vals, vecs = np.linalg.eig(mat)
    v = vecs[:, np.argmin(abs(vals - np.exp(1j * q * d)))]
    psi = np.concatenate(run(v[0], v[1], t_eval=z)[2])
    rho = np.abs(psi) ** 2
    return rho / integrate.simpson(rho, x=z)


def exchange_integral(rho1, rho2, z):
    d = z[-1] - z[0]
    return d * integrate.simpson(rho1 * rho2, x=z)


def weighted_dos_total(eps, e_bottom, e_top, *, m_x, **s):
    """sum_ij D_ij for Delta = 1: (2/pi) sqrt(C/m_x) int dq theta(eps - E) / sqrt(eps - E)."""
    d = s["L"] + s["W"]
    pref = 2 / np.pi * np.sqrt(HBAR2_2ME / m_x)
    if eps <= e_bottom:
        return 0.0
    # callers pass odd bands (bottom at q = 0)
    if eps >= e_top:
        f = lambda q: 1 / np.sqrt(eps - band_energy(q, e_bottom, e_top, **s))
        return pref * integrate.quad(f, 0, np.pi / d, limit=400, epsabs=0, epsrel=1e-10)[0]
    # q* with E(q*) = eps; the last stretch [q* - h, q*] carries the 1/sqrt end point (quad's
    # algebraic weight); h ~ the distance of q* from the zone boundary, where E turns over
    qs = optimize.brentq(lambda q: band_energy(q, e_bottom, e_top, **s) - eps, 0, np.pi / d,
                         xtol=1e-15)
    h = min(qs, 0.5 * (np.pi / d - qs) + 1e-3 * qs)
    f = lambda q: 1 / np.sqrt(eps - band_energy(q, e_bottom, e_top, **s))
    def g(q):
        q = min(q, qs * (1 - 1e-9))  # (qs - q)/(eps - E(q)) -> 1/E'(qs); avoid 0/0 at q = qs
        return np.sqrt((qs - q) / (eps - band_energy(q, e_bottom, e_top, **s)))

    head = integrate.quad(f, 0, qs - h, limit=400, epsabs=0, epsrel=1e-10)[0] if qs > h else 0.0
    tail = integrate.quad(g, qs - h, qs, weight="alg", wvar=(0, -0.5), limit=400, epsabs=0,
                          epsrel=1e-10)[0]
    return pref * (head + tail)


def coupling_matrix(nbands, *, g, g_lower, g_inter):
    """g_nn' of docs/model.md section 2: g_inter off the diagonal, g_lower on it, g last."""
    gm = [[g_lower if n == m else g_inter for m in range(nbands)] for n in range(nbands)]
    gm[-1][-1] = g
    return np.array(gm, dtype=float)


def cutoff(*, omega0, g, softening=True):
    """The pairing cut-off, meV: Migdal-softened omega0 sqrt(1 - 2g), or omega0."""
    return omega0 * np.sqrt(1.0 - 2.0 * g) if softening else omega0


def bcs_tc(*, lam, omega):
    """Tc (meV) from 1/lam = int_0^omega tanh(x/2T)/x dx."""
    def f_int(a):
        head = integrate.quad(lambda y: np.tanh(y / 2) / y, 0, min(a, 60.0), limit=200,
                              epsabs=0, epsrel=1e-13)[0]
        return head + (np.log(a / 60.0) if a > 60.0 else 0.0)

    return np.exp(optimize.brentq(lambda u: f_int(omega / np.exp(u)) - 1 / lam,
                                  np.log(omega) - 60, np.log(omega) + 5, xtol=1e-14))


def kernel_integral(dos, *, mu, omega, T):
    """int_{mu-omega}^{mu+omega} tanh((e-mu)/2T)/(2(e-mu)) dos(e) de, by quad with mu as a break."""
    def k(x):
        return 1 / (4 * T) if x == 0 else np.tanh(x / (2 * T)) / (2 * x)

    tot = 0.0
    for a, b in ((-omega, 0.0), (0.0, omega)):
        pts = [s * T for s in (1, 10, 100, 1000) if a < (s * T if b > 0 else -s * T) < b]
        pts = [p if b > 0 else -p for p in pts]
        tot += integrate.quad(lambda x: k(x) * dos(mu + x), a, b, points=pts or None, limit=500,
                              epsabs=0, epsrel=1e-12)[0]
    return tot


class NaiveTc:
    """The linearised gap equation by the book: Nystrom on n_q Gauss-Legendre nodes in q, chi by
    quad over k_x at every node, the largest eigenvalue by numpy, the root by brentq in log T.

    What a straightforward NumPy/SciPy implementation of docs/model.md section 3 looks like:
    slow. At n_q = 48 it agrees with fanodome to ~1e-5 where Tc is high and chi(q)
    is smooth on the scale of the nodes (test_naive_tc.py asserts 1e-5 at two dome points;
    2e-7 measured). It is less accurate where chi(q) is sharply peaked in q: at the van Hove
    point eta = 1 it moves by ~1e-4 between 48 and 96 nodes, and at low Tc a fixed q rule like
    this one converges slowly.
    """

    def __init__(self, *, L, W, V, m_well, m_barrier, m_x, nbands, n_q=48):
        self.s = dict(L=L, W=W, V=V, m_well=m_well, m_barrier=m_barrier)
        self.m_x = m_x
        d = L + W
        e_max = V + HBAR2_2ME * ((nbands + 1) * np.pi / L) ** 2 / min(m_well, m_barrier)
        self.lo, self.hi = band_edges(nbands, e_max=e_max, **self.s)
        x, w = np.polynomial.legendre.leggauss(n_q)
        self.q = (x + 1) * np.pi / (2 * d)
        self.wq = w * np.pi / (2 * d)
        self.E = np.array([[band_energy(q, self.lo[n], self.hi[n], **self.s) for q in self.q]
                           for n in range(nbands)])
        z = np.linspace(0.0, d, 2001)
        z = np.unique(np.concatenate([z, [L]]))
        rho = [[bloch_density(z, self.E[n, i], self.q[i], **self.s) for i in range(n_q)]
               for n in range(nbands)]
        self.I = np.array([[[[exchange_integral(rho[n][i], rho[m][k], z) for k in range(n_q)]
                             for m in range(nbands)] for i in range(n_q)]
                           for n in range(nbands)])

    def chi(self, e, T, omega):
        """chi(q) for a k_x band bottom at e = E_n(q) - mu (meV): 1/(pi^2 N_0) int dk ..."""
        cx = HBAR2_2ME / self.m_x
        k_lo = np.sqrt(max(-omega - e, 0.0) / cx)
        if omega - e <= 0:
            return 0.0
        k_hi = np.sqrt((omega - e) / cx)

        def f(k):
            xi = cx * k * k + e
            return 1 / (4 * T) if xi == 0 else np.tanh(xi / (2 * T)) / (2 * xi)

        pts = [np.sqrt(-e / cx)] if k_lo < np.sqrt(max(-e, 0) / cx) < k_hi else None
        val = integrate.quad(f, k_lo, k_hi, points=pts, limit=200)[0]
        return 4 * cx / np.pi * val  # 1/(pi^2 N_0) = 4 (hbar^2/2m_x) / pi

    def tc(self, *, mu, gm, omega, t_floor):
        """Tc (meV) or None below t_floor (meV)."""
        nb, nq = self.E.shape
        a = gm[:, None, :, None] * self.I

        def lam(t):
            c = np.array([[self.chi(self.E[n, i] - mu, t, omega) for i in range(nq)]
                          for n in range(nb)])
            k = (a * (self.wq[None, :] * c)[None, None, :, :]).reshape(nb * nq, nb * nq)
            return np.max(np.linalg.eigvals(k).real)

        if lam(t_floor) < 1:
            return None
        hi = omega
        while lam(hi) > 1:
            hi *= 4
        return np.exp(optimize.brentq(lambda u: lam(np.exp(u)) - 1, np.log(t_floor),
                                      np.log(hi), xtol=1e-9))
