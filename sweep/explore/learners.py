"""The learners that place the samples: python-adaptive's, by the number of axes, with a loss
that sees where the maximum over eta changes branch.

Each sample is told to its learner as the pair (Tc in K, branch), the branch being where the
maximum over eta sits (:data:`sweep.explore.objective.BRANCHES`). The objective is smooth
while the branch stays the same and has a kink where it changes: linear interpolation
between samples misses it there by about the jump of the slope times the triangle's size,
far more than the curvature costs elsewhere. No generic loss knows where those kinks are;
each sample does.

Over two axes (:class:`KinkLearner2D`, a Learner2D):

- the loss of a triangle (:func:`kink_loss`) is an estimate, in K, of the largest error of the
  linear map in it, times its area: where the branch is the same at its three samples, the
  deviation of each sample from the other samples' tangent planes (python-adaptive's
  ``deviations``, in K) over 12, the curvature term of linear interpolation; where it changes,
  at least an eighth of the range of Tc over the triangle, the term of a kink crossing it. The
  area weights each triangle by the share of the box whose map it decides, so that the
  samples go where most of the map is wrong, not to one bad corner;
- the new sample of a triangle whose branch changes goes where the kink crosses its longest
  such edge, estimated from the tangent planes of the two branches at the edge's ends (each
  fitted to the end's neighbours on its own branch), not to its middle: the samples line up
  on the kink, the triangles stop straddling it, and the map follows it.

Learner1D and LearnerND keep python-adaptive's default losses on Tc, doubled on an interval
or simplex whose branch changes. Measured on F(L, W) = max Tc over eta at g = 1/3
(docs/explore.md).
"""
from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np

from .objective import Value
from .polish import KnownPoints

LEARNERS = {1: "Learner1D", 2: "Learner2D (samples on kinks)", 3: "LearnerND",
            4: "LearnerND"}
"""python-adaptive's learner for each number of explored axes."""
LOSS = ("kink-aware: the linear map's error estimated in K (curvature within a branch, an "
        "eighth of the range of Tc where the branch changes) times the share of the box")
"""The loss, in words (stored in the store's ``explore_settings``)."""
CURVATURE_DIVISOR = 12.0
"""python-adaptive's ``deviations`` sums, over a triangle's three samples, how far each lies
from the others' tangent planes: about 1.5 |F''| h^2 for a triangle of size h, while linear
interpolation errs by at most |F''| h^2 / 8 in it; dividing by 12 makes it that error (checked
against the true error on a 0.125 Å reference map: within a factor 2)."""
KINK_DIVISOR = 8.0
"""A kink crossing a triangle makes linear interpolation err by up to a quarter of the slope's
jump times the triangle's size; the range of Tc over the triangle bounds that product from
above (by 2-4 times on the reference map), hence an eighth of the range."""


def told(value: Value) -> tuple[float, float]:
    """What a learner is told of a sample: (Tc in K, branch)."""
    return (float(value.tc), float(value.branch))


def _mixed(branch: np.ndarray) -> np.ndarray:
    """Whether the branch changes across each row (a pending sample's interpolated branch is
    fractional and counts as a change: its neighbourhood is not known yet)."""
    return np.ptp(branch, axis=-1) > 0


def kink_loss(ip) -> np.ndarray:
    """Learner2D's loss per triangle (see the module): ``ip`` a LinearNDInterpolator over the
    learner's scaled box, with values (Tc, branch) per sample."""
    from adaptive.learner.learner2D import areas, deviations
    from scipy.interpolate import LinearNDInterpolator

    tc = ip.values[:, 0]
    scale = float(np.ptp(tc)) or 1.0
    curvature = deviations(LinearNDInterpolator(ip.tri, tc))[0] * scale / CURVATURE_DIVISOR
    simplices = ip.tri.simplices
    kink = np.where(_mixed(ip.values[:, 1][simplices]),
                    np.ptp(tc[simplices], axis=1) / KINK_DIVISOR, 0.0)
    return np.maximum(curvature, kink) * areas(ip)


def _kink_loss_1d(xs, ys) -> float:
    """Learner1D's default loss on Tc (the scaled length of an interval), doubled where the
    branch changes."""
    if ys[0] is None or ys[1] is None:
        return 0.0
    dx = xs[1] - xs[0]
    loss = math.hypot(dx, ys[1][0] - ys[0][0])
    return 2.0 * loss if ys[1][1] != ys[0][1] else loss


def _kink_loss_nd(simplex, values, value_scale) -> float:
    """LearnerND's default loss on Tc (the simplex's volume in the graph of Tc), doubled where
    the branch changes."""
    from adaptive.learner.learnerND import default_loss

    values = np.asarray(values, dtype=float)
    loss = default_loss(simplex, values[:, 0], value_scale)
    return 2.0 * loss if np.ptp(values[:, 1]) > 0 else loss


KINK_T_RANGE = (0.15, 0.85)
"""Where on an edge (as a fraction from one end) an estimated kink crossing is taken; an
estimate outside this (tangent planes nearly parallel, or the kink near an end already) falls
back to the edge's middle, so that no sample lands on top of another."""


def _branch_gradient(tri, points: np.ndarray, tc: np.ndarray, branch: np.ndarray,
                     i: int) -> np.ndarray | None:
    """The gradient of Tc at sample ``i`` fitted (least squares) to its Delaunay neighbours on
    its own branch; None with fewer than two of them."""
    indptr, indices = tri.vertex_neighbor_vertices
    near = indices[indptr[i]:indptr[i + 1]]
    near = near[branch[near] == branch[i]]
    if near.size < 2:
        return None
    g, _, rank, _ = np.linalg.lstsq(points[near] - points[i], tc[near] - tc[i], rcond=None)
    return g if rank == 2 else None


