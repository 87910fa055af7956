"""Reading a finished store: domes, their tops and antiresonances, Fano fits, figures (no
recomputation of Tc, no writes).

- :mod:`sweep.analysis.domes` -- :func:`dome`, :func:`dome_top`, the reports of ``fanodome
  dome`` and the run summary.
- :mod:`sweep.analysis.fano` -- :func:`fano_fit`, the Fano line shape and the fits' quality
  (scipy).
- :mod:`sweep.analysis.plots` -- the paper's Fig. 4 and Fig. 5 and the structures map
  (matplotlib).
- :mod:`sweep.analysis.maps` -- :func:`explore_map`, the map of an explore store between its
  samples (scipy).

The names below are loaded on first use, so that ``fanodome dome`` imports neither scipy nor
matplotlib.
"""
from __future__ import annotations

from ..front import lazy_names

_NAMES = {
    **{name: f"{__name__}.domes" for name in (
        "ANTI_FLAGS", "COMPUTED_MAX_POINTS", "DOME_FLAGS", "apply_refined", "curve_extrema",
        "dome", "dome_report", "dome_summary", "dome_top", "gaps_at_top", "iter_dome_records",
        "refined_top", "t_floor_of", "vertex")},
    **{name: f"{__name__}.fano" for name in (
        "FANO_COND_MAX", "FANO_PARAMS", "FANO_QUALITY", "FANO_Q_MAX", "FANO_RMS_MAX", "FanoFit",
        "covariance_condition", "fano_fit", "fano_guess", "fano_line", "fano_quality",
        "fit_fano")},
    **{name: f"{__name__}.maps" for name in (
        "explore_map", "map_axes", "map_samples", "smooth_map")},
}
"""Each name of the package and the module that defines it."""

__all__ = sorted(_NAMES)


__getattr__, __dir__ = lazy_names(__name__, _NAMES)
