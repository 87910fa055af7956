"""Figures of one dome (a fixed L, W, V, omega0): the paper's Fig. 4 and Fig. 5; the structures
of a sweep; the map of an explore store.

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
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from solver.parameters import PARAMETERS

from .. import flags
from ..config import PAPER_G
from ..grid import DOME_AXES
from ..store import VAR_TC, VAR_TOP_STATUS
from .domes import ANTI_FLAGS, DOME_FLAGS, dome, dome_top, refined_top

DOME_FIGSIZE = (8.0, 6.0)
"""Inches of :func:`dome_figure`."""
CUTS_FIGSIZE = (11.0, 4.5)
"""Inches of :func:`cuts_figure`."""
DEFAULT_CUTS = tuple(g for g, _ in PAPER_G)
"""The paper's Fig. 5 couplings."""


SYMBOLS = {"eta": r"$\eta$", "g": r"$g$", VAR_TC: r"$T_c$", "L": r"$L$", "W": r"$W$",
           "V": r"$V$", "omega0": r"$\omega_0$", "E_L": r"$E_L$", "dE": r"$\Delta E$",
           "mu_shift": r"$\mu - \mu_0$", "delta": r"$\Delta_n$"}
"""Each name's symbol in matplotlib mathtext: every label and title writes symbols this way."""

_PLAIN_TO_MATH = {"(mu - E_L)/dE": r"$(\mu - E_L)/\Delta E$", "Delta_n": r"$\Delta_n$"}
"""Formulas in the stores' ``long_name`` attributes (plain text there), as mathtext."""


def _math(text: str) -> str:
    for plain, math in _PLAIN_TO_MATH.items():
        text = text.replace(plain, math)
    return text


def label(var: xr.DataArray, symbol: str | None = None) -> str:
    """``long_name, symbol [units]`` from a variable's attributes, in mathtext; no unit for a
    dimensionless variable (units ``1``). ``symbol`` defaults to :data:`SYMBOLS`'s."""
    name = _math(str(var.attrs.get("long_name", var.name)))
    symbol = symbol or SYMBOLS.get(str(var.name))
    units = var.attrs.get("units", "?")
    unit = "" if units in ("1", "") else f" [{units}]"
    return f"{name}{', ' + symbol if symbol else ''}{unit}"


def _dome_title(ds: xr.Dataset) -> str:
    parts = []
    for a in DOME_AXES:
        if a in ds.coords and ds[a].ndim == 0:
            parts.append(f"{SYMBOLS[a]} = {float(ds[a]):g} {ds[a].attrs.get('units', '')}"
                         .rstrip())
    return ", ".join(parts)


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _cut_indices(ds: xr.Dataset, g_cuts: Sequence[float]) -> list[int]:
    g = ds["g"].values
    return sorted({int(np.argmin(np.abs(g - x))) for x in g_cuts})


