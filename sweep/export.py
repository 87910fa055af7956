"""A sweep for collaborators without zarr: netCDF (any size, streamed) and CSV (small sweeps)."""
from __future__ import annotations

import logging
from pathlib import Path

import xarray as xr

from .store import VAR_DE, VAR_E_L, VAR_STATUS, VAR_TC

log = logging.getLogger(__name__)

NETCDF_ENGINE = "h5netcdf"
"""netCDF-4/HDF5 writer (a declared dependency; keeps int8 flags and UTF-8 units such as Å)."""

CSV_MAX_POINTS = 1_000_000
"""Largest sweep written as CSV: one row per point is ~80 bytes, so ~80 MB of text; beyond that
CSV is the wrong format (use netCDF)."""


def _plain(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without the zarr encodings (chunks, codecs, fill values) that netCDF cannot take;
    the data stay lazy."""
    out = ds.copy()
    for name in out.variables:
        out[name].encoding = {}
    return out


def to_netcdf(ds: xr.Dataset, *, path: str | Path) -> Path:
    """Write the whole sweep (variables, coordinates, attributes) to a netCDF-4 file; dask-backed
    data are written chunk by chunk."""
    path = Path(path)
    _plain(ds).to_netcdf(path, engine=NETCDF_ENGINE)
    log.info("wrote %s (%d points)", path, ds[VAR_TC].size)
    return path


def csv_header(ds: xr.Dataset, name: str) -> str:
    """Column header: ``name [units]``."""
    return f"{name} [{ds[name].attrs.get('units', '?')}]"


def to_csv(ds: xr.Dataset, *, path: str | Path, max_points: int = CSV_MAX_POINTS) -> Path:
    """One row per point: the six coordinates, tc, status, E_L and dE (headers ``name [units]``;
    tc empty where there is no value). Raises ValueError above ``max_points`` points."""
    n = int(ds[VAR_TC].size)
    if n > max_points:
        raise ValueError(f"{n} points is too many for CSV (limit {max_points}, --max-points); "
                         f"use --netcdf")
    path = Path(path)
    names = [v for v in (VAR_TC, VAR_STATUS, VAR_E_L, VAR_DE) if v in ds]
    frame = ds[names].load().to_dataframe()[names]
    frame = frame.reset_index()
    frame.columns = [csv_header(ds, c) for c in frame.columns]
    frame.to_csv(path, index=False)
    log.info("wrote %s (%d rows)", path, n)
    return path
