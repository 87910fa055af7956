"""Refinement: the numbers a sweep is read for (maxima, antiresonances, windows Tc >= T*, dome
tops) computed to the solver's precision with the solver itself, from the grid's brackets.

- :mod:`sweep.refine.searches` -- the searches on a callable Tc(eta) (no Dask, no store).
- :mod:`sweep.refine.tasks` -- one block of curves, or one dome's top, as a task.
- :mod:`sweep.refine.service` -- :func:`refine_store`: a finished sweep store refined.

The settings are :class:`sweep.config.RefineSettings` (``[refine]``); the flags the searches
set are :mod:`sweep.flags`'.
"""
from ..config import RefineSettings
from .searches import (METHOD, Curve, antiresonance_bound, curve_antiresonance, curve_maximum,
                       curve_window, eta_upper_bound, refine_curve, search_top, solver_curve)
from .service import RefineResult, pending_work, refine_store, stored_settings

__all__ = ["METHOD", "Curve", "RefineResult", "RefineSettings", "antiresonance_bound",
           "curve_antiresonance", "curve_maximum", "curve_window", "eta_upper_bound",
           "pending_work",
           "refine_curve", "refine_store", "search_top", "solver_curve", "stored_settings"]
