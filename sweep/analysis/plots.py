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
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from solver.parameters import PARAMETERS

from .. import flags
from ..flags import STATUS_NAMES
from ..config import PAPER_G
from ..grid import DOME_AXES, MIN_DOME_G
from ..store import VAR_STATUS, VAR_TC, VAR_TOP_STATUS
from .domes import ANTI_FLAGS, DOME_FLAGS, dome, dome_top, refined_top

DOME_FIGSIZE = (8.0, 6.0)
"""Inches of :func:`dome_figure`."""
CUTS_FIGSIZE = (11.0, 4.5)
"""Inches of :func:`cuts_figure`."""
WINDOW_COLORS = ("tab:pink", "tab:cyan", "tab:olive", "tab:gray")
"""Colours of the window edges of :func:`dome_figure`, one per threshold T* in turn."""
DEFAULT_CUTS = tuple(g for g, _ in PAPER_G)
"""The paper's Fig. 5 couplings."""


SYMBOLS = {"eta": r"$\eta$", "g": r"$g$", VAR_TC: r"$T_c$", "L": r"$L$", "W": r"$W$",
           "V": r"$V$", "omega0": r"$\omega_0$", "E_L": r"$E_L$", "dE": r"$\Delta E$",
           "mu_shift": r"$\mu - \mu_0$", "delta": r"$\Delta_n$"}
"""Each name's symbol in matplotlib mathtext: every label and title writes symbols this way."""

_PLAIN_TO_MATH = {"(mu - E_L)/dE": r"$(\mu - E_L)/\Delta E$", "Delta_n": r"$\Delta_n$",
                  "Tc over eta": r"$T_c$ over $\eta$"}
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


def image_format(path: str, *, name: str = "path") -> str:
    """The image format of ``path``: its suffix, read as :meth:`Figure.savefig` reads it. A
    path without a suffix is refused (ValueError naming ``name``, the option that gave it):
    savefig would write ``PATH.png``, another file than the one named; so is a suffix that
    matplotlib has no writer for."""
    import os

    formats = FigureCanvasAgg.get_supported_filetypes()
    suffix = os.path.splitext(path)[1][1:].lower()
    if suffix not in formats:
        why = f"unknown image suffix .{suffix}" if suffix else "no image suffix"
        raise ValueError(f"{name} {path}: {why}; the format follows the suffix: "
                         f"{', '.join('.' + f for f in sorted(formats))}")
    return suffix


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def one_dome(ds: xr.Dataset, *, figure: str) -> xr.Dataset:
    """``ds`` as one dome over (g, eta): its length-1 dimensions of L, W, V and omega0 squeezed
    (``ds.sel(L=9, W=6)`` of a store with one V and one omega0 is one dome). ValueError naming
    the axis when one still holds several values (``figure``: the function, for the message)."""
    extra = [a for a in DOME_AXES if a in ds.dims]
    many = [a for a in extra if ds.sizes[a] > 1]
    if many:
        a = many[0]
        raise ValueError(f"{figure} draws one dome: {a} has {ds.sizes[a]} values; pick one "
                         f"(ds.sel({a}=...), or --select {a}=VALUE)")
    return ds.squeeze(extra) if extra else ds


def _cut_indices(ds: xr.Dataset, g_cuts: Sequence[float]) -> list[int]:
    g = ds["g"].values
    return sorted({int(np.argmin(np.abs(g - x))) for x in g_cuts})


def _empty_cuts(ds: xr.Dataset, g_cuts: Sequence[float]) -> dict[int, str]:
    """The cuts of ``ds`` (one dome, squeezed) at ``g_cuts`` that have no Tc to draw, by index
    of g, each with the statuses of its points (``pending``, ``failed``, ``below_floor``;
    ``ok`` for a value lost)."""
    out = {}
    for j in _cut_indices(ds, g_cuts):
        if not np.isfinite(np.asarray(ds[VAR_TC].isel(g=j).values, dtype=float)).any():
            codes = np.unique(np.asarray(ds[VAR_STATUS].isel(g=j).values))
            out[j] = ", ".join(STATUS_NAMES.get(int(c), str(int(c))) for c in codes)
    return out