def dome_figure(ds: xr.Dataset, *, g_cuts: Sequence[float] = DEFAULT_CUTS,
                t_floor: float | None = None, log_color: bool = False) -> Figure:
    """Fig. 4: Tc over (eta, g) as a colour map, the ridge eta_max(g), the top of the dome and
    the cuts at ``g_cuts`` (nearest grid g) marked; with refined numbers in the store the ridge
    is the refined one (dots), the top the refined top over (eta, g) and the windows'
    edges are drawn. ``ds``: one dome (dims g, eta). ``log_color``: a logarithmic colour scale
    (the dip and the dome in one picture), from the smallest positive Tc (at least
    ``t_floor``) up."""
    ds = ds.load().sortby("g")  # a colour map needs monotonic axes; a config need not sort g
    d = dome(ds, t_floor=t_floor)
    top = dome_top(d)
    fig = _new_figure(DOME_FIGSIZE)
    ax = fig.add_subplot()
    tc = ds[VAR_TC].transpose("g", "eta")
    norm = None
    if log_color:
        positive = tc.where(tc > 0)
        lo = float(positive.min()) if positive.notnull().any() else 1.0
        norm = LogNorm(vmin=max(lo, t_floor or 0.0), vmax=max(float(positive.max()), lo))
    mesh = ax.pcolormesh(ds["eta"].values, ds["g"].values, tc.values, shading="nearest",
                         cmap="viridis", norm=norm)
    fig.colorbar(mesh, ax=ax, label=label(ds[VAR_TC]) + (", log scale" if log_color else ""))
    refined = d["refined"].values if "refined" in d else np.zeros(ds.sizes["g"], dtype=bool)
    ax.plot(d["eta_max"].values, ds["g"].values, color="w", lw=1.5,
            label=r"maximum over $\eta$" + (" (refined: dots)" if refined.any() else ""))
    if refined.any():
        ax.plot(d["eta_max"].values[refined], ds["g"].values[refined], ".", color="w", ms=4)
        if "eta_window_lo" in d:
            for k, t in enumerate(d["threshold"].values):
                for edge in ("eta_window_lo", "eta_window_hi"):
                    ax.plot(d[edge].isel(threshold=k).values, ds["g"].values, color="tab:pink",
                            lw=1, ls=(0, (1, 1 + k)),
                            label=rf"$T_c \geq$ {t:g} K (window edges)"
                            if edge.endswith("lo") else None)
    for j in _cut_indices(ds, g_cuts):
        ax.axhline(float(ds["g"][j]), color="tab:red", ls="--", lw=1,
                   label="cut" if j == _cut_indices(ds, g_cuts)[0] else None)
        ax.annotate(f"$g$ = {float(ds['g'][j]):.4g}", (1.0, float(ds["g"][j])),
                    xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", color="tab:red", va="center",
                    annotation_clip=False)
    rt = refined_top(ds)
    if rt is not None and flags.has(int(rt[VAR_TOP_STATUS]), flags.TOP_DONE) and \
            np.isfinite(float(rt["top_tc"])):
        status = int(rt[VAR_TOP_STATUS])
        edges = [w for f, w in ((flags.TOP_AT_G_EDGE, "the g range"),
                                (flags.TOP_AT_ETA_BOUND, r"the $\eta$ bound"))
                 if flags.has(status, f)]
        note = f"; on the edge of {' and '.join(edges)}: a lower bound" if edges else ""
        ax.plot(float(rt["top_eta"]), float(rt["top_g"]), marker="*", ms=14,
                color="tab:orange", ls="none",
                label=f"top (refined{note}): {float(rt['top_tc']):.5g} "
                      f"{ds['tc'].attrs['units']}")
    elif np.isfinite(float(top["top_tc"])):
        ax.plot(float(top["top_eta"]), float(top["top_g"]), marker="*", ms=14, color="tab:orange",
                ls="none", label=f"top: {float(top['top_tc']):.4g} {ds['tc'].attrs['units']}")
    ax.set_xlabel(label(ds["eta"]))
    ax.set_ylabel(label(ds["g"]))
    ax.set_title(f"$T_c$ dome ({_dome_title(ds)})")
    # Outside the axes: never over the ridge, the top or a cut's label.
    fig.legend(loc="outside lower center", ncols=3)
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
        gl = f"$g$ = {float(ds['g'][j]):.4g}"
        for ax in (lin, log):
            line, = ax.plot(ds["eta"].values, c.values, marker=".", ms=3,
                            label=gl if ax is lin else None)
            color = line.get_color()
            is_refined = "refined" in dd and bool(dd["refined"])
            at_bound = DOME_FLAGS[int(dd["dome_flag"])] == "at_bound"
            if np.isfinite(float(dd["tc_max"])):
                ax.plot(float(dd["eta_max"]), float(dd["tc_max"]), ">" if at_bound else "o",
                        color=color, mfc=color if is_refined else "none",
                        ms=9 if not is_refined else 6)
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
        if np.isfinite(float(dd["tc_max"])):
            at_bound = DOME_FLAGS[int(dd["dome_flag"])] == "at_bound"
            lin.annotate(f"{'≥ ' if at_bound else ''}{float(dd['tc_max']):.4g} {units}",
                         (float(dd["eta_max"]), float(dd["tc_max"])),
                         textcoords="offset points", xytext=(8, 0), va="center",
                         color=color)
    log.set_yscale("log")
    for ax, scale in ((lin, "linear"), (log, "log scale")):
        ax.set_xlabel(label(ds["eta"]))
        ax.set_ylabel(label(ds[VAR_TC]) + ("" if scale == "linear" else ", log scale"))
        ax.grid(True, alpha=0.3)
    # Outside the axes: never over a curve's maximum label.
    fig.legend(loc="outside lower center", ncols=len(_cut_indices(ds, g_cuts)) + 1,
               title=r"○ maximum (● refined; ▶ at the $\eta$ bound, a lower bound), "
                     r"▽ antiresonance, ├┤ window $T_c \geq T^*$")
    positive = ds[VAR_TC].where(ds[VAR_TC] > 0)
    if positive.notnull().any():
        log.set_ylim(bottom=0.5 * min(float(positive.min()),
                                      float(d["tc_antiresonance_bound"].min(skipna=True))
                                      if d["tc_antiresonance_bound"].notnull().any() else np.inf))
    fig.suptitle(rf"$T_c(\eta)$ cuts ({_dome_title(ds)})")
    return fig


