"""A store as its readers see it: a lazy xarray Dataset whose refined numbers that lost a chunk
file read as pending.

The points need no such care: ``status`` says ok where ``tc`` must hold a value, so a lost
``tc`` chunk shows itself as NaN under ok (:func:`sweep.store.points.status_counts`). Many
refined numbers are NaN by right (no window, an antiresonance below the floor), so only the
absence of their chunk file tells a loss (:func:`sweep.store.refined.lost_refined`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..front import store_path
from . import common, refined

if TYPE_CHECKING:
    import xarray as xr


def open_dataset(store: str, *, storage_options: Mapping | None = None,
                 check_lost: bool = True, dask: bool | None = True) -> xr.Dataset:
    """The store as a lazy xarray Dataset (path or URL); with ``check_lost``, refined curves
    and dome tops that lost a chunk file read as pending in ``refine_status`` and
    ``top_status`` (one listing of each refined variable's files; a task reading its own block
    passes False). ``dask``: as in :func:`sweep.store.common.open_dataset`."""
    store = store_path(store)
    ds = common.open_dataset(store, storage_options=storage_options, dask=dask)
    if not check_lost:
        return ds
    return refined.without_lost(ds, store, storage_options=storage_options)