def empty_cuts_note(ds: xr.Dataset, *, g_cuts: Sequence[float] = DEFAULT_CUTS) -> str | None:
    """One line naming the cuts (grid g nearest each of ``g_cuts``) of one dome ``ds`` that
    have no Tc to draw, and why (their points' statuses): :func:`cuts_figure` leaves them out
    of its curves and its legend and writes this line under its title; None where every cut
    has a value."""
    ds = one_dome(ds, figure="cuts_figure")
    empty = _empty_cuts(ds, g_cuts)
    if not empty:
        return None
    which = ", ".join(f"g = {float(ds['g'][j]):.4g} ({why})" for j, why in empty.items())
    return f"nothing to draw at {which}: no Tc on the curve, left out"


def dome_figure(ds: xr.Dataset, *, g_cuts: Sequence[float] = DEFAULT_CUTS,
                t_floor: float | None = None, log_color: bool = False) -> Figure:
    """Fig. 4: Tc over (eta, g) as a colour map, the ridge eta_max(g), the top of the dome and
    the cuts at ``g_cuts`` (nearest grid g) marked; with refined numbers in the store the ridge
    is the refined one, the top the refined top over (eta, g) and the windows' edges are
    drawn. ``ds``: one dome (dims g, eta; length-1 dimensions squeezed, :func:`one_dome`) with
    at least :data:`sweep.grid.MIN_DOME_G` values of g (ValueError otherwise: its curves are
    :func:`cuts_figure`'s). The axes span the store's eta and g, nothing extrapolated; the
    legend lists what is drawn. ``log_color``: a logarithmic colour scale (the dip and the dome
    in one picture), from the smallest positive Tc (at least ``t_floor``) up."""
    ds = one_dome(ds, figure="dome_figure")
    if ds.sizes["g"] < MIN_DOME_G:
        raise ValueError(f"a dome over (eta, g) needs at least {MIN_DOME_G} values of g to be "
                         f"drawn as a surface; this one has {ds.sizes['g']}: draw its curves "
                         f"with cuts_figure (fanodome plot --kind cuts)")
    ds = ds.load().sortby("g")  # a colour map needs monotonic axes; a config need not sort g
    d = dome(ds, t_floor=t_floor)
    top = dome_top(d)
    fig = _new_figure(DOME_FIGSIZE)
    ax = fig.add_subplot()
    tc = ds[VAR_TC].transpose("g", "eta")
    g, eta = ds["g"].values, ds["eta"].values
    norm = None
    if log_color:
        positive = tc.where(tc > 0)
        lo = float(positive.min()) if positive.notnull().any() else 1.0
        norm = LogNorm(vmin=max(lo, t_floor or 0.0), vmax=max(float(positive.max()), lo))
    mesh = ax.pcolormesh(eta, g, tc.values, shading="nearest", cmap="viridis", norm=norm)
    fig.colorbar(mesh, ax=ax, label=label(ds[VAR_TC]) + (", log scale" if log_color else ""))
    outline = [patheffects.withStroke(linewidth=3.0, foreground="k")]  # seen on any colour
    refined = d["refined"].values if "refined" in d else np.zeros(g.size, dtype=bool)
    how = " (refined)" if refined.all() else "" if refined.any() else " (interp)"
    ridge = d["eta_max"].values
    if np.isfinite(ridge).any():
        ax.plot(ridge, g, color="w", lw=1.5, path_effects=outline,
                label=r"maximum over $\eta$" + how)
    if refined.any() and not refined.all():
        ax.plot(ridge[refined], g[refined], "o", color="w", mec="k", ms=5, ls="none",
                label=r"maximum refined with the solver")
    if refined.any() and "eta_window_lo" in d:
        for k, t in enumerate(d["threshold"].values):
            lo = d["eta_window_lo"].isel(threshold=k).values
            hi = d["eta_window_hi"].isel(threshold=k).values
            if not (np.isfinite(lo).any() or np.isfinite(hi).any()):
                continue  # no window at this T*: nothing drawn, no legend entry
            style = {"color": WINDOW_COLORS[k % len(WINDOW_COLORS)], "lw": 1.2,
                     "ls": (0, (4, 1 + 2 * k)),
                     "path_effects": [patheffects.withStroke(linewidth=2.2, foreground="k")]}
            ax.plot(lo, g, **style, label=rf"edges of $T_c \geq$ {t:g} K")
            ax.plot(hi, g, **style)
    cuts = _cut_indices(ds, g_cuts)
    for j in cuts:
        ax.axhline(float(g[j]), color="tab:red", ls="--", lw=1.2, clip_on=False,
                   label="cut" if j == cuts[0] else None)
        ax.annotate(f"$g$ = {float(g[j]):.4g}", (1.0, float(g[j])),
                    xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", color="tab:red", va="center",
                    annotation_clip=False)
    rt = refined_top(ds)
    units = ds[VAR_TC].attrs.get("units", "K")
    if rt is not None and flags.has(int(rt[VAR_TOP_STATUS]), flags.TOP_DONE) and \
            np.isfinite(float(rt["top_tc"])):
        status = int(rt[VAR_TOP_STATUS])
        edges = [w for f, w in ((flags.TOP_AT_G_EDGE, "the g range"),
                                (flags.TOP_AT_ETA_BOUND, r"the $\eta$ bound"))
                 if flags.has(status, f)]
        # the note on a line of its own: the legend stays within the figure's width
        note = f"\non the edge of {' and '.join(edges)}: a lower bound" if edges else ""
        ax.plot(float(rt["top_eta"]), float(rt["top_g"]), marker="*", ms=14,
                color="tab:orange", mec="k", ls="none", clip_on=False,
                label=f"top (refined): {float(rt['top_tc']):.5g} {units}{note}")
    elif np.isfinite(float(top["top_tc"])):
        ax.plot(float(top["top_eta"]), float(top["top_g"]), marker="*", ms=14, color="tab:orange",
                mec="k", ls="none", clip_on=False,
                label=f"top: {float(top['top_tc']):.4g} {units}")
    # The data's range, nothing extrapolated (markers on its edge are drawn unclipped).
    ax.set_xlim(float(eta.min()), float(eta.max()))
    ax.set_ylim(float(g.min()), float(g.max()))
    ax.set_xlabel(label(ds["eta"]))
    ax.set_ylabel(label(ds["g"]))
    ax.set_title(f"$T_c$ dome ({_dome_title(ds)})")
    # Outside the axes: never over the ridge, the top or a cut's label.
    fig.legend(loc="outside lower center", ncols=3)
    return fig


