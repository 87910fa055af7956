"""``fanodome dome | fano | plot | export``: answers from a finished store, local or remote.

STORE is a path or an fsspec URL (``file://``, ``http(s)://`` read-only, ``s3://``, ``gs://``);
credentials come from ``--storage-option KEY=VALUE`` (passed to fsspec, e.g. ``endpoint_url``,
``key``, ``secret``, ``anon``) or the usual environment variables and config files. Each
``_cmd_x`` returns a JSON-able result (printed by its ``show``) or an exit code; ValueError
exits 2. Heavy imports happen inside the commands.

Each of these commands works on *domes*: Tc over (g, eta) at one (L, W, V, omega0) (see
:mod:`sweep.analysis.domes`); the JSON keys ``structures`` (``dome``) and ``structure``
(``plot``) name one dome each and keep their names for the documents' readers.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from ..config import PAPER_G
from ..flags import ANTI_FLAGS, DOME_FLAGS, OUTSIDE_MODEL, VALUES
from ..grid import DOME_AXES, GRID_MATCH_RTOL, MIN_DOME_G
from ..store.export import CSV_MAX_POINTS, check_output
from .options import (add_storage_option, fmt, json_number, named_values, say,
                      storage_options, store_exists, window_lines)

DEFAULT_DPI = 100.0
"""Pixels per inch of ``fanodome plot`` (``--dpi``)."""

OVERWRITE_HELP = "replace files that exist (else an existing file is refused)"
"""``--overwrite`` of the commands that write files (``plot``, ``export``): one rule,
:func:`sweep.store.export.check_output`."""

DPI_RANGE = (10.0, 1200.0)
"""Smallest and largest ``--dpi`` of ``fanodome plot``, pixels per inch: below 10 no label can
be read; 1200 is print resolution for line art, and the widest figure (cuts, 11 in) is then
13200 px wide, ~0.3 GB of raster in memory; beyond it the raster grows as dpi^2 (10^5 dpi ends
in a MemoryError)."""


def _open(a: argparse.Namespace, *, explore: bool | None = False, dask: bool | None = None):
    """The store of ``a.store``: a sweep's, or with ``explore`` an explore store's (each
    refused where the other is expected; ``explore=None`` takes either); ``dask`` as in
    :func:`sweep.store.open_dataset`."""
    from .. import store as store_mod
    from ..store.common import is_explore
    so = storage_options(a)
    try:
        present = store_exists(a.store, so)
    except PermissionError as err:  # s3fs/gcsfs: refused credentials (or none)
        raise ValueError(f"{a.store}: access refused ({err}); give credentials with "
                         f"--storage-option or the usual environment variables") from None
    if not present:
        raise ValueError(f"{a.store}: no such store")
    ds = store_mod.open_dataset(a.store, storage_options=so, dask=dask)
    if explore is not None and is_explore(ds.attrs) != explore:
        raise ValueError(f"{a.store}: an explore store (fanodome explore), not a sweep: draw "
                         f"it with fanodome plot {a.store} --kind explore -o map.png"
                         if not explore else
                         f"{a.store}: not an explore store (made by fanodome explore)")
    return ds


DOME_PROGRESS_S = 5.0
"""Seconds between the lines ``fanodome dome`` prints on stderr while it reads the domes of a
large store (a 3·10⁸-point one took minutes)."""


def _dome_progress(n: int):
    """``on_dome`` of :func:`sweep.analysis.domes.dome_report` for ``n`` domes: a line on stderr
    at most every :data:`DOME_PROGRESS_S` seconds, with the time left."""
    t0 = last = time.monotonic()
    done = 0

    def tick() -> None:
        nonlocal done, last
        done += 1
        now = time.monotonic()
        if done < n and now - last >= DOME_PROGRESS_S:
            last = now
            say(f"fanodome dome: {done} of {n} domes read, about "
                f"{(now - t0) / done * (n - done):.0f} s left (fewer domes: --select)")
    return tick


def _cmd_dome(a: argparse.Namespace) -> dict:
    from ..analysis.domes import dome_report
    ds = _open(a)
    one = _select_many(ds, a.select, axes=DOME_AXES)
    doc = dome_report(one, on_dome=_dome_progress(math.prod(one.sizes[d] for d in DOME_AXES)))
    if a.g is not None:  # the rows asked for; each dome's top stays its top over every g
        keep = set(_g_values(ds, a.g))
        for s in doc["structures"]:
            s["per_g"] = [r for r in s["per_g"] if r["g"] in keep]
    return doc


def _dome_name(values) -> str:
    """One dome by its axes, each value with its unit: ``L = 8.5 Å, W = 5.5 Å, V = 4160 meV,
    omega0 = 230 meV``. ``values``: a mapping with the :data:`~sweep.grid.DOME_AXES`."""
    return named_values(values, DOME_AXES)


def _print_dome(doc: dict) -> None:
    used: list[str] = []  # the words of the values column and the tops, explained at the end
    for s in doc["structures"]:
        t = s["top"]
        how = t["values"]
        used.append(how)
        if t.get("refined") and not t.get("searched_in_g", True):
            how = "refined in eta at the store's only g"
        edge = ", on the edge of the g range" if t.get("at_g_edge") else ""
        if t.get("at_eta_bound"):
            edge += ", its maximum over eta on the eta bound"
        if edge:
            edge += ": Tc may grow beyond it, a lower bound"
        if t.get("missing_points"):
            edge += (f"; {t['missing_points']} points of this dome not computed yet: the top "
                     f"of those that are, a lower bound")
        if t.get("outside_model"):
            edge += f"; top {OUTSIDE_MODEL}"
        where = (f"< {fmt(t['tc_upper_bound_K'], '.6g')} K" if t.get("tc_upper_bound_K") else
                 f"= {fmt(t['tc_K'], '.6g')} K at g = {fmt(t['g'], '.6g')}, eta = "
                 f"{fmt(t['eta'], '.6g')}")
        print(f"{_dome_name(s)}: top Tc {where} ({how}{edge})")
        if t.get("gap_point"):
            gp = t["gap_point"]
            ratios = ", ".join(f"{n}: {fmt(x)}" for n, x in enumerate(t["gap_ratios"], 1))
            print(f"  2 Delta_n/(k_B Tc) at g = {gp['g']:g}, eta = {gp['eta']:g}, "
                  f"T/Tc = {gp['T_over_tc']:g} (Tc = {gp['tc_K']:.4g} K): {ratios}")
        print(f"  {'g':>8} {'eta_max':>9} {'Tc_max (K)':>11} {'eta_anti':>9} "
              f"{'Tc_anti (K)':>12}  {'values':11} notes")
        for r in s["per_g"]:
            notes = []
            if r["dome"] == "at_grid_edge":
                notes.append("maximum at the edge of the eta grid: Tc_max is a lower bound")
            elif r["dome"] == "at_bound":
                notes.append("maximum at the upper bound of eta it was followed to, still "
                             "growing: Tc_max is a lower bound")
            elif r["dome"] == "none":
                notes.append("no Tc on the curve yet" if r["missing_points"] else
                             "no Tc on the curve")
            elif r["dome"] == "below_floor":
                notes.append(f"every point below the temperature floor: Tc_max < "
                             f"{fmt(r['tc_max_upper_bound_K'], '.6g')} K")
            if r["antiresonance"] == "below_floor":
                lo, hi = r["eta_antiresonance_range"]
                anti = f"{'< ' + fmt(r['tc_antiresonance_upper_bound_K']):>12}"
                notes.append(f"antiresonance below the floor for eta in [{lo:.6g}, {hi:.6g}]")
            else:
                anti = f"{fmt(r['tc_antiresonance_K']):>12}"
                notes.append({"interior": "antiresonance refined" if r.get("refined") else
                              "antiresonance between grid points (parabola vertex)",
                              "at_grid_edge": "antiresonance at the edge of the eta grid: "
                                              "Tc_anti is an upper bound",
                              "none": "no antiresonance"}[r["antiresonance"]])
            if r["missing_points"]:
                notes.append(f"{r['missing_points']} points missing")
            if r.get("outside_model"):
                notes.append(f"maximum {OUTSIDE_MODEL}")
            notes += window_lines(r.get("windows", []), digits=6, sep=": ")
            values = r["values"]
            used.append(values)
            tc_max = (f"< {fmt(r['tc_max_upper_bound_K'], '.6g')}"
                      if r.get("tc_max_upper_bound_K") else fmt(r['tc_max_K'], '.6g'))
            print(f"  {r['g']:8.4g} {fmt(r['eta_max'], '.6g'):>9} {tc_max:>11} "
                  f"{fmt(r['eta_antiresonance']):>9} {anti}  {values:11} {'; '.join(notes)}")
    for word in dict.fromkeys(used):
        print(f"values {word}: {VALUES[word]}")


def _cmd_fano(a: argparse.Namespace) -> dict:
    import numpy as np

    from ..analysis.fano import FANO_PARAMS, fano_fit, fano_quality
    ds = _open(a)
    fits = fano_fit(ds, g=_g_values(ds, a.g), log=a.log).compute()
    dims = DOME_AXES + ("g",)
    eta = ds["eta"].values
    rows = []
    for idx in fits["q"].stack(curve=dims)["curve"].values:
        f = fits.sel(dict(zip(dims, idx)))
        rec = {d: float(v) for d, v in zip(dims, idx)}
        for p in (*FANO_PARAMS, *(p + "_err" for p in FANO_PARAMS), "rms", "y_range", "cond"):
            rec[p] = json_number(f[p])
        rec["rms_units"] = fits["rms"].attrs["units"]
        rec["rms_relative"] = (None if rec["rms"] is None or not rec["y_range"] else
                               rec["rms"] / rec["y_range"])
        rec["n_points"] = int(np.nan_to_num(float(f["n_points"])))
        rec["quality"], rec["quality_reason"] = fano_quality(
            {k: (np.nan if v is None else v) for k, v in rec.items()},
            eta_lo=float(eta.min()), eta_hi=float(eta.max()))
        rows.append(rec)
    return {"form": fits.attrs["form"], "fits": rows}


def _g_values(ds, asked: list[float] | None) -> list[float]:
    """The grid g of ``--g``: each on the store's grid (else bad input naming the nearest),
    or, without --g, the grid g nearest each of the paper's (:data:`sweep.config.PAPER_G`)."""
    import numpy as np

    from ..grid import on_grid
    if asked is None:
        g = ds["g"].values
        return sorted({float(g[int(np.argmin(np.abs(g - x)))]) for x, _ in PAPER_G})
    return on_grid(ds["g"].values, asked, name="--g")


