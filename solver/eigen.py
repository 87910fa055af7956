"""The small dense linear algebra of the gap equation (docs/model.md §3 and §6), as numba kernels.

The linearised gap equation needs, at every temperature of the Tc search, a factor G_n of each
band's positive semi-definite block B_n (G_n G_n^T = B_n) and the largest eigenvalue of the
symmetric G^T A G, with its eigenvector for the slope of Lambda(T). The matrices are small (P N_b
= 24 on the paper structure, at most 3 x 32), and the search evaluates them a few times per
point, so a call's fixed cost matters more than its asymptotic speed: these kernels are plain
loops on caller-owned buffers, with no allocation and no LAPACK call.

- :func:`psd_factor`: the Cholesky factor of a positive definite block; for a block that is
  not (an empty window leaves B = 0; the quadrature may leave eigenvalues slightly below zero),
  a factor of its positive part from its eigenpairs, largest first, deflated one by one.
- :func:`largest_eigenpair`: Householder reduction to tridiagonal form, Laguerre's iteration on
  the tridiagonal's characteristic polynomial from above its spectrum (monotone and cubically
  convergent to the largest root of a polynomial with real roots), inverse iteration for the
  eigenvector (Golub and Van Loan, "Matrix Computations", 4th ed., §8.3 and §8.2).

Inner loops run along rows (C order) as element-wise updates, which LLVM vectorises without
reassociating sums (the kernels keep ``fastmath`` off, :mod:`solver.jit`).
"""
from __future__ import annotations

import math

import numpy as np

from .jit import njit, njit_inlined

EPS = float(np.finfo(np.float64).eps)
"""Unit roundoff of float64 (2.2e-16)."""

MAX_LAGUERRE_STEPS = 100
"""Laguerre steps for the largest eigenvalue. From above the spectrum each step lands between
the current point and the largest root, cubically near it: a few steps suffice; more only if
rounding makes it stall at the last bits, where the loop stops anyway."""


@njit
def psd_factor(b, g, work, vec, scratch, hv):
    """G with G G^T = B+, the positive part of the symmetric B (p x p): B itself when it is
    positive definite, else B with its negative eigenvalues set to zero (a quadrature of a
    positive semi-definite kernel may leave some at the level of its error; an empty window
    leaves B = 0). Returns True when B was positive definite.

    The Cholesky factor (lower) when every pivot is positive; else the columns sqrt(l) v of
    the positive eigenpairs (l, v), taken largest first by :func:`largest_eigenpair` and
    deflated from B one by one. Scratch: ``work``, ``hv`` (p x p), ``vec`` (p),
    ``scratch`` (4 x p).
    """
    p = b.shape[0]
    for i in range(p):
        for j in range(p):
            g[i, j] = 0.0
    definite = True
    for j in range(p):
        s = b[j, j]
        for k in range(j):
            s -= g[j, k] * g[j, k]
        if not s > 0.0:
            definite = False
            break
        r = math.sqrt(s)
        g[j, j] = r
        for i in range(j + 1, p):
            t = b[i, j]
            for k in range(j):
                t -= g[i, k] * g[j, k]
            g[i, j] = t / r
    if definite:
        return True
    for i in range(p):
        for j in range(p):
            g[i, j] = 0.0
    for col in range(p):
        # the largest eigenpair of B minus the pairs taken so far
        for i in range(p):
            for j in range(p):
                s = b[i, j]
                for k in range(col):
                    s -= g[i, k] * g[j, k]
                work[i, j] = s
        lam = largest_eigenpair(work, vec, scratch[0], scratch[1], hv, scratch[2], scratch[3])
        if not lam > 0.0:
            break
        r = math.sqrt(lam)
        for i in range(p):
            g[i, col] = r * vec[i]
    return False


@njit_inlined
def tridiagonalize(a, d, e, hv, p):
    """Householder reduction of the symmetric a (n x n, both triangles, destroyed): Q^T a Q = T.

    T has diagonal d and sub-diagonal e[:n-1]; Q = H_0 H_1 ... H_{n-3} with H_k = I - h_k h_k^T,
    h_k = hv[k] (|h_k|^2 = 2, zero outside k+1..n-1, a zero vector where no reflection is needed).
    p: scratch of length n.
    """
    n = a.shape[0]
    amax = 0.0
    for i in range(n):
        for j in range(n):
            amax = max(amax, abs(a[i, j]))
    negligible = (1e-3 * EPS * amax) ** 2  # a column this small is rounding noise: no reflection
    for k in range(n - 2):
        s = 0.0
        for i in range(k + 1, n):
            s += a[i, k] * a[i, k]
        x0 = a[k + 1, k]
        d[k] = a[k, k]
        for i in range(n):
            hv[k, i] = 0.0
        if s - x0 * x0 <= negligible:  # already tridiagonal in this column
            e[k] = x0
            continue
        alpha = -math.copysign(math.sqrt(s), x0)
        e[k] = alpha
        f = math.sqrt(1.0 / (s - x0 * alpha))  # |x - alpha e_1|^2 = 2 (s - x0 alpha)
        hv[k, k + 1] = (x0 - alpha) * f
        for i in range(k + 2, n):
            hv[k, i] = a[i, k] * f
        # a <- H a H on the trailing block: p = a h, q = p - (h.p / 2) h, a -= h q^T + q h^T
        for j in range(k + 1, n):
            p[j] = 0.0
        for i in range(k + 1, n):
            hi = hv[k, i]
            for j in range(k + 1, n):
                p[j] += hi * a[i, j]
        hp = 0.0
        for i in range(k + 1, n):
            hp += hv[k, i] * p[i]
        for i in range(k + 1, n):
            p[i] -= 0.5 * hp * hv[k, i]
        for i in range(k + 1, n):
            hi = hv[k, i]
            pi = p[i]
            for j in range(k + 1, n):
                a[i, j] -= hi * p[j] + pi * hv[k, j]
    if n >= 2:
        d[n - 2] = a[n - 2, n - 2]
        e[n - 2] = a[n - 1, n - 2]
    d[n - 1] = a[n - 1, n - 1]


