"""The zarr store of a sweep: layout, chunk writes, progress counts and metadata.

This is the only module that knows zarr paths and options, attribute names and how each
variable is encoded. The names of the data variables are exported as constants
(:data:`VAR_TC`, :data:`VAR_STATUS`, :data:`VAR_E_L`, :data:`VAR_DE`, :data:`VAR_DELTA`,
:data:`VAR_MU_SHIFT`) and the other sweep modules read a Dataset through them; the dimensions
are the parameter names of :mod:`solver.parameters` (:data:`sweep.grid.AXES`) plus
:data:`GAP_DIMS`, used by name throughout, as xarray users do.

Layout (zarr format 3, consolidated metadata; opens with ``xr.open_zarr``)::

    coordinates  L, W (Å), V, omega0 (meV), g, eta (1)
    tc       (L, W, V, omega0, g, eta) float64, K; NaN where status is not ok
    status   (L, W, V, omega0, g, eta) int8; flag_values 0 1 2 3,
             flag_meanings "ok below_floor failed pending"; fill value 3 (pending)
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

With refined numbers (``fanodome refine``, :mod:`sweep.refine_service`), see "refined numbers"
below: per curve, per window and per dome variables, and the root attributes refine_settings,
refine_method, refine_failures.

``failures`` holds one record per chunk whose points are currently marked failed:
``{"chunk": [block indices], "region": {axis: [start, stop]}, "attempts": n,
"error": "...", "traceback": "...", "time": "..."}``; the ``status`` array is authoritative.

``store`` arguments are local paths or URLs; URLs are passed through to xarray/zarr
(``storage_options`` for fsspec), so remote stores need no change here.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import warnings
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

import dask.array as da
import numpy as np
import xarray as xr
import zarr

import solver.parameters
from solver.parameters import PARAMETERS, STATUS_BELOW_FLOOR, STATUS_OK

from .grid import AXES, STRUCTURE_AXES, ChunkPlan

log = logging.getLogger(__name__)

STATUS_FAILED = 2
"""The chunk holding this point raised on every try."""
STATUS_PENDING = 3
"""Not computed yet (the fill value of a fresh store)."""
STATUS_NAMES = MappingProxyType({**solver.parameters.STATUS_NAMES, STATUS_FAILED: "failed",
                                 STATUS_PENDING: "pending"})
"""Name of each value of ``status``: the solver's (ok, below_floor) and the sweep's own."""

VAR_TC = "tc"
VAR_STATUS = "status"
VAR_E_L = "E_L"
VAR_DE = "dE"
VAR_DELTA = "delta"
VAR_MU_SHIFT = "mu_shift"
"""Names of the data variables (see the layout above)."""

MAX_FAILURE_RECORDS = 1000
"""Failure records kept in the root attributes; beyond that only the status array tells (a
config where every structure fails must not grow the metadata without bound)."""
MAX_TRACEBACK_CHARS = 8000
"""Tail of each traceback kept: the frames nearest the error."""

_CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"

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


class StoreError(ValueError):
    """The store cannot be used as asked (exists, differs, is not a sweep store)."""


class _Quiet:
    """Filter the one harmless zarr v3 warning about consolidated metadata."""

    def __enter__(self):
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def is_url(store: str) -> bool:
    return "://" in str(store)


def is_read_only_url(store: str) -> bool:
    """Whether ``store`` is a URL that can only be read (``http://``, ``https://``)."""
    return is_url(store) and store.split("://", 1)[0].lower() in ("http", "https")


def exists(store: str, *, storage_options: Mapping | None = None) -> bool:
    """Whether anything is at ``store``; a local path that is not a zarr group is an error."""
    if not is_url(store):
        p = Path(store)
        if not p.exists():
            return False
        if not (p / "zarr.json").is_file():
            raise StoreError(f"{store}: exists and is not a zarr store; not touching it")
        return True
    try:
        zarr.open_group(store, mode="r", storage_options=storage_options)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        return False
    return True


def package_version() -> str:
    try:
        return metadata.version("fanodome")
    except metadata.PackageNotFoundError:
        return "unknown"


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
        "config_toml": config_toml,
        "config_json": config_json,
        "model_defaults": json.dumps(solver.parameters.defaults(), sort_keys=True),
        "fanodome_version": package_version(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "failures": "[]",
    })
    with _Quiet():
        ds.to_zarr(store, compute=False, zarr_format=3, mode="w", consolidated=True,
                   encoding=encoding, storage_options=storage_options)
    log.info("laid out %s: %d points in %d chunks", store, plan.n_points, plan.n_chunks)