def _print_fano(doc: dict) -> None:
    print(doc["form"])
    for r in doc["fits"]:
        unit = "" if r["rms_units"] == "1" else f" {r['rms_units']}"
        def pm(p: str) -> str:
            err = "" if r[p + "_err"] is None else f" ± {fmt(r[p + '_err'], '.2g')}"
            return f"{p} = {fmt(r[p])}{err}"

        share = "" if r["rms_relative"] is None else f", {100 * r['rms_relative']:.2g} % of " \
                                                     f"the range"
        rms = "" if r["rms"] is None else f"rms {fmt(r['rms'], '.3g')}{unit}{share}, "
        print(f"{_dome_name(r)}, g = {r['g']:.4g}: {pm('eta_res')}, {pm('width')}, {pm('q')} "
              f"({rms}{r['n_points']} points)")
        print(f"  fit quality: {r['quality']}: {r['quality_reason']}")


def _select(ds, items: list[str]):
    """One dome and how it was picked: ``--select AXIS=VALUE`` (repeatable) keeps the domes
    with those values, as ``dome`` does (:func:`_select_many`); among the domes left, the one
    with the highest top Tc (the refined top where the store has one, else the grid's highest
    Tc). Returns (the dome, the number of domes it was picked from, how many of them have a
    value yet)."""
    left = _select_many(ds, items, axes=DOME_AXES)
    n = 1
    for a in DOME_AXES:
        n *= left.sizes[a]
    if n == 1:
        return left.isel({a: 0 for a in DOME_AXES}), 1, 1
    best, valued = _best_dome(left, list(DOME_AXES))
    return left.isel(best), n, valued


