"""The zarr layout of a sweep's points: layout, task writes, progress counts.

The names of the data variables are exported as constants (:data:`VAR_TC`, :data:`VAR_STATUS`,
:data:`VAR_E_L`, :data:`VAR_DE`, :data:`VAR_E_LEFT_OUT`, :data:`VAR_DELTA`,
:data:`VAR_MU_SHIFT`) and the other sweep
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
    E_left_out (L, W, V) float64, meV; bottom of the first subband the model leaves out (NaN:
             not bracketed, or a store laid out before it was kept); with E_L, dE and the
             cut-off it gives eta_up (:func:`solver.relations.eta_up`)
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

import itertools
import logging
from collections.abc import Iterator, Mapping

import numpy as np
import zarr

import solver.parameters
from solver.parameters import PARAMETERS

from ..addresses import is_read_only_url
from ..config import package_version
from ..flags import STATUS_BELOW_FLOOR, STATUS_FAILED, STATUS_NAMES, STATUS_OK, STATUS_PENDING
from ..grid import AXES, STRUCTURE_AXES, ChunkPlan
from .common import (ATTR_CONFIG_JSON, TEMPLATE_CHUNKS_IN_MEMORY, IndexMissing, StoreError,
                     access, check_only_own_files, consolidate, cut_short, damaged, group,
                     identity_mismatch, provenance, quiet, template, written_chunks)
from .common import check_can_start as _check_can_start

log = logging.getLogger(__name__)

VAR_TC = "tc"
VAR_STATUS = "status"
VAR_E_L = "E_L"
VAR_DE = "dE"
VAR_E_LEFT_OUT = "E_left_out"
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
    VAR_E_LEFT_OUT: {"units": "meV",
                     "long_name": "bottom of the first subband the model leaves out"},
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
    import xarray as xr  # the template only: counting and writing need zarr alone

    shape = tuple(plan.shape[a] for a in AXES)
    chunks = tuple(plan.chunk[a] for a in AXES)
    sshape = shape[:3]
    coords = {a: xr.Variable(a, np.asarray(axes[a], dtype=float), _COORD_ATTRS[a]) for a in AXES}
    # Only metadata is written: a dask template of one chunk per variable (compute=False,
    # one task whatever the grid size) on large grids, a NumPy view of fill values on small
    # ones (no chunk written either, and no import of dask.array); zarr chunks come from the
    # encoding.
    lazy = plan.n_chunks > TEMPLATE_CHUNKS_IN_MEMORY

    def fill(shape_, value, dtype):
        return template(shape_, value, dtype, lazy=lazy)

    data = {
        VAR_TC: (AXES, fill(shape, np.nan, np.float64)),
        VAR_STATUS: (AXES, fill(shape, STATUS_PENDING, np.int8)),
        VAR_E_L: (STRUCTURE_AXES, fill(sshape, np.nan, np.float64)),
        VAR_DE: (STRUCTURE_AXES, fill(sshape, np.nan, np.float64)),
        VAR_E_LEFT_OUT: (STRUCTURE_AXES, fill(sshape, np.nan, np.float64)),
    }
    encoding = {
        VAR_TC: {"chunks": chunks, "fill_value": np.nan},
        VAR_STATUS: {"chunks": chunks, "fill_value": np.int8(STATUS_PENDING)},
        VAR_E_L: {"chunks": (1, 1, 1), "fill_value": np.nan},
        VAR_DE: {"chunks": (1, 1, 1), "fill_value": np.nan},
        VAR_E_LEFT_OUT: {"chunks": (1, 1, 1), "fill_value": np.nan},
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
        data[VAR_DELTA] = (AXES + GAP_DIMS, fill(shape + (nb, nt), np.nan, np.float64))
        data[VAR_MU_SHIFT] = (AXES + ("T_over_tc",), fill(shape + (nt,), np.nan, np.float64))
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
        ds.to_zarr(store, compute=not lazy, zarr_format=3, mode="w", consolidated=True,
                   encoding=encoding, storage_options=storage_options)
    log.info("laid out %s: %d points in %d chunks", store, plan.n_points, plan.n_chunks)


def add_E_left_out(store: str, *, storage_options: Mapping | None = None) -> bool:
    """Add :data:`VAR_E_LEFT_OUT` (all NaN) to a sweep store laid out before it was kept, so
    that a resume writes it for the structures it computes; returns whether it had to."""
    import xarray as xr  # the template only

    g = group(store, mode="r", storage_options=storage_options)
    if VAR_E_LEFT_OUT in g:
        return False
    shape = g[VAR_E_L].shape
    var = xr.Variable(STRUCTURE_AXES, np.full(shape, np.nan), dict(_VAR_ATTRS[VAR_E_LEFT_OUT]))
    added = xr.Dataset({VAR_E_LEFT_OUT: var})
    added.attrs.update(dict(g.attrs))  # an append rewrites the root attributes: carry them
    with quiet():
        added.to_zarr(store, mode="a", zarr_format=3, consolidated=True,
                      encoding={VAR_E_LEFT_OUT: {"chunks": (1,) * len(shape),
                                                 "fill_value": np.nan}},
                      storage_options=storage_options)
    log.info("%s: added %s (laid out before fanodome kept it)", store, VAR_E_LEFT_OUT)
    return True


def repair_consolidated(store: str, *, storage_options: Mapping | None = None) -> bool:
    """Restore the consolidated metadata of a store whose metadata a killed process was
    changing (adding the refined numbers); returns whether it had to. A sweep's layout cut
    short (its points' arrays not all there) is left as it is, for the refusal that says so."""
    try:
        group(store, mode="r", storage_options=storage_options)
        return False
    except IndexMissing:
        pass
    g = zarr.open_group(store, mode="r+", zarr_format=3, use_consolidated=False,
                        storage_options=storage_options)
    if not all(name in g for name in (VAR_TC, VAR_STATUS)):
        return False
    consolidate(g)
    log.warning("%s: metadata index restored (a process was cut short while changing it)",
                store)
    return True


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
                         | {VAR_TC, VAR_STATUS, VAR_E_L, VAR_DE, VAR_E_LEFT_OUT, VAR_DELTA,
                            VAR_MU_SHIFT})


