"""Status codes and flags of the store's variables, and the words the reports give them, each
written once (no I/O).

``status`` holds one code per point (CF ``flag_values``); ``refine_status``, ``window_status``,
``top_status`` and an explore store's ``sample_status`` hold bit flags (CF ``flag_masks``: a
value is the sum of the flags that apply, 0 = pending). The store writes these names and values
into the variables' attributes (:mod:`sweep.store`); the searches set them (:mod:`sweep.refine`,
:mod:`sweep.explore`); the readers test them (:mod:`sweep.analysis`) by name, never by number.
"""
from __future__ import annotations

from types import MappingProxyType

import solver.parameters
from solver.parameters import STATUS_BELOW_FLOOR, STATUS_OK  # noqa: F401 - re-exported

# ------------------------------------------------------------------- status of a point
# STATUS_OK (0) and STATUS_BELOW_FLOOR (1) are the solver's (solver.parameters), re-exported
# here so that every status code of a store is read from one module.
STATUS_FAILED = 2
"""The task holding this point raised on every try."""
STATUS_PENDING = 3
"""Not computed yet (the fill value of a fresh store)."""
STATUS_NAMES = MappingProxyType({**solver.parameters.STATUS_NAMES, STATUS_FAILED: "failed",
                                 STATUS_PENDING: "pending"})
"""Name of each value of ``status``: the solver's (ok, below_floor) and the sweep's own."""

# ------------------------------------------------ refine_status: one curve Tc(eta)
DONE = 1
"""The curve was refined (0: pending)."""
FAILED = 2
"""Its task raised; the traceback is in the store's refine failure records."""
MAX_AT_BOUND = 4
"""The maximum was followed past the grid's last eta up to the upper bound of the search
(:func:`sweep.refine.searches.eta_upper_bound`) and Tc still grows there: tc_max is Tc at the
bound, a lower bound of the maximum."""
ANTI_BELOW_FLOOR = 8
"""Tc drops under the temperature floor below eta_max: the antiresonance is an interval."""
ANTI_OUTSIDE_GRID = 16
"""The antiresonance was followed past the grid's first eta."""
ANTI_AT_BOUND = 32
"""The outward search reached its bound (the minimum, or the floor interval, may lie beyond)."""
NO_ANTIRESONANCE = 64
"""No point below eta_max: no antiresonance."""
NO_MAXIMUM = 128
"""No point with a Tc on the curve."""
NOT_CONVERGED = 256
"""A search hit max_evaluations before its tolerance."""
MAX_AT_FIRST_ETA = 512
"""The maximum is on the grid's first eta (the search does not go below the grid): Tc may be
higher at lower eta; tc_max is the maximum over eta >= that first eta."""
MAX_OUTSIDE_GRID = 1024
"""The maximum was followed past the grid's last eta (eta_max is beyond it)."""
MAX_OUTSIDE_MODEL = 2048
"""eta_max lies above eta_up (:func:`solver.relations.eta_up`), where mu + omega~ reaches the first
subband the model leaves out: a grid that reaches past eta_up had its largest Tc there, and
the maximum is not the model's answer."""
CURVE_FLAGS = MappingProxyType({
    "done": DONE, "failed": FAILED, "max_at_bound": MAX_AT_BOUND,
    "antiresonance_below_floor": ANTI_BELOW_FLOOR,
    "antiresonance_outside_grid": ANTI_OUTSIDE_GRID, "antiresonance_at_bound": ANTI_AT_BOUND,
    "no_antiresonance": NO_ANTIRESONANCE, "no_maximum": NO_MAXIMUM,
    "not_converged": NOT_CONVERGED, "max_at_first_eta": MAX_AT_FIRST_ETA,
    "max_outside_grid": MAX_OUTSIDE_GRID, "max_outside_model": MAX_OUTSIDE_MODEL})
"""``refine_status``'s flag_meanings and flag_masks."""

