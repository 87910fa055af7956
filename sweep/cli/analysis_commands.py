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
from pathlib import Path

from ..config import PAPER_G
from ..grid import DOME_AXES
from ..store.export import CSV_MAX_POINTS
from .options import add_storage_option, fmt, json_number, storage_options, store_exists


def _open(a: argparse.Namespace, *, dask: bool | None = None):
    """The store of ``a`` (see :func:`sweep.store.open_dataset` for ``dask``)."""
    from .. import store as store_mod
    so = storage_options(a)
    try:
        present = store_exists(a.store, so)
    except PermissionError as err:  # s3fs/gcsfs: refused credentials (or none)
        raise ValueError(f"{a.store}: access refused ({err}); give credentials with "
                         f"--storage-option or the usual environment variables") from None
    if not present:
        raise ValueError(f"{a.store}: no such store")
    return store_mod.open_dataset(a.store, storage_options=so, dask=dask)


def _cmd_dome(a: argparse.Namespace) -> dict:
    from ..analysis.domes import dome_report
    return dome_report(_open(a))


def _print_dome(doc: dict) -> None:
    for s in doc["structures"]:
        t = s["top"]
        how = "refined" if t.get("refined") else "grid"
        edge = ", on the edge of the g range" if t.get("at_g_edge") else ""
        print(f"L = {s['L']:g} Å, W = {s['W']:g} Å, V = {s['V']:g} meV, omega0 = "
              f"{s['omega0']:g} meV: top Tc = {fmt(t['tc_K'], '.6g')} K at g = "
              f"{fmt(t['g'], '.6g')}, eta = {fmt(t['eta'], '.6g')} ({how}{edge})")
        if t.get("gap_point"):
            gp = t["gap_point"]
            ratios = ", ".join(f"{n}: {fmt(x)}" for n, x in enumerate(t["gap_ratios"], 1))
            print(f"  2 Delta_n/(k_B Tc) at g = {gp['g']:g}, eta = {gp['eta']:g}, "
                  f"T/Tc = {gp['T_over_tc']:g} (Tc = {gp['tc_K']:.4g} K): {ratios}")
        print(f"  {'g':>8} {'eta_max':>9} {'Tc_max (K)':>11} {'eta_anti':>9} "
              f"{'Tc_anti (K)':>12}  {'values':7} antiresonance")
        for r in s["per_g"]:
            if r["antiresonance"] == "below_floor":
                lo, hi = r["eta_antiresonance_range"]
                anti = f"{'< ' + fmt(r['tc_antiresonance_upper_bound_K']):>12}"
                note = f"below the floor for eta in [{lo:.6g}, {hi:.6g}]"
            else:
                anti = f"{fmt(r['tc_antiresonance_K']):>12}"
                note = r["antiresonance"]
            missing = f", {r['missing_points']} points missing" if r["missing_points"] else ""
            values = "refined" if r.get("refined") else "grid"
            windows = "".join(
                f"; Tc >= {w['threshold_K']:g} K: eta in [{w['eta_lo']:.6f}, {w['eta_hi']:.6f}]"
                for w in r.get("windows", []) if w["eta_lo"] is not None)
            print(f"  {r['g']:8.4g} {fmt(r['eta_max'], '.6g'):>9} {fmt(r['tc_max_K'], '.6g'):>11} "
                  f"{fmt(r['eta_antiresonance']):>9} {anti}  {values:7} {note}{missing}{windows}")


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
        for p in (*FANO_PARAMS, *(p + "_err" for p in FANO_PARAMS), "rms"):
            rec[p] = json_number(f[p])
        rec["rms_units"] = fits["rms"].attrs["units"]
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
        print(f"L = {r['L']:g}, W = {r['W']:g}, V = {r['V']:g}, omega0 = {r['omega0']:g}, "
              f"g = {r['g']:.4g}: eta_res = {fmt(r['eta_res'])} ± "
              f"{fmt(r['eta_res_err'], '.2g')}, width = {fmt(r['width'])} ± "
              f"{fmt(r['width_err'], '.2g')}, q = {fmt(r['q'])} ± "
              f"{fmt(r['q_err'], '.2g')} (rms {fmt(r['rms'], '.3g')}{unit}, "
              f"{r['n_points']} points)")
        print(f"  fit quality: {r['quality']}: {r['quality_reason']}")


