"""fanodome's service: sweeps of the BPV multigap Tc over (L, W, V, omega0, g, eta) on Dask,
into xarray/zarr stores; their refinement with the solver; the domes read from them.

The front door for notebooks and scripts, one import::

    import sweep
    cfg = sweep.load_config("my.toml")              # or sweep.paper_config()
    result = sweep.run_sweep(cfg, store="my.zarr")  # a local cluster; then [refine], if any
    ds = sweep.open_dataset("my.zarr")              # lazy xarray Dataset (path or URL)
    d = sweep.dome(ds)                              # per curve: eta_max, tc_max (K), antiresonance
    top = sweep.dome_top(d)                         # per dome: top_g, top_eta, top_tc (K)
    fits = sweep.fano_fit(ds, g=[0.25, 1/3])
    found = sweep.explore(cfg, store="best.zarr")   # cfg with [explore]: the best structure

Names are loaded on first use, so ``import sweep`` is cheap. The rooms behind it, each
importable on its own: :mod:`sweep.config` and :mod:`sweep.grid` (what to compute),
:mod:`sweep.flags` (status codes and flags), :mod:`sweep.store` (zarr layouts),
:mod:`sweep.execution` (Dask), :mod:`sweep.worker` (the solver on the workers),
:mod:`sweep.run`, :mod:`sweep.refine`, :mod:`sweep.explore`, :mod:`sweep.analysis`,
:mod:`sweep.cli`.
"""
from __future__ import annotations

from .front import lazy_names

_API = {
    # what to compute
    "load_config": "sweep.config", "paper_config": "sweep.config",
    "parse_config": "sweep.config", "SweepConfig": "sweep.config",
    "RefineSettings": "sweep.config", "ConfigError": "sweep.config",
    # running and refining
    "run_sweep": "sweep.run.service", "SweepResult": "sweep.run.service",
    "refine_store": "sweep.refine.service", "RefineResult": "sweep.refine.service",
    "explore": "sweep.explore.service", "ExploreResult": "sweep.explore.service",
    "ExploreSettings": "sweep.config",
    # stores
    "open_dataset": "sweep.store", "status_counts": "sweep.store", "StoreError": "sweep.store",
    "to_netcdf": "sweep.store.export", "to_csv": "sweep.store.export",
    # reading
    "dome": "sweep.analysis.domes", "dome_top": "sweep.analysis.domes",
    "dome_report": "sweep.analysis.domes", "fano_fit": "sweep.analysis.fano",
    "fano_quality": "sweep.analysis.fano",
    "dome_figure": "sweep.analysis.plots", "cuts_figure": "sweep.analysis.plots",
    "structures_figure": "sweep.analysis.plots", "explore_figure": "sweep.analysis.plots",
}
"""Each name of the front door and the module that defines it."""

__all__ = sorted(_API)


__getattr__, __dir__ = lazy_names(__name__, _API)
