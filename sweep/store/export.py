"""A store for collaborators without zarr: netCDF (any size, streamed) and CSV (small stores):
a sweep (one row per point) or an explore (one row per sample).

Light at import (the command line reads :data:`CSV_MAX_POINTS` for its help): xarray and the
store's layout are loaded by the functions that write."""
from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np

from ..front import dataset

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger(__name__)

NETCDF_ENGINE = "h5netcdf"
"""netCDF-4/HDF5 writer (a declared dependency; keeps int8 flags and UTF-8 units such as Å)."""

CSV_MAX_POINTS = 1_000_000
"""Largest sweep written as CSV: one row per point is ~80 bytes, so ~80 MB of text; beyond that
CSV is the wrong format (use netCDF)."""


def check_output(path: str | Path, *, overwrite: bool = False) -> Path:
    """``path`` as a file to write (an export, a figure of ``fanodome plot``); ValueError when it
    lies inside a zarr store (writing there would replace the store's metadata or a chunk:
    ``--csv STORE/zarr.json``), or when it exists and ``overwrite`` is not given (nothing is
    replaced unasked), or is not a file."""
    path = Path(path)
    full = path.resolve()
    inside = next((d for d in full.parents if (d / "zarr.json").is_file()), None)
    if full.name == "zarr.json" or inside is not None:
        raise ValueError(f"{path}: inside the zarr store {inside or full.parent}; write files "
                         f"outside it")
    if path.exists() and not path.is_file():
        raise ValueError(f"{path}: exists and is not a file; not touching it")
    if path.exists() and not overwrite:
        raise ValueError(f"{path}: file exists; pass --overwrite (overwrite=True) to replace "
                         f"it")
    return path


CF_VERSION = "CF-1.8"
"""The CF version the netCDF export is checked against (IOOS compliance-checker, in the tests)."""


def _plain(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` as a CF netCDF file holds it: axes in increasing order where a config listed them
    otherwise, without the zarr encodings (chunks, codecs) that
    netCDF cannot take, no ``_FillValue`` on coordinates (CF §2.5.1), ``flag_values`` and
    ``flag_masks`` in the flag variable's own type (§3.5; JSON attributes come back as int64),
    64-bit integers (an explore's sample index) as 32-bit ones, which CF-1.8 (§2.2) knows,
    ``Conventions`` the version checked and a ``history`` line. The data stay lazy."""
    unsorted = [d for d in ds.dims if d in ds.coords and ds[d].ndim == 1 and ds[d].size > 1
                and not (np.all(np.diff(ds[d].values) > 0) or np.all(np.diff(ds[d].values) < 0))]
    out = ds.sortby(unsorted) if unsorted else ds.copy()  # CF §5: coordinates monotonic
    for name in out.variables:
        out[name].encoding = {}
    for name in out.coords:
        out[name].encoding["_FillValue"] = None
    for name, var in out.variables.items():
        if var.dtype == np.int64:
            lo, hi = (int(x) for x in (var.min().values, var.max().values)) if var.size else (0, 0)
            if not np.iinfo(np.int32).min <= lo <= hi <= np.iinfo(np.int32).max:
                raise ValueError(f"{name}: values {lo} .. {hi} do not fit the 32-bit integers "
                                 f"of {CF_VERSION}")
            out[name] = var.astype(np.int32)
    for name in out.data_vars:
        attrs = out[name].attrs
        for key in ("flag_values", "flag_masks"):
            if key in attrs:
                attrs[key] = np.asarray(attrs[key], dtype=out[name].dtype)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    from .common import created

    history = f"{created(ds.attrs)}: computed by fanodome; {now}: exported to netCDF by fanodome"
    out.attrs["history"] = "\n".join(filter(None, [ds.attrs.get("history"), history]))
    out.attrs["Conventions"] = CF_VERSION
    return out


def rows(ds: xr.Dataset) -> int:
    """Points of a sweep, samples of an explore (its rows that hold one, done or failed; the
    rows laid out for samples not placed yet hold none): the rows of its CSV."""
    from .explored import SAMPLE_DIM, VAR_SAMPLE_STATUS
    from .points import VAR_TC

    if SAMPLE_DIM in ds.dims:
        return int((ds[VAR_SAMPLE_STATUS] != 0).sum())
    return int(ds[VAR_TC].size)


def to_netcdf(ds: xr.Dataset, *, path: str | Path, overwrite: bool = False) -> Path:
    """Write the whole store (variables, coordinates, attributes) to a netCDF-4 file; dask-backed
    data are written chunk by chunk; an explore store with its axes not explored as scalar
    coordinates (:func:`sweep.store.explored.with_fixed_axes`). An existing file is replaced
    only with ``overwrite``."""
    dataset(ds)
    from .explored import SAMPLE_DIM, with_fixed_axes

    path = check_output(path, overwrite=overwrite)
    if SAMPLE_DIM in ds.dims:
        ds = with_fixed_axes(ds)
    _plain(ds).to_netcdf(path, engine=NETCDF_ENGINE)
    log.info("wrote %s (%d rows)", path, rows(ds))
    return path


def csv_header(ds: xr.Dataset, name: str) -> str:
    """Column header: ``name [units]``."""
    return f"{name} [{ds[name].attrs.get('units', '?')}]"


def to_csv(ds: xr.Dataset, *, path: str | Path, max_points: int = CSV_MAX_POINTS,
           overwrite: bool = False) -> Path:
    """One row per point of a sweep: the six coordinates, tc, status, E_L and dE; per sample of
    an explore: its index, the explored parameters, the values of the axes not explored (the
    same in every row: :func:`sweep.store.explored.with_fixed_axes`) and every variable
    (headers ``name [units]``; a number empty where there is no value). Raises ValueError
    above ``max_points`` rows. An existing file is replaced only with ``overwrite``."""
    dataset(ds)
    from .explored import SAMPLE_DIM, VAR_SAMPLE_STATUS, with_fixed_axes
    from .points import VAR_DE, VAR_E_L, VAR_E_LEFT_OUT, VAR_STATUS, VAR_TC

    n = rows(ds)
    if n > max_points:
        raise ValueError(f"{n} rows is too many for CSV (limit {max_points}, --max-points); "
                         f"use --netcdf")
    path = check_output(path, overwrite=overwrite)
    if SAMPLE_DIM in ds.dims:  # the parameters, explored (along sample) and fixed, then all
        ds = with_fixed_axes(ds)
        names = [c for c in ds.coords if c != SAMPLE_DIM] + list(ds.data_vars)
        ds = ds.isel({SAMPLE_DIM: np.flatnonzero(ds[VAR_SAMPLE_STATUS].values != 0)})
    else:
        names = [v for v in (VAR_TC, VAR_STATUS, VAR_E_L, VAR_DE, VAR_E_LEFT_OUT) if v in ds]
    frame = ds[names].load().to_dataframe()[names]
    frame = frame.reset_index()
    frame.columns = [csv_header(ds, c) for c in frame.columns]
    frame.to_csv(path, index=False)
    log.info("wrote %s (%d rows)", path, n)
    return path