def check_can_start(store: str, *, identity: str, resume: bool, overwrite: bool,
                    storage_options: Mapping | None = None) -> None:
    """Refuse a sweep store conflict early: before any cluster starts, without writing
    anything (``--resume`` of another config or of nothing, an existing store without
    ``--resume`` or ``--overwrite``, an explore store, a read-only URL, an overwrite
    of what is not ours)."""
    _check_can_start(store, kind="sweep", identity=identity, resume=resume,
                     overwrite=overwrite, check_resumable=check_resumable,
                     check_replaceable=check_replaceable, storage_options=storage_options)


def plan_of(store: str, *, storage_options: Mapping | None = None) -> ChunkPlan:
    """The chunk plan the store was laid out with."""
    g = group(store, mode="r", storage_options=storage_options)
    status = g[VAR_STATUS]
    return ChunkPlan(shape=dict(zip(AXES, status.shape)),
                     block=dict(zip(AXES[3:], status.chunks[3:])))


def write_chunk(*, store: str, region: Mapping[str, slice], tc: np.ndarray, status: np.ndarray,
                E_L: float | None, dE: float | None, E_left_out: float | None = None,
                delta: np.ndarray | None = None, mu_shift: np.ndarray | None = None,
                storage_options: Mapping | None = None) -> None:
    """Write one chunk's results into its region; idempotent.

    ``tc`` (K) and ``status`` have the region's shape in (omega0, g, eta) order; ``E_L``,
    ``dE``, ``E_left_out`` (meV) belong to the region's structure (None: left as they are;
    the store has ``E_left_out`` once :func:`layout` or :func:`add_E_left_out` made it). A
    store with gaps
    also takes ``delta`` (meV, that shape then subband, T_over_tc) and ``mu_shift`` (meV, that
    shape then T_over_tc). ``status`` is written last, so a chunk whose write was cut short
    still reads as pending (or failed) and is redone on resume. The region is whole store
    chunks: each chunk file is written once, by one task, with zarr (:func:`access`: the values
    at once, then the status).
    """
    where = tuple(region[a] for a in AXES)
    shape6 = tuple(s.stop - s.start for s in where)
    values = [(VAR_TC, where, np.asarray(tc, dtype=np.float64).reshape(shape6))]
    if delta is not None:
        delta = np.asarray(delta, dtype=np.float64)
        mu_shift = np.asarray(mu_shift, dtype=np.float64)
        values += [(VAR_DELTA, where, delta.reshape(shape6 + delta.shape[-2:])),
                   (VAR_MU_SHIFT, where, mu_shift.reshape(shape6 + mu_shift.shape[-1:]))]
    values += [(name, where[:3], np.full((1, 1, 1), value, dtype=np.float64))
                for name, value in ((VAR_E_L, E_L), (VAR_DE, dE), (VAR_E_LEFT_OUT, E_left_out))
                if value is not None]
    access(store, write=values, then=[(VAR_STATUS, where, np.asarray(
        status, dtype=np.int8).reshape(shape6))], storage_options=storage_options)


