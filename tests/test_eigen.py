"""The gap equation's small dense linear algebra (solver/eigen.py) against NumPy's LAPACK.

The Tc search calls these kernels where LAPACK would serve; here each is checked on the shapes
it meets (P = 8 ... 32 basis nodes, up to 3 x 32 = 96 unknowns) and on the matrices that break
naive implementations: zero, diagonal, rank one, repeated and negative eigenvalues.
"""
import numpy as np
import pytest

from solver.eigen import largest_eigenpair, psd_factor

SIZES = [1, 2, 3, 8, 24, 33, 96]


def _matrices(n, rng):
    m = rng.standard_normal((n, n))
    yield "random", (m + m.T) / 2
    yield "zero", np.zeros((n, n))
    yield "diagonal", np.diag(rng.standard_normal(n))
    yield "rank one", np.ones((n, n))
    yield "repeated top", np.diag(np.r_[np.full(min(n, 3), 2.0), np.zeros(n - min(n, 3))])
    yield "negative definite", -(m @ m.T) - np.eye(n)
    yield "scaled", 1e-12 * (m + m.T)


def _largest(c):
    n = c.shape[0]
    vec = np.empty(n)
    scratch = [np.empty(n) for _ in range(4)]
    lam = largest_eigenpair(c.copy(), vec, scratch[0], scratch[1], np.empty((n, n)), scratch[2],
                            scratch[3])
    return lam, vec


@pytest.mark.parametrize("n", SIZES)
def test_largest_eigenpair(n):
    rng = np.random.default_rng(n)
    for name, c in _matrices(n, rng):
        lam, vec = _largest(c)
        want = np.linalg.eigvalsh(c)
        scale = max(np.abs(want).max(), np.finfo(float).tiny)
        assert abs(lam - want[-1]) <= 8 * n * np.finfo(float).eps * scale, name
        assert np.linalg.norm(vec) == pytest.approx(1.0, rel=1e-12), name
        # an eigenvector of the top eigenvalue (any one when it is repeated)
        assert np.linalg.norm(c @ vec - lam * vec) <= 1e3 * n * np.finfo(float).eps * scale, name


@pytest.mark.parametrize("n", [1, 2, 8, 18, 32])
def test_psd_factor_is_the_positive_part(n):
    rng = np.random.default_rng(n)
    m = rng.standard_normal((n, n))
    q, _ = np.linalg.qr(m)
    spread = np.geomspace(1.0, 1e-9, n)

    def with_eigenvalues(lam):
        return (q * lam) @ q.T

    cases = {"definite": with_eigenvalues(spread),
             "semi-definite": with_eigenvalues(np.where(np.arange(n) < n // 2, spread, 0.0)),
             "zero": np.zeros((n, n)),
             "indefinite": (m + m.T) / 2,
             # what a quadrature of a semi-definite kernel can leave: one eigenvalue just below 0
             "slightly negative": with_eigenvalues(np.r_[spread[:-1], -1e-7][-n:])}
    for name, b in cases.items():
        ev, vecs = np.linalg.eigh(b)
        positive = (vecs * np.maximum(ev, 0.0)) @ vecs.T
        g = np.empty((n, n))
        definite = psd_factor(b, g, np.empty((n, n)), np.empty(n), np.empty((4, n)),
                              np.empty((n, n)))
        scale = max(np.abs(b).max(), 1.0)
        assert np.allclose(g @ g.T, positive, atol=1e-13 * n * scale, rtol=0), name
        assert definite == (ev.min() > 1e-12 * scale), name
