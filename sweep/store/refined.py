"""The zarr layout of the refined numbers, added to a sweep store beside its points.

Written by a refinement (:mod:`sweep.refine`)::

    coordinate  threshold (K)                        when [refine] thresholds are given
    per curve   (L, W, V, omega0, g): eta_max, tc_max (K), eta_antiresonance,
                tc_antiresonance (K), eta_antiresonance_lo/hi, refine_status (int16, CF
                flag_masks of :data:`sweep.flags.CURVE_FLAGS`; 0 = pending),
                refine_evaluations, refine_evaluations_max (solver evaluations: all searches /
                the maximum's)
    per window  (L, W, V, omega0, g, threshold): eta_window_lo, eta_window_hi, window_status
                (int8, CF flag_masks of :data:`sweep.flags.WINDOW_FLAGS`)
    per dome    (L, W, V, omega0): top_g, top_eta, top_tc (K), top_status (int8, CF flag_masks
                of :data:`sweep.flags.TOP_FLAGS`; 0 = pending), top_evaluations
    root attrs  refine_settings (JSON of RefineSettings.to_dict() plus curves_per_task),
                refine_method, refine_failures (JSON list, like ``failures``)

Chunks: one block of ``curves_per_task`` g per (L, W, V, omega0), whole along threshold; a
top per chunk. Every task writes its own region, statuses last, and every chunk of it, those
holding only fill values too (``write_empty_chunks``): a chunk file that is absent where the
status says done was lost, and its curves or top count as pending (:func:`lost_refined`).
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import zarr

from ..flags import CURVE_FLAGS, DONE, TOP_DONE, TOP_FLAGS, WINDOW_FLAGS
from ..grid import CURVE_AXES, DOME_AXES
from .common import (ATTR_REFINE_FAILURES, ATTR_REFINE_METHOD, ATTR_REFINE_SETTINGS,
                     TEMPLATE_CHUNKS_IN_MEMORY, access, consolidate, group, open_dataset, quiet,
                     template, written_chunks)

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger(__name__)

VAR_REFINE_STATUS = "refine_status"
VAR_TOP_STATUS = "top_status"
VAR_WINDOW_STATUS = "window_status"
"""Names of the refined numbers' status variables (see the layout above)."""

_REFINE_CURVE_VARS = {
    "eta_max": ("f8", {"units": "1", "long_name": "eta of the maximum of Tc(eta) (refined)"}),
    "tc_max": ("f8", {"units": "K", "long_name": "maximum of Tc over eta (refined)"}),
    "eta_antiresonance": ("f8", {"units": "1", "long_name": "eta of the antiresonance "
                                 "(refined; centre of the interval if below the floor)"}),
    "tc_antiresonance": ("f8", {"units": "K", "long_name": "Tc at the antiresonance (refined; "
                                "NaN if below the floor)"}),
    "eta_antiresonance_lo": ("f8", {"units": "1", "long_name": "lowest eta of the interval "
                                    "below the temperature floor"}),
    "eta_antiresonance_hi": ("f8", {"units": "1", "long_name": "highest eta of the interval "
                                    "below the temperature floor"}),
    "refine_evaluations": ("i4", {"units": "1", "long_name": "solver evaluations of the "
                                  "refinement of the curve"}),
    "refine_evaluations_max": ("i4", {"units": "1", "long_name": "solver evaluations of the "
                                      "search for the maximum"}),
    "refine_status": ("i2", {"units": "1", "long_name": "refinement of the curve"}),
}

_REFINE_WINDOW_VARS = {
    "eta_window_lo": ("f8", {"units": "1", "long_name": "lowest eta of the window Tc >= T*"}),
    "eta_window_hi": ("f8", {"units": "1", "long_name": "highest eta of the window Tc >= T*"}),
    "window_status": ("i1", {"units": "1", "long_name": "window Tc >= T*"}),
}

_REFINE_TOP_VARS = {
    "top_g": ("f8", {"units": "1", "long_name": "g at the top of the dome (refined, within "
                     "the store's g range)"}),
    "top_eta": ("f8", {"units": "1", "long_name": "eta at the top of the dome (refined)"}),
    "top_tc": ("f8", {"units": "K", "long_name": "Tc at the top of the dome (refined)"}),
    "top_evaluations": ("i4", {"units": "1", "long_name": "solver evaluations of the top"}),
    "top_status": ("i1", {"units": "1", "long_name": "refinement of the top of the dome"}),
}