def kink_crossing(ip, simplex: np.ndarray) -> np.ndarray | None:
    """Where the kink crosses the longest edge of triangle ``simplex`` whose ends lie on
    different branches (scaled coordinates): the point where the two ends' tangent planes,
    each fitted on its own branch, give the same Tc; the edge's middle when they cannot tell;
    None when the triangle's branches are all the same or not all known (pending samples)."""
    points, tc, branch = ip.tri.points, ip.values[:, 0], ip.values[:, 1]
    b = branch[simplex]
    if np.ptp(b) == 0 or np.any(b != np.round(b)):
        return None
    edges = [(simplex[i], simplex[j]) for i, j in ((0, 1), (1, 2), (2, 0)) if b[i] != b[j]]
    u, v = max(edges, key=lambda e: np.linalg.norm(points[e[0]] - points[e[1]]))
    t = 0.5
    gu = _branch_gradient(ip.tri, points, tc, branch, u)
    gv = _branch_gradient(ip.tri, points, tc, branch, v)
    if gu is not None and gv is not None:
        d = points[v] - points[u]
        den = float((gu - gv) @ d)
        if den != 0.0:
            tt = float((tc[v] - tc[u] - gv @ d) / den)
            if KINK_T_RANGE[0] < tt < KINK_T_RANGE[1]:
                t = tt
    return points[u] + t * (points[v] - points[u])


def _learner2d_class():
    from adaptive.learner.learner2D import Learner2D, choose_point_in_triangle

    class KinkLearner2D(Learner2D):
        """Learner2D whose new sample in a triangle where the branch changes goes where the
        kink crosses it (:func:`kink_crossing`); elsewhere python-adaptive's own choice. Its
        ``_fill_stack`` is Learner2D's (adaptive 1.5) with that one choice changed."""

        def _fill_stack(self, stack_till: int = 1):
            if len(self.data) + len(self.pending_points) < self.ndim + 1:
                raise ValueError("too few points...")
            ip = self._interpolator_combined()
            losses = self.loss_per_triangle(ip)
            points_new, losses_new = [], []
            for _ in range(len(losses)):
                j = int(np.argmax(losses))
                simplex = ip.tri.simplices[j]
                p = kink_crossing(ip, simplex)
                if p is None:
                    p = choose_point_in_triangle(ip.tri.points[simplex], max_badness=5)
                x, y = self._unscale(p)
                (x0, x1), (y0, y1) = self.bounds
                point = (min(max(float(x), x0), x1), min(max(float(y), y0), y1))
                points_new.append(point)
                losses_new.append(losses[j])
                self._stack[point] = losses[j]
                if len(self._stack) >= stack_till:
                    break
                losses[j] = -np.inf
            return points_new, losses_new

    return KinkLearner2D


def make_learner(bounds: Sequence[tuple[float, float]]):
    """A python-adaptive learner over ``bounds`` (one (low, high) per axis) with the loss of
    this module; it is driven by ``ask``/``tell``, never by its own runner."""
    import adaptive

    n = len(bounds)
    if n == 1:
        from adaptive.learner.learner1D import uses_nth_neighbors
        return adaptive.Learner1D(None, tuple(bounds[0]),
                                  loss_per_interval=uses_nth_neighbors(0)(_kink_loss_1d))
    if n == 2:
        learner = _learner2d_class()(None, [tuple(b) for b in bounds],
                                     loss_per_triangle=kink_loss)
        learner.stack_size = 1  # every ask sees every sample told so far
        return learner
    return adaptive.LearnerND(None, [tuple(b) for b in bounds], loss_per_simplex=_kink_loss_nd)


ASK_TRIES = 4
"""How often :func:`ask_new` asks a learner for a point not placed yet before it concludes that
the learner has none: a learner that proposes a placed point again (on a box resolved to
floating-point precision, where a new point rounds onto an old one or next to it) proposes it
again when asked again, so a few tries tell."""


def ask_new(learner, *, placed: Collection[tuple[float, ...]],
            tries: int = ASK_TRIES) -> tuple[float, ...] | None:
    """The next point ``learner`` asks for (a tuple of floats) that is not placed: not within
    :data:`~sweep.explore.polish.SAME_POINT` in every axis of a point of ``placed`` (the points
    computed, failed or in flight: a point is never computed twice, nor one that differs from
    it by rounding alone, and the learner is never told two such points); None when it asked
    only placed points ``tries`` times (it has no new point to place). ``placed``: a
    :class:`~sweep.explore.polish.KnownPoints` is searched as it is; any other collection of
    points is indexed first, at a cost linear in its size, as the learner's own
    re-triangulation at each ask."""
    near = placed if isinstance(placed, KnownPoints) else KnownPoints(placed)
    for _ in range(tries):
        points, _ = learner.ask(1)
        point = point_of(points[0])
        if point not in near:
            return point
    return None


def point_of(point) -> tuple[float, ...]:
    """A learner's point as a tuple of floats (Learner1D asks plain floats)."""
    return tuple(float(x) for x in np.atleast_1d(point))


def learner_point(point: Sequence[float], n_axes: int):
    """A point as its learner takes it: a float in 1D, a tuple otherwise."""
    return float(point[0]) if n_axes == 1 else tuple(float(x) for x in point)