@njit_inlined
def tridiagonal_top(d, e):
    """The largest eigenvalue of the symmetric tridiagonal (d, e), by Laguerre's iteration.

    It starts at the Gershgorin bound above the spectrum, where the characteristic polynomial
    p(x) = prod_i q_i(x) has all its roots below x, q_i the pivots of the LDL^T factorisation of
    x - T; each step then moves down and stays above the largest root (by rounding it may land
    just below: the step's sign follows). With G_i = q_i'/q_i and K_i = q_i''/q_i, which obey
    recurrences free of overflow, p'/p = sum G_i and -(p'/p)' = sum G_i^2 - K_i.
    """
    n = d.size
    x = d[0]
    scale = 0.0
    for i in range(n):
        r = (abs(e[i - 1]) if i > 0 else 0.0) + (abs(e[i]) if i < n - 1 else 0.0)
        x = max(x, d[i] + r)
        scale = max(scale, abs(d[i]) + r)
    if scale == 0.0:
        return 0.0
    tiny = EPS * scale  # stands for a pivot that is exactly zero
    x += 2.0 * tiny  # strictly above: every pivot positive
    for _ in range(MAX_LAGUERRE_STEPS):
        q = x - d[0]
        if q == 0.0:
            q = tiny
        gi = 1.0 / q
        ki = 0.0
        g = gi
        h = gi * gi
        for i in range(1, n):
            t = e[i - 1] * e[i - 1] / q
            q = x - d[i] - t
            if q == 0.0:
                q = tiny
            ki = t * (ki - 2.0 * gi * gi) / q
            gi = (1.0 + t * gi) / q
            g += gi
            h += gi * gi - ki
        # g = sum 1/(x - l_i), h = sum 1/(x - l_i)^2
        denom = g + math.copysign(math.sqrt(max((n - 1) * (n * h - g * g), 0.0)), g)
        if not (denom != 0.0 and math.isfinite(denom)):
            break
        step = n / denom
        x -= step
        if abs(step) <= 2.0 * EPS * abs(x):
            break
    return x


@njit
def largest_eigenpair(a, vec, d, e, hv, p, y):
    """The largest eigenvalue of the symmetric a (n x n, destroyed), and its unit eigenvector in
    vec. d, e, p, y: scratch of length n; hv: n x n scratch."""
    n = a.shape[0]
    tridiagonalize(a, d, e, hv, p)
    lam = tridiagonal_top(d, e)
    # two steps of inverse iteration with x - T, x just above lam: positive definite, so the
    # tridiagonal solve needs no pivoting; its near-singularity is what makes it converge
    scale = 0.0
    for i in range(n):
        scale = max(scale, abs(d[i]) + (abs(e[i]) if i < n - 1 else 0.0))
    if scale == 0.0:  # the zero matrix: any unit vector
        for i in range(n):
            vec[i] = 0.0
        vec[0] = 1.0
        return 0.0
    x = lam + 4.0 * EPS * max(abs(lam), scale)
    for i in range(n):
        y[i] = 1.0
    for _ in range(2):
        # LDL^T of x - T: pivots p, multipliers in e / p; forward then backward substitution
        p[0] = x - d[0]
        if p[0] == 0.0:
            p[0] = EPS * scale
        for i in range(1, n):
            m = -e[i - 1] / p[i - 1]
            p[i] = x - d[i] + m * e[i - 1]
            if p[i] == 0.0:
                p[i] = EPS * scale
            y[i] -= m * y[i - 1]
        y[n - 1] /= p[n - 1]
        for i in range(n - 2, -1, -1):
            y[i] = (y[i] + e[i] * y[i + 1]) / p[i]
        big = 0.0
        for i in range(n):
            big = max(big, abs(y[i]))
        norm = 0.0
        for i in range(n):
            y[i] /= big
            norm += y[i] * y[i]
        norm = math.sqrt(norm)
        for i in range(n):
            y[i] /= norm
    # back to a's basis: vec = H_0 H_1 ... H_{n-3} y
    for i in range(n):
        vec[i] = y[i]
    for k in range(n - 3, -1, -1):
        s = 0.0
        for i in range(k + 1, n):
            s += hv[k, i] * vec[i]
        for i in range(k + 1, n):
            vec[i] -= s * hv[k, i]
    return lam