def _select(ds, items: list[str]):
    """One dome: ``AXIS=VALUE`` picks that grid value (else bad input naming the nearest),
    every other axis its first."""
    from ..grid import on_grid
    sel = {}
    for item in items:
        axis, sep, value = item.partition("=")
        if not sep or axis not in DOME_AXES:
            raise ValueError(f"--select: expected AXIS=VALUE with AXIS one of L, W, V, omega0, "
                             f"got {item!r}")
        try:
            sel[axis] = float(value)
        except ValueError:
            raise ValueError(f"--select: {value!r} is not a number") from None
    sel = {axis: on_grid(ds[axis].values, [v], name=f"--select {axis}")[0]
           for axis, v in sel.items()}
    one = ds.sel(sel) if sel else ds
    return one.isel({a: 0 for a in DOME_AXES if a not in sel})


def _cmd_plot(a: argparse.Namespace) -> dict:
    import sys

    import numpy as np

    from .. import store as store_mod
    from ..analysis.domes import t_floor_of
    from ..flags import STATUS_FAILED
    from ..analysis.plots import cuts_figure, dome_figure, structures_figure
    if a.dpi <= 0:
        raise ValueError(f"--dpi must be positive, got {a.dpi}")
    folder = Path(a.output).absolute().parent
    if not folder.is_dir():
        raise ValueError(f"-o {a.output}: folder {folder} does not exist")
    if a.log_color and a.kind != "dome":
        raise ValueError("--log-color: only for --kind dome")
    ds = _open(a)
    if a.kind == "structures":
        one = _select_facets(ds, a.select)
        fig = structures_figure(one, t_floor=t_floor_of(ds))
        structure = {k: [float(x) for x in np.atleast_1d(one[k].values)] for k in DOME_AXES}
    else:
        one = _select(ds, a.select)
        status = np.asarray(one[store_mod.VAR_STATUS].values)
        where = ", ".join(f"{k} = {float(one[k]):g}" for k in DOME_AXES)
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
            fig = cuts_figure(one, g_cuts=g_cuts, t_floor=t_floor_of(ds))
        structure = {k: float(one[k]) for k in DOME_AXES}
    fig.savefig(a.output, dpi=a.dpi)
    w, h = fig.get_size_inches() * a.dpi
    return {"file": a.output, "kind": a.kind, "width_px": int(round(w)),
            "height_px": int(round(h)), "structure": structure}


def _select_facets(ds, items: list[str]):
    """``--select`` of ``--kind structures``: V and omega0 values (on the grid) to draw."""
    from ..grid import on_grid
    sel: dict[str, list[float]] = {}
    for item in items:
        axis, sep, value = item.partition("=")
        if not sep or axis not in ("V", "omega0"):
            raise ValueError(f"--select: with --kind structures, expected V=VALUE or "
                             f"omega0=VALUE, got {item!r}")
        try:
            v = float(value)
        except ValueError:
            raise ValueError(f"--select: {value!r} is not a number") from None
        sel.setdefault(axis, []).extend(on_grid(ds[axis].values, [v], name=f"--select {axis}"))
    return ds.sel(sel) if sel else ds


def _print_plot(doc: dict) -> None:
    print(f"wrote {doc['file']} ({doc['kind']}, {doc['width_px']}x{doc['height_px']} px)")


def _cmd_export(a: argparse.Namespace) -> dict:
    from .. import store as store_mod
    from ..store.export import check_output, to_csv, to_netcdf
    if not a.netcdf and not a.csv:
        raise ValueError("give --netcdf FILE and/or --csv FILE")
    for out in (a.csv, a.netcdf):
        if out:
            check_output(out)
    ds = _open(a, dask=True)  # written chunk by chunk, whatever the size
    written = []
    if a.csv:  # checked first: the size limit refuses before any long netCDF write
        written.append(str(to_csv(ds, path=a.csv, max_points=a.max_points or CSV_MAX_POINTS)))
    if a.netcdf:
        written.append(str(to_netcdf(ds, path=a.netcdf)))
    return {"store": a.store, "points": int(ds[store_mod.VAR_TC].size), "files": written}


def _print_export(doc: dict) -> None:
    for f in doc["files"]:
        print(f"wrote {f} ({doc['points']} points)")