def coordinates(store: str, names, *, storage_options: Mapping | None = None
                ) -> dict[str, np.ndarray]:
    """The values of the store's coordinates ``names`` (e.g. :data:`sweep.grid.DOME_AXES`)."""
    names = list(names)
    values = access(store, read=[(name, (), None) for name in names],
                    storage_options=storage_options)
    return {name: np.asarray(v) for name, v in zip(names, values)}


def read_curves(store: str, *, index: tuple[int, int, int, int], g: slice,
                storage_options: Mapping | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Curves Tc(eta) of dome ``index`` (iL, iW, iV, io) at the couplings ``g`` (a slice of
    the g axis): eta (n_eta), their g (n), tc (K, n x n_eta) and status (n x n_eta)."""
    where = (*index, g)
    eta, gs, tc, status = access(store, read=[("eta", (), None), ("g", (g,), None),
                                              (VAR_TC, where, None), (VAR_STATUS, where, None)],
                                 storage_options=storage_options)
    return (np.asarray(eta, dtype=float), np.asarray(gs, dtype=float),
            np.asarray(tc, dtype=float), np.asarray(status))


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

    Reads the status and tc arrays one structure at a time, so memory is one structure's slab;
    a structure without any written status chunk (where the store lists its chunk files) is
    all to do without reading it.
    """
    g = group(store, mode="r", storage_options=storage_options)
    status, tc = _array(g, VAR_STATUS, store), _array(g, VAR_TC, store)
    written = written_blocks(status, store=store)
    touched = None if written is None else {b[:3] for bs in written.values() for b in bs}
    c = plan.chunk
    for s in plan.structures():
        if touched is not None and tuple(s) not in touched:
            yield from plan.chunks(structure=s)
            continue
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
    recomputes them).

    Where the store lists its chunk files (:func:`written_blocks`), a chunk never written is
    counted pending without being read, and a slab of few written chunks reads only those: a
    store laid out for 10^8 points of which a few chunks are done costs a listing and those
    chunks. Elsewhere (HTTP) every slab is read. Memory stays within a slab of
    :data:`SLAB_POINTS` values.
    """
    g = group(store, mode="r", storage_options=storage_options)
    status, tc = _array(g, VAR_STATUS, store), _array(g, VAR_TC, store)
    written = written_blocks(status, store=store)
    tc_written = None if written is None else written_blocks(tc, store=store)
    n = max(STATUS_NAMES) + 1
    counts = np.zeros(n, dtype=np.int64)
    missing = 0

    def add(st: np.ndarray, t: np.ndarray | None) -> None:
        nonlocal missing
        counts[:] += np.bincount(st.ravel(), minlength=n)[:n]
        ok = st == STATUS_OK
        if t is None:  # no tc chunk written: every ok point has lost its value
            missing += int(np.count_nonzero(ok))
        elif ok.any():
            missing += int(np.count_nonzero(ok & np.isnan(t)))

    for prefix, where, size in _slabs(status):
        if written is None:
            add(_read(status, where, store), _read(tc, where, store))
            continue
        blocks = written.get(prefix, ())
        if not blocks:
            counts[STATUS_PENDING] += size
            continue
        if len(blocks) * _chunk_points(status) >= SPARSE_SHARE * size:
            add(_read(status, where, store), _read(tc, where, store))
            continue
        left = size
        for block in blocks:
            sel = _block_region(status, block)
            st = _read(status, sel, store)
            left -= st.size
            has_ok = bool((st == STATUS_OK).any())
            add(st, _read(tc, sel, store) if has_ok and block in tc_written.get(prefix, ())
                else None)
        counts[STATUS_PENDING] += left
    return {"total": int(counts.sum()),
            "done": int(counts[STATUS_OK] + counts[STATUS_BELOW_FLOOR]) - missing,
            "failed": int(counts[STATUS_FAILED]), "pending": int(counts[STATUS_PENDING]) + missing,
            "missing": missing}


SLAB_POINTS = 1 << 22
"""Most values read at once when scanning a store: 4 MiB of status (int8) and 32 MiB of tc
(float64)."""

SPARSE_SHARE = 0.25
"""A slab whose written chunks hold less than this share of its points is read chunk by chunk
(one request each), else at once (one batched read, which also tries the unwritten chunks)."""


def _chunk_points(array: zarr.Array) -> int:
    return int(np.prod(array.chunks))


def _slabs(array: zarr.Array) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...], int]]:
    """The array cut along its leading axes, whole chunks at a time, into slabs of at most
    about :data:`SLAB_POINTS` values (one chunk along every leading axis if need be): per slab
    its block indices along those axes, its selection and its number of values."""
    shape, chunks = array.shape, array.chunks
    lead = 0
    inner = int(np.prod(shape))
    while lead < array.ndim - 1 and inner > SLAB_POINTS:
        inner = inner // shape[lead] * chunks[lead]
        lead += 1
    nblocks = [-(-shape[a] // chunks[a]) for a in range(lead)]
    for prefix in np.ndindex(*nblocks):
        where = tuple(slice(b * chunks[a], min((b + 1) * chunks[a], shape[a]))
                      for a, b in enumerate(prefix))
        size = int(np.prod([w.stop - w.start for w in where] + list(shape[lead:])))
        yield prefix, where, size


def _block_region(array: zarr.Array, block: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(b * c, min((b + 1) * c, n))
                 for b, c, n in zip(block, array.chunks, array.shape))


def written_blocks(array: zarr.Array, *, store: str) -> dict[tuple[int, ...], set] | None:
    """The chunks of ``array`` that exist in the store (:func:`~.common.written_chunks`):
    block indices grouped by their slab (the prefix :func:`_slabs` gives), or None where the
    store cannot be listed reliably (HTTP: a static server lists nothing, and a store would
    read as empty)."""
    grid = None if is_read_only_url(store) else written_chunks(array)
    if grid is None:
        return None
    lead = next(len(p) for p, _, _ in _slabs(array))
    out: dict[tuple[int, ...], set] = {}
    for block in zip(*(i.tolist() for i in np.nonzero(grid))):
        out.setdefault(block[:lead], set()).add(block)
    return out


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
    """The key of the first chunk under ``prefix`` (integers and slices of the leading axes)
    that cannot be decoded (``status/c/0/...``), None if every one reads now."""
    ranges = []
    for sel, c, n in zip(prefix, array.chunks, array.shape):
        if isinstance(sel, slice):
            start, stop, _ = sel.indices(n)
            ranges.append(range(start // c, -(-stop // c)))
        else:
            ranges.append(range(sel // c, sel // c + 1))
    ranges += [range(n) for n in array.cdata_shape[len(ranges):]]
    for index in itertools.product(*ranges):
        try:
            array.blocks[index]
        except (ValueError, TypeError, RuntimeError, OSError):
            key = array.metadata.encode_chunk_key(index)
            return f"{array.path}/{key}" if array.path else key
    return None
