"""The ``fanodome`` command line.

Each sub-command is a thin layer: parse, validate, call the library, print. Human-readable output
by default; ``--json`` prints exactly one JSON document on stdout. Bad input exits with code 2
and a one-line message on stderr.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys

import numpy as np

from solver import STATUS_OK, band_structure, defaults, tc_grid

from . import cli_analysis, cli_deploy, cli_gaps
from .grid import parse_values

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Raised for input errors that the CLI reports with exit code 2."""


def _add_structure_options(p: argparse.ArgumentParser) -> None:
    d = defaults.PAPER
    g = p.add_argument_group("structure (paper defaults)")
    g.add_argument("--L", type=float, default=d["L"], help="well (wire) width, Å [%(default)s]")
    g.add_argument("--W", type=float, default=d["W"], help="barrier (spacer) width, Å [%(default)s]")
    g.add_argument("--V", type=float, default=d["V"], help="barrier height, meV [%(default)s]")
    g.add_argument("--m-well", type=float, default=d["m_well"],
                   help="mass in the well along z, m_e [%(default)s]")
    g.add_argument("--m-barrier", type=float, default=d["m_barrier"],
                   help="mass in the barrier along z, m_e [%(default)s]")
    g.add_argument("--m-x", type=float, default=d["m_x"],
                   help="mass along the wires (x), m_e [%(default)s]")
    g.add_argument("--nbands", type=int, default=d["nbands"],
                   help="subbands kept; the highest is the resonant one [%(default)s]")
    g.add_argument("--ben-daniel-duke", action="store_true",
                   help="psi and psi'/m continuous at interfaces (default: psi and psi' continuous)")