REFINE_VARS = (tuple(_REFINE_CURVE_VARS) + tuple(_REFINE_WINDOW_VARS) + tuple(_REFINE_TOP_VARS)
               + ("threshold",))

FLAG_VARS = {VAR_REFINE_STATUS: CURVE_FLAGS, VAR_WINDOW_STATUS: WINDOW_FLAGS,
             VAR_TOP_STATUS: TOP_FLAGS}
"""The flags each status variable's ``flag_masks`` and ``flag_meanings`` list."""


def _fill_value(dtype: str):
    """The fill value of a refined variable: NaN for numbers, 0 (pending) for counts and flags."""
    return np.nan if dtype == "f8" else np.dtype(dtype).type(0)


def has_refined(ds: xr.Dataset) -> bool:
    """Whether the Dataset of a store holds refined numbers (curves and tops)."""
    return VAR_REFINE_STATUS in ds and VAR_TOP_STATUS in ds


def method_of(attrs: Mapping) -> str | None:
    """How the store's refined numbers were computed (a paragraph), None if not refined."""
    return attrs.get(ATTR_REFINE_METHOD)


def refine_settings_of(attrs: Mapping) -> dict | None:
    """The refine settings a store's refined numbers were made with (None: not refined)."""
    text = attrs.get(ATTR_REFINE_SETTINGS)
    return None if text is None else json.loads(text)


