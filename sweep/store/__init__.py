"""The stores: the only place that knows zarr layouts, encodings and root attribute names
(as xarray's ``backends/``).

- :mod:`sweep.store.common` -- opening a store, its root attributes, failure records, the
  checks that decide whether work may start on it.
- :mod:`sweep.store.points` -- the sweep's points (tc, status, E_L, dE, gaps): layout, task
  writes, progress counts.
- :mod:`sweep.store.refined` -- the refined numbers beside them.
- :mod:`sweep.store.dataset` -- a store as its readers see it (refined numbers that lost a
  chunk file read as pending).
- :mod:`sweep.store.lock` -- one run per store (an OS lock beside it).
- :mod:`sweep.store.export` -- netCDF and CSV for collaborators without zarr.

The names below are the ones the rest of the service uses (``from sweep import store``),
loaded on first use: the command line reads a constant of :mod:`sweep.store.export` without
loading zarr and xarray.
"""
from __future__ import annotations

from ..front import lazy_names

_NAMES = {
    # sweep.addresses
    "is_read_only_url": "sweep.addresses", "is_url": "sweep.addresses",
    # sweep.store.common
    "StoreError": "sweep.store.common", "another_config": "sweep.store.common",
    "config_toml": "sweep.store.common",
    "created": "sweep.store.common", "cut_short": "sweep.store.common",
    "exists": "sweep.store.common", "identity_diffs": "sweep.store.common",
    "identity_of": "sweep.store.common",
    "is_sweep": "sweep.store.common", "model_options": "sweep.store.common",
    "read_attrs": "sweep.store.common", "read_only": "sweep.store.common",
    "read_failures": "sweep.store.common", "write_failures": "sweep.store.common",
    # sweep.store.dataset
    "open_dataset": "sweep.store.dataset",
    # sweep.store.lock
    "LockedError": "sweep.store.lock", "StoreLock": "sweep.store.lock",
    "held": "sweep.store.lock",
    # sweep.store.points
    "GAP_DIMS": "sweep.store.points", "VAR_DE": "sweep.store.points",
    "VAR_DELTA": "sweep.store.points", "VAR_E_L": "sweep.store.points",
    "VAR_E_LEFT_OUT": "sweep.store.points", "add_E_left_out": "sweep.store.points",
    "VAR_MU_SHIFT": "sweep.store.points", "VAR_STATUS": "sweep.store.points",
    "VAR_TC": "sweep.store.points", "check_can_start": "sweep.store.points",
    "check_replaceable": "sweep.store.points", "check_resumable": "sweep.store.points",
    "chunks_to_do": "sweep.store.points", "coordinates": "sweep.store.points",
    "layout": "sweep.store.points",
    "plan_of": "sweep.store.points", "read_curves": "sweep.store.points",
    "region_complete": "sweep.store.points", "repair_consolidated": "sweep.store.points",
    "status_counts": "sweep.store.points", "write_chunk": "sweep.store.points",
    "write_failed": "sweep.store.points",
    # sweep.store.refined
    "REFINE_VARS": "sweep.store.refined", "VAR_REFINE_STATUS": "sweep.store.refined",
    "VAR_TOP_STATUS": "sweep.store.refined", "VAR_WINDOW_STATUS": "sweep.store.refined",
    "has_refined": "sweep.store.refined", "layout_refine": "sweep.store.refined",
    "method_of": "sweep.store.refined", "read_dome_maxima": "sweep.store.refined",
    "refine_plan": "sweep.store.refined",
    "refine_settings_of": "sweep.store.refined",
    "write_refine_failed": "sweep.store.refined", "write_refined_curves": "sweep.store.refined",
    "write_top": "sweep.store.refined",
}
"""Each name of the package and the module that defines it."""

__all__ = sorted(_NAMES)


__getattr__, __dir__ = lazy_names(__name__, _NAMES)
