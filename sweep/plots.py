"""Figures of one dome (a fixed L, W, V, omega0): the paper's Fig. 4 and Fig. 5.

Matplotlib through :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state, no backend
switch at import). Axis labels come from the store's ``long_name`` and ``units`` attributes. The
functions take a Dataset over (g, eta) -- one dome of a sweep -- and return a Figure; the
caller saves it (``fig.savefig(path, dpi=...)`` gives ``figsize * dpi`` pixels).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .analysis import ANTI_FLAGS, dome, dome_top, refined_top
from .grid import DOME_AXES
from .store import VAR_TC

DOME_FIGSIZE = (8.0, 6.0)
"""Inches of :func:`dome_figure`."""
CUTS_FIGSIZE = (11.0, 4.5)
"""Inches of :func:`cuts_figure`."""
DEFAULT_CUTS = (0.25, 1 / 3)
"""The paper's Fig. 5 couplings."""


def label(var: xr.DataArray, symbol: str | None = None) -> str:
    """``long_name, symbol [units]`` from a variable's attributes."""
    name = var.attrs.get("long_name", var.name)
    units = var.attrs.get("units", "?")
    return f"{name}{', ' + symbol if symbol else ''} [{units}]"


def _dome_title(ds: xr.Dataset) -> str:
    parts = []
    for a in DOME_AXES:
        if a in ds.coords and ds[a].ndim == 0:
            parts.append(f"{a} = {float(ds[a]):g} {ds[a].attrs.get('units', '')}".rstrip())
    return ", ".join(parts)


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _cut_indices(ds: xr.Dataset, g_cuts: Sequence[float]) -> list[int]:
    g = ds["g"].values
    return sorted({int(np.argmin(np.abs(g - x))) for x in g_cuts})


def dome_figure(ds: xr.Dataset, *, g_cuts: Sequence[float] = DEFAULT_CUTS,
                t_floor: float | None = None) -> Figure:
    """Fig. 4: Tc over (eta, g) as a colour map, the ridge eta_max(g), the top of the dome and
    the cuts at ``g_cuts`` (nearest grid g) marked; with refined numbers in the store the ridge
    is the refined one (dots), the top the refined top over (eta, g) and the windows'
    edges are drawn. ``ds``: one dome (dims g, eta)."""
    ds = ds.load()
    d = dome(ds, t_floor=t_floor)
    top = dome_top(d)
    fig = _new_figure(DOME_FIGSIZE)
    ax = fig.add_subplot()
    tc = ds[VAR_TC].transpose("g", "eta")
    mesh = ax.pcolormesh(ds["eta"].values, ds["g"].values, tc.values, shading="nearest",
                         cmap="viridis")
    fig.colorbar(mesh, ax=ax, label=label(ds[VAR_TC], "Tc"))
    refined = d["refined"].values if "refined" in d else np.zeros(ds.sizes["g"], dtype=bool)
    ax.plot(d["eta_max"].values, ds["g"].values, color="w", lw=1.5,
            label="maximum over eta" + (" (refined: dots)" if refined.any() else ""))
    if refined.any():
        ax.plot(d["eta_max"].values[refined], ds["g"].values[refined], ".", color="w", ms=4)
        if "eta_window_lo" in d:
            for k, t in enumerate(d["threshold"].values):
                for edge in ("eta_window_lo", "eta_window_hi"):
                    ax.plot(d[edge].isel(threshold=k).values, ds["g"].values, color="tab:pink",
                            lw=1, ls=(0, (1, 1 + k)),
                            label=f"Tc >= {t:g} K (window edges)" if edge.endswith("lo")
                            else None)
    for j in _cut_indices(ds, g_cuts):
        ax.axhline(float(ds["g"][j]), color="tab:red", ls="--", lw=1)
        ax.text(float(ds["eta"][0]), float(ds["g"][j]), f" g = {float(ds['g'][j]):.4g}",
                color="tab:red", va="bottom")
    rt = refined_top(ds)
    if rt is not None and int(rt["top_status"]) & 1 and np.isfinite(float(rt["top_tc"])):
        ax.plot(float(rt["top_eta"]), float(rt["top_g"]), marker="*", ms=14,
                color="tab:orange", ls="none",
                label=f"top (refined): {float(rt['top_tc']):.5g} {ds['tc'].attrs['units']}")
    elif np.isfinite(float(top["tc_top"])):
        ax.plot(float(top["eta_top"]), float(top["g_top"]), marker="*", ms=14, color="tab:orange",
                ls="none", label=f"top: {float(top['tc_top']):.4g} {ds['tc'].attrs['units']}")
    ax.set_xlabel(label(ds["eta"], "η"))
    ax.set_ylabel(label(ds["g"], "g"))
    ax.set_title(f"Tc dome ({_dome_title(ds)})")
    ax.legend(loc="upper right")
    return fig