def cuts_figure(ds: xr.Dataset, *, g_cuts: Sequence[float] = DEFAULT_CUTS,
                t_floor: float | None = None) -> Figure:
    """Fig. 5: Tc(eta) at the grid g nearest each of ``g_cuts``, linear (left) and log (right),
    maxima (circles: filled where refined with the solver, open from the grid; their value
    written beside the linear curve, with ``≥`` where the maximum is on the edge of the eta
    grid, a lower bound) and antiresonances (triangles; open triangles at the temperature floor
    where the dip is below it) marked, and where the store has refined windows, each window
    Tc >= T* as a bar at T*. A cut without any Tc (pending, failed or below the temperature
    floor at every eta) is not drawn nor listed: a line under the title names it
    (:func:`empty_cuts_note`).
    ``ds``: one dome (dims g, eta; length-1 dimensions squeezed, :func:`one_dome`)."""
    ds = one_dome(ds, figure="cuts_figure").load()
    d = dome(ds, t_floor=t_floor)
    fig = _new_figure(CUTS_FIGSIZE)
    lin, log = fig.subplots(1, 2)
    units = ds[VAR_TC].attrs.get("units", "K")
    empty = _empty_cuts(ds, g_cuts)
    drawn = [j for j in _cut_indices(ds, g_cuts) if j not in empty]
    for j in drawn:
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
        if np.isfinite(float(dd["tc_max"])):  # on the grid's edge or the bound: a lower bound
            at_edge = DOME_FLAGS[int(dd["dome_flag"])] in ("at_grid_edge", "at_bound")
            lin.annotate(f"{'≥ ' if at_edge else ''}{float(dd['tc_max']):.4g} {units}",
                         (float(dd["eta_max"]), float(dd["tc_max"])),
                         textcoords="offset points", xytext=(8, 0), va="center",
                         color=color)
    log.set_yscale("log")
    for ax, scale in ((lin, "linear"), (log, "log scale")):
        ax.set_xlabel(label(ds["eta"]))
        ax.set_ylabel(label(ds[VAR_TC]) + ("" if scale == "linear" else ", log scale"))
        ax.grid(True, alpha=0.3)
    # Outside the axes: never over a curve's maximum label.
    if drawn:
        fig.legend(loc="outside lower center", ncols=len(drawn) + 1,
                   title=r"○ maximum (● refined; ▶ at the $\eta$ bound, a lower bound), "
                         r"▽ antiresonance, ├┤ window $T_c \geq T^*$")
    positive = ds[VAR_TC].where(ds[VAR_TC] > 0)
    if positive.notnull().any():
        log.set_ylim(bottom=0.5 * min(float(positive.min()),
                                      float(d["tc_antiresonance_bound"].min(skipna=True))
                                      if d["tc_antiresonance_bound"].notnull().any() else np.inf))
    note = empty_cuts_note(ds, g_cuts=g_cuts)
    fig.suptitle(rf"$T_c(\eta)$ cuts ({_dome_title(ds)})" + (f"\n{note}" if note else ""))
    return fig