STRUCTURES_FIGSIZE_PER_FACET = (4.0, 3.5)
"""Inches of each (V, omega0) facet of :func:`structures_figure`."""
MAX_FACETS = 16
"""Most (V, omega0) facets drawn in one figure; beyond that, pick some with --select."""


def structures_figure(ds: xr.Dataset, *, t_floor: float | None = None) -> Figure:
    """The top of each dome, Tc over (W, L), one facet per (V, omega0): which structure a
    design sweep should make. ``ds``: a sweep (dims L, W, V, omega0, g, eta); structures
    without a computed point are drawn as open grey circles."""
    top = dome_top(dome(ds, t_floor=t_floor)).compute()
    nv, no = top.sizes["V"], top.sizes["omega0"]
    if nv * no > MAX_FACETS:
        raise ValueError(f"{nv * no} (V, omega0) facets is too many for one figure (at most "
                         f"{MAX_FACETS}); pick some with --select V=... --select omega0=...")
    w, h = STRUCTURES_FIGSIZE_PER_FACET
    fig = _new_figure((w * no + 1.5, h * nv + 0.8))
    axes = np.atleast_2d(fig.subplots(nv, no, squeeze=False, sharex=True, sharey=True))
    tc = top["top_tc"]
    finite = tc.where(np.isfinite(tc))
    vmin = float(finite.min()) if finite.notnull().any() else 0.0
    vmax = float(finite.max()) if finite.notnull().any() else 1.0
    W, L = np.meshgrid(ds["W"].values, ds["L"].values)
    units = ds[VAR_TC].attrs.get("units", "K")
    mesh = None
    for iv in range(nv):
        for io in range(no):
            ax = axes[iv, io]
            t = tc.isel(V=iv, omega0=io).transpose("L", "W").values
            ok = np.isfinite(t)
            mesh = ax.scatter(W[ok], L[ok], c=t[ok], s=160, cmap="viridis", vmin=vmin,
                              vmax=vmax, edgecolors="k", linewidths=0.5)
            ax.scatter(W[~ok], L[~ok], s=160, facecolors="none", edgecolors="0.6")
            if ok.any():
                k = np.unravel_index(int(np.nanargmax(np.where(ok, t, -np.inf))), t.shape)
                ax.annotate(f"{t[k]:.4g} {units}", (W[k], L[k]), textcoords="offset points",
                            xytext=(0, 11), ha="center", fontsize=8)
            ax.set_title(f"{SYMBOLS['V']} = {float(ds['V'][iv]):g} "
                         f"{ds['V'].attrs.get('units', '')}, {SYMBOLS['omega0']} = "
                         f"{float(ds['omega0'][io]):g} {ds['omega0'].attrs.get('units', '')}",
                         fontsize=9)
            if iv == nv - 1:
                ax.set_xlabel(label(ds["W"]))
            if io == 0:
                ax.set_ylabel(label(ds["L"]))
            ax.margins(0.15)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label=f"top of the dome, {SYMBOLS[VAR_TC]} [{units}]")
    fig.suptitle(r"Top $T_c$ of each structure (maximum over $g$ and $\eta$)")
    return fig


EXPLORE_FIGSIZE = (8.0, 6.0)
"""Inches of :func:`explore_figure`."""
EXPLORE_LEVELS = 32
"""Colour levels of the explore map: fine enough to show a 1 K step on a 300 K map."""