def _best_dome(ds, axes: list[str]) -> tuple[dict[str, int], int]:
    """Positions along ``axes`` of the dome with the highest top Tc (the store's refined tops
    where it has them, else the highest Tc on the grid; the first dome when none has a value),
    and how many domes have a value."""
    import numpy as np

    from .. import flags
    from .. import store as store_mod
    top = ds[store_mod.VAR_TC].max(["g", "eta"])
    if store_mod.VAR_TOP_STATUS in ds:
        done = flags.has(ds[store_mod.VAR_TOP_STATUS].astype(np.int64), flags.TOP_DONE)
        top = ds["top_tc"].where(done).fillna(top)
    top = top.compute()
    valued = int(top.notnull().sum())
    if not valued:
        return {a: 0 for a in axes}, 0
    best = top.fillna(-np.inf).argmax(dim=axes)
    return {a: int(best[a]) for a in axes}, valued


def _cmd_plot(a: argparse.Namespace) -> dict:
    lo, hi = DPI_RANGE
    if not lo <= a.dpi <= hi:
        raise ValueError(f"--dpi must be in [{lo:g}, {hi:g}] pixels per inch, got {a.dpi:g}")
    from ..analysis.plots import image_format
    image_format(a.output, name="-o")
    folder = Path(a.output).absolute().parent
    if not folder.is_dir():
        raise ValueError(f"-o {a.output}: folder {folder} does not exist")
    check_output(a.output, overwrite=a.overwrite)
    if a.log_color and a.kind != "dome":
        raise ValueError("--log-color: only for --kind dome")
    if a.kind == "explore":
        if a.select or a.g is not None:
            raise ValueError("--select and --g: not for --kind explore")
        from ..analysis.plots import explore_figure
        from ..store.explored import explore_attrs
        ds = _open(a, explore=True)
        fig = explore_figure(ds)
        fig.savefig(a.output, dpi=a.dpi)
        w, h = fig.get_size_inches() * a.dpi
        return {"file": a.output, "kind": a.kind, "width_px": int(round(w)),
                "height_px": int(round(h)), "best": explore_attrs(ds.attrs)["best"]}
    fig, structure = plot_figure(a, _open(a))
    fig.savefig(a.output, dpi=a.dpi)
    w, h = fig.get_size_inches() * a.dpi
    return {"file": a.output, "kind": a.kind, "width_px": int(round(w)),
            "height_px": int(round(h)), "structure": structure}