COLUMN_WIDTH = 3.4
"""Inches of one column of a two-column journal page (8.6 cm, as Physical Review's): one facet
of :func:`structures_figure` is that wide, its fonts 8 pt, so it is read at print size."""
PAGE_WIDTH = 7.0
"""Inches of a full two-column page width: the widest :func:`structures_figure`."""
STRUCTURES_FONT_PT = 8.0
"""Font size of :func:`structures_figure`, pt: a figure caption's size at column width."""
MAX_FACETS = 16
"""Most (V, omega0) facets drawn in one figure; beyond that, pick some with --select."""


def _cell_edges(values: np.ndarray) -> np.ndarray:
    """Edges of the cells around sorted grid values: midpoints, and half the neighbouring step
    past each end (a single value: +-0.5 of its unit)."""
    v = np.asarray(values, dtype=float)
    if v.size == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = 0.5 * (v[1:] + v[:-1])
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def uncomputed_points(ds: xr.Dataset) -> xr.DataArray:
    """How many points of each structure of ``ds`` (a sweep) are pending or failed, over
    (L, W, V, omega0), computed: a top found without them is a lower bound."""
    missing = ds[VAR_STATUS] >= flags.STATUS_FAILED
    return missing.sum(("g", "eta")).compute()


def structures_figure(ds: xr.Dataset, *, t_floor: float | None = None) -> Figure:
    """The top of each dome, Tc over (W, L), one facet per (V, omega0): which structure a
    design sweep should make. ``ds``: a sweep (dims L, W, V, omega0, g, eta). Each structure
    is a cell of the (W, L) grid coloured by its top Tc; the best of each facet is starred and
    named in its title; a top is a lower bound, marked by a triangle (``≥`` in the title of a
    best), where its curve has its maximum on the edge of the eta grid or on the bound it was
    refined to (Tc may be higher past it) or where its structure has points pending or failed
    (:func:`uncomputed_points`: Tc may be higher there); structures without a computed point
    are hatched grey. One facet is a journal column wide
    (:data:`COLUMN_WIDTH`, :data:`STRUCTURES_FONT_PT` fonts); more facets fill up to a page
    width, in rows."""
    import matplotlib as mpl
    from matplotlib.patches import Patch, Rectangle

    d = dome(ds, t_floor=t_floor)
    top = dome_top(d).compute()
    at_top = d["g"] == top["top_g"]
    bound = d["dome_flag"].isin([DOME_FLAGS.index("at_grid_edge"), DOME_FLAGS.index("at_bound")])
    edge = (bound & at_top).any("g").compute()
    short = uncomputed_points(ds) > 0
    nv, no = top.sizes["V"], top.sizes["omega0"]
    if nv * no > MAX_FACETS:
        raise ValueError(f"{nv * no} (V, omega0) facets is too many for one figure (at most "
                         f"{MAX_FACETS}); pick some with --select V=... --select omega0=...")
    ncols = min(nv * no, max(1, int(PAGE_WIDTH // COLUMN_WIDTH)))
    nrows = -(-nv * no // ncols)
    units = ds[VAR_TC].attrs.get("units", "K")
    tc = top["top_tc"]
    finite = tc.where(np.isfinite(tc))
    vmin = float(finite.min()) if finite.notnull().any() else 0.0
    vmax = float(finite.max()) if finite.notnull().any() else 1.0
    Ls = np.sort(ds["L"].values)
    Ws = np.sort(ds["W"].values)
    with mpl.rc_context({"font.size": STRUCTURES_FONT_PT, "hatch.color": "0.55"}):
        fig = _new_figure((COLUMN_WIDTH * ncols, 2.9 * nrows + 0.5))
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
        mesh, drawn = None, {"edge": False, "short": False, "missing": False}
        for k, (iv, io) in enumerate(np.ndindex(nv, no)):
            ax = axes.flat[k]
            one = tc.isel(V=iv, omega0=io).sel(L=Ls, W=Ws).transpose("L", "W").values
            at_edge, part = (x.isel(V=iv, omega0=io).sel(L=Ls, W=Ws).transpose("L", "W").values
                             for x in (edge, short))
            bound = at_edge | part
            ok = np.isfinite(one)
            ax.set_facecolor("0.92")
            we, le = _cell_edges(Ws), _cell_edges(Ls)
            for i, j in zip(*np.nonzero(~ok)):  # hatched: no computed point
                ax.add_patch(Rectangle((we[j], le[i]), we[j + 1] - we[j], le[i + 1] - le[i],
                                       facecolor="0.92", edgecolor="0.55", hatch="///", lw=0))
                drawn["missing"] = True
            mesh = ax.pcolormesh(_cell_edges(Ws), _cell_edges(Ls), np.where(ok, one, np.nan),
                                 cmap="viridis", vmin=vmin, vmax=vmax, edgecolors="w",
                                 linewidth=0.6)
            WW, LL = np.meshgrid(Ws, Ls)
            lb = ok & bound
            if lb.any():
                ax.plot(WW[lb], LL[lb], "^", color="w", mec="k", ms=6, ls="none")
                drawn["edge"] |= bool((ok & at_edge).any())
                drawn["short"] |= bool((ok & part).any())
            where = (f"{SYMBOLS['V']} = {float(ds['V'][iv]):g} {ds['V'].attrs.get('units', '')}, "
                     f"{SYMBOLS['omega0']} = {float(ds['omega0'][io]):g} "
                     f"{ds['omega0'].attrs.get('units', '')}")
            if ok.any():
                b = np.unravel_index(int(np.nanargmax(np.where(ok, one, -np.inf))), one.shape)
                ax.plot(WW[b], LL[b], "*", color="tab:orange", mec="k", ms=11, ls="none")
                best = (f"best: {'≥ ' if bound[b] else ''}{one[b]:.4g} {units} at "
                        f"{SYMBOLS['L']} = {LL[b]:g}, {SYMBOLS['W']} = {WW[b]:g} "
                        f"{ds['L'].attrs.get('units', '')}")
                ax.set_title(f"{where}\n{best}")
            else:
                ax.set_title(f"{where}\nno computed point")
            ax.set_xticks(Ws if Ws.size <= 8 else ax.get_xticks())
            ax.set_yticks(Ls if Ls.size <= 8 else ax.get_yticks())
            ax.set_xlim(_cell_edges(Ws)[[0, -1]])
            ax.set_ylim(_cell_edges(Ls)[[0, -1]])
            if k // ncols == nrows - 1:
                ax.set_xlabel(label(ds["W"]))
            if k % ncols == 0:
                ax.set_ylabel(label(ds["L"]))
        for ax in axes.flat[nv * no:]:
            ax.set_visible(False)
        if mesh is not None:
            fig.colorbar(mesh, ax=axes, label=f"top {SYMBOLS[VAR_TC]} [{units}]", shrink=0.9)
        handles = [plt_line("*", "tab:orange", "best structure")]
        why = [w for k, w in (("edge", r"maximum on the $\eta$ grid's edge or bound"),
                              ("short", "points pending or failed")) if drawn[k]]
        if why:  # a line each: the legend stays within one column's width
            handles.append(plt_line("^", "w", "lower bound: " + "\nor ".join(why)))
        if drawn["missing"]:
            handles.append(Patch(facecolor="0.92", hatch="///", edgecolor="0.55",
                                 label="no computed point"))
        fig.legend(handles=handles, loc="outside lower center", ncols=1, frameon=False)
        fig.suptitle(r"Top $T_c$ of each structure (over $g$ and $\eta$)")
    return fig


def plt_line(marker: str, color: str, text: str):
    """A legend entry for a marker drawn alone."""
    from matplotlib.lines import Line2D
    return Line2D([], [], marker=marker, color=color, mec="k", ls="none", ms=8, label=text)


EXPLORE_FIGSIZE = (8.0, 6.0)
"""Inches of :func:`explore_figure`."""
EXPLORE_LEVELS = 32
"""Colour levels of the explore map: fine enough to show a 1 K step on a 300 K map."""
EXPLORE_MAP_NODES = 241
"""Nodes along each axis where the explore map is evaluated for drawing: 240 steps, finer than
a 150-sample map's triangles by about 20 times."""


OUTSIDE_LABEL = r"$\eta$ above $\eta_{up}$: outside the model"
"""The legend of the explore map's samples whose eta lies above eta_up
(:data:`sweep.flags.OUTSIDE_MODEL` says it in words)."""


def explore_figure(ds: xr.Dataset) -> Figure:
    """The map of an explore store's objective (``tc_max``) over its explored axes: over two
    axes the map between the learner's samples (:func:`sweep.analysis.maps.explore_map`, the
    map whose error docs/explore.md measures), the samples (dots; the polish's as crosses),
    the best (star), the samples whose maximum over eta lies on its bound (Tc a lower
    bound: open triangles) and those above eta_up (outside the model: open circles); over one
    axis the curve through the samples. ``ds``: the store's
    Dataset (:func:`sweep.store.open_dataset`); ValueError for three or four axes (read those
    with xarray)."""
    from ..store import explored
    from .maps import explore_map, map_axes

    ds = ds.load()
    axes = map_axes(ds)
    if len(axes) > 2:
        raise ValueError(f"--kind explore draws one or two explored axes; this store explores "
                         f"{len(axes)} ({', '.join(axes)}): read it with sweep.open_dataset")
    status = np.asarray(ds[explored.VAR_SAMPLE_STATUS].values).astype(np.int64)
    done = flags.has(status, flags.SAMPLE_DONE)
    if not done.any():
        raise ValueError("the explore store has no computed sample yet")
    polish = flags.has(status, flags.SAMPLE_POLISH) & done
    bound = flags.has(status, flags.SAMPLE_MAX_AT_BOUND) & done
    outside = flags.has(status, flags.SAMPLE_OUTSIDE_MODEL) & done
    tc = ds["tc_max"]
    units = tc.attrs.get("units", "K")
    z = np.asarray(tc.values, float)
    i = int(np.argmax(np.where(done, z, -np.inf)))
    fig = _new_figure(EXPLORE_FIGSIZE)
    ax = fig.add_subplot()
    x = np.asarray(ds[axes[0]].values, float)
    if len(axes) == 2:
        y = np.asarray(ds[axes[1]].values, float)
        gx = np.linspace(x[done].min(), x[done].max(), EXPLORE_MAP_NODES)
        gy = np.linspace(y[done].min(), y[done].max(), EXPLORE_MAP_NODES)
        mx, my = np.meshgrid(gx, gy)
        mz = explore_map(ds, np.column_stack([mx.ravel(), my.ravel()])).reshape(mx.shape)
        mesh = ax.contourf(mx, my, mz, levels=EXPLORE_LEVELS, cmap="viridis")
        # the marks unclipped: samples on the box's edges and corners (the map's edges) whole
        fig.colorbar(mesh, ax=ax, label=label(tc, SYMBOLS[VAR_TC]))
        ax.plot(x[done & ~polish], y[done & ~polish], ".", color="k", ms=3,
                label=f"samples ({int(np.count_nonzero(done & ~polish))})", clip_on=False)
        if polish.any():
            ax.plot(x[polish], y[polish], "x", color="tab:pink", ms=5,
                    label=f"polish ({int(np.count_nonzero(polish))})", clip_on=False)
        if bound.any():
            ax.plot(x[bound], y[bound], "^", mfc="none", color="tab:red", ms=6,
                    label=r"max over $\eta$ on its bound (a lower bound)")
        if outside.any():
            ax.plot(x[outside], y[outside], "o", mfc="none", color="0.4", ms=7, clip_on=False,
                    label=OUTSIDE_LABEL)
        ax.plot(x[i], y[i], "*", color="tab:orange", ms=16, mec="k", ls="none",
                label=f"best: {z[i]:.5g} {units}", clip_on=False)
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
        if outside.any():
            ax.plot(x[outside], z[outside], "o", mfc="none", color="0.4", ms=8, clip_on=False,
                    label=OUTSIDE_LABEL)
        ax.plot(x[i], z[i], "*", color="tab:orange", ms=16, mec="k", ls="none",
                label=f"best: {z[i]:.5g} {units}", clip_on=False)
        ax.set_ylabel(label(tc, SYMBOLS[VAR_TC]))
        ax.grid(True, alpha=0.3)
    ax.set_xlabel(label(ds[axes[0]]))
    ax.margins(0.02)  # samples on the box's edges stay visible
    best = explored.explore_attrs(ds.attrs)["best"] or {}
    fixed = [f"{SYMBOLS.get(a, a)} = {best[a]:.4g} "
             f"{'' if PARAMETERS[a].unit == '1' else PARAMETERS[a].unit}".rstrip()
             for a in ("L", "W", "V", "omega0", "g") if a not in axes and a in best]
    ax.set_title(f"Explore: {_math(str(tc.attrs.get('long_name', 'objective')))}"
                 + (f"\n({', '.join(fixed)})" if fixed else ""))
    fig.legend(loc="outside lower center", ncols=2)
    return fig
