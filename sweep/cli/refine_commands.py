"""``fanodome refine``: the dome's numbers to solver precision, on the cluster, into the store.

Parses, builds the cluster, calls :func:`sweep.refine_service.refine_store` and prints; the
searches are :mod:`sweep.refine`'s. Heavy imports happen inside the command.
"""
from __future__ import annotations

import argparse
import logging
import sys

from .options import (BadInput, add_cluster_options, add_executor_options, add_storage_option,
                      cluster_config, emit, fmt, storage_options)


def refine_document(result) -> dict:
    """The ``refine`` part of ``fanodome run --json`` and the whole of ``fanodome refine
    --json``: what this call computed."""
    return {"store": result.store, "curves": result.curves, "domes": result.domes,
            "evaluations": result.evaluations, "failed_tasks": len(result.failures),
            "wall_s": round(result.wall_s, 3)}


def _settings(a: argparse.Namespace, cfg):
    """RefineSettings from --threshold and the store's config ``[refine]`` (tolerances)."""
    import dataclasses

    from ..refine import RefineSettings
    base = cfg.refine or RefineSettings()
    thresholds = tuple(a.threshold) if a.threshold is not None else base.thresholds
    try:
        return dataclasses.replace(base, thresholds=thresholds), cfg.curves_per_task
    except ValueError as err:
        raise BadInput(f"--threshold: {err}") from None


def _cmd_refine(a: argparse.Namespace) -> int:
    import tomllib

    from .. import store as store_mod
    from ..clusters import cluster_client, dashboard_link
    from ..config import parse_config
    from ..lock import StoreLock
    from ..refine_service import RefineResult, pending_work, refine_store
    from ..service import for_cluster

    if a.workers is not None and a.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {a.workers}")
    if a.scheduler and a.cluster:
        raise ValueError("--cluster and --scheduler exclude each other")
    so = storage_options(a)
    if not store_mod.exists(a.store, storage_options=so):
        raise BadInput(f"{a.store}: no such store")
    attrs = store_mod.read_attrs(a.store, storage_options=so)
    if "config_toml" not in attrs:
        raise BadInput(f"{a.store}: not a fanodome sweep store")
    cfg = parse_config(tomllib.loads(attrs["config_toml"]))
    settings, curves_per_task = _settings(a, cfg)
    spec = cluster_config(cfg, a)
    logging.getLogger("sweep").setLevel(min(logging.INFO, logging.getLogger().level))
    if a.verbose == 0:
        logging.getLogger("distributed").setLevel(logging.WARNING)
    if pending_work(a.store, settings=settings, storage_options=so) == 0:
        emit(a, refine_document(RefineResult(store=a.store, curves=0, domes=0, evaluations=0)))
        return 0  # refined with these settings already: no cluster to start
    r = for_cluster(cfg, store=a.store, cluster=spec, scheduler=a.scheduler)
    with StoreLock(r.store), cluster_client(cluster=spec, scheduler=a.scheduler,
                                            store=r.store, gaps=False) as client:
        link = dashboard_link(client)
        if link:
            print(f"dashboard: {link}", file=sys.stderr)
        result = refine_store(r.store, settings=settings, executor=client,
                              curves_per_task=curves_per_task, retries=cfg.retries,
                              storage_options=so)
    emit(a, refine_document(result))
    return 0 if result.complete else 1


def _print_refine(doc: dict) -> None:
    print(f"store {doc['store']}: refined {doc['curves']} curves and {doc['domes']} dome tops "
          f"with {doc['evaluations']} solver evaluations in {fmt(doc['wall_s'], '.1f')} s")
    if doc["failed_tasks"]:
        print(f"{doc['failed_tasks']} refine tasks failed: tracebacks in the store's "
              f"'refine_failures' attribute; run fanodome refine again to retry them")
    else:
        print(f"numbers: fanodome dome {doc['store']}")


def add_commands(sub) -> None:
    """Add ``refine`` to the ``fanodome`` sub-parsers ``sub``."""
    r = sub.add_parser(
        "refine", help="refine a store's maxima, antiresonances, windows and dome tops",
        description="For every curve Tc(eta) of a finished sweep store: the maximum (Brent's "
                    "method, kink-safe, |d eta| <= 1e-6), the antiresonance (followed past "
                    "the grid's first eta; an interval where Tc is below the floor), the "
                    "windows Tc >= T* for each --threshold (brentq, |d eta| <= 1e-8); per "
                    "dome the top over (eta, g) with g within the store's range. Computed "
                    "with the solver on the cluster, written into the store (variables "
                    "eta_max, tc_max, ..., top_tc). Resumable; a second run computes nothing. "
                    "Tolerances: the [refine] table of the store's config. Exit 0: all "
                    "refined; 1: some tasks failed; 2: bad input.")
    r.add_argument("store", metavar="STORE", help="zarr store path or URL")
    r.add_argument("--threshold", type=float, nargs="*", metavar="K",
                   help="temperatures T* (K) of the windows Tc >= T* [the config's "
                        "[refine] thresholds, else none]")
    add_executor_options(r)
    r.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_cluster_options(r)
    add_storage_option(r)
    r.set_defaults(func=_cmd_refine, show=_print_refine)