def open_dataset(store: str, *, storage_options: Mapping | None = None) -> xr.Dataset:
    """The sweep as a lazy xarray Dataset."""
    try:
        return xr.open_zarr(store, zarr_format=3, consolidated=True,
                            storage_options=storage_options)
    except (ValueError, KeyError, zarr.errors.GroupNotFoundError) as err:
        raise _incomplete(store, err) from None


def _incomplete(store: str, err: BaseException) -> StoreError:
    return StoreError(f"{store}: incomplete sweep store ({str(err)[:120]}; its layout was cut "
                      f"short by a kill or a full disk?); start it again with --overwrite")


def _group(store: str, *, mode: str, storage_options: Mapping | None = None) -> zarr.Group:
    try:
        return zarr.open_group(store, mode=mode, zarr_format=3, use_consolidated=True,
                               storage_options=storage_options)
    except (ValueError, KeyError, zarr.errors.GroupNotFoundError) as err:
        raise _incomplete(store, err) from None


def read_attrs(store: str, *, storage_options: Mapping | None = None) -> dict:
    return dict(_group(store, mode="r", storage_options=storage_options).attrs)


def model_options(attrs: Mapping) -> dict:
    """The ``[model]`` options a sweep ran with (t_floor in K, masses in m_e, ...), from the root
    attributes of its store (``ds.attrs``)."""
    if "config_json" not in attrs:
        raise StoreError("not a fanodome sweep store (no config_json attribute)")
    return dict(json.loads(attrs["config_json"])["model"])


def check_resumable(store: str, *, config_json: str,
                    storage_options: Mapping | None = None) -> None:
    """Raise :class:`StoreError` unless ``store`` is a sweep of exactly this config."""
    g = _group(store, mode="r", storage_options=storage_options)
    attrs = dict(g.attrs)
    if "config_json" not in attrs:
        raise StoreError(f"{store}: not a fanodome sweep store (no config_json attribute)")
    for name in (VAR_TC, VAR_STATUS, VAR_E_L, VAR_DE):
        _array(g, name, store)
    if attrs["config_json"] == config_json:
        return
    old, new = json.loads(attrs["config_json"]), json.loads(config_json)
    diffs = [f"{t}.{k}" for t in sorted(set(old) | set(new))
             for k in sorted(set(old.get(t, {})) | set(new.get(t, {})))
             if old.get(t, {}).get(k) != new.get(t, {}).get(k)]
    raise StoreError(f"--resume: {store} was made with a different config "
                     f"(differs in {', '.join(diffs) or 'layout'}); store left untouched")