def explore_figure(ds: xr.Dataset) -> Figure:
    """The map of an explore store's objective (``tc_max``) over its explored axes: over two
    axes a map triangulated between the samples (linear in each triangle: the map whose
    error docs/explore.md measures), the samples (dots; the polish's as crosses), the best (star) and the samples
    whose maximum over eta lies on its bound (Tc a lower bound: open triangles); over one axis
    the curve through the samples. ``ds``: the store's Dataset (:func:`sweep.store.
    open_dataset`); ValueError for three or four axes (read those with xarray)."""
    from matplotlib.tri import Triangulation

    from ..store import explored

    ds = ds.load()
    axes = [str(c) for c in ds.coords if c != explored.SAMPLE_DIM
            and ds[c].dims == (explored.SAMPLE_DIM,)]
    if len(axes) > 2:
        raise ValueError(f"--kind explore draws one or two explored axes; this store explores "
                         f"{len(axes)} ({', '.join(axes)}): read it with sweep.open_dataset")
    status = np.asarray(ds[explored.VAR_SAMPLE_STATUS].values).astype(np.int64)
    done = flags.has(status, flags.SAMPLE_DONE)
    if not done.any():
        raise ValueError("the explore store has no computed sample yet")
    polish = flags.has(status, flags.SAMPLE_POLISH) & done
    bound = flags.has(status, flags.SAMPLE_MAX_AT_BOUND) & done
    tc = ds["tc_max"]
    units = tc.attrs.get("units", "K")
    z = np.asarray(tc.values, float)
    i = int(np.argmax(np.where(done, z, -np.inf)))
    fig = _new_figure(EXPLORE_FIGSIZE)
    ax = fig.add_subplot()
    x = np.asarray(ds[axes[0]].values, float)
    if len(axes) == 2:
        y = np.asarray(ds[axes[1]].values, float)
        tri = Triangulation(x[done], y[done])
        mesh = ax.tricontourf(tri, z[done], levels=EXPLORE_LEVELS, cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=label(tc, SYMBOLS[VAR_TC]))
        ax.plot(x[done & ~polish], y[done & ~polish], ".", color="k", ms=3,
                label=f"samples ({int(np.count_nonzero(done & ~polish))})")
        if polish.any():
            ax.plot(x[polish], y[polish], "x", color="tab:pink", ms=5,
                    label=f"polish ({int(np.count_nonzero(polish))})")
        if bound.any():
            ax.plot(x[bound], y[bound], "^", mfc="none", color="tab:red", ms=6,
                    label=r"max over $\eta$ on its bound (a lower bound)")
        ax.plot(x[i], y[i], "*", color="tab:orange", ms=16, mec="k", ls="none",
                label=f"best: {z[i]:.5g} {units}")
        ax.set_ylabel(label(ds[axes[1]]))
    else:
        order = np.argsort(x[done])
        ax.plot(x[done][order], z[done][order], "-", color="tab:blue", lw=1)
        ax.plot(x[done & ~polish], z[done & ~polish], ".", color="k", ms=4, label="samples")
        if polish.any():
            ax.plot(x[polish], z[polish], "x", color="tab:green", ms=5, label="polish")
        if bound.any():
            ax.plot(x[bound], z[bound], "^", mfc="none", color="tab:red", ms=7,
                    label=r"max over $\eta$ on its bound (a lower bound)")
        ax.plot(x[i], z[i], "*", color="tab:orange", ms=16, mec="k", ls="none",
                label=f"best: {z[i]:.5g} {units}")
        ax.set_ylabel(label(tc, SYMBOLS[VAR_TC]))
        ax.grid(True, alpha=0.3)
    ax.set_xlabel(label(ds[axes[0]]))
    ax.margins(0.02)  # samples on the box's edges stay visible
    best = explored.explore_attrs(ds.attrs)["best"] or {}
    fixed = [f"{SYMBOLS.get(a, a)} = {best[a]:.4g} "
             f"{'' if PARAMETERS[a].unit == '1' else PARAMETERS[a].unit}".rstrip()
             for a in ("L", "W", "V", "omega0", "g") if a not in axes and a in best]
    ax.set_title(f"Explore: {tc.attrs.get('long_name', 'objective')}"
                 + (f"\n({', '.join(fixed)})" if fixed else ""))
    fig.legend(loc="outside lower center", ncols=2)
    return fig
