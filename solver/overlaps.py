"""Bloch functions of the superlattice and their exchange (overlap) integrals (docs/model.md §2).

psi_{n,q}(z) is normalised over one period, int_0^d |psi|^2 dz = 1, and

    I_{nn'}(q, q') = d int_0^d |psi_{n,q}(z)|^2 |psi_{n',q'}(z)|^2 dz     (= 1 for plane waves).

The Bloch state at z = 0 is the eigenvector of the period's transfer matrix with eigenvalue
exp(i q d). Inside the well the solution is propagated forward; inside a barrier below its top it
is written through both ends, psi(z) = [psi(L) sinh(kappa (d - z)) + psi(d) sinh(kappa (z - L))]
/ sinh(kappa W), which stays finite for any kappa W.
"""
from __future__ import annotations

import math

import numpy as np

from .bands import _ch_shc, band_energy, period_matrix_scaled
from .constants import HBAR2_2ME
from .jit import njit


@njit
def bloch_density(z, E, q, L, W, V, m_well, m_barrier, f_w, f_b):
    """|psi_{E,q}(z)|^2 at the points z in [0, d], not yet normalised."""
    d = L + W
    m11, m12, m21, m22, s = period_matrix_scaled(E, L, W, V, m_well, m_barrier, f_w, f_b)
    lam = complex(math.cos(q * d), math.sin(q * d))
    lam_s = lam * math.exp(-s)
    # eigenvector of M for lam, from the better-conditioned row of (M - lam) v = 0
    if abs(m12) + abs(lam_s - m11) >= abs(m21) + abs(lam_s - m22):
        psi0 = complex(m12, 0.0)
        u0 = lam_s - m11
    else:
        psi0 = lam_s - m22
        u0 = complex(m21, 0.0)
    norm = math.sqrt(abs(psi0) ** 2 + abs(u0) ** 2)
    psi0 /= norm
    u0 /= norm
    q_w = -m_well * E / HBAR2_2ME
    q_b = m_barrier * (V - E) / HBAR2_2ME
    c_w, s_w, x_w = _ch_shc(q_w * L * L)
    g = math.exp(x_w)
    psi_l = (psi0 * c_w + f_w * L * s_w * u0) * g
    u_l = (psi0 * q_w * L * s_w / f_w + c_w * u0) * g
    psi_d = lam * psi0
    out = np.empty(z.size)
    kappa = math.sqrt(q_b) if q_b > 0.0 else 0.0
    c_bw, s_bw, _ = _ch_shc(q_b * W * W)
    for i in range(z.size):
        zi = z[i]
        if zi <= L:
            c, sh, x = _ch_shc(q_w * zi * zi)
            psi = (psi0 * c + f_w * zi * sh * u0) * math.exp(x)
        elif q_b > 0.0:
            a = zi - L
            b = d - zi
            _, s_a, _ = _ch_shc(q_b * a * a)
            _, s_b2, _ = _ch_shc(q_b * b * b)
            # sinh(kappa a)/sinh(kappa W) and sinh(kappa b)/sinh(kappa W), without overflow
            r_a = (a / W) * (s_a / s_bw) * math.exp(kappa * (a - W))
            r_b = (b / W) * (s_b2 / s_bw) * math.exp(kappa * (b - W))
            psi = psi_l * r_b + psi_d * r_a
        else:
            a = zi - L
            c, sh, _ = _ch_shc(q_b * a * a)
            psi = psi_l * c + f_b * a * sh * u_l
        out[i] = psi.real ** 2 + psi.imag ** 2
    return out


@njit
def exchange_integrals(q_nodes, bottoms, tops, z, wz, L, W, V, m_well, m_barrier, f_w, f_b):
    """I[n, i, n', k] = I_{nn'}(q_i, q_k) for the bands given by their edges.

    z, wz: quadrature nodes and weights over one period [0, d] (exact for the smooth
    piecewise-analytic densities when fine enough; see Resolution.n_z).
    Returns also E[n, i] = E_n(q_i), meV.
    """
    nb = bottoms.size
    nq = q_nodes.size
    dens = np.empty((nb, nq, z.size))
    energies = np.empty((nb, nq))
    for n in range(nb):
        for i in range(nq):
            e = band_energy(q_nodes[i], bottoms[n], tops[n], L, W, V, m_well, m_barrier, f_w, f_b)
            energies[n, i] = e
            rho = bloch_density(z, e, q_nodes[i], L, W, V, m_well, m_barrier, f_w, f_b)
            norm = 0.0
            for j in range(z.size):
                norm += wz[j] * rho[j]
            for j in range(z.size):
                dens[n, i, j] = rho[j] / norm
    d = L + W
    out = np.empty((nb, nq, nb, nq))
    for n in range(nb):
        for i in range(nq):
            for m in range(nb):
                for k in range(nq):
                    s = 0.0
                    for j in range(z.size):
                        s += wz[j] * dens[n, i, j] * dens[m, k, j]
                    out[n, i, m, k] = d * s
    return out, energies
