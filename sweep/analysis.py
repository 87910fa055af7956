"""Reading a finished sweep: the dome summary (no Dask cluster, no writes)."""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import xarray as xr

DOME_G_TARGETS = ((0.25, "1/4"), (1 / 3, "1/3"))
"""Couplings at which the summary reports the maximum of Tc over eta (nearest grid g)."""


def _max_over(tc: np.ndarray, eta: np.ndarray) -> tuple[float | None, float | None]:
    if np.all(np.isnan(tc)):
        return None, None
    k = int(np.nanargmax(tc))
    return float(tc[k]), float(eta[k])


def dome_summary(ds: xr.Dataset, *, max_rows: int = 10,
                 g_targets: Sequence[tuple[float, str]] = DOME_G_TARGETS) -> list[dict]:
    """Per (L, W, V, omega0), at most ``max_rows`` of them: the highest Tc (K) with its g and
    eta, and the highest Tc over eta at each target g (taken at the nearest grid g)."""
    g = ds["g"].values
    eta = ds["eta"].values
    rows = []
    combos = itertools.product(*(range(ds.sizes[a]) for a in ("L", "W", "V", "omega0")))
    for iL, iW, iV, io in itertools.islice(combos, max_rows):
        tc = np.asarray(ds["tc"].isel(L=iL, W=iW, V=iV, omega0=io).values, dtype=float)
        row = {"L": float(ds["L"][iL]), "W": float(ds["W"][iW]), "V": float(ds["V"][iV]),
               "omega0": float(ds["omega0"][io])}
        if np.all(np.isnan(tc)):
            row.update(tc_max_K=None, g_at_max=None, eta_at_max=None)
        else:
            j, k = np.unravel_index(int(np.nanargmax(tc)), tc.shape)
            row.update(tc_max_K=float(tc[j, k]), g_at_max=float(g[j]), eta_at_max=float(eta[k]))
        row["at_g"] = []
        for target, label in g_targets:
            j = int(np.argmin(np.abs(g - target)))
            t, e = _max_over(tc[j], eta)
            row["at_g"].append({"g_target": label, "g": float(g[j]), "tc_max_K": t, "eta": e})
        rows.append(row)
    return rows