def plot_figure(a: argparse.Namespace, ds):
    """The figure ``fanodome plot`` draws of store ``ds`` with the options ``a`` (``kind``,
    ``select``, ``g``, ``log_color``), and the structure it shows."""
    import numpy as np

    from .. import store as store_mod
    from ..analysis.domes import t_floor_of
    from ..analysis.plots import cuts_figure, dome_figure, empty_cuts_note, structures_figure
    from ..flags import STATUS_FAILED
    if a.kind == "structures":
        from ..analysis.plots import uncomputed_points
        one = _select_many(ds, a.select, axes=("V", "omega0"))
        per = uncomputed_points(one)
        points = one.sizes["g"] * one.sizes["eta"]
        missing, total = int(per.sum()), per.size * points
        if missing == total:
            raise ValueError(f"none of the {per.size} structures shown has a computed point yet "
                             f"({missing} points pending or failed): finish the run (fanodome "
                             f"run ... --resume) first")
        if missing:
            empty = int((per == points).sum())
            print(f"fanodome plot: warning: {missing} of {total} points, in "
                  f"{int((per > 0).sum())} of the {per.size} structures shown, are pending or "
                  f"failed: a top found without them is a lower bound (marked △)"
                  + (f"; {empty} {'has' if empty == 1 else 'have'} no computed point "
                     f"(hatched)" if empty else ""),
                  file=sys.stderr)
        fig = structures_figure(one, t_floor=t_floor_of(ds))
        structure = {k: [float(x) for x in np.atleast_1d(one[k].values)] for k in DOME_AXES}
    else:
        one, n_domes, valued = _select(ds, a.select)
        if a.kind == "dome" and one.sizes["g"] < MIN_DOME_G:
            raise ValueError(f"--kind dome draws Tc over (eta, g) and needs at least "
                             f"{MIN_DOME_G} values of g; {a.store} has {one.sizes['g']}: draw "
                             f"its curves with --kind cuts")
        status = np.asarray(one[store_mod.VAR_STATUS].values)
        where = _dome_name(one)
        missing = int(np.count_nonzero(status >= STATUS_FAILED))
        if missing == status.size:
            raise ValueError(f"the dome at {where} has no computed point yet ({missing} pending "
                             f"or failed): finish the run (fanodome run ... --resume) first")
        if missing:
            print(f"fanodome plot: warning: {missing} of {status.size} points of the dome at "
                  f"{where} are pending or failed: drawn as gaps", file=sys.stderr)
        g_cuts = _g_values(one, a.g)
        if a.kind == "dome":
            fig = dome_figure(one, g_cuts=g_cuts, t_floor=t_floor_of(ds),
                              log_color=a.log_color)
        else:
            empty = empty_cuts_note(one, g_cuts=g_cuts)
            if empty:
                print(f"fanodome plot: warning: {empty}", file=sys.stderr)
            fig = cuts_figure(one, g_cuts=g_cuts, t_floor=t_floor_of(ds))
        if n_domes > 1:  # picked, not asked for: the title says why this one
            note = f"the highest top $T_c$ of {n_domes} domes" if valued == n_domes else \
                f"the highest top $T_c$ of the {valued} of {n_domes} domes computed so far"
            if a.kind == "dome":
                fig.axes[0].set_title(f"{fig.axes[0].get_title()}\n{note}")
            else:
                fig.suptitle(f"{fig._suptitle.get_text()}\n{note}")
        structure = {k: float(one[k]) for k in DOME_AXES}
    return fig, structure


