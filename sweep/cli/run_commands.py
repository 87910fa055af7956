"""``fanodome config | run | status``: sweeps into zarr stores.

The sweep modules pull in xarray, zarr and distributed; they are imported by the commands that
use them so that ``fanodome bands`` and ``fanodome tc`` start fast. ``run`` only parses, calls
:func:`sweep.run_sweep` and prints: checks, lock, cluster and refinement are the service's.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from ..addresses import on_this_machine
from ..flags import OUTSIDE_MODEL, VALUES
from .options import (EXIT_FAILED_POINTS, EXIT_STALLED, BadInput, Interrupted,
                      add_cluster_options, add_executor_options, add_stall_option,
                      add_storage_option, add_store_mode_options, announce_compile,
                      check_executor_options, cluster_config, count, edge_note, emit, fmt,
                      interruptible, named_values, print_dashboard, say, show_progress_logs,
                      stall_seconds, storage_options, store_exists, window_lines)
from .progress import Bars
from .refine_commands import refine_document

PAPER_STORE = "fanodome-paper.zarr"


def _cmd_config(a: argparse.Namespace) -> str:
    from ..config import load_config, paper_config
    cfg = paper_config() if a.name == "paper" else load_config(a.name)
    return cfg.to_toml()


def _print_text(text: str) -> None:
    sys.stdout.write(text)


def _cmd_run(a: argparse.Namespace) -> int:
    from pathlib import Path

    from ..config import check_sweepable, load_config, paper_config

    check_executor_options(a)
    stall = stall_seconds(a)
    cfg = load_config(a.config) if a.config else paper_config()
    check_sweepable(cfg)
    spec = cluster_config(cfg.cluster, a)
    if on_this_machine(cluster_kind=spec.kind, scheduler=a.scheduler):
        announce_compile(a, job="gaps" if cfg.gap_T_over_tc else "tc")
    store = a.store or (f"{Path(a.config).stem}.zarr" if a.config else PAPER_STORE)
    so = storage_options(a)
    show_progress_logs(a)
    bars = Bars()

    from ..execution.runner import Stalled
    from ..run.service import run_sweep

    try:
        with interruptible():
            result = run_sweep(cfg, store=store, cluster=spec, scheduler=a.scheduler,
                               resume=a.resume, overwrite=a.overwrite, storage_options=so,
                               progress=bars, on_client=print_dashboard, **stall)
    except (Interrupted, Stalled) as err:
        bars.close()
        if isinstance(err, Stalled):
            kept = (f"{store} keeps what finished: resume with: {resume_command(a)}"
                    if store_exists(store, so) else f"nothing was written to {store}: run it "
                    f"again")
            print(f"fanodome run: {err}; {kept}", file=sys.stderr)
            return EXIT_STALLED
        say(_interrupted_line(a, store=store, storage_options=so))
        return err.exit_code
    if result.nothing_to_do:
        print(f"{result.store}: all {result.counts['total']} points done; nothing to do",
              file=sys.stderr)
    emit(a, run_document(result, storage_options=so))
    return 0 if result.complete else EXIT_FAILED_POINTS


def run_document(result, *, storage_options) -> dict:
    """The JSON document of ``fanodome run``: counts, timing, accounting, the dome summary and
    the refinement."""
    from .. import store as store_mod
    from ..analysis.domes import dome_summary

    ds = store_mod.open_dataset(result.store, storage_options=storage_options, dask=None)
    doc = {"store": result.store, **result.counts,
           "computed_points": result.report.points_done + result.report.points_failed,
           "retried_chunks": result.report.retried, "wall_s": round(result.wall_s, 3),
           "task_s": round(result.report.task_seconds, 3),
           "tasks_wall_s": round(result.report.seconds, 3), **result.accounting(),
           "n_domes": dome_count(ds), "dome": dome_summary(ds),
           "nothing_to_do": result.nothing_to_do}
    if result.refine is not None:
        doc["refine"] = refine_document(result.refine)
    return doc


def dome_count(ds) -> int:
    """Domes in a store: one per (L, W, V, omega0)."""
    from ..grid import DOME_AXES
    n = 1
    for axis in DOME_AXES:
        n *= ds.sizes[axis]
    return n


def resume_command(a: argparse.Namespace) -> str:
    """The command line that finishes the run of ``a``: the same one with ``--resume``."""
    argv = [t.strip() for t in getattr(a, "argv", None) or ["run"]
            if t not in ("--resume", "--overwrite")]
    return shlex.join(["fanodome", *argv, "--resume"])


def _interrupted_line(a: argparse.Namespace, *, store: str, storage_options) -> str:
    from .. import store as store_mod
    try:
        counts = store_mod.status_counts(store, storage_options=storage_options)
    except (ValueError, OSError, KeyError):  # interrupted before the store was laid out
        again = shlex.join(["fanodome", *(t.strip() for t in getattr(a, "argv", None) or
                                          ["run"])])
        return f"interrupted: no points done (no store yet); start again with: {again}"
    return (f"interrupted: {counts['done']} of {counts['total']} points done; resume with: "
            f"{resume_command(a)}")


def _print_run(doc: dict) -> None:
    done = ("complete, nothing computed" if doc.get("nothing_to_do") else
            f"computed {doc['computed_points']} in {doc['wall_s']:.1f} s")
    print(f"store {doc['store']}: {doc['total']} points, {doc['done']} done, {doc['failed']} "
          f"failed, {doc['pending']} pending; {done}")
    if doc.get("efficiency") is not None:
        print(f"{count(len(doc['workers']), 'worker')}, "
              f"{count(doc['structure_builds'], 'structure build')}, "
              f"efficiency {doc['efficiency']:.2f}")
    if doc["failed"]:
        print(f"{doc['failed']} points failed: tracebacks in `fanodome status "
              f"{doc['store']}` and the store's 'failures' attribute; rerun with --resume")
    if "refine" in doc and doc["refine"].get("nothing_to_do"):
        print("refinement: nothing to do (every curve and dome top refined with these settings)")
    elif "refine" in doc:
        rf = doc["refine"]
        print(f"refined {rf['curves']} curves and {rf['domes']} dome tops with "
              f"{rf['evaluations']} solver evaluations in {rf['wall_s']:.1f} s"
              + (f"; {rf['failed_tasks']} tasks failed" if rf["failed_tasks"] else ""))
    shown, n = len(doc["dome"]), doc["n_domes"]
    which = (f"the {'dome' if n == 1 else f'{n} domes'}" if shown == n
             else f"{shown} of {n} domes, highest Tc first")
    print(f"{which}; every dome in full: fanodome dome {doc['store']}")
    if any(not r.get("refined") for r in doc["dome"]):
        print(f"grid values: {VALUES['grid']}")
    for r in doc["dome"]:
        how = r["values"]
        print(f"dome at L = {r['L']:g} Å, W = {r['W']:g} Å, V = {r['V']:g} meV, "
              f"omega0 = {r['omega0']:g} meV ({how} values):")
        if r.get("tc_max_upper_bound_K"):
            print(f"  highest Tc < {fmt(r['tc_max_upper_bound_K'], '.5g')} K: "
                  f"{VALUES['below_floor']}")
        else:
            print(f"  highest Tc = {fmt(r['tc_max_K'], '.5g')} K at g = "
                  f"{fmt(r['g_at_max'], '.5g')}, eta = {fmt(r['eta_at_max'], '.5g')}"
                  f"{edge_note(r.get('at_edge'))}"
                  + (f"; {OUTSIDE_MODEL}" if r.get("outside_model") else ""))
        for t in r["at_g"]:
            which = (f"g = {t['g']:g}" if t["g_target"] is None else
                     f"g = {t['g_target']} (nearest grid g = {t['g']:g})")
            if t.get("tc_max_upper_bound_K"):
                print(f"  {which}: max Tc over eta < {fmt(t['tc_max_upper_bound_K'], '.5g')} K: "
                      f"{VALUES['below_floor']}")
            else:
                print(f"  {which}: max Tc over eta = {fmt(t['tc_max_K'], '.5g')} K at eta = "
                      f"{fmt(t['eta'], '.5g')}{edge_note(t.get('at_edge'))}"
                      + (f"; {OUTSIDE_MODEL}" if t.get("outside_model") else ""))
            for line in window_lines(t.get("windows", []), digits=5):
                print(f"    {line}")


def _cmd_status(a: argparse.Namespace) -> dict:
    from .. import store as store_mod
    so = storage_options(a)
    if not store_exists(a.store, so):
        raise BadInput(f"{a.store}: no such store")
    from ..store.common import is_explore
    if is_explore(store_mod.read_attrs(a.store, storage_options=so)):
        from ..store.explored import explore_status
        return explore_status(a.store, storage_options=so)
    counts = store_mod.status_counts(a.store, storage_options=so)
    if not a.json:
        counts = {**counts, "failures": store_mod.read_failures(a.store, storage_options=so)}
    return counts


def _print_explore_status(doc: dict) -> None:
    samples, polish, finished = doc["samples"], doc["polish"], doc["finished"]
    why = "; ".join(f"{phase} finished ({how})" for phase, how in finished.items() if how)
    print(f"explore store {doc['store']}: {samples['done']} of {samples['of']} samples done, "
          f"{samples['failed']} failed; {polish['done']} of at most {polish['of']} polish "
          f"points done, {polish['failed']} failed" + (f"; {why}" if why else ""))
    b = doc["best"]
    if b:
        where = named_values(b, ("L", "W", "V", "omega0", "g", "eta"), spec=".6g")
        edge = "" if not b.get("at_edge") else (
            f" (on the edge of the box at {named_values(b, b['at_edge'])}: Tc may be higher "
            f"beyond it)")
        if b.get("at_limit"):
            edge += f" (at {named_values(b, b['at_limit'])}, the parameter's own limit)"
        tc = (f"Tc < {b['tc_upper_bound_K']:g} K (below the temperature floor)"
              if "tc_upper_bound_K" in b else f"Tc = {b['tc_K']:.7g} K")
        print(f"best as the last explore on it ended: {tc} at {where}{edge}")
    print(f"map: fanodome plot {doc['store']} --kind explore -o map.png")
    for f in doc["failures"]:
        point = dict(zip(doc["axes"], f.get("point") or ()))
        where = named_values(point, point) if point else f.get("point")
        print(f"failed sample {f.get('sample')} at {where} after {f['attempts']} tries: "
              f"{f['error']}")


def _print_status(doc: dict) -> None:
    if doc.get("explore"):
        _print_explore_status(doc)
        return
    print(f"total {doc['total']}, done {doc['done']}, failed {doc['failed']}, "
          f"pending {doc['pending']}")
    if doc.get("missing"):
        print(f"{doc['missing']} points are marked ok but their tc values are missing (a lost "
              f"chunk file): counted as pending; --resume recomputes them")
    for f in doc.get("failures", []):
        print(f"failed chunk {f['chunk']} after {f['attempts']} tries: {f['error']}")


def add_commands(sub) -> None:
    """Add ``config``, ``run`` and ``status`` to the ``fanodome`` sub-parsers ``sub``."""
    c = sub.add_parser("config", help="print a sweep config as TOML",
                       description="Print the paper's Fig. 4 sweep config (NAME = paper) as "
                                   "TOML to start from, or check a config file (NAME = its "
                                   "path) and print it with the defaults of [grid], [model] "
                                   "and [run] filled in (the other tables as given; [run] "
                                   "batch_size and max_points only where set).")
    c.add_argument("name", metavar="NAME", help="'paper' or a config file")
    c.set_defaults(func=_cmd_config, show=_print_text)

    r = sub.add_parser("run", help="run a sweep into a zarr store",
                       description="Run the sweep of CONFIG (default: the paper's Fig. 4 grid "
                                   f"into ./{PAPER_STORE}) on a Dask cluster, writing each "
                                   "chunk into the store as it finishes; with a [refine] "
                                   "table (the paper config has one) refine the maxima, "
                                   "antiresonances, windows and dome tops with the solver "
                                   "(see fanodome refine); then print the dome summary. "
                                   "The same command again finishes what a stopped run "
                                   "left (a complete store: only the summary, no cluster); "
                                   "a store of another config needs --overwrite. "
                                   "Exit 0: every point done (and refined); 1: some points "
                                   "or refine tasks failed; 2: bad input; 3: stalled (no "
                                   "running worker for --stall-timeout seconds; the store is "
                                   "resumable).")
    r.add_argument("config", nargs="?", metavar="CONFIG", help="TOML sweep config")
    r.add_argument("--store", metavar="PATH_OR_URL",
                   help=f"zarr store [{PAPER_STORE} without CONFIG, else CONFIG's name.zarr]")
    add_executor_options(r)
    add_store_mode_options(r, resume="finish an existing store of the same config "
                                     "(pending/failed chunks); refused when there is none")
    r.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_stall_option(r)
    add_cluster_options(r)
    add_storage_option(r)
    r.set_defaults(func=_cmd_run, show=_print_run)

    s = sub.add_parser("status", help="points done, failed and pending in a store",
                       description="Count the points of a sweep store: done, failed (their "
                                   "tasks' errors follow), pending, and marked ok but missing "
                                   "their value (counted as pending); of an explore store, its "
                                   "samples and polish points done and failed, the phases "
                                   "finished and the best as the last explore on it ended. "
                                   "Reads the store only; works while a run or an explore "
                                   "writes it.")
    s.add_argument("store", metavar="STORE", help="zarr store path or URL")
    s.add_argument("--json", action="store_true",
                   help='one JSON document {"total", "done", "failed", "pending", "missing"} '
                        'on stdout; of an explore store {"store", "explore", "samples", '
                        '"polish", "finished", "best", "failures"}')
    add_storage_option(s)
    s.set_defaults(func=_cmd_status, show=_print_status)