# ------------------------------------------------------ window_status: one window Tc >= T*
BELOW_THRESHOLD = 1
"""The maximum is below T*: no window."""
OPEN_BELOW = 2
"""Tc >= T* down to the lower bound the edge was followed to (the antiresonance's bound):
eta_window_lo is that bound (an upper bound of the edge)."""
OPEN_ABOVE = 4
"""Tc >= T* up to the upper bound the edge was followed to (the maximum's bound):
eta_window_hi is that bound (a lower bound of the edge)."""
WINDOW_OUTSIDE_GRID = 8
"""An edge was followed past the grid's first or last eta."""
WINDOW_FLAGS = MappingProxyType({"below_threshold": BELOW_THRESHOLD, "open_below": OPEN_BELOW,
                                 "open_above": OPEN_ABOVE, "outside_grid": WINDOW_OUTSIDE_GRID})
"""``window_status``'s flag_meanings and flag_masks."""

# --------------------------------------------------------- top_status: the top of one dome
TOP_DONE = 1
"""The top was searched (0: pending)."""
TOP_AT_G_EDGE = 2
"""The top sits on the edge of the store's g range (Tc may grow beyond it)."""
TOP_NONE = 4
"""No refined maximum in the dome."""
TOP_FAILED = 8
"""Its task raised; the traceback is in the store's refine failure records."""
TOP_AT_ETA_BOUND = 16
"""The maximum over eta at the top lies on a bound of the eta search (the grid's first eta, or
the upper bound with Tc still growing): top_tc is a lower bound."""
TOP_OUTSIDE_MODEL = 32
"""The top's eta lies above eta_up at its g (see :data:`MAX_OUTSIDE_MODEL`)."""
TOP_FLAGS = MappingProxyType({"done": TOP_DONE, "at_g_edge": TOP_AT_G_EDGE, "none": TOP_NONE,
                              "failed": TOP_FAILED, "at_eta_bound": TOP_AT_ETA_BOUND,
                              "outside_model": TOP_OUTSIDE_MODEL})
"""``top_status``'s flag_meanings and flag_masks."""


# --------------------------------------------------- sample_status: one sample of an explore
SAMPLE_DONE = 1
"""The sample was computed (0: pending)."""
SAMPLE_FAILED = 2
"""Its task raised on every try; the traceback is in the store's explore failure records."""
SAMPLE_POLISH = 4
"""A point of the polish of the best sample (else a point the learner chose)."""
SAMPLE_MAX_AT_BOUND = 8
"""The maximum over eta was followed to the upper bound of eta and Tc still grows there:
tc_max is a lower bound (see :data:`MAX_AT_BOUND`)."""
SAMPLE_MAX_AT_FIRST_ETA = 16
"""The maximum over eta is on the [grid] eta axis's first eta, the lower end of the objective's
domain (Tc may be higher below it)."""
SAMPLE_MAX_OUTSIDE_GRID = 32
"""The maximum over eta was followed past the [grid] eta axis's last eta."""
SAMPLE_BELOW_FLOOR = 64
"""Tc is below the temperature floor (at the point, or on the whole eta axis): tc_max is 0 K."""
SAMPLE_NOT_CONVERGED = 128
"""The search of the maximum over eta hit max_evaluations before its tolerance."""
OUTSIDE_MODEL = ("outside the model: above eta_up, where the pairing window reaches the first "
                 "subband the model leaves out")
"""How the reports say that an eta lies above eta_up (:data:`MAX_OUTSIDE_MODEL`,
:data:`TOP_OUTSIDE_MODEL`, :data:`SAMPLE_OUTSIDE_MODEL`, and ``fanodome tc``'s
``outside_model``)."""

