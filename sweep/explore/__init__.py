"""Explore: design questions answered adaptively ("which structure gives the highest Tc?").

python-adaptive's learners place samples of an objective over a box of 1 to 4 of (L, W, V,
omega0, g, eta) -- the maximum of Tc over eta, followed upward without clipping, or Tc at the
point when eta is explored -- as tasks on the cluster; the best sample is then polished by a
bounded Nelder-Mead; every sample goes into a zarr store as it finishes.

- :mod:`sweep.explore.objective` -- what one sample computes (a task on a worker).
- :mod:`sweep.explore.learners` -- the learners and their kink-aware loss.
- :mod:`sweep.explore.polish` -- the polish of the best sample.
- :mod:`sweep.explore.service` -- :func:`explore`: config in, store out, resumable.

The settings are :class:`sweep.config.ExploreSettings` (``[explore]``); the store's layout is
:mod:`sweep.store.explored`'s.
"""
import sys
import types

from .objective import SampleOutcome, SampleTask, Value, compute_sample, objective
from .service import ExploreResult, best_of, check_can_start, explore

__all__ = ["ExploreResult", "SampleOutcome", "SampleTask", "Value", "best_of",
           "check_can_start", "compute_sample", "explore", "objective"]


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`explore`: importing it (``from sweep.explore import
    polish``) makes it the attribute ``explore`` of :mod:`sweep`, where the front door's
    ``sweep.explore(config, store=...)`` is the function."""

    def __call__(self, *args, **kwargs):
        return explore(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