def check_replaceable(store: str) -> None:
    """Refuse to replace a local ``store`` (``--overwrite``) unless it is a sweep store holding
    nothing but its own zarr nodes: overwriting deletes the directory's contents, and
    a file someone put there is not ours to delete. URL stores are only checked to be sweeps."""
    if is_url(store):
        return
    root = Path(store)
    try:
        doc = json.loads((root / "zarr.json").read_text())
    except (OSError, ValueError) as err:
        raise StoreError(f"{store}: unreadable zarr.json ({err}); not a sweep store, not "
                         f"touching it") from None
    attrs = doc.get("attributes", {}) if isinstance(doc, dict) else {}
    if "config_json" not in attrs:
        raise StoreError(f"{store}: not a fanodome sweep store (no config_json attribute); "
                         f"--overwrite only replaces sweep stores")
    # The store's own entries: its nodes (as the consolidated metadata lists them, or, for a
    # layout cut short, folders that are zarr nodes or bear the layout's names) and the root's
    # zarr.json.
    nodes = (doc.get("consolidated_metadata") or {}).get("metadata") or {}
    ours = {name.split("/")[0] for name in nodes} | {"zarr.json"}
    if not nodes:
        ours |= {p.name for p in root.iterdir() if (p / "zarr.json").is_file()}
        ours |= set(AXES + GAP_DIMS) | {VAR_TC, VAR_STATUS, VAR_E_L, VAR_DE, VAR_DELTA,
                                        VAR_MU_SHIFT}
    foreign = sorted(p.name for p in root.iterdir() if p.name not in ours)
    if foreign:
        raise StoreError(f"{store}: holds files that are not the sweep's ({', '.join(foreign[:3])}"
                         f"{', ...' if len(foreign) > 3 else ''}); move them out before "
                         f"--overwrite")


def plan_of(store: str, *, storage_options: Mapping | None = None) -> ChunkPlan:
    """The chunk plan the store was laid out with."""
    g = _group(store, mode="r", storage_options=storage_options)
    status = g[VAR_STATUS]
    return ChunkPlan(shape=dict(zip(AXES, status.shape)),
                     block=dict(zip(AXES[3:], status.chunks[3:])))