def _add_model_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The couplings, softening and temperature floor (paper defaults); returns the group."""
    d = defaults.PAPER
    m = p.add_argument_group("model (paper defaults)")
    m.add_argument("--g-lower", type=float, default=d["g_lower"],
                   help="intraband coupling of the lower subbands [%(default)s]")
    m.add_argument("--g-inter", type=float, default=d["g_inter"],
                   help="coupling between different subbands [%(default)s]")
    m.add_argument("--no-softening", action="store_true",
                   help="use omega0 as the cut-off (default: omega0*sqrt(1-2g))")
    m.add_argument("--t-floor", type=float, default=d["t_floor"],
                   help="lowest temperature searched for Tc, K; below it the status is "
                        "below_floor [%(default)s]")
    return m


def _structure_kwargs(a: argparse.Namespace) -> dict:
    return dict(L=a.L, W=a.W, V=a.V, m_well=a.m_well, m_barrier=a.m_barrier, m_x=a.m_x,
                nbands=a.nbands, ben_daniel_duke=a.ben_daniel_duke)


def _cmd_bands(a: argparse.Namespace) -> dict:
    bs = band_structure(**_structure_kwargs(a))
    return {
        "bands": [{"n": n + 1, "E_min_meV": float(lo), "E_max_meV": float(hi)}
                  for n, (lo, hi) in enumerate(zip(bs.E_min, bs.E_max))],
        "E_L_meV": float(bs.E_L),
        "dE_meV": float(bs.dE),
    }


def _print_bands(doc: dict) -> None:
    print(f"{'n':>3} {'E_min (meV)':>14} {'E_max (meV)':>14} {'width (meV)':>12}")
    for b in doc["bands"]:
        print(f"{b['n']:>3} {b['E_min_meV']:14.4f} {b['E_max_meV']:14.4f} "
              f"{b['E_max_meV'] - b['E_min_meV']:12.4f}")
    print(f"E_L = {doc['E_L_meV']:.4f} meV, dE = {doc['dE_meV']:.4f} meV")


def _cmd_tc(a: argparse.Namespace) -> list[dict]:
    eta = parse_values(a.eta, name="--eta")
    g = parse_values(a.g, name="--g")
    omega0 = parse_values(a.omega0, name="--omega0")
    kw = _structure_kwargs(a)
    res = tc_grid(eta=eta, g=g, omega0=omega0, g_lower=a.g_lower, g_inter=a.g_inter,
                  softening=not a.no_softening, t_floor=a.t_floor, **kw)
    records = []
    for i, w in enumerate(omega0):
        for j, gg in enumerate(g):
            for k, e in enumerate(eta):
                ok = res.status[i, j, k] == STATUS_OK
                records.append({
                    "L": a.L, "W": a.W, "V": a.V, "omega0": float(w),
                    "eta": float(e), "g": float(gg),
                    "tc_K": float(res.tc_K[i, j, k]) if ok else None,
                    "status": res.status_name(int(res.status[i, j, k])),
                })
    return records


def _print_tc(records: list[dict]) -> None:
    print(f"{'omega0 (meV)':>12} {'g':>8} {'eta':>8} {'Tc (K)':>14}  status")
    for r in records:
        tc = f"{r['tc_K']:14.6g}" if r["tc_K"] is not None else f"{'-':>14}"
        print(f"{r['omega0']:12g} {r['g']:8g} {r['eta']:8g} {tc}  {r['status']}")


# ------------------------------------------------------------------ config / run / status
# The sweep modules pull in xarray, zarr and distributed; they are imported by the commands that
# use them so that `fanodome bands` and `fanodome tc` start fast.

PAPER_STORE = "fanodome-paper.zarr"


def _cmd_config(a: argparse.Namespace) -> str:
    from .config import load_config, paper_config
    cfg = paper_config() if a.name == "paper" else load_config(a.name)
    return cfg.to_toml()


def _print_text(text: str) -> None:
    sys.stdout.write(text)


def _emit(a: argparse.Namespace, doc) -> None:
    """Print a result the way main() does (for commands that also choose their exit code)."""
    if getattr(a, "json", False):
        json.dump(doc, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        a.show(doc)


def _cmd_run(a: argparse.Namespace) -> int:
    from pathlib import Path

    from . import store as store_mod
    from .analysis import dome_summary
    from .config import load_config, paper_config
    from .clusters import cluster_client
    from .lock import StoreLock
    from .service import check_can_start, run_sweep

    if a.workers is not None and a.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {a.workers}")
    cfg = load_config(a.config) if a.config else paper_config()
    store = a.store or (f"{Path(a.config).stem}.zarr" if a.config else PAPER_STORE)
    cfg, cluster, store = cli_deploy.prepare_run(cfg, a, store=store)
    so = cli_analysis.storage_options(a)
    check_can_start(cfg, store=store, resume=a.resume, overwrite=a.overwrite,
                    storage_options=so)
    # Progress lines (INFO) always show; distributed's own INFO chatter only with -v.
    logging.getLogger("sweep").setLevel(min(logging.INFO, logging.getLogger().level))
    if a.verbose == 0:
        logging.getLogger("distributed").setLevel(logging.WARNING)
    with StoreLock(store), cluster_client(scheduler=a.scheduler, cluster=cluster,
                                            store=store) as client:
        if client.dashboard_link:
            print(f"dashboard: {client.dashboard_link}", file=sys.stderr)
        result = run_sweep(cfg, store=store, executor=client, resume=a.resume,
                           overwrite=a.overwrite, locked=True, storage_options=so)
    doc = {"store": store, **result.counts,
           "computed_points": result.report.points_done + result.report.points_failed,
           "retried_chunks": result.report.retried, "wall_s": round(result.wall_s, 3),
           "task_s": round(result.report.task_seconds, 3),
           "dome": dome_summary(store_mod.open_dataset(store, storage_options=so))}
    _emit(a, doc)
    return 0 if result.complete else 1


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _print_run(doc: dict) -> None:
    print(f"store {doc['store']}: {doc['total']} points, {doc['done']} done, {doc['failed']} "
          f"failed, {doc['pending']} pending; computed {doc['computed_points']} in "
          f"{doc['wall_s']:.1f} s")
    if doc["failed"]:
        print(f"{doc['failed']} points failed: tracebacks in `fanodome status "
              f"{doc['store']}` and the store's 'failures' attribute; rerun with --resume")
    for r in doc["dome"]:
        print(f"dome at L = {r['L']:g} Å, W = {r['W']:g} Å, V = {r['V']:g} meV, "
              f"omega0 = {r['omega0']:g} meV:")
        print(f"  highest Tc = {_fmt(r['tc_max_K'], '.4g')} K at g = {_fmt(r['g_at_max'], 'g')}, "
              f"eta = {_fmt(r['eta_at_max'], 'g')}")
        for t in r["at_g"]:
            print(f"  g = {t['g_target']} (nearest grid g = {t['g']:g}): max Tc over eta = "
                  f"{_fmt(t['tc_max_K'], '.4g')} K at eta = {_fmt(t['eta'], 'g')}")


def _cmd_status(a: argparse.Namespace) -> dict:
    from . import store as store_mod
    if not store_mod.exists(a.store):
        raise BadInput(f"{a.store}: no such store")
    counts = store_mod.status_counts(a.store)
    if not a.json:
        counts = {**counts, "failures": store_mod.read_failures(a.store)}
    return counts


def _print_status(doc: dict) -> None:
    print(f"total {doc['total']}, done {doc['done']}, failed {doc['failed']}, "
          f"pending {doc['pending']}")
    for f in doc.get("failures", []):
        print(f"failed chunk {f['chunk']} after {f['attempts']} tries: {f['error']}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fanodome",
        description="Superconducting Tc domes of superlattices of quantum wires "
                    "(BPV multigap BCS at a Fano resonance). Energies in meV, lengths in Å, "
                    "masses in m_e, temperatures in K.",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = sub.add_parser("bands", help="subband edges, Lifshitz energy E_L and width dE",
                       description="Kronig-Penney subbands of the superlattice: exact edges "
                                   "(root finding), E_L (bottom of the resonant subband) and "
                                   "dE (its transverse width).")
    _add_structure_options(b)
    b.add_argument("--json", action="store_true", help="one JSON document on stdout")
    b.set_defaults(func=_cmd_bands, show=_print_bands)

    t = sub.add_parser("tc", help="critical temperature over a grid of (eta, g, omega0)",
                       description="Tc of the linearised multigap gap equation. Each value may "
                                   "be a number or an inclusive range START:STOP:STEP.")
    t.add_argument("--eta", nargs="+", required=True,
                   help="Lifshitz parameter (mu - E_L)/dE, dimensionless")
    t.add_argument("--g", nargs="+", required=True, help="coupling g of the resonant subband")
    t.add_argument("--omega0", nargs="+", default=[str(defaults.PAPER["omega0"])],
                   help="pairing cut-off before softening, meV [%(default)s]")
    _add_structure_options(t)
    _add_model_options(t)
    t.add_argument("--json", action="store_true", help="one JSON document (a list) on stdout")
    t.set_defaults(func=_cmd_tc, show=_print_tc)

    c = sub.add_parser("config", help="print a sweep config as TOML",
                       description="Print the paper's Fig. 4 sweep config (NAME = paper) as "
                                   "TOML to start from, or check a config file (NAME = its "
                                   "path) and print it with every default filled in.")
    c.add_argument("name", metavar="NAME", help="'paper' or a config file")
    c.set_defaults(func=_cmd_config, show=_print_text)

    r = sub.add_parser("run", help="run a sweep into a zarr store",
                       description="Run the sweep of CONFIG (default: the paper's Fig. 4 grid "
                                   f"into ./{PAPER_STORE}) on a Dask cluster, writing each "
                                   "chunk into the store as it finishes; then print the dome "
                                   "summary. Exit 0: every point done; 1: some points failed; "
                                   "2: bad input.")
    r.add_argument("config", nargs="?", metavar="CONFIG", help="TOML sweep config")
    r.add_argument("--store", metavar="PATH_OR_URL",
                   help=f"zarr store [{PAPER_STORE} without CONFIG, else CONFIG's name.zarr]")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="use an existing Dask cluster (tcp://host:port)")
    where.add_argument("--workers", type=int, metavar="N",
                       help="N single-threaded worker processes (local cluster; one per core) or "
                            "pods (kubernetes)")
    mode = r.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help="finish an existing store of the same config (pending/failed chunks)")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing store")
    r.add_argument("--json", action="store_true", help="one JSON document on stdout")
    cli_deploy.add_cluster_options(r)
    cli_analysis.add_storage_option(r)
    r.set_defaults(func=_cmd_run, show=_print_run)

    s = sub.add_parser("status", help="points done, failed and pending in a store")
    s.add_argument("store", metavar="STORE", help="zarr store path or URL")
    s.add_argument("--json", action="store_true",
                   help='one JSON document {"total", "done", "failed", "pending"} on stdout')
    s.set_defaults(func=_cmd_status, show=_print_status)
    cli_deploy.add_commands(sub)
    cli_analysis.add_commands(sub)
    cli_gaps.add_commands(sub)
    return p


_NEGATIVE_VALUE = re.compile(r"^-\.?\d")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    # argparse takes "-0.5:3:0.05" for an option; a leading space keeps it a value, and
    # float(" -0.5") still parses.
    argv = [" " + t if _NEGATIVE_VALUE.match(t) else t for t in argv]
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = args.func(args)
    except (ValueError, BadInput) as err:
        print(f"fanodome {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result is None:
        return 0
    if isinstance(result, int):
        return result
    if getattr(args, "json", False):
        json.dump(result, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        args.show(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