def _select_many(ds, items: list[str], *, axes: tuple[str, ...]):
    """``--select AXIS=VALUE`` (repeatable) picking values of ``axes``, each on the store's
    grid (else bad input naming the nearest); every axis not named keeps all its values."""
    from ..grid import on_grid
    sel: dict[str, list[float]] = {}
    for item in items:
        axis, sep, value = item.partition("=")
        if not sep or axis not in axes:
            raise ValueError(f"--select: expected AXIS=VALUE with AXIS one of {', '.join(axes)}, "
                             f"got {item!r}")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"--select: {value!r} is not a number") from None
        picked = sel.setdefault(axis, [])
        picked += [x for x in on_grid(ds[axis].values, [v], name=f"--select {axis}")
                   if x not in picked]  # a value given twice is one dome, not two
    return ds.sel(sel) if sel else ds


def _print_plot(doc: dict) -> None:
    print(f"wrote {doc['file']} ({doc['kind']}, {doc['width_px']}x{doc['height_px']} px)")


def _cmd_export(a: argparse.Namespace) -> dict:
    from ..store.export import check_output, rows, to_csv, to_netcdf
    from ..store.common import is_explore
    if not a.netcdf and not a.csv:
        raise ValueError("give --netcdf FILE and/or --csv FILE")
    max_points = CSV_MAX_POINTS if a.max_points is None else a.max_points
    if max_points < 1:
        raise ValueError(f"--max-points must be >= 1, got {max_points}")
    if a.csv and a.netcdf and Path(a.csv).absolute() == Path(a.netcdf).absolute():
        raise ValueError(f"--csv and --netcdf name the same file {a.csv}")
    for out in (a.csv, a.netcdf):
        if out:
            check_output(out, overwrite=a.overwrite)
    ds = _open(a, explore=None, dask=True)  # written chunk by chunk, whatever the size
    written = []
    if a.csv:  # checked first: the size limit refuses before any long netCDF write
        written.append(str(to_csv(ds, path=a.csv, max_points=max_points,
                                  overwrite=a.overwrite)))
    if a.netcdf:
        written.append(str(to_netcdf(ds, path=a.netcdf, overwrite=a.overwrite)))
    if not is_explore(ds.attrs):
        from .. import store as store_mod
        counts = store_mod.status_counts(a.store, storage_options=storage_options(a))
        if counts["pending"] or counts["failed"]:
            print(f"fanodome export: warning: {counts['pending']} points pending and "
                  f"{counts['failed']} failed in {a.store}: exported without a value (their "
                  f"status says which); finish the run with --resume first for all",
                  file=sys.stderr)
    return {"store": a.store, "samples" if is_explore(ds.attrs) else "points": rows(ds),
            "files": written}