def write_chunk(*, store: str, region: Mapping[str, slice], tc: np.ndarray, status: np.ndarray,
                E_L: float | None, dE: float | None, delta: np.ndarray | None = None,
                mu_shift: np.ndarray | None = None,
                storage_options: Mapping | None = None) -> None:
    """Write one chunk's results into its region; idempotent.

    ``tc`` (K) and ``status`` have the region's shape in (omega0, g, eta) order; ``E_L``,
    ``dE`` (meV) belong to the region's structure (None: left as they are). A store with gaps also takes ``delta``
    (meV, that shape then subband, T_over_tc) and ``mu_shift`` (meV, that shape then
    T_over_tc). ``status`` is written last, so a chunk whose write was cut short still reads as
    pending (or failed) and is redone on resume.
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
    g = _group(store, mode="r", storage_options=storage_options)
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
    g = _group(store, mode="r", storage_options=storage_options)
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
    status = _group(store, mode="r", storage_options=storage_options)[VAR_STATUS]
    return bool((np.asarray(status[tuple(region[a] for a in AXES)]) < STATUS_FAILED).all())


def status_counts(store: str, *, storage_options: Mapping | None = None) -> dict[str, int]:
    """Points by state: total, done (ok with a value, or below_floor), failed, pending, and of
    the pending, ``missing``: marked ok whose value is gone (a lost ``tc`` chunk; a resume
    recomputes them)."""
    g = _group(store, mode="r", storage_options=storage_options)
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
        raise StoreError(f"{store}: incomplete sweep store (no {name!r}; its layout was cut "
                         f"short?); start it again with --overwrite") from None


def _read(array: zarr.Array, prefix: tuple, store: str) -> np.ndarray:
    """``array[prefix]`` (all of it for ``()``); :class:`StoreError` naming the store when a
    chunk cannot be decoded."""
    try:
        return np.asarray(array[prefix] if prefix else array[...])
    except (ValueError, TypeError, RuntimeError, OSError) as err:
        raise StoreError(f"{store}: {array.name.strip('/')} has an unreadable chunk "
                         f"({type(err).__name__}: {str(err)[:200]}); recompute the store "
                         f"(--overwrite) or restore it from a copy") from None


def read_failures(store: str, *, storage_options: Mapping | None = None) -> list[dict]:
    return json.loads(read_attrs(store, storage_options=storage_options).get("failures", "[]"))


def write_failures(store: str, records: list[dict], *,
                   storage_options: Mapping | None = None) -> None:
    """Replace the failure records (root attribute) and re-consolidate the metadata.

    Only the process that runs the sweep calls this; workers never touch root metadata.
    """
    kept = []
    for r in records[:MAX_FAILURE_RECORDS]:
        r = dict(r)
        r["traceback"] = r.get("traceback", "")[-MAX_TRACEBACK_CHARS:]
        kept.append(r)
    g = _group(store, mode="r+", storage_options=storage_options)
    g.attrs["failures"] = json.dumps(kept)
    if len(records) > len(kept):
        g.attrs["failures_not_recorded"] = len(records) - len(kept)
    with _Quiet():
        zarr.consolidate_metadata(g.store, zarr_format=3)


# ------------------------------------------------------------------------- refined numbers
# Added to a sweep store by ``fanodome refine`` (sweep.refine_service), next to the grid:
#
#   coordinate  threshold (K)                        when [refine] thresholds are given
#   per curve   (L, W, V, omega0, g): eta_max, tc_max (K), eta_antiresonance,
#               tc_antiresonance (K), eta_antiresonance_lo/hi, refine_status (int16, CF
#               flag_masks of sweep.refine.CURVE_FLAGS; 0 = pending), refine_evaluations,
#               refine_evaluations_max (solver evaluations: all searches / the maximum's)
#   per window  (L, W, V, omega0, g, threshold): eta_window_lo, eta_window_hi, window_status
#               (int8, CF flag_masks of sweep.refine.WINDOW_FLAGS)
#   per dome    (L, W, V, omega0): top_g, top_eta, top_tc (K), top_status (int8, CF flag_masks
#               of sweep.refine.TOP_FLAGS; 0 = pending), top_evaluations
#   root attrs  refine_settings (JSON of RefineSettings.to_dict() plus curves_per_task),
#               refine_failures (JSON list, like ``failures``)
# Chunks: one block of ``curves_per_task`` g per (L, W, V, omega0), whole along threshold; a
# top per chunk. Every task writes its own region, statuses last.

CURVE_DIMS = STRUCTURE_AXES + ("omega0", "g")
DOME_DIMS = STRUCTURE_AXES + ("omega0",)
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


def _fill(dtype: str):
    return np.nan if dtype == "f8" else np.dtype(dtype).type(0)


def has_refine(store: str, *, storage_options: Mapping | None = None) -> bool:
    return "refine_settings" in read_attrs(store, storage_options=storage_options)


def refine_settings_of(attrs: Mapping) -> dict | None:
    """The refine settings a store's refined numbers were made with (None: not refined)."""
    text = attrs.get("refine_settings")
    return None if text is None else json.loads(text)