def cuts_figure(ds: xr.Dataset, *, g_cuts: Sequence[float] = DEFAULT_CUTS,
                t_floor: float | None = None) -> Figure:
    """Fig. 5: Tc(eta) at the grid g nearest each of ``g_cuts``, linear (left) and log (right),
    maxima (circles: filled where refined with the solver, open from the grid) and
    antiresonances (triangles; open triangles at the temperature floor where the dip is below
    it) marked, and where the store has refined windows, each window Tc >= T* as a bar at T*.
    ``ds``: one dome (dims g, eta)."""
    ds = ds.load()
    d = dome(ds, t_floor=t_floor)
    fig = _new_figure(CUTS_FIGSIZE)
    lin, log = fig.subplots(1, 2)
    units = ds[VAR_TC].attrs.get("units", "K")
    for j in _cut_indices(ds, g_cuts):
        c = ds[VAR_TC].isel(g=j)
        dd = d.isel(g=j)
        gl = f"g = {float(ds['g'][j]):.4g}"
        for ax in (lin, log):
            line, = ax.plot(ds["eta"].values, c.values, marker=".", ms=3, label=gl)
            color = line.get_color()
            is_refined = "refined" in dd and bool(dd["refined"])
            if np.isfinite(float(dd["tc_max"])):
                ax.plot(float(dd["eta_max"]), float(dd["tc_max"]), "o", color=color,
                        mfc=color if is_refined else "none", ms=9 if not is_refined else 6)
            if is_refined and "eta_window_lo" in dd:
                for k, t in enumerate(dd["threshold"].values):
                    lo = float(dd["eta_window_lo"].isel(threshold=k))
                    hi = float(dd["eta_window_hi"].isel(threshold=k))
                    if np.isfinite(lo) and np.isfinite(hi):
                        ax.plot([lo, hi], [t, t], color=color, lw=2.5, alpha=0.6)
                        ax.plot([lo, hi], [t, t], "|", color=color, ms=10)
            flag = ANTI_FLAGS[int(dd["antiresonance_flag"])]
            if flag == "below_floor":
                ax.plot(float(dd["eta_antiresonance"]), float(dd["tc_antiresonance_bound"]), "v",
                        color=color, mfc="none", ms=9)
            elif flag != "none":
                ax.plot(float(dd["eta_antiresonance"]), float(dd["tc_antiresonance"]), "v",
                        color=color, ms=8)
        lin.annotate(f"{float(dd['tc_max']):.4g} {units}",
                     (float(dd["eta_max"]), float(dd["tc_max"])), textcoords="offset points",
                     xytext=(6, 4))
    log.set_yscale("log")
    for ax, scale in ((lin, "linear"), (log, "log scale")):
        ax.set_xlabel(label(ds["eta"], "η"))
        ax.set_ylabel(label(ds[VAR_TC], "Tc") + ("" if scale == "linear" else ", log scale"))
        ax.grid(True, alpha=0.3)
    lin.legend(title="○ maximum (● refined), ▽ antiresonance, ├┤ window Tc ≥ T*",
               loc="upper right")
    positive = ds[VAR_TC].where(ds[VAR_TC] > 0)
    if positive.notnull().any():
        log.set_ylim(bottom=0.5 * min(float(positive.min()),
                                      float(d["tc_antiresonance_bound"].min(skipna=True))
                                      if d["tc_antiresonance_bound"].notnull().any() else np.inf))
    fig.suptitle(f"Tc(η) cuts ({_dome_title(ds)})")
    return fig