def add_commands(sub) -> None:
    """Add the analysis sub-commands to the ``fanodome`` sub-parsers ``sub``."""
    d = sub.add_parser(
        "dome", help="dome maxima, antiresonances and the top of each dome of a store",
        description="Per (L, W, V, omega0) and g: the maximum of Tc over eta (refined by a "
                    "parabola in log Tc through the grid maximum and its neighbours) and the "
                    "antiresonance (minimum of log Tc below eta_max; points below the "
                    "temperature floor give an upper bound, not a value); the top of the dome "
                    "over (g, eta). Antiresonance flags: refined, at_grid_edge (smallest "
                    "sampled value, an upper bound), below_floor, none. A store swept with "
                    "[outputs] gaps = true also gives 2 Delta_n/(k_B Tc) of each subband at the "
                    "grid point of the top, at the smallest stored T/Tc.")
    d.add_argument("store", metavar="STORE", help="zarr store path or URL")
    add_storage_option(d)
    d.add_argument("--json", action="store_true", help="one JSON document on stdout")
    d.set_defaults(func=_cmd_dome, show=_print_dome)

    f = sub.add_parser("fano", help="Fano fits of Tc(eta) at fixed g",
                       description="Fit F = A (q + e)^2/(1 + e^2) + B, e = 2 (eta - eta_res)/"
                                   "width, to Tc(eta) (or log F to log Tc with --log) per "
                                   "dome at the grid g nearest each --g; parameters with "
                                   "1-sigma errors.")
    f.add_argument("store", metavar="STORE", help="zarr store path or URL")
    f.add_argument("--g", type=float, nargs="+", default=None,
                   help="couplings, each a g of the store's grid (to 1e-6 relative) [the grid "
                        "g nearest 1/4 and 1/3]")
    f.add_argument("--log", action="store_true", help="fit log Tc")
    add_storage_option(f)
    f.add_argument("--json", action="store_true", help="one JSON document on stdout")
    f.set_defaults(func=_cmd_fano, show=_print_fano)

    p = sub.add_parser("plot", help="draw the dome (Fig. 4) or Tc(eta) cuts (Fig. 5) to a file",
                       description="dome: Tc over (eta, g) with the ridge, the top and the cuts "
                                   "marked; cuts: Tc(eta) at each --g, linear and log, maxima and "
                                   "antiresonances marked. One dome: the first L, W, V, "
                                   "omega0 unless --select picks others.")
    p.add_argument("store", metavar="STORE", help="zarr store path or URL")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="image file; the format follows the suffix (.png, .pdf, .svg)")
    p.add_argument("--kind", choices=("dome", "cuts", "structures"), default="dome",
                   help="dome: Tc over (eta, g); cuts: Tc(eta) at each --g; structures: the "
                        "top Tc of every structure over (W, L), one panel per (V, omega0) "
                        "[%(default)s]")
    p.add_argument("--log-color", action="store_true",
                   help="dome: a logarithmic colour scale (shows the antiresonance too)")
    p.add_argument("--g", type=float, nargs="+", default=None,
                   help="couplings of the cuts, each a g of the store's grid (to 1e-6 "
                        "relative) [the grid g nearest 1/4 and 1/3]")
    p.add_argument("--select", action="append", default=[], metavar="AXIS=VALUE",
                   help="dome to draw: a value of L, W (Å), V or omega0 (meV) on the store's "
                        "grid (to 1e-6 relative); repeatable")
    p.add_argument("--dpi", type=float, default=100.0, help="pixels per inch [%(default)s]")
    add_storage_option(p)
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(func=_cmd_plot, show=_print_plot)

    e = sub.add_parser("export", help="write a store as netCDF or CSV",
                       description="netCDF-4 (h5netcdf; any size, written chunk by chunk) and/or "
                                   "CSV (one row per point; small stores only).")
    e.add_argument("store", metavar="STORE", help="zarr store path or URL")
    e.add_argument("--netcdf", metavar="FILE", help="netCDF-4 file to write")
    e.add_argument("--csv", metavar="FILE", help="CSV file to write")
    e.add_argument("--max-points", type=int, default=None, metavar="N",
                   help=f"largest store written as CSV [{CSV_MAX_POINTS}]")
    add_storage_option(e)
    e.add_argument("--json", action="store_true", help="one JSON document on stdout")
    e.set_defaults(func=_cmd_export, show=_print_export)
