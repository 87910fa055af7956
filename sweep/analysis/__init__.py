"""Reading a finished store: domes, their tops and antiresonances, Fano fits, figures (no
recomputation of Tc, no writes).

- :mod:`sweep.analysis.domes` -- :func:`dome`, :func:`dome_top`, the reports of ``fanodome
  dome`` and the run summary.
- :mod:`sweep.analysis.fano` -- :func:`fano_fit`, the Fano line shape and the fits' quality.
- :mod:`sweep.analysis.plots` -- the paper's Fig. 4 and Fig. 5 and the structures map
  (matplotlib; imported on use).
"""
from .domes import (ANTI_FLAGS, COMPUTED_MAX_POINTS, DOME_FLAGS, apply_refined, curve_extrema,
                    dome, dome_report, dome_summary, dome_top, gaps_at_top, iter_dome_records,
                    refined_top, t_floor_of, vertex)
from .fano import (FANO_COND_MAX, FANO_PARAMS, FANO_Q_MAX, FANO_QUALITY, FANO_RMS_MAX, FanoFit,
                   covariance_condition, fano_fit, fano_guess, fano_line, fano_quality, fit_fano)

__all__ = ["ANTI_FLAGS", "COMPUTED_MAX_POINTS", "DOME_FLAGS", "FANO_COND_MAX", "FANO_PARAMS",
           "FANO_QUALITY", "FANO_Q_MAX", "FANO_RMS_MAX", "FanoFit", "apply_refined",
           "covariance_condition", "curve_extrema", "dome", "dome_report", "dome_summary",
           "dome_top", "fano_fit", "fano_guess", "fano_line", "fano_quality", "fit_fano",
           "gaps_at_top", "iter_dome_records", "refined_top", "t_floor_of", "vertex"]