def layout_refine(*, store: str, settings: Mapping, curves_per_task: int,
                  curve_flags: Mapping[str, int], window_flags: Mapping[str, int],
                  top_flags: Mapping[str, int], method: str,
                  storage_options: Mapping | None = None) -> None:
    """Add the refined numbers' variables (all pending) to a sweep store, replacing any from
    other settings. ``settings``: JSON-able, with ``thresholds`` (K).

    ``refine_settings`` is removed first and written last: a store that has it holds the whole
    layout, whatever moment a killed process stopped at (:func:`repair_consolidated` then
    restores the metadata index).
    """
    g = _group(store, mode="r+", storage_options=storage_options)
    with _Quiet():
        for key in ("refine_settings", "refine_failures", "refine_method"):
            if key in g.attrs:
                del g.attrs[key]
        zarr.consolidate_metadata(g.store, zarr_format=3)
        for name in REFINE_VARS:
            if name in g:
                del g[name]
        zarr.consolidate_metadata(g.store, zarr_format=3)
    ds = open_dataset(store, storage_options=storage_options)
    sizes = {d: ds.sizes[d] for d in CURVE_DIMS}
    thresholds = np.asarray(settings["thresholds"], dtype=float)
    coords = {d: ds[d].variable for d in CURVE_DIMS}
    cpt = max(1, min(int(curves_per_task), sizes["g"]))
    data, encoding = {}, {}

    def add(name, dims, dtype, attrs, chunks, flags=None):
        shape = tuple(sizes[d] for d in dims)
        data[name] = xr.Variable(dims, da.full(shape, _fill(dtype), dtype=dtype, chunks=-1),
                                 dict(attrs))
        if flags is not None:
            data[name].attrs.update(flag_masks=np.array(list(flags.values()), dtype=dtype),
                                    flag_meanings=" ".join(flags))
        encoding[name] = {"chunks": chunks, "fill_value": _fill(dtype)}

    curve_chunks = (1, 1, 1, 1, cpt)
    for name, (dtype, attrs) in _REFINE_CURVE_VARS.items():
        add(name, CURVE_DIMS, dtype, attrs, curve_chunks,
            curve_flags if name == "refine_status" else None)
    if thresholds.size:
        coords["threshold"] = xr.Variable("threshold", thresholds, {
            "units": "K", "long_name": "temperature T* of the window Tc >= T*"})
        sizes["threshold"] = thresholds.size
        for name, (dtype, attrs) in _REFINE_WINDOW_VARS.items():
            add(name, CURVE_DIMS + ("threshold",), dtype, attrs,
                curve_chunks + (thresholds.size,),
                window_flags if name == "window_status" else None)
    for name, (dtype, attrs) in _REFINE_TOP_VARS.items():
        add(name, DOME_DIMS, dtype, attrs, (1, 1, 1, 1),
            top_flags if name == "top_status" else None)
    template = xr.Dataset(data, coords=coords)
    template.attrs.update(dict(g.attrs))  # an append rewrites the root attributes: carry them
    with _Quiet():
        template.to_zarr(store, mode="a", compute=False, zarr_format=3, consolidated=True,
                         encoding=encoding, storage_options=storage_options)
        g = _group(store, mode="r+", storage_options=storage_options)
        g.attrs.update({"refine_failures": "[]", "refine_method": method})
        g.attrs["refine_settings"] = json.dumps(dict(settings, curves_per_task=cpt),
                                                sort_keys=True)
        zarr.consolidate_metadata(g.store, zarr_format=3)
    log.info("laid out the refined numbers in %s", store)


def repair_consolidated(store: str, *, storage_options: Mapping | None = None) -> bool:
    """Restore the consolidated metadata of a store whose metadata a killed process was
    changing (adding the refined numbers); returns whether it had to."""
    try:
        _group(store, mode="r", storage_options=storage_options)
        return False
    except ValueError as err:  # zarr: "Consolidated metadata requested ... but not found"
        if "onsolidated" not in str(err):
            raise
    g = zarr.open_group(store, mode="r+", zarr_format=3, use_consolidated=False,
                        storage_options=storage_options)
    with _Quiet():
        zarr.consolidate_metadata(g.store, zarr_format=3)
    log.warning("%s: metadata index restored (a process was cut short while changing it)",
                store)
    return True


def refine_plan(store: str, *, storage_options: Mapping | None = None) -> dict:
    """What is left to refine: ``{"curves": [(iL, iW, iV, io, g_start, g_stop)], "domes":
    [(iL, iW, iV, io)], "block": curves per task}``; blocks with a pending or failed curve, domes
    whose top is pending or failed and whose curves are all done."""
    g = _group(store, mode="r", storage_options=storage_options)
    status = np.asarray(g["refine_status"][...])
    top = np.asarray(g["top_status"][...])
    block = int(g["refine_status"].chunks[-1])
    curves, domes = [], []
    n_g = status.shape[-1]
    for idx in np.ndindex(*status.shape[:-1]):
        row = status[idx]
        blocks = [(s, min(s + block, n_g)) for s in range(0, n_g, block)]
        todo = [(s, e) for s, e in blocks if np.any((row[s:e] & 1) == 0)]
        curves.extend(idx + b for b in todo)
        if not todo and (top[idx] & 1) == 0:
            domes.append(idx)
    return {"curves": curves, "domes": domes, "block": block}