SAMPLE_OUTSIDE_MODEL = 256
"""The sample's eta (its own, or where its maximum over eta sits) lies above eta_up (see
:data:`MAX_OUTSIDE_MODEL`): not the model's answer."""
SAMPLE_FLAGS = MappingProxyType({
    "done": SAMPLE_DONE, "failed": SAMPLE_FAILED, "polish": SAMPLE_POLISH,
    "max_at_bound": SAMPLE_MAX_AT_BOUND, "max_at_first_eta": SAMPLE_MAX_AT_FIRST_ETA,
    "max_outside_grid": SAMPLE_MAX_OUTSIDE_GRID, "below_floor": SAMPLE_BELOW_FLOOR,
    "not_converged": SAMPLE_NOT_CONVERGED, "outside_model": SAMPLE_OUTSIDE_MODEL})
"""``sample_status``'s flag_meanings and flag_masks."""

BRANCHES = ("below_lifshitz", "kink", "above_lifshitz", "bound")
"""``branch`` of an explore sample (CF flag_values 0..3, -1 pending): where its maximum over
eta sits. 0 a smooth top below the Lifshitz point eta = 1 (the van Hove peak at the top of the
resonant subband); 1 on a kink of Tc(eta), where the pairing window mu +- omega~ meets a band
edge; 2 a smooth top above eta = 1; 3 on a bound of the eta search (or Tc below the floor). The
maximum over eta is smooth in the structure's parameters while it stays on one branch and has
a kink where it changes branch (:mod:`sweep.explore.learners` looks for those); 0 for every
sample when eta is explored."""


# --------------------------------------- words of the dome reports (sweep.analysis.domes)
DOME_FLAGS = ("interior", "at_grid_edge", "none", "at_bound", "below_floor")
"""``dome_flag``: 0 between grid points: the vertex of the parabola through the best grid point
and its neighbours, or the solver's refined maximum (the record's ``refined`` says which); 1 on
the grid's first eta, or a grid maximum on its last eta (not refined past it); 2 no ok point
(pending, failed, or some below the floor); 3 the refined maximum was followed to its upper
bound of eta and Tc still grows there (a lower bound, :data:`MAX_AT_BOUND`); 4 every point of
the curve below the temperature floor (the maximum is below it: an upper bound)."""
ANTI_FLAGS = ("interior", "at_grid_edge", "below_floor", "none")
"""``antiresonance_flag``: 0 between grid points (the vertex of the parabola in ln Tc, or the
solver's refined minimum); 1 smallest sampled value (first eta or next to
a missing point); 2 below the temperature floor (upper bound only); 3 no point on that side."""

VALUES = MappingProxyType({
    "refined": "the solver's maximum (fanodome refine)",
    "interp": "between grid points: vertex of a parabola in ln Tc through the largest computed "
              "Tc and its two neighbours, an estimate (it may lie above the solver's maximum; "
              "fanodome refine gives that)",
    "edge": "on the eta grid's first value (or, not refined, its last): Tc there, a lower "
            "bound",
    "bound": "followed to the upper bound of eta, Tc still growing there: a lower bound",
    "none": "no Tc on the curve: its points pending, failed or below the temperature floor",
    "below_floor": "every point below the temperature floor: the maximum is below it (an upper "
                   "bound)",
    "grid": "the largest computed Tc, a lower bound of each maximum (fanodome refine gives "
            "the solver's maxima; fanodome dome an estimate between grid points)",
})
"""What a maximum's value is, by the word the reports give it: the ``values`` column and
``"values"`` of ``fanodome dome`` (:func:`values_word`; every word but ``grid``), and of the
run summary (:func:`sweep.analysis.domes.dome_summary`: ``refined`` or ``grid``)."""


def values_word(*, dome_flag: str, refined: bool) -> str:
    """The :data:`VALUES` word of one curve's maximum in :func:`sweep.analysis.dome`'s result:
    its ``dome_flag`` name (:data:`DOME_FLAGS`) and whether the curve is refined."""
    return {"at_bound": "bound", "at_grid_edge": "edge", "none": "none",
            "below_floor": "below_floor"}.get(
        dome_flag, "refined" if refined else "interp")


def has(value, flag: int):
    """Whether ``flag`` is set in ``value`` (an int, a NumPy or an xarray array of flags)."""
    return (value & flag) != 0
