"""The map of an explore store: its objective between the learner's samples.

The objective of an explore over two axes, the maximum of Tc over eta, is smooth while the
maximum stays on one branch and has a kink where it changes branch (docs/explore.md). Linear
interpolation between the samples errs by about |F''| h^2 / 8 on a triangle of size h, and
the objective bends strongly next to its kinks, so that term, not the kinks, decides most of a
linear map's error. :func:`explore_map` interpolates with SciPy's Clough-Tocher scheme (a
piecewise cubic, C1 interpolant on the Delaunay triangulation of the samples, with gradients
estimated from all samples at once), whose error on the smooth parts falls as h^3; its
largest errors stay next to the kinks, as the linear map's do. Measured on the design question of
docs/explore.md (L 7-11 Å, W 3-10 Å, g = 1/3, 150 samples): it cuts the linear map's 90th
percentile error by three to four times and its largest error by about two, whichever learner
placed the samples.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from .. import flags

MAP_VARIABLE = "tc_max"
"""The store variable the map interpolates (the objective, K)."""


def map_axes(ds: xr.Dataset) -> list[str]:
    """The explored axes of an explore store's Dataset, in the store's order (the coordinates
    along its sample dimension)."""
    from ..store import explored

    return [str(c) for c in ds.coords if c != explored.SAMPLE_DIM
            and ds[c].dims == (explored.SAMPLE_DIM,)]


def map_samples(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The learner's computed samples of an explore store over two axes: their points (n, 2),
    in the order of :func:`map_axes`, and the objective at them (K). The polish's points are
    left out: they refine the best, not the map."""
    from ..store import explored

    axes = map_axes(ds)
    if len(axes) != 2:
        raise ValueError(f"the map of an explore store is over two explored axes; this store "
                         f"explores {len(axes)} ({', '.join(axes)})")
    status = np.asarray(ds[explored.VAR_SAMPLE_STATUS].values).astype(np.int64)
    tc = np.asarray(ds[MAP_VARIABLE].values, dtype=float)
    use = flags.has(status, flags.SAMPLE_DONE) & ~flags.has(status, flags.SAMPLE_POLISH) \
        & np.isfinite(tc)
    points = np.column_stack([np.asarray(ds[a].values, dtype=float)[use] for a in axes])
    return points, tc[use]


def smooth_map(points: np.ndarray, values: np.ndarray,
               nodes: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """The Clough-Tocher interpolant of ``values`` at ``points`` (both (n, 2)-shaped arrays of
    two axes' values, any units), evaluated at ``nodes`` (m, 2), the axes scaled to the
    points' extent so that axes of different units weigh alike. NaN outside the points'
    convex hull; ValueError when the points span no triangle."""
    from scipy.interpolate import CloughTocher2DInterpolator
    from scipy.spatial import QhullError

    nodes = np.asarray(nodes, dtype=float)
    if nodes.ndim != 2 or nodes.shape[1] != 2:
        raise ValueError(f"nodes: expected an (n, 2) array, got shape {nodes.shape}")
    try:
        interpolant = CloughTocher2DInterpolator(np.asarray(points, dtype=float),
                                                 np.asarray(values, dtype=float), rescale=True)
    except (QhullError, ValueError):
        raise ValueError(f"the map needs samples that span a triangle; got {len(values)}") \
            from None
    return interpolant(nodes)


def explore_map(ds: xr.Dataset, nodes: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """The objective of an explore store over two axes at ``nodes`` (an (n, 2) array of the
    explored axes' values, in the order of :func:`map_axes`, in their units): the
    :func:`smooth_map` of the learner's samples (:func:`map_samples`). NaN outside the
    samples' convex hull (the learner's samples include the box's corners, so nowhere in the
    box). ValueError when the samples span no triangle."""
    return smooth_map(*map_samples(ds), nodes)