def layout_refine(*, store: str, settings: Mapping, curves_per_task: int, method: str,
                  storage_options: Mapping | None = None) -> None:
    """Add the refined numbers' variables (all pending) to a sweep store, replacing any from
    other settings. ``settings``: JSON-able, with ``thresholds`` (K); ``method``: a paragraph on
    how the numbers are computed.

    ``refine_settings`` is removed first and written last: a store that has it holds the whole
    layout, whatever moment a killed process stopped at
    (:func:`sweep.store.points.repair_consolidated` then restores the metadata index).
    """
    import xarray as xr  # the template only: tasks read and write with zarr

    g = group(store, mode="r+", storage_options=storage_options)
    for key in (ATTR_REFINE_SETTINGS, ATTR_REFINE_FAILURES, ATTR_REFINE_METHOD):
        if key in g.attrs:
            del g.attrs[key]
    consolidate(g)
    for name in REFINE_VARS:
        if name in g:
            del g[name]
    consolidate(g)
    ds = open_dataset(store, storage_options=storage_options, dask=False)
    sizes = {d: ds.sizes[d] for d in CURVE_AXES}
    thresholds = np.asarray(settings["thresholds"], dtype=float)
    coords = {d: ds[d].variable for d in CURVE_AXES}
    cpt = max(1, min(int(curves_per_task), sizes["g"]))
    domes = int(np.prod([sizes[d] for d in DOME_AXES]))
    lazy = domes * (-(-sizes["g"] // cpt) + 1) > TEMPLATE_CHUNKS_IN_MEMORY  # see layout
    data, encoding = {}, {}

    def add(name, dims, dtype, attrs, chunks):
        shape = tuple(sizes[d] for d in dims)
        data[name] = xr.Variable(dims, template(shape, _fill_value(dtype), dtype, lazy=lazy),
                                 dict(attrs))
        flags = FLAG_VARS.get(name)
        if flags is not None:
            data[name].attrs.update(flag_masks=np.array(list(flags.values()), dtype=dtype),
                                    flag_meanings=" ".join(flags))
        encoding[name] = {"chunks": chunks, "fill_value": _fill_value(dtype)}

    curve_chunks = (1, 1, 1, 1, cpt)
    for name, (dtype, attrs) in _REFINE_CURVE_VARS.items():
        add(name, CURVE_AXES, dtype, attrs, curve_chunks)
    if thresholds.size:
        coords["threshold"] = xr.Variable("threshold", thresholds, {
            "units": "K", "long_name": "temperature T* of the window Tc >= T*"})
        sizes["threshold"] = thresholds.size
        for name, (dtype, attrs) in _REFINE_WINDOW_VARS.items():
            add(name, CURVE_AXES + ("threshold",), dtype, attrs,
                curve_chunks + (thresholds.size,))
    for name, (dtype, attrs) in _REFINE_TOP_VARS.items():
        add(name, DOME_AXES, dtype, attrs, (1, 1, 1, 1))
    refined = xr.Dataset(data, coords=coords)
    refined.attrs.update(dict(g.attrs))  # an append rewrites the root attributes: carry them
    with quiet():
        refined.to_zarr(store, mode="a", compute=not lazy, zarr_format=3, consolidated=True,
                        encoding=encoding, storage_options=storage_options)
    g = group(store, mode="r+", storage_options=storage_options)
    g.attrs.update({ATTR_REFINE_FAILURES: "[]", ATTR_REFINE_METHOD: method})
    g.attrs[ATTR_REFINE_SETTINGS] = json.dumps(dict(settings, curves_per_task=cpt),
                                               sort_keys=True)
    consolidate(g)
    log.info("laid out the refined numbers in %s", store)


def lost_refined(g: zarr.Group) -> tuple[np.ndarray, np.ndarray]:
    """The curves (L, W, V, omega0, g) and the dome tops (L, W, V, omega0) of a refined store's
    group ``g`` whose status says done but one of whose variables lost its chunk file (a task
    writes every chunk of its region): boolean masks, all False where the store cannot list
    its files (plain HTTP)."""
    status = g[VAR_REFINE_STATUS]
    top = g[VAR_TOP_STATUS]
    curves = np.zeros(status.shape, dtype=bool)
    domes = np.zeros(top.shape, dtype=bool)
    names = [n for n in (*_REFINE_CURVE_VARS, *_REFINE_WINDOW_VARS, *_REFINE_TOP_VARS)
             if n not in FLAG_VARS or n == VAR_WINDOW_STATUS]
    block_lost = np.zeros(status.cdata_shape, dtype=bool)
    top_lost = np.zeros(top.cdata_shape, dtype=bool)
    for name in names:
        if name not in g:
            continue
        written = written_chunks(g[name])
        if written is None:
            return curves, domes
        if name in _REFINE_TOP_VARS:
            top_lost |= ~written
        else:  # a window variable's chunk is whole along threshold: one per block
            block_lost |= ~written.reshape(written.shape[:5])
    block = status.chunks[-1]
    if block_lost.any():
        per_curve = np.repeat(block_lost, block, axis=-1)[..., :status.shape[-1]]
        curves = per_curve & ((np.asarray(status[...]) & DONE) != 0)
    if top_lost.any():
        domes = top_lost & ((np.asarray(top[...]) & TOP_DONE) != 0)
    return curves, domes


def refine_plan(store: str, *, storage_options: Mapping | None = None) -> dict:
    """What is left to refine: ``{"curves": [(iL, iW, iV, io, g_start, g_stop)], "domes":
    [(iL, iW, iV, io)], "block": curves per task}``; blocks with a pending or failed curve (or
    one that lost a chunk file), domes whose top is pending, failed or lost and whose curves
    are all done."""
    g = group(store, mode="r", storage_options=storage_options)
    lost_curves, lost_domes = lost_refined(g)
    status = np.where(lost_curves, 0, np.asarray(g[VAR_REFINE_STATUS][...]))
    top = np.where(lost_domes, 0, np.asarray(g[VAR_TOP_STATUS][...]))
    block = int(g[VAR_REFINE_STATUS].chunks[-1])
    curves, domes = [], []
    n_g = status.shape[-1]
    for idx in np.ndindex(*status.shape[:-1]):
        row = status[idx]
        blocks = [(s, min(s + block, n_g)) for s in range(0, n_g, block)]
        todo = [(s, e) for s, e in blocks if np.any((row[s:e] & DONE) == 0)]
        curves.extend(idx + b for b in todo)
        if not todo and (top[idx] & TOP_DONE) == 0:
            domes.append(idx)
    return {"curves": curves, "domes": domes, "block": block}


def without_lost(ds: xr.Dataset, store: str, *,
                 storage_options: Mapping | None = None) -> xr.Dataset:
    """``ds`` (the store's Dataset) with the curves and tops that lost a chunk file
    (:func:`lost_refined`) marked pending in ``refine_status`` and ``top_status``, so that no
    reader takes their fill values for refined numbers."""
    import xarray as xr

    if not has_refined(ds):
        return ds
    curves, domes = lost_refined(group(store, mode="r", storage_options=storage_options))
    if not (curves.any() or domes.any()):
        return ds
    log.warning("%s: %d refined curves and %d dome tops lost a chunk file; they count as "
                "pending (fanodome refine computes them again)", store, int(curves.sum()),
                int(domes.sum()))
    out = ds.copy()
    for name, lost in ((VAR_REFINE_STATUS, curves), (VAR_TOP_STATUS, domes)):
        var = ds[name]
        out[name] = var.where(~xr.DataArray(lost, dims=var.dims), 0).astype(var.dtype)
        out[name].attrs = dict(var.attrs)
        out[name].encoding = dict(var.encoding)
    return out


def write_refined_curves(*, store: str, region: Mapping[str, slice], values: Mapping,
                         top: Mapping | None = None,
                         storage_options: Mapping | None = None) -> None:
    """Write a block of refined curves (arrays of the region's shape, plus threshold for the
    window variables), and with ``top`` the top of their dome (as :func:`write_top`'s
    ``values``) in the same trip; ``top_status``, then ``refine_status`` last, so a cut write
    reads as pending and a write that fails has not marked the curves refined (their failure
    flag, written next, must not erase refined curves). The region is whole chunks of the
    refined variables (one block of curves)."""
    where = tuple(region[d] for d in CURVE_AXES)
    write = [(name, where, value) for name, value in values.items()
             if name != VAR_REFINE_STATUS]
    then = []
    if top is not None:
        top_write, then = _top_regions(region, top)
        write = write + top_write
    access(store, write=write, then=then,
           last=[(VAR_REFINE_STATUS, where, values[VAR_REFINE_STATUS])],
           storage_options=storage_options)


def write_top(*, store: str, region: Mapping[str, slice], values: Mapping,
              storage_options: Mapping | None = None) -> None:
    """Write the top of one dome (scalars); ``top_status`` last."""
    write, then = _top_regions(region, values)
    access(store, write=write, then=then, storage_options=storage_options)


def _top_regions(region: Mapping[str, slice], values: Mapping) -> tuple[list, list]:
    """The regions of :func:`access` that write the top ``values`` of the dome of ``region``:
    (every variable but ``top_status``, ``top_status``)."""
    where = tuple(region[d] for d in DOME_AXES)
    return ([(name, where, np.full((1, 1, 1, 1), value))
             for name, value in values.items() if name != VAR_TOP_STATUS],
            [(VAR_TOP_STATUS, where, np.full((1, 1, 1, 1), values[VAR_TOP_STATUS]))])


def read_dome_maxima(store: str, *, index: tuple[int, int, int, int],
                     storage_options: Mapping | None = None
                     ) -> tuple[np.ndarray, ...]:
    """The refined maxima of dome ``index`` (iL, iW, iV, io): g (n_g), eta_max (n_g), tc_max
    (K, n_g), their ``refine_status`` (n_g) and the store's eta grid."""
    g, eta_max, tc_max, status, eta = access(
        store, read=[("g", (), None), ("eta_max", tuple(index), None),
                     ("tc_max", tuple(index), None), (VAR_REFINE_STATUS, tuple(index), None),
                     ("eta", (), None)], storage_options=storage_options)
    return (*(np.asarray(v, dtype=float) for v in (g, eta_max, tc_max)), np.asarray(status),
            np.asarray(eta, dtype=float))


def write_refine_failed(*, store: str, region: Mapping[str, slice], flag: int,
                        storage_options: Mapping | None = None) -> None:
    """Mark a block of curves failed (``flag``), its refined numbers NaN."""
    n = region["g"].stop - region["g"].start
    g = group(store, mode="r", storage_options=storage_options)
    values = {k: np.full((1, 1, 1, 1, n), _fill_value(dt), dtype=dt)
              for k, (dt, _) in _REFINE_CURVE_VARS.items()}
    values[VAR_REFINE_STATUS] = np.full((1, 1, 1, 1, n), flag, dtype=np.int16)
    if "threshold" in g:
        nt = g["threshold"].shape[0]
        values.update({k: np.full((1, 1, 1, 1, n, nt), _fill_value(dt), dtype=dt)
                       for k, (dt, _) in _REFINE_WINDOW_VARS.items()})
    write_refined_curves(store=store, region=region, values=values,
                         storage_options=storage_options)
