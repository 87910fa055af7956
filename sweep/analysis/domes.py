"""Reading a finished sweep: domes, their tops and antiresonances (no recomputation of Tc, no
writes).

Every function takes the Dataset of :func:`sweep.store.open_dataset` (lazy, dask-backed, local or
remote) or a slice of it, and returns xarray objects with ``units`` and ``long_name``. The per-curve
work is a NumPy kernel over the eta axis applied with :func:`xarray.apply_ufunc`: on a dask-backed
store it runs chunk by chunk (eta whole, the other axes as the store chunks them), so a 10^8-point
store is never in memory; results have no eta axis and are small.

Methods
-------
Dome maximum (per L, W, V, omega0, g)
    The largest Tc on the eta grid, then the vertex of the parabola in **log Tc** through that point
    and its two neighbours (non-uniform spacing allowed). Log Tc because Tc ~ omega exp(-1/lambda)
    with lambda smooth in eta, so log Tc is nearer a parabola over a grid step than Tc is, and the
    refined Tc stays positive. The vertex lies between the two neighbours by construction. No
    refinement when the maximum is on the first or last eta or next to a point that is not ok
    (flag ``at_grid_edge``): the grid value is reported.
Antiresonance (the Fano dip on the eta < eta_max side)
    The minimum of log Tc over the ok points with eta below the grid maximum, refined the same
    way. Points below the solver's temperature floor on that side make the minimum unmeasurable:
    flag ``below_floor``, no Tc value, the floor (model ``t_floor``, K) as an upper bound, and the
    eta span of the below-floor points. A minimum on the first eta is ``at_grid_edge``: the value
    is the smallest sampled Tc, an upper bound of the true one, which lies at lower eta.
Top of the dome (per L, W, V, omega0)
    :func:`dome_top`: the curve whose maximum is highest, with its g, eta_max and Tc (the store's
    names ``top_g``, ``top_eta``, ``top_tc``); not searched in g. The search over g with the
    solver is :func:`sweep.refine.search_top`, whose result the store keeps after a refinement
    (:func:`refined_top`).
Fano fit (per curve at a fixed g): :mod:`sweep.analysis.fano`.

Words: a *structure* is (L, W, V), as in :mod:`sweep.grid`; a *dome* is Tc over (g, eta) at one
(L, W, V, omega0) (:data:`sweep.grid.DOME_AXES`); a *curve* is Tc(eta) at one g of a dome.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import xarray as xr

from solver.constants import KB
from solver.relations import eta_up

from .. import flags
from .. import store as store_mod
from ..front import dataset
from ..config import PAPER_G
from ..flags import (ANTI_FLAGS, DOME_FLAGS, STATUS_BELOW_FLOOR, STATUS_OK, VALUES,
                     values_word)
from ..grid import DOME_AXES, GRID_MATCH_RTOL
from ..store import VAR_DE, VAR_DELTA, VAR_E_L, VAR_E_LEFT_OUT, VAR_STATUS, VAR_TC

COMPUTED_MAX_POINTS = 10_000_000
"""Largest input (points of Tc) whose analysis is returned computed (NumPy-backed): reading
and reducing 10^7 points takes seconds and 100 MB, and gives a small result (a dozen numbers
per curve) that indexes like any array (``m.where(m == m.max(), drop=True)``). A larger input
gives a lazy (dask) result, to select or reduce before ``.compute()``."""

_OUT = ("eta_max", "tc_max", "dome_flag", "eta_antiresonance", "tc_antiresonance",
        "eta_antiresonance_lo", "eta_antiresonance_hi", "antiresonance_flag", "n_missing")


def vertex(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertex (x*, y*) of the parabola through three points per row.

    ``x``, ``y``: arrays (..., 3), x strictly increasing. Rows whose middle y is not strictly above
    or below both neighbours have no vertex between them; those return the middle point.
    """
    x0, x1, x2 = x[..., 0], x[..., 1], x[..., 2]
    y0, y1, y2 = y[..., 0], y[..., 1], y[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):  # degenerate rows are masked below
        d01 = (y1 - y0) / (x1 - x0)
        d12 = (y2 - y1) / (x2 - x1)
        a = (d12 - d01) / (x2 - x0)  # second divided difference: half the curvature
        xv = 0.5 * (x0 + x1) - d01 / (2 * a)  # where the derivative d01 + a(2x - x0 - x1) is 0
        # Newton form y(x) = y0 + d01 (x - x0) + a (x - x0)(x - x1), evaluated at xv
        yv = y0 + d01 * (xv - x0) + a * (xv - x0) * (xv - x1)
    extremum = ((y1 > y0) & (y1 > y2)) | ((y1 < y0) & (y1 < y2))
    xv = np.where(extremum, np.clip(xv, x0, x2), x1)
    yv = np.where(extremum, yv, y1)
    return xv, yv