def write_refined_curves(*, store: str, region: Mapping[str, slice], values: Mapping,
                         storage_options: Mapping | None = None) -> None:
    """Write a block of refined curves (arrays of the region's shape, plus threshold for the
    window variables); ``refine_status`` last, so a cut write reads as pending."""
    dims5 = CURVE_DIMS
    ds = xr.Dataset({k: ((dims5 + ("threshold",)) if k in _REFINE_WINDOW_VARS else dims5,
                         np.asarray(v)) for k, v in values.items() if k != "refine_status"})
    kw = {"mode": "r+", "consolidated": True, "zarr_format": 3,
          "storage_options": storage_options}
    reg = dict(region)
    if any(k in _REFINE_WINDOW_VARS for k in values):
        n = next(np.asarray(v).shape[-1] for k, v in values.items() if k in _REFINE_WINDOW_VARS)
        reg["threshold"] = slice(0, n)
    ds.to_zarr(store, region=reg, **kw)
    st = xr.Dataset({"refine_status": (dims5, np.asarray(values["refine_status"],
                                                         dtype=np.int16))})
    st.to_zarr(store, region=dict(region), **kw)


def write_top(*, store: str, region: Mapping[str, slice], values: Mapping,
              storage_options: Mapping | None = None) -> None:
    """Write the top of one dome (scalars); ``top_status`` last."""
    ds = xr.Dataset({k: (DOME_DIMS, np.full((1, 1, 1, 1), v,
                                            dtype=_REFINE_TOP_VARS[k][0]))
                     for k, v in values.items() if k != "top_status"})
    kw = {"mode": "r+", "consolidated": True, "zarr_format": 3,
          "storage_options": storage_options}
    if ds.data_vars:
        ds.to_zarr(store, region=dict(region), **kw)
    st = xr.Dataset({"top_status": (DOME_DIMS, np.full((1, 1, 1, 1), values["top_status"],
                                                       dtype=np.int8))})
    st.to_zarr(store, region=dict(region), **kw)


def write_refine_failures(store: str, records: list[dict], *,
                          storage_options: Mapping | None = None) -> None:
    """Replace the refine failure records (root attribute) and re-consolidate."""
    kept = [dict(r, traceback=r.get("traceback", "")[-MAX_TRACEBACK_CHARS:])
            for r in records[:MAX_FAILURE_RECORDS]]
    g = _group(store, mode="r+", storage_options=storage_options)
    g.attrs["refine_failures"] = json.dumps(kept)
    with _Quiet():
        zarr.consolidate_metadata(g.store, zarr_format=3)


def write_refine_failed(*, store: str, region: Mapping[str, slice], flag: int,
                        storage_options: Mapping | None = None) -> None:
    """Mark a block of curves failed (``flag``), its refined numbers NaN."""
    n = region["g"].stop - region["g"].start
    g = _group(store, mode="r", storage_options=storage_options)
    values = {k: np.full((1, 1, 1, 1, n), _fill(dt), dtype=dt)
              for k, (dt, _) in _REFINE_CURVE_VARS.items()}
    values["refine_status"] = np.full((1, 1, 1, 1, n), flag, dtype=np.int16)
    if "threshold" in g:
        nt = g["threshold"].shape[0]
        values.update({k: np.full((1, 1, 1, 1, n, nt), _fill(dt), dtype=dt)
                       for k, (dt, _) in _REFINE_WINDOW_VARS.items()})
    write_refined_curves(store=store, region=region, values=values,
                         storage_options=storage_options)
