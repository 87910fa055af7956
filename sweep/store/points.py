"""The zarr layout of a sweep's points: layout, task writes, progress counts.

The names of the data variables are exported as constants (:data:`VAR_TC`, :data:`VAR_STATUS`,
:data:`VAR_E_L`, :data:`VAR_DE`, :data:`VAR_DELTA`, :data:`VAR_MU_SHIFT`) and the other sweep
modules read a Dataset through them; the dimensions are the parameter names of
:mod:`solver.parameters` (:data:`sweep.grid.AXES`) plus :data:`GAP_DIMS`, used by name
throughout, as xarray users do. The root attributes are :mod:`sweep.store.common`'s.

Layout (zarr format 3, consolidated metadata; opens with ``xr.open_zarr``)::

    coordinates  L, W (Å), V, omega0 (meV), g, eta (1)
    tc       (L, W, V, omega0, g, eta) float64, K; NaN where status is not ok
    status   (L, W, V, omega0, g, eta) int8; flag_values and flag_meanings of
             :data:`sweep.flags.STATUS_NAMES` (ok below_floor failed pending); fill value
             pending
    E_L, dE  (L, W, V) float64, meV; Lifshitz energy and width of the resonant subband
    only with [outputs] gaps = true (:func:`solver.gaps.gaps_on_structure`):
    coordinates  subband (1..nbands), T_over_tc (1)
    delta    (L, W, V, omega0, g, eta, subband, T_over_tc) float64, meV; Fermi-surface
             average of Delta_n at T = T_over_tc * Tc; NaN where status is not ok or the
             subband has no Fermi surface
    mu_shift (L, W, V, omega0, g, eta, T_over_tc) float64, meV; mu - (E_L + eta dE) that
             the density equation asks for; NaN where status is not ok
    (chunked like tc along the sweep axes, whole along subband and T_over_tc)
    root attrs: config_toml, config_json (what --resume compares), model_defaults (JSON),
             fanodome_version, created (ISO 8601, UTC), failures (JSON list, see below)

The refined numbers (:mod:`sweep.store.refined`) are added beside these by a refinement.

``failures`` holds one record per task whose points are currently marked failed:
``{"chunk": [block indices], "region": {axis: [start, stop]}, "attempts": n,
"error": "...", "traceback": "...", "time": "..."}``; the ``status`` array is authoritative.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import dask.array as da
import numpy as np
import xarray as xr
import zarr

import solver.parameters
from solver.parameters import PARAMETERS

from ..config import package_version
from ..flags import STATUS_BELOW_FLOOR, STATUS_FAILED, STATUS_NAMES, STATUS_OK, STATUS_PENDING
from ..grid import AXES, STRUCTURE_AXES, ChunkPlan
from .common import (ATTR_CONFIG_JSON, StoreError, check_only_own_files, cut_short, damaged,
                     group, identity_mismatch, provenance, quiet)
from .common import check_can_start as _check_can_start

log = logging.getLogger(__name__)

VAR_TC = "tc"
VAR_STATUS = "status"
VAR_E_L = "E_L"
VAR_DE = "dE"
VAR_DELTA = "delta"
VAR_MU_SHIFT = "mu_shift"
"""Names of the data variables (see the layout above)."""

_COORD_ATTRS = {a: {"units": PARAMETERS[a].unit, "long_name": PARAMETERS[a].long_name}
                for a in AXES}

_VAR_ATTRS = {
    VAR_TC: {"units": "K", "long_name": "critical temperature"},
    VAR_STATUS: {"units": "1", "long_name": "status of the point",
                 "flag_values": np.array(list(STATUS_NAMES), dtype=np.int8),
                 "flag_meanings": " ".join(STATUS_NAMES.values())},
    VAR_E_L: {"units": "meV", "long_name": "Lifshitz energy (bottom of the resonant subband)"},
    VAR_DE: {"units": "meV", "long_name": "width of the resonant subband"},
}

_GAP_COORD_ATTRS = {
    "subband": {"units": "1", "long_name": "subband index (the highest is the resonant one)"},
    "T_over_tc": {"units": "1", "long_name": "temperature as a fraction of Tc"},
}

_GAP_VAR_ATTRS = {
    VAR_DELTA: {"units": "meV", "long_name": "Fermi-surface average of the gap Delta_n"},
    VAR_MU_SHIFT: {"units": "meV", "long_name": "shift of the chemical potential below Tc "
                                              "(density equation)"},
}

GAP_DIMS = ("subband", "T_over_tc")


def layout(*, store: str, axes: Mapping[str, tuple[float, ...]], plan: ChunkPlan,
           config_toml: str, config_json: str, storage_options: Mapping | None = None,
           gap_T_over_tc: tuple[float, ...] = (), nbands: int | None = None) -> None:
    """Write the metadata and coordinates of an empty sweep (every point pending).

    Replaces whatever sweep store is at ``store``. Data chunks are not written: unwritten
    chunks read as the fill values (NaN, pending). ``gap_T_over_tc`` (fractions of Tc) not
    empty: also ``delta`` and ``mu_shift`` over ``nbands`` subbands and those temperatures.
    """
    shape = tuple(plan.shape[a] for a in AXES)
    chunks = tuple(plan.chunk[a] for a in AXES)
    sshape = shape[:3]
    coords = {a: xr.Variable(a, np.asarray(axes[a], dtype=float), _COORD_ATTRS[a]) for a in AXES}
    # One dask chunk per variable: only metadata is written (compute=False), and the graph
    # stays one task whatever the grid size; zarr chunks come from the encoding.
    data = {
        VAR_TC: (AXES, da.full(shape, np.nan, dtype=np.float64, chunks=-1)),
        VAR_STATUS: (AXES, da.full(shape, STATUS_PENDING, dtype=np.int8, chunks=-1)),
        VAR_E_L: (STRUCTURE_AXES, da.full(sshape, np.nan, dtype=np.float64, chunks=-1)),
        VAR_DE: (STRUCTURE_AXES, da.full(sshape, np.nan, dtype=np.float64, chunks=-1)),
    }
    encoding = {
        VAR_TC: {"chunks": chunks, "fill_value": np.nan},
        VAR_STATUS: {"chunks": chunks, "fill_value": np.int8(STATUS_PENDING)},
        VAR_E_L: {"chunks": (1, 1, 1), "fill_value": np.nan},
        VAR_DE: {"chunks": (1, 1, 1), "fill_value": np.nan},
    }
    var_attrs = dict(_VAR_ATTRS)
    if gap_T_over_tc:
        if not nbands:
            raise ValueError("nbands is needed to lay out the gaps")
        gap = {"subband": np.arange(1, int(nbands) + 1),
               "T_over_tc": np.asarray(gap_T_over_tc, dtype=float)}
        for d, v in gap.items():
            coords[d] = xr.Variable(d, v, _GAP_COORD_ATTRS[d])
        nb, nt = gap["subband"].size, gap["T_over_tc"].size
        data[VAR_DELTA] = (AXES + GAP_DIMS,
                         da.full(shape + (nb, nt), np.nan, dtype=np.float64, chunks=-1))
        data[VAR_MU_SHIFT] = (AXES + ("T_over_tc",),
                            da.full(shape + (nt,), np.nan, dtype=np.float64, chunks=-1))
        encoding[VAR_DELTA] = {"chunks": chunks + (nb, nt), "fill_value": np.nan}
        encoding[VAR_MU_SHIFT] = {"chunks": chunks + (nt,), "fill_value": np.nan}
        var_attrs.update(_GAP_VAR_ATTRS)
    ds = xr.Dataset(data, coords=coords)
    for name, attrs in var_attrs.items():
        ds[name].attrs.update(attrs)
    ds.attrs.update({
        "title": "fanodome sweep: BPV multigap Tc over (L, W, V, omega0, g, eta)",
        "Conventions": "CF-1.10",
        **provenance(config_toml=config_toml, config_json=config_json,
                     model_defaults=solver.parameters.defaults(), version=package_version()),
    })
    with quiet():
        ds.to_zarr(store, compute=False, zarr_format=3, mode="w", consolidated=True,
                   encoding=encoding, storage_options=storage_options)
    log.info("laid out %s: %d points in %d chunks", store, plan.n_points, plan.n_chunks)


def check_resumable(store: str, *, identity: str,
                    storage_options: Mapping | None = None) -> None:
    """Raise :class:`StoreError` unless ``store`` is a sweep of exactly this config (its
    identity, :meth:`sweep.config.SweepConfig.identity`)."""
    g = group(store, mode="r", storage_options=storage_options)
    attrs = dict(g.attrs)
    if ATTR_CONFIG_JSON not in attrs:
        raise StoreError(f"{store}: not a fanodome sweep store (no config_json attribute)")
    for name in (VAR_TC, VAR_STATUS, VAR_E_L, VAR_DE):
        _array(g, name, store)
    if attrs[ATTR_CONFIG_JSON] != identity:
        raise identity_mismatch(store, have=attrs[ATTR_CONFIG_JSON], want=identity)


def check_replaceable(store: str) -> None:
    """Refuse to replace a local ``store`` (``--overwrite``) unless it is a sweep store holding
    nothing but its own zarr nodes (:func:`sweep.store.common.check_only_own_files`)."""
    from .refined import REFINE_VARS  # a refined store's nodes are the sweep's too

    check_only_own_files(store, attr=ATTR_CONFIG_JSON, kind="sweep",
                         names=set(AXES + GAP_DIMS + REFINE_VARS)
                         | {VAR_TC, VAR_STATUS, VAR_E_L, VAR_DE, VAR_DELTA, VAR_MU_SHIFT})


def check_can_start(store: str, *, identity: str, resume: bool, overwrite: bool,
                    storage_options: Mapping | None = None) -> None:
    """Refuse a sweep store conflict early: before any cluster starts, without writing
    anything (``--resume`` of another config or of nothing, an existing store without
    ``--resume`` or ``--overwrite``, a read-only URL, an overwrite of what is not ours)."""
    _check_can_start(store, identity=identity, resume=resume, overwrite=overwrite,
                     check_resumable=check_resumable, check_replaceable=check_replaceable,
                     storage_options=storage_options)


def plan_of(store: str, *, storage_options: Mapping | None = None) -> ChunkPlan:
    """The chunk plan the store was laid out with."""
    g = group(store, mode="r", storage_options=storage_options)
    status = g[VAR_STATUS]
    return ChunkPlan(shape=dict(zip(AXES, status.shape)),
                     block=dict(zip(AXES[3:], status.chunks[3:])))


def write_chunk(*, store: str, region: Mapping[str, slice], tc: np.ndarray, status: np.ndarray,
                E_L: float | None, dE: float | None, delta: np.ndarray | None = None,
                mu_shift: np.ndarray | None = None,
                storage_options: Mapping | None = None) -> None:
    """Write one chunk's results into its region; idempotent.

    ``tc`` (K) and ``status`` have the region's shape in (omega0, g, eta) order; ``E_L``,
    ``dE`` (meV) belong to the region's structure (None: left as they are). A store with gaps
    also takes ``delta`` (meV, that shape then subband, T_over_tc) and ``mu_shift`` (meV, that
    shape then T_over_tc). ``status`` is written last, so a chunk whose write was cut short
    still reads as pending (or failed) and is redone on resume.
    """
    shape6 = tuple(region[a].stop - region[a].start for a in AXES)
    ds = xr.Dataset({VAR_TC: (AXES, np.asarray(tc, dtype=np.float64).reshape(shape6))})
    if delta is not None:
        delta = np.asarray(delta, dtype=np.float64)
        ds[VAR_DELTA] = (AXES + GAP_DIMS, delta.reshape(shape6 + delta.shape[-2:]))
        mu_shift = np.asarray(mu_shift, dtype=np.float64)
        ds[VAR_MU_SHIFT] = (AXES + ("T_over_tc",),
                            mu_shift.reshape(shape6 + mu_shift.shape[-1:]))
    if E_L is not None:
        ds[VAR_E_L] = (STRUCTURE_AXES, np.full((1, 1, 1), E_L, dtype=np.float64))
    if dE is not None:
        ds[VAR_DE] = (STRUCTURE_AXES, np.full((1, 1, 1), dE, dtype=np.float64))
    kw = {"mode": "r+", "consolidated": True, "zarr_format": 3,
          "storage_options": storage_options}
    ds.to_zarr(store, region=dict(region), **kw)
    st = xr.Dataset({VAR_STATUS: (AXES, np.asarray(status, dtype=np.int8).reshape(shape6))})
    st.to_zarr(store, region=dict(region), **kw)


def write_failed(*, store: str, region: Mapping[str, slice],
                 storage_options: Mapping | None = None) -> None:
    """Mark every point of a region failed (tc and any gaps NaN).

    The structure's ``E_L`` and ``dE`` are left alone: other chunks of the same structure may
    have written them, and a failure marker must never erase a result."""
    shape3 = tuple(region[a].stop - region[a].start for a in AXES[3:])
    g = group(store, mode="r", storage_options=storage_options)
    gaps = {}
    if VAR_DELTA in g:
        nb, nt = g[VAR_DELTA].shape[-2:]
        gaps = {"delta": np.full(shape3 + (nb, nt), np.nan),
                "mu_shift": np.full(shape3 + (nt,), np.nan)}
    write_chunk(store=store, region=region, tc=np.full(shape3, np.nan),
                status=np.full(shape3, STATUS_FAILED, dtype=np.int8), E_L=None, dE=None,
                storage_options=storage_options, **gaps)


def _to_redo(status: np.ndarray, tc: np.ndarray) -> np.ndarray:
    """Points a run must (re)compute: pending, failed, or ok without a value (its ``tc`` chunk
    was lost: status and values are separate chunk files)."""
    return (status >= STATUS_FAILED) | ((status == STATUS_OK) & np.isnan(tc))


def chunks_to_do(store: str, plan: ChunkPlan, *,
                 storage_options: Mapping | None = None) -> Iterator[tuple[int, ...]]:
    """Block indices of the chunks holding any pending, failed or valueless ok point, lazily.

    Reads the status and tc arrays one structure at a time, so memory is one structure's slab.
    """
    g = group(store, mode="r", storage_options=storage_options)
    status, tc = _array(g, VAR_STATUS, store), _array(g, VAR_TC, store)
    c = plan.chunk
    for s in plan.structures():
        slab = _to_redo(_read(status, (s[0], s[1], s[2]), store),
                        _read(tc, (s[0], s[1], s[2]), store))
        for index in plan.chunks(structure=s):
            block = slab[index[3] * c["omega0"]:(index[3] + 1) * c["omega0"],
                         index[4] * c["g"]:(index[4] + 1) * c["g"],
                         index[5] * c["eta"]:(index[5] + 1) * c["eta"]]
            if block.any():
                yield index


def region_complete(store: str, *, region: Mapping[str, slice],
                    storage_options: Mapping | None = None) -> bool:
    """Whether every point of ``region`` (a slice per axis) is done (ok or below_floor)."""
    status = group(store, mode="r", storage_options=storage_options)[VAR_STATUS]
    return bool((np.asarray(status[tuple(region[a] for a in AXES)]) < STATUS_FAILED).all())


def status_counts(store: str, *, storage_options: Mapping | None = None) -> dict[str, int]:
    """Points by state: total, done (ok with a value, or below_floor), failed, pending, and of
    the pending, ``missing``: marked ok whose value is gone (a lost ``tc`` chunk; a resume
    recomputes them)."""
    g = group(store, mode="r", storage_options=storage_options)
    status, tc = _array(g, VAR_STATUS, store), _array(g, VAR_TC, store)
    n = max(STATUS_NAMES) + 1
    counts = np.zeros(n, dtype=np.int64)
    missing = 0
    for prefix in _slab_prefixes(status):
        st, t = _read(status, prefix, store), _read(tc, prefix, store)
        counts += np.bincount(st.ravel(), minlength=n)[:n]
        missing += int(np.count_nonzero((st == STATUS_OK) & np.isnan(t)))
    return {"total": int(counts.sum()),
            "done": int(counts[STATUS_OK] + counts[STATUS_BELOW_FLOOR]) - missing,
            "failed": int(counts[STATUS_FAILED]), "pending": int(counts[STATUS_PENDING]) + missing,
            "missing": missing}


SLAB_POINTS = 1 << 24
"""Most status values read at once when scanning a store (16 MiB of int8)."""


def _slab_prefixes(array: zarr.Array) -> Iterator[tuple[int, ...]]:
    """Indices along the leading axes that cut the array in slabs of at most about
    SLAB_POINTS values."""
    lead = 0
    inner = int(np.prod(array.shape))
    while lead < array.ndim - 1 and inner > SLAB_POINTS:
        inner //= array.shape[lead]
        lead += 1
    yield from np.ndindex(*array.shape[:lead])


def _array(g: zarr.Group, name: str, store: str) -> zarr.Array:
    """A variable of the store; :class:`StoreError` naming the store when it is not there (a
    layout cut short by a kill or a full disk)."""
    try:
        return g[name]
    except KeyError:
        raise cut_short(store, f"no {name!r}") from None


def _read(array: zarr.Array, prefix: tuple, store: str) -> np.ndarray:
    """``array[prefix]`` (all of it for ``()``); :class:`StoreError` naming the store when a
    chunk cannot be decoded."""
    try:
        return np.asarray(array[prefix] if prefix else array[...])
    except (ValueError, TypeError, RuntimeError, OSError) as err:
        chunk = _bad_chunk(array, prefix)
        raise damaged(store, f"its chunk {chunk or array.name.strip('/')} cannot be decoded "
                             f"({type(err).__name__}: {str(err)[:200]})",
                      otherwise="delete that file: its points then count as pending and "
                                "--resume recomputes them") from None


def _bad_chunk(array: zarr.Array, prefix: tuple) -> str | None:
    """The key of the first chunk under ``prefix`` that cannot be decoded (``status/c/0/...``),
    None if every one reads now."""
    lead = tuple(i // c for i, c in zip(prefix, array.chunks))
    for rest in np.ndindex(*array.cdata_shape[len(lead):]):
        index = lead + rest
        try:
            array.blocks[index]
        except (ValueError, TypeError, RuntimeError, OSError):
            key = array.metadata.encode_chunk_key(index)
            return f"{array.path}/{key}" if array.path else key
    return None