def _refine(eta: np.ndarray, logt: np.ndarray, k: np.ndarray, usable: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refine the extremum of ``logt`` (..., n) at index ``k`` (...); ``usable`` (..., n) marks
    points that may enter the parabola. Returns eta, log Tc and whether it was refined."""
    n = eta.size
    km = np.clip(k - 1, 0, n - 1)
    kp = np.clip(k + 1, 0, n - 1)
    idx = np.stack([km, k, kp], axis=-1)
    ok3 = np.take_along_axis(usable, idx, axis=-1).all(-1) & (k > 0) & (k < n - 1)
    x3 = eta[idx]
    y3 = np.take_along_axis(np.where(usable, logt, 0.0), idx, axis=-1)
    xv, yv = vertex(x3, y3)
    return np.where(ok3, xv, eta[k]), np.where(ok3, yv, y3[..., 1]), ok3


def curve_extrema(tc: np.ndarray, status: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The kernel: dome maximum and antiresonance of every curve Tc(eta).

    ``tc``: K, (..., n); ``status``: store flags, (..., n); ``eta``: (n,) increasing. Returns
    (..., len(_OUT)) in the order of ``_OUT`` (Tc in K; flags and counts as floats).
    """
    tc = np.asarray(tc, dtype=float)
    status = np.asarray(status)
    eta = np.asarray(eta, dtype=float)
    n = eta.size
    ok = (status == STATUS_OK) & np.isfinite(tc) & (tc > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logt = np.where(ok, np.log(np.where(ok, tc, 1.0)), -np.inf)
    has = ok.any(-1)
    k = np.argmax(logt, axis=-1)
    eta_max, log_max, refined = _refine(eta, logt, k, ok)
    all_below = (status == STATUS_BELOW_FLOOR).all(-1)
    dome_flag = np.where(has, np.where(refined, 0, 1), np.where(all_below, 4, 2))
    eta_max = np.where(has, eta_max, np.nan)
    tc_max = np.where(has, np.exp(log_max), np.nan)

    side = np.arange(n) < k[..., None]
    below = side & (status == STATUS_BELOW_FLOOR) & has[..., None]
    any_below = below.any(-1)
    side_ok = side & ok
    m = np.argmin(np.where(side_ok, logt, np.inf), axis=-1)
    eta_a, log_a, refined_a = _refine(eta, -np.where(ok, logt, 0.0), m, ok)
    log_a = -log_a
    has_a = side_ok.any(-1)
    anti_flag = np.where(any_below, 2, np.where(has_a, np.where(refined_a, 0, 1), 3))
    eta_b = np.where(below, eta, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no below-floor point
        lo_b, hi_b = np.nanmin(eta_b, axis=-1), np.nanmax(eta_b, axis=-1)
    measured = has_a & ~any_below
    eta_anti = np.where(any_below, 0.5 * (lo_b + hi_b), np.where(measured, eta_a, np.nan))
    tc_anti = np.where(measured, np.exp(log_a), np.nan)
    lo = np.where(any_below, lo_b, eta_anti)
    hi = np.where(any_below, hi_b, eta_anti)
    # ok without a value: its tc chunk is gone (status and values are written separately)
    missing = ((status > STATUS_BELOW_FLOOR) | ((status == STATUS_OK) & ~np.isfinite(tc))).sum(-1)
    return np.stack([eta_max, tc_max, dome_flag, eta_anti, tc_anti, lo, hi, anti_flag, missing],
                    axis=-1).astype(float)


def _attrs(ds: xr.Dataset) -> dict[str, dict]:
    tcu, etau = ds[VAR_TC].attrs.get("units", "K"), ds["eta"].attrs.get("units", "1")
    return {
        "eta_max": {"units": etau, "long_name": "eta of the dome maximum (parabola vertex "
                                                "between grid points, or refined)"},
        "tc_max": {"units": tcu, "long_name": "maximum Tc over eta (parabola vertex between "
                                              "grid points, or refined)"},
        "dome_flag": {"units": "1", "long_name": "how the maximum was found",
                      "flag_values": np.arange(len(DOME_FLAGS), dtype=np.int8),
                      "flag_meanings": " ".join(DOME_FLAGS)},
        "eta_antiresonance": {"units": etau, "long_name": "eta of the antiresonance "
                                                          "(centre of the span if below floor)"},
        "tc_antiresonance": {"units": tcu, "long_name": "Tc at the antiresonance "
                                                        "(NaN if below the floor)"},
        "eta_antiresonance_lo": {"units": etau,
                                 "long_name": "lowest eta of the below-floor span"},
        "eta_antiresonance_hi": {"units": etau,
                                 "long_name": "highest eta of the below-floor span"},
        "antiresonance_flag": {"units": "1", "long_name": "how the antiresonance was found",
                               "flag_values": np.arange(len(ANTI_FLAGS), dtype=np.int8),
                               "flag_meanings": " ".join(ANTI_FLAGS)},
        "n_missing": {"units": "1", "long_name": "points pending, failed or missing their value "
                                                 "on the curve"},
        "tc_antiresonance_bound": {"units": tcu, "long_name": "upper bound of Tc at the "
                                                              "antiresonance"},
        "tc_max_bound": {"units": tcu, "long_name": "upper bound of the maximum Tc where "
                                                    "every point is below the floor"},
        "antiresonance_depth": {"units": "1", "long_name": "decades of Tc from the dome "
                                                           "maximum down to the antiresonance "
                                                           "(a lower bound unless refined)"},
    }


def t_floor_of(ds: xr.Dataset) -> float:
    """The temperature floor (K) the sweep ran with."""
    return float(store_mod.model_options(ds.attrs)["t_floor"])


def computed(res: xr.Dataset, *, points: int,
             max_computed: int = COMPUTED_MAX_POINTS) -> xr.Dataset:
    """``res`` computed when it was made from at most ``max_computed`` points (cheap, and a
    small result), else as it is (lazy where its input was)."""
    return res.compute() if points <= max_computed else res


def dome(ds: xr.Dataset, *, t_floor: float | None = None,
         max_computed: int = COMPUTED_MAX_POINTS) -> xr.Dataset:
    """Dome maximum and antiresonance of every curve Tc(eta).

    ``ds``: a sweep (or a slice of one) with ``tc`` (K) and ``status`` over eta. ``t_floor``:
    the solver's temperature floor, K (default: from the store's config). Returns a Dataset over
    the other dimensions with the variables of ``_OUT`` plus ``tc_antiresonance_bound`` (K),
    ``antiresonance_depth`` (decades) and ``tc_max_bound`` (K: the floor where every point of
    the curve is below it), each with ``units`` and ``long_name``: computed
    (NumPy-backed) from at most ``max_computed`` points of ``ds`` (:data:`COMPUTED_MAX_POINTS`),
    else lazy (dask) where ``ds`` is, to select or reduce before ``.compute()``.
    """
    dataset(ds)
    floor = t_floor_of(ds) if t_floor is None else float(t_floor)
    tc, status = ds[VAR_TC], ds[VAR_STATUS]
    if tc.chunks is not None:
        tc, status = tc.chunk({"eta": -1}), status.chunk({"eta": -1})
    out = xr.apply_ufunc(
        curve_extrema, tc, status, ds["eta"],
        input_core_dims=[["eta"], ["eta"], ["eta"]], output_core_dims=[["quantity"]],
        dask="parallelized", output_dtypes=[float],
        dask_gufunc_kwargs={"output_sizes": {"quantity": len(_OUT)}})
    res = xr.Dataset({name: out.isel(quantity=i, drop=True) for i, name in enumerate(_OUT)})
    for name in ("dome_flag", "antiresonance_flag"):
        res[name] = res[name].astype(np.int8)
    res["n_missing"] = res["n_missing"].astype(np.int64)
    attrs = _attrs(ds)
    for name in _OUT:
        res[name].attrs = attrs[name]
    refined = store_mod.VAR_REFINE_STATUS in ds
    if refined:
        res = apply_refined(res, ds)
    flag = res["antiresonance_flag"]
    res["tc_antiresonance_bound"] = xr.where(
        flag == ANTI_FLAGS.index("below_floor"), floor,
        xr.where(flag <= ANTI_FLAGS.index("at_grid_edge"), res["tc_antiresonance"], np.nan))
    res["antiresonance_depth"] = np.log10(res["tc_max"] / res["tc_antiresonance_bound"])
    res["tc_max_bound"] = xr.where(res["dome_flag"] == DOME_FLAGS.index("below_floor"), floor,
                                   np.nan)
    for name in ("tc_antiresonance_bound", "antiresonance_depth", "tc_max_bound"):
        res[name].attrs = attrs[name]
    res.attrs["t_floor_K"] = floor
    res.attrs["method"] = ("maxima and antiresonance minima: vertex of the parabola in log Tc "
                           "through the grid extremum and its two neighbours")
    if refined:
        how = store_mod.method_of(ds.attrs) or "fanodome refine"
        res.attrs["method"] = f"where refined (variable refined): {how}; elsewhere " + \
            res.attrs["method"]
    return computed(res, points=int(ds[VAR_TC].size), max_computed=max_computed)


def dome_top(d: xr.Dataset) -> xr.Dataset:
    """The top of each dome over (g, eta) picked from :func:`dome`'s result: the g with the
    highest ``tc_max``. Returns ``top_g``, ``top_eta``, ``top_tc`` (the store's names) over the
    remaining dimensions: computed where ``d`` is (:func:`dome` of a store of at most
    :data:`COMPUTED_MAX_POINTS` points), else lazy (built without indexing by computed
    positions, which dask cannot do)."""
    g_best = d["tc_max"].fillna(-1.0).idxmax("g")  # the first g of the highest tc_max
    at = d["g"] == g_best
    top_tc = d["tc_max"].where(at).sum("g", min_count=1)  # one value, or NaN (none found)
    top_eta = d["eta_max"].where(at).sum("g", min_count=1)
    top_g = g_best.where(top_tc.notnull())
    out = xr.Dataset({"top_g": top_g.drop_vars("g", errors="ignore"),
                      "top_eta": top_eta.drop_vars("g", errors="ignore"),
                      "top_tc": top_tc.drop_vars("g", errors="ignore")})
    out["top_g"].attrs = {"units": d["g"].attrs.get("units", "1"),
                          "long_name": "g at the top of the dome"}
    out["top_eta"].attrs = {"units": d["eta_max"].attrs.get("units", "1"),
                            "long_name": "eta at the top of the dome"}
    out["top_tc"].attrs = {"units": d["tc_max"].attrs.get("units", "K"),
                           "long_name": "Tc at the top of the dome"}
    return out


# ------------------------------------------------------------------------ refined numbers

_REFINED_VALUES = ("eta_max", "tc_max", "eta_antiresonance", "tc_antiresonance",
                   "eta_antiresonance_lo", "eta_antiresonance_hi")


def apply_refined(res: xr.Dataset, ds: xr.Dataset) -> xr.Dataset:
    """:func:`dome`'s grid values replaced by the store's refined numbers (``fanodome refine``,
    :mod:`sweep.refine`) on every refined curve. Adds ``refined`` (bool) and, where the store has
    thresholds, ``eta_window_lo``, ``eta_window_hi`` and ``window_status`` (dims ..., threshold).
    The flags keep their meanings: a refined maximum on the grid's first eta is
    ``at_grid_edge``, one followed to its upper bound of eta ``at_bound`` (a lower bound); an
    antiresonance followed to its bound ``at_grid_edge`` (an upper bound); below the floor
    ``below_floor`` with the refined interval."""
    status = ds[store_mod.VAR_REFINE_STATUS].astype(np.int64)
    done = flags.has(status, flags.DONE)
    out = res.copy()
    for name in _REFINED_VALUES:
        out[name] = xr.where(done, ds[name], res[name]).assign_attrs(res[name].attrs)
    below = DOME_FLAGS.index("below_floor")
    dome_flag = xr.where(
        flags.has(status, flags.NO_MAXIMUM),
        xr.where(res["dome_flag"] == below, below, DOME_FLAGS.index("none")),
        xr.where(flags.has(status, flags.MAX_AT_BOUND), DOME_FLAGS.index("at_bound"),
                 xr.where(flags.has(status, flags.MAX_AT_FIRST_ETA),
                          DOME_FLAGS.index("at_grid_edge"), DOME_FLAGS.index("interior"))))
    anti_flag = xr.where(
        flags.has(status, flags.ANTI_BELOW_FLOOR), ANTI_FLAGS.index("below_floor"),
        xr.where(flags.has(status, flags.NO_ANTIRESONANCE | flags.NO_MAXIMUM),
                 ANTI_FLAGS.index("none"),
                 xr.where(flags.has(status, flags.ANTI_AT_BOUND), ANTI_FLAGS.index("at_grid_edge"),
                          ANTI_FLAGS.index("interior"))))
    out["dome_flag"] = xr.where(done, dome_flag, res["dome_flag"]).astype(np.int8).assign_attrs(
        res["dome_flag"].attrs)
    out["antiresonance_flag"] = xr.where(done, anti_flag, res["antiresonance_flag"]).astype(
        np.int8).assign_attrs(res["antiresonance_flag"].attrs)
    out["refined"] = done.assign_attrs(units="1", long_name="refined with the solver "
                                                             "(else grid values)")
    out["outside_model"] = (done & flags.has(status, flags.MAX_OUTSIDE_MODEL)).assign_attrs(
        units="1", long_name="refined maximum above eta_up: outside the model")
    if "threshold" in ds.dims:
        for name in ("eta_window_lo", "eta_window_hi", "window_status"):
            out[name] = ds[name].where(done) if name != "window_status" else ds[name]
            out[name].attrs = dict(ds[name].attrs)
    return out


def refined_top(ds: xr.Dataset) -> xr.Dataset | None:
    """The store's refined top of each dome (``top_g``, ``top_eta``, ``top_tc``, ``top_status``)
    or None when the store has none."""
    if store_mod.VAR_TOP_STATUS not in ds:
        return None
    return ds[["top_g", "top_eta", "top_tc", store_mod.VAR_TOP_STATUS]]


def window_why(*, names: Sequence[str], refined: bool, tc_max: float | None) -> str | None:
    """Why a window Tc >= T* of one curve has no value or only a bound, in words that do not
    depend on T* (so that windows without a value for one reason share a line): its
    ``window_status`` flag ``names`` (:data:`sweep.flags.WINDOW_FLAGS`), whether the curve is
    refined, and its maximum (K); None for a window closed on both sides."""
    if not refined:
        return "the curve is not refined (its refine task is pending or failed)"
    if "below_threshold" in names:
        return ("the curve's maximum is below it" if tc_max is None else
                f"the curve's maximum is {tc_max:.5g} K")
    why = []
    if "open_below" in names:
        why.append("Tc >= T* down to the lowest eta searched (the antiresonance's bound): "
                   "eta_lo is that eta, an upper bound of the edge")
    if "open_above" in names:
        why.append("Tc >= T* up to the highest eta searched (where mu + omega~ meets the first "
                   "subband left out, or [refine] eta_max_bound): eta_hi is that eta, a lower "
                   "bound of the edge")
    return "; ".join(why) or None


def _windows_record(d: xr.Dataset) -> list[dict]:
    """The windows of one curve: ``{"threshold_K", "eta_lo", "eta_hi", "flags", "why"}``
    (``flags``: the names of its ``window_status``; ``why``: :func:`window_why`)."""
    if "eta_window_lo" not in d:
        return []
    refined = bool(d["refined"]) if "refined" in d else True
    out = []
    for k, t in enumerate(d["threshold"].values):
        status = int(d["window_status"].values[k]) if "window_status" in d else 0
        names = [n for n, bit in flags.WINDOW_FLAGS.items() if flags.has(status, bit)]
        out.append({"threshold_K": float(t), "eta_lo": _num(d["eta_window_lo"].values[k]),
                    "eta_hi": _num(d["eta_window_hi"].values[k]), "flags": names,
                    "why": window_why(names=names, refined=refined,
                                      tc_max=_num(d["tc_max"]) if "tc_max" in d else None)})
    return out


def eta_ups(one: xr.Dataset) -> np.ndarray:
    """eta_up (:func:`solver.relations.eta_up`) at each g of one dome (``one``: a sweep store
    at one (L, W, V, omega0)), from the energies the store holds: inf where it holds no
    ``E_left_out`` (laid out before fanodome kept it) or that is NaN (not bracketed), NaN where
    the structure is not computed yet."""
    g = np.asarray(one["g"].values, dtype=float)
    if VAR_E_LEFT_OUT not in one:
        return np.full(g.shape, np.inf)
    softening = bool(store_mod.model_options(one.attrs)["softening"])
    E_L, dE, left_out = (float(one[v]) for v in (VAR_E_L, VAR_DE, VAR_E_LEFT_OUT))
    return np.array([eta_up(E_L=E_L, dE=dE, E_left_out=left_out, omega0=float(one["omega0"]),
                            g=gg, softening=softening) for gg in g])


def _above(eta: float | None, up: float) -> bool:
    """Whether a grid maximum at ``eta`` lies above ``up`` (eta_up): outside the model."""
    return eta is not None and bool(eta > up)


def _top_record(d: xr.Dataset, tt: xr.Dataset, rt: xr.Dataset | None,
                up: np.ndarray) -> dict:
    """``top`` of a dome record: the refined top where there is one, else the best g's maximum
    over eta in ``d`` (one dome's :func:`dome`; ``tt``: its :func:`dome_top`). With one g in
    the store the top is that g's maximum, searched in eta only (``"searched_in_g": false``),
    never "on the edge" of a range that has none. ``at_g_edge``: on the first or last g;
    ``at_eta_bound``: its maximum over eta on a bound of eta (the grid's edge, or where a
    refinement stopped following it): Tc may be higher beyond, a lower bound.
    ``missing_points``: points of the dome not computed (pending, failed, lost): where there
    are any, the top is over the points that are, a lower bound. ``values``: the
    :data:`VALUES` word of the top's Tc (``refined``, else its g's maximum's).
    ``outside_model``: the top above eta_up: refined, its flag
    (:data:`sweep.flags.TOP_OUTSIDE_MODEL`), else its g's grid maximum above ``up[j]`` (eta_up
    at each g, :func:`eta_ups`). ``tc_upper_bound_K``: where every point of the dome is below
    the temperature floor, the floor (the top is below it), else None."""
    n_g = d.sizes["g"]
    missing = int(d["n_missing"].sum())
    if rt is not None and flags.has(int(rt[store_mod.VAR_TOP_STATUS]), flags.TOP_DONE) and \
            np.isfinite(float(rt["top_tc"])):
        status = int(rt[store_mod.VAR_TOP_STATUS])
        return {"g": _num(rt["top_g"]), "eta": _num(rt["top_eta"]), "tc_K": _num(rt["top_tc"]),
                "refined": True, "searched_in_g": n_g > 1,
                "at_g_edge": n_g > 1 and bool(flags.has(status, flags.TOP_AT_G_EDGE)),
                "at_eta_bound": bool(flags.has(status, flags.TOP_AT_ETA_BOUND)),
                "outside_model": bool(flags.has(status, flags.TOP_OUTSIDE_MODEL)),
                "missing_points": missing, "values": "refined", "tc_upper_bound_K": None}
    rec = {"g": _num(tt["top_g"]), "eta": _num(tt["top_eta"]), "tc_K": _num(tt["top_tc"]),
           "refined": False, "searched_in_g": n_g > 1, "at_g_edge": False,
           "at_eta_bound": False, "outside_model": False, "missing_points": missing,
           "values": "none", "tc_upper_bound_K": None}
    if bool((d["dome_flag"] == DOME_FLAGS.index("below_floor")).all()):
        rec.update(values="below_floor", tc_upper_bound_K=_num(d["tc_max_bound"].max()))
    if rec["g"] is not None:
        j = int(np.flatnonzero(d["g"].values == rec["g"])[0])
        flag = DOME_FLAGS[int(d["dome_flag"][j])]
        rec["at_g_edge"] = n_g > 1 and j in (0, n_g - 1)
        rec["at_eta_bound"] = flag in ("at_grid_edge", "at_bound")
        rec["values"] = values_word(dome_flag=flag, refined=False)
        rec["outside_model"] = _above(rec["eta"], up[j])
    return rec


# ------------------------------------------------------------------------------- reports

def _num(x) -> float | None:
    x = float(x)
    return None if not np.isfinite(x) else x


def _per_g_record(d: xr.Dataset, *, up: float) -> dict:
    """One curve's record (the ``per_g`` entries of ``fanodome dome --json``); ``up``: eta_up
    at its g (:func:`eta_ups`), which an unrefined maximum is compared with."""
    flag = ANTI_FLAGS[int(d["antiresonance_flag"])]
    refined = bool(d["refined"]) if "refined" in d else False
    rec = {"g": float(d["g"]), "eta_max": _num(d["eta_max"]), "tc_max_K": _num(d["tc_max"]),
           "eta_antiresonance": _num(d["eta_antiresonance"]),
           "tc_antiresonance_K": _num(d["tc_antiresonance"]),
           "dome": DOME_FLAGS[int(d["dome_flag"])], "antiresonance": flag,
           "tc_antiresonance_upper_bound_K": _num(d["tc_antiresonance_bound"]),
           "tc_max_upper_bound_K": _num(d["tc_max_bound"]),
           "antiresonance_depth_decades": _num(d["antiresonance_depth"]),
           "missing_points": int(d["n_missing"]), "refined": refined,
           "outside_model": bool(d["outside_model"]) if refined else
           _above(_num(d["eta_max"]), up),
           "eta_up": _num(up),
           "values": values_word(dome_flag=DOME_FLAGS[int(d["dome_flag"])], refined=refined),
           "windows": _windows_record(d)}
    if flag == "below_floor":
        rec["eta_antiresonance_range"] = [_num(d["eta_antiresonance_lo"]),
                                          _num(d["eta_antiresonance_hi"])]
    return rec


def gaps_at_top(ds: xr.Dataset, *, g_top: float | None) -> dict:
    """2 Delta_n / (k_B Tc) of each subband at the grid point of the top of one dome.

    ``ds``: one dome (a store's slice at one L, W, V, omega0) with ``delta`` (meV); ``g_top``:
    the g of the top (None: no top). The point is the grid maximum of Tc over eta at ``g_top``
    and the temperature the smallest stored ``T_over_tc``. Returns ``{"gap_ratios": [per
    subband, None where no value], "gap_point": {"g", "eta", "T_over_tc", "tc_K"}}``.
    """
    nb = ds.sizes["subband"]
    if g_top is None:
        return {"gap_ratios": [None] * nb, "gap_point": None}
    row = ds.sel(g=g_top)
    tc = np.asarray(row[VAR_TC].values, dtype=float)
    if np.all(np.isnan(tc)):
        return {"gap_ratios": [None] * nb, "gap_point": None}
    k = int(np.nanargmax(tc))
    r = float(ds["T_over_tc"].min())
    delta = np.asarray(row[VAR_DELTA].isel(eta=k).sel(T_over_tc=r).values, dtype=float)
    ratios = 2.0 * delta / (KB * tc[k])
    return {"gap_ratios": [_num(x) for x in ratios],
            "gap_point": {"g": float(g_top), "eta": float(ds["eta"][k]), "T_over_tc": r,
                          "tc_K": float(tc[k])}}


def iter_dome_records(ds: xr.Dataset, *, t_floor: float | None = None) -> Iterator[dict]:
    """The dome report one dome at a time; memory is one structure's (L, W, V) slab.

    Each record: ``{"L", "W", "V", "omega0", "per_g": [...], "top": {"g", "eta", "tc_K",
    "refined", "searched_in_g", "at_g_edge", "at_eta_bound", "outside_model",
    "missing_points", "values", "tc_upper_bound_K"}}``
    (Å, Å, meV, meV; Tc in K).
    Values that do not exist are None; see :func:`dome` for the flags. Each ``per_g`` entry
    says whether it is ``refined`` (the store's refined numbers, ``fanodome refine``), gives
    ``eta_up`` (:func:`eta_ups`; None where unbounded or unknown) and ``outside_model`` (its
    maximum above it: refined, the refinement's flag), what its maximum is (``values``: a word
    of :data:`VALUES`, :func:`values_word`) and lists its ``windows`` ``{"threshold_K",
    "eta_lo", "eta_hi", "flags", "why"}`` (``why``: why a value is None or a bound,
    :func:`window_why`); ``top`` is the refined top over (eta, g) where the store has one, else
    the best g's maximum (:func:`_top_record`). With gaps in the store, ``top`` also holds
    :func:`gaps_at_top`'s ``gap_ratios`` and ``gap_point`` (at the grid g of the top).
    """
    floor = t_floor_of(ds) if t_floor is None else float(t_floor)
    tops = refined_top(ds)
    for iL, iW, iV in itertools.product(*(range(ds.sizes[a]) for a in ("L", "W", "V"))):
        d = dome(ds.isel(L=iL, W=iW, V=iV), t_floor=floor).compute()
        top = dome_top(d)
        rtop = None if tops is None else tops.isel(L=iL, W=iW, V=iV).compute()
        for io in range(d.sizes["omega0"]):
            dd, tt = d.isel(omega0=io), top.isel(omega0=io)
            up = eta_ups(ds.isel(L=iL, W=iW, V=iV, omega0=io))
            per_g = [_per_g_record(dd.isel(g=j), up=up[j]) for j in range(dd.sizes["g"])]
            rec = {"L": float(dd["L"]), "W": float(dd["W"]), "V": float(dd["V"]),
                   "omega0": float(dd["omega0"]), "per_g": per_g,
                   "top": _top_record(dd, tt, None if rtop is None else rtop.isel(omega0=io),
                                      up)}
            if VAR_DELTA in ds:
                one = ds.isel(L=iL, W=iW, V=iV, omega0=io)[[VAR_TC, VAR_DELTA]]
                rec["top"].update(gaps_at_top(one, g_top=_num(tt["top_g"])))
            yield rec


def dome_report(ds: xr.Dataset, *, t_floor: float | None = None,
                on_dome: Callable[[], None] | None = None) -> dict:
    """``{"structures": [...], "units": {...}, "values_legend": {...}}``, one entry per dome
    (the key keeps its first name for the readers of ``fanodome dome --json``):
    :func:`iter_dome_records` gathered, ``on_dome()`` called after each; ``values_legend``:
    what each word of ``"values"`` means (:data:`VALUES`)."""
    dataset(ds)
    structures = []
    for rec in iter_dome_records(ds, t_floor=t_floor):
        structures.append(rec)
        if on_dome is not None:
            on_dome()
    return {"structures": structures,
            "values_legend": {k: v for k, v in VALUES.items() if k != "grid"},
            "units": {"L": ds["L"].attrs.get("units"), "W": ds["W"].attrs.get("units"),
                      "V": ds["V"].attrs.get("units"),
                      "omega0": ds["omega0"].attrs.get("units"),
                      "tc": ds[VAR_TC].attrs.get("units"), "eta": ds["eta"].attrs.get("units")}}


def dome_summary(ds: xr.Dataset, *, max_rows: int = 10,
                 g_targets: Sequence[tuple[float, str]] = PAPER_G) -> list[dict]:
    """The ``max_rows`` domes with the highest Tc, highest first, as ``fanodome run`` prints
    them: per dome the highest Tc (K) with its g and eta, and the highest Tc over eta at each
    target g (nearest grid g). Reads one dome at a time; keeps ``max_rows`` of them.

    Refined numbers where the store has them (``"refined": true``: the refined top over
    (eta, g), the refined maxima and their windows ``{"threshold_K", "eta_lo", "eta_hi",
    "flags", "why"}``), else grid values (``"refined": false``): the largest computed Tc, a
    lower bound of each maximum, never :func:`dome`'s vertex between grid points. ``"values"``
    says which: ``refined`` or ``grid`` (:data:`VALUES`). ``"at_edge"`` names the axes
    (``"g"``, ``"eta"``) on whose edge or bound the highest Tc lies (Tc may be higher beyond: a
    lower bound); each target g's entry says the same of its maximum over eta (``"at_edge":
    true``). The top and each target g's maximum say ``"outside_model"``: above eta_up
    (refined, the refinement's flags; else the grid value's eta above :func:`eta_ups`). A
    maximum without a value because every point of its curve (of the dome, for the highest Tc)
    is below the temperature floor carries ``"tc_max_upper_bound_K"``, the floor.
    Only targets the store's g grid resolves are listed (:func:`near_targets`); without any,
    the g of the highest Tc (``"g_target": null``).
    """
    ranked: list[tuple[float, int, dict]] = []
    combos = itertools.product(*(range(ds.sizes[a]) for a in DOME_AXES))
    for rank, (iL, iW, iV, io) in enumerate(combos):
        row = _summary_row(ds, iL=iL, iW=iW, iV=iV, io=io, g_targets=g_targets)
        top = -np.inf if row["tc_max_K"] is None else row["tc_max_K"]
        ranked.append((-top, rank, row))
        if len(ranked) > 4 * max_rows:  # memory bounded on stores of many domes
            ranked = sorted(ranked, key=lambda r: r[:2])[:max_rows]
    return [row for _, _, row in sorted(ranked, key=lambda r: r[:2])[:max_rows]]


def near_targets(g: np.ndarray, targets: Sequence[tuple[float, str]]) -> list[tuple[int, str]]:
    """(index into ``g``, label) of each target g the grid resolves: the nearest grid g lies
    within half the grid step around it (:data:`sweep.grid.GRID_MATCH_RTOL` with a single
    g), so a target is never labelled with a g far from it (1/4 with a store of g = 1/3)."""
    order = np.argsort(g)
    s = np.asarray(g, dtype=float)[order]
    best: dict[int, tuple[float, str]] = {}  # grid index -> (distance, label) of its nearest
    for target, label in targets:
        k = int(np.argmin(np.abs(s - target)))
        distance = abs(s[k] - target)
        ok = math.isclose(s[k], target, rel_tol=GRID_MATCH_RTOL)
        if s.size > 1:  # the step to the neighbour on the target's side (the other at an end)
            side = k + 1 if target >= s[k] else k - 1
            if not 0 <= side < s.size:
                side = 2 * k - side
            ok = ok or distance <= 0.5 * abs(s[side] - s[k])
        j = int(order[k])
        if ok and (j not in best or distance < best[j][0]):
            best[j] = (distance, label)
    kept = {label: j for j, (_, label) in best.items()}
    return [(kept[label], label) for _, label in targets if label in kept]


def _summary_row(ds: xr.Dataset, *, iL: int, iW: int, iV: int, io: int,
                 g_targets: Sequence[tuple[float, str]]) -> dict:
    """One dome's entry of :func:`dome_summary`."""
    g = ds["g"].values
    eta = ds["eta"].values
    has_refined = store_mod.has_refined(ds)
    one = ds.isel(L=iL, W=iW, V=iV, omega0=io)
    tc = np.asarray(one[VAR_TC].values, dtype=float)
    below = np.all(np.asarray(one[VAR_STATUS].values) == STATUS_BELOW_FLOOR, axis=-1)  # per g
    floor = t_floor_of(ds) if below.any() else None
    row = {"L": float(ds["L"][iL]), "W": float(ds["W"][iW]), "V": float(ds["V"][iV]),
           "omega0": float(ds["omega0"][io])}
    refined = has_refined and flags.has(int(one[store_mod.VAR_TOP_STATUS]), flags.TOP_DONE) and \
        bool(np.all(flags.has(np.asarray(one[store_mod.VAR_REFINE_STATUS].values), flags.DONE)))
    row["refined"] = refined
    row["values"] = "refined" if refined else "grid"

    def on_edge(i: int, n: int, axis: str) -> bool:
        """On the first or last value of ``axis``; one eta is its own edge (the maximum over
        eta is then a lower bound), one g is no range (the top is that g's)."""
        return (n > 1 or axis == "eta") and i in (0, n - 1)

    if refined:  # a store of one g has no g range whose edge the top could be on
        status = int(one[store_mod.VAR_TOP_STATUS])
        row.update(tc_max_K=_num(one["top_tc"]), g_at_max=_num(one["top_g"]),
                   eta_at_max=_num(one["top_eta"]),
                   at_edge=[a for a, f in (("g", flags.TOP_AT_G_EDGE),
                                           ("eta", flags.TOP_AT_ETA_BOUND))
                            if flags.has(status, f) and (a != "g" or g.size > 1)])
        row["outside_model"] = bool(flags.has(status, flags.TOP_OUTSIDE_MODEL))
    elif np.all(np.isnan(tc)):
        row.update(tc_max_K=None, g_at_max=None, eta_at_max=None, at_edge=[])
    else:
        j, k = np.unravel_index(int(np.nanargmax(tc)), tc.shape)
        row.update(tc_max_K=float(tc[j, k]), g_at_max=float(g[j]), eta_at_max=float(eta[k]),
                   at_edge=[a for a, i, n in (("g", j, g.size), ("eta", k, eta.size))
                            if on_edge(i, n, a)])
        up = eta_ups(one)
        row["outside_model"] = _above(row["eta_at_max"], up[j])
    row["at_g"] = []
    near = near_targets(g, g_targets)
    if not near:  # no target g in the store's range: the g of the highest Tc
        j_top = int(np.argmin(np.abs(g - row["g_at_max"]))) if row["g_at_max"] is not None \
            else 0
        near = [(j_top, None)]
    if row["tc_max_K"] is None and below.all():
        row["tc_max_upper_bound_K"] = floor
    for j, label in near:
        rec = {"g_target": label, "g": float(g[j])}
        if below[j]:
            rec["tc_max_upper_bound_K"] = floor
        if refined:
            c = one.isel(g=j)
            edge = flags.MAX_AT_BOUND | flags.MAX_AT_FIRST_ETA
            status = int(c[store_mod.VAR_REFINE_STATUS])
            rec.update(tc_max_K=_num(c["tc_max"]), eta=_num(c["eta_max"]),
                       at_edge=bool(flags.has(status, edge)),
                       outside_model=bool(flags.has(status, flags.MAX_OUTSIDE_MODEL)),
                       windows=_windows_record(c.compute()))
        elif np.all(np.isnan(tc[j])):
            rec.update(tc_max_K=None, eta=None, at_edge=False)
        else:
            k = int(np.nanargmax(tc[j]))
            rec.update(tc_max_K=float(tc[j, k]), eta=float(eta[k]),
                       at_edge=on_edge(k, eta.size, "eta"), outside_model=_above(eta[k], up[j]))
        row["at_g"].append(rec)
    return row