def _print_export(doc: dict) -> None:
    what = "samples" if "samples" in doc else "points"
    for f in doc["files"]:
        print(f"wrote {f} ({doc[what]} {what})")


def add_commands(sub) -> None:
    """Add the analysis sub-commands to the ``fanodome`` sub-parsers ``sub``."""
    d = sub.add_parser(
        "dome", help="dome maxima, antiresonances and the top of each dome of a store",
        description="Per (L, W, V, omega0) and g: the maximum of Tc over eta and the "
                    "antiresonance, and the top of the dome over (g, eta). Where the store "
                    "holds refined numbers (fanodome refine, or a run with [refine]) they are "
                    "shown, with the windows Tc >= T* (values 'refined'); else values "
                    f"'interp', {VALUES['interp']}. The lines under the table say what each "
                    "word of the values column means. Flags "
                    f"(JSON): of the maximum, \"dome\": {', '.join(DOME_FLAGS)}; of the "
                    f"antiresonance, \"antiresonance\": {', '.join(ANTI_FLAGS)} (at_grid_edge: "
                    "on the grid's first or last eta, a bound, not a value; below_floor: "
                    "below the temperature floor, an upper bound). A store swept with "
                    "[outputs] gaps = true also gives 2 Delta_n/(k_B Tc) of each subband at the "
                    "grid point of the top, at the smallest stored T/Tc.")
    d.add_argument("store", metavar="STORE", help="zarr store path or URL")
    d.add_argument("--g", type=float, nargs="+", action="extend", default=None,
                   help="the rows of these couplings, each a g of the store's grid (to "
                        f"{GRID_MATCH_RTOL:g} relative); each dome's top stays its top over "
                        "every g [every g]")
    d.add_argument("--select", action="append", default=[], metavar="AXIS=VALUE",
                   help="domes to show: a value of L, W (Å), V or omega0 (meV) on the store's "
                        f"grid (to {GRID_MATCH_RTOL:g} relative); repeatable [every dome]")
    add_storage_option(d)
    d.add_argument("--json", action="store_true", help="one JSON document on stdout")
    d.set_defaults(func=_cmd_dome, show=_print_dome)

    f = sub.add_parser("fano", help="Fano fits of Tc(eta) at fixed g",
                       description="Fit F = A (q + e)^2/(1 + e^2) + B, e = 2 (eta - eta_res)/"
                                   "width, to Tc(eta) (or log F to log Tc with --log) per "
                                   "dome at each --g; parameters with 1-sigma errors and a "
                                   "quality flag that says why a fit is not good (see "
                                   "docs/cli.md).")
    f.add_argument("store", metavar="STORE", help="zarr store path or URL")
    f.add_argument("--g", type=float, nargs="+", action="extend", default=None,
                   help=f"couplings, each a g of the store's grid (to {GRID_MATCH_RTOL:g} "
                        "relative) [the grid g nearest 1/4 and 1/3]")
    f.add_argument("--log", action="store_true", help="fit log Tc")
    add_storage_option(f)
    f.add_argument("--json", action="store_true", help="one JSON document on stdout")
    f.set_defaults(func=_cmd_fano, show=_print_fano)

    p = sub.add_parser("plot", help="draw the dome (Fig. 4), Tc(eta) cuts (Fig. 5) or the top "
                                    "Tc of every structure to a file",
                       description="dome: Tc over (eta, g) with the ridge, the top and the cuts "
                                   f"marked (at least {MIN_DOME_G} values of g); cuts: Tc(eta) "
                                   "at each --g, linear and log, maxima and antiresonances "
                                   "marked; structures: the top Tc of every structure over "
                                   "(W, L), one panel per (V, omega0). dome and cuts draw one "
                                   "dome: the one with the highest top Tc (named in the title) "
                                   "of those --select keeps (of all without it).")
    p.add_argument("store", metavar="STORE", help="zarr store path or URL")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="image file; the format follows its suffix (.png, .pdf, .svg, or any "
                        "other matplotlib writes); a name without one is refused, and so is "
                        "a file that exists, without --overwrite")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--kind", choices=("dome", "cuts", "structures", "explore"), default="dome",
                   help="dome: Tc over (eta, g); cuts: Tc(eta) at each --g; structures: the "
                        "top Tc of every structure over (W, L), one panel per (V, omega0); "
                        "explore: the map of an explore store (fanodome explore) over its "
                        "one or two axes, samples and best marked [%(default)s]")
    p.add_argument("--log-color", action="store_true",
                   help="dome: a logarithmic colour scale (shows the antiresonance too)")
    p.add_argument("--g", type=float, nargs="+", action="extend", default=None,
                   help="couplings of the cuts, each a g of the store's grid (to "
                        f"{GRID_MATCH_RTOL:g} relative) [the grid g nearest 1/4 and 1/3]")
    p.add_argument("--select", action="append", default=[], metavar="AXIS=VALUE",
                   help="domes to draw from: a value of L, W (Å), V or omega0 (meV) on the "
                        f"store's grid (to {GRID_MATCH_RTOL:g} relative); repeatable, as "
                        "dome's: the highest top Tc of the domes kept is drawn [every dome]")
    p.add_argument("--dpi", type=float, default=DEFAULT_DPI,
                   help=f"pixels per inch, {DPI_RANGE[0]:g} to {DPI_RANGE[1]:g} "
                        f"[{DEFAULT_DPI:g}]")
    add_storage_option(p)
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(func=_cmd_plot, show=_print_plot)

    e = sub.add_parser("export", help="write a store as netCDF or CSV",
                       description="A sweep's or an explore's store as netCDF-4 (h5netcdf, CF; "
                                   "any size, written chunk by chunk) and/or CSV (one row per "
                                   "point or sample; small stores only).")
    e.add_argument("store", metavar="STORE", help="zarr store path or URL")
    e.add_argument("--netcdf", metavar="FILE", help="netCDF-4 file to write")
    e.add_argument("--csv", metavar="FILE", help="CSV file to write")
    e.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    e.add_argument("--max-points", type=int, default=None, metavar="N",
                   help=f"most rows (points or samples) written as CSV [{CSV_MAX_POINTS}]")
    add_storage_option(e)
    e.add_argument("--json", action="store_true", help="one JSON document on stdout")
    e.set_defaults(func=_cmd_export, show=_print_export)
