"""``fanodome refine``: the dome's numbers to solver precision, on the cluster, into the store.

Parses, calls :func:`sweep.refine_store` (which locks the store and starts a cluster when
something is left to refine) and prints; the searches are :mod:`sweep.refine.searches`'.
Heavy imports happen inside the command.
"""
from __future__ import annotations

import argparse
import shlex

from ..addresses import on_this_machine
from ..config import RefineSettings
from .options import (BadInput, Interrupted, add_cluster_options, add_executor_options,
                      add_stall_option, add_storage_option, announce_compile,
                      check_executor_options, cluster_config, emit, fmt, interruptible,
                      print_dashboard, say, show_progress_logs, stall_seconds, storage_options)


def refine_document(result) -> dict:
    """The ``refine`` part of ``fanodome run --json`` and the whole of ``fanodome refine
    --json``: what this call computed."""
    return {"store": result.store, "curves": result.curves, "domes": result.domes,
            "evaluations": result.evaluations, "failed_tasks": len(result.failures),
            "wall_s": round(result.wall_s, 3), "nothing_to_do": result.nothing_to_do}


def _settings(a: argparse.Namespace, so):
    """The store's refinement (:func:`sweep.refine.stored_settings`) with --threshold's
    thresholds when given; its curves per task and retries."""
    import dataclasses

    from ..refine.service import stored_settings

    settings, curves_per_task, retries = stored_settings(a.store, storage_options=so)
    if a.threshold is not None:
        try:
            settings = dataclasses.replace(settings, thresholds=tuple(a.threshold))
        except ValueError as err:
            raise BadInput(f"--threshold: {err}") from None
    return settings, curves_per_task, retries


def _cmd_refine(a: argparse.Namespace) -> int:
    from ..config import ClusterConfig
    from ..refine.service import refine_store

    check_executor_options(a)
    stall = stall_seconds(a)
    so = storage_options(a)
    settings, curves_per_task, retries = _settings(a, so)  # refuses what cannot be refined
    spec = cluster_config(ClusterConfig(), a)
    if on_this_machine(cluster_kind=spec.kind, scheduler=a.scheduler):
        announce_compile(a, job="tc")
    show_progress_logs(a)
    try:
        with interruptible():
            result = refine_store(a.store, settings=settings, curves_per_task=curves_per_task,
                                  retries=retries, storage_options=so, cluster=spec,
                                  scheduler=a.scheduler, on_client=print_dashboard, **stall)
    except Interrupted as err:  # what is refined stays: a second refine goes on from there
        again = shlex.join(["fanodome", *(t.strip() for t in getattr(a, "argv", None) or
                                          ["refine", a.store])])
        say(f"interrupted: what is refined is kept; go on with: {again}")
        return err.exit_code
    emit(a, refine_document(result))
    return 0 if result.complete else 1


def _print_refine(doc: dict) -> None:
    if doc.get("nothing_to_do"):
        print(f"store {doc['store']}: nothing to do: every curve and dome top is refined with "
              f"these settings (other thresholds: --threshold); numbers: fanodome dome "
              f"{doc['store']}")
        return
    print(f"store {doc['store']}: refined {doc['curves']} curves and {doc['domes']} dome tops "
          f"with {doc['evaluations']} solver evaluations in {fmt(doc['wall_s'], '.1f')} s")
    if doc["failed_tasks"]:
        print(f"{doc['failed_tasks']} refine tasks failed: tracebacks in the store's "
              f"'refine_failures' attribute; run fanodome refine again to retry them")
    else:
        print(f"numbers: fanodome dome {doc['store']}")


_DEFAULT = RefineSettings()
"""The tolerances ``--help`` quotes: a config's ``[refine]`` may set others."""


def add_commands(sub) -> None:
    """Add ``refine`` to the ``fanodome`` sub-parsers ``sub``."""
    r = sub.add_parser(
        "refine", help="refine a store's maxima, antiresonances, windows and dome tops",
        description=f"For every curve Tc(eta) of a finished sweep store: the maximum "
                    f"(Brent's method, kink-safe, |d eta| <= {_DEFAULT.eta_tol:g}), the "
                    f"antiresonance (followed past the grid's first eta; an interval where Tc "
                    f"is below the floor), the windows Tc >= T* for each --threshold (brentq, "
                    f"|d eta| <= {_DEFAULT.root_tol:g}); per dome the top over (eta, g) with g "
                    "within the store's range. Computed "
                    "with the solver on the cluster, written into the store (variables "
                    "eta_max, tc_max, ..., top_tc). Resumable; the same "
                    "thresholds again: nothing to do. "
                    "Tolerances: the [refine] table the store was swept with, else the "
                    "defaults. Exit 0: all "
                    "refined; 1: some tasks failed; 2: bad input; 3: could not go on (no "
                    "worker, or the scheduler lost; what is refined is kept).")
    r.add_argument("store", metavar="STORE", help="zarr store path or URL")
    r.add_argument("--threshold", type=float, nargs="*", action="extend", metavar="K",
                   help="temperatures T* (K) of the windows Tc >= T* [those the store is "
                        "refined with, else those of the [refine] table it was swept with, "
                        "else none]")
    add_executor_options(r)
    add_stall_option(r)
    r.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_cluster_options(r, config=False)
    add_storage_option(r)
    r.set_defaults(func=_cmd_refine, show=_print_refine)
