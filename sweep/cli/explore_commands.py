"""``fanodome explore``: a design question answered adaptively on the cluster, into a store.

Parses, calls :func:`sweep.explore` (which locks the store, starts a cluster when something is
left to compute, places the samples, polishes the best) and prints the best structure. Heavy
imports happen inside the command.
"""
from __future__ import annotations

import argparse
import sys

from ..addresses import on_this_machine
from ..flags import OUTSIDE_MODEL
from .options import (EXIT_FAILED_POINTS, EXIT_STALLED, BadInput, Interrupted,
                      add_cluster_options, add_executor_options, add_stall_option,
                      add_store_mode_options, announce_compile, check_executor_options,
                      cluster_config, emit, fmt, named_values, print_dashboard,
                      show_progress_logs, stall_seconds)
from .progress import Bars


def explore_document(result) -> dict:
    """The JSON document of ``fanodome explore``."""
    return {"store": result.store, "axes": list(result.axes), "budget": result.budget,
            "best": result.best, "samples": result.samples, "polish": result.polish,
            "computed": result.computed, "evaluations": result.evaluations,
            "failed": result.failed, "polish_converged": result.polish_converged,
            "polish_stopped": result.polish_stopped, "wall_s": round(result.wall_s, 3)}


def _cmd_explore(a: argparse.Namespace) -> int:
    from ..config import load_config

    check_executor_options(a)
    stall = stall_seconds(a)
    cfg = load_config(a.config)
    if cfg.explore is None:
        raise BadInput(f"{a.config}: no [explore] table; add one, e.g. [explore] axes = "
                       f"{{ L = [7.0, 11.0], W = [3.0, 10.0] }}, budget = 150")
    spec = cluster_config(cfg.cluster, a)
    if on_this_machine(cluster_kind=spec.kind, scheduler=a.scheduler):
        announce_compile(a, job="tc")
    show_progress_logs(a)

    from ..execution.runner import Stalled
    from ..explore.service import explore
    from .run_commands import interruptible, resume_command

    bars = Bars()

    try:
        with interruptible():
            result = explore(cfg, store=a.store, cluster=spec, scheduler=a.scheduler,
                             resume=a.resume, overwrite=a.overwrite, progress=bars,
                             on_client=print_dashboard, **stall)
    except (Interrupted, Stalled) as err:
        bars.close()
        print(f"fanodome explore: {err if isinstance(err, Stalled) else 'interrupted'}; "
              f"{a.store} keeps every finished sample: resume with: {resume_command(a)}",
              file=sys.stderr)
        return EXIT_STALLED if isinstance(err, Stalled) else err.exit_code
    doc = explore_document(result)
    warning = _warning(result.best)
    if warning and not a.json:
        print(f"fanodome explore: warning: {warning}", file=sys.stderr)
    emit(a, doc)
    return 0 if result.complete else EXIT_FAILED_POINTS


def _warning(best: dict | None) -> str | None:
    """What the best cannot tell, in words: Tc below the temperature floor at every sample, a
    best on the box's edge (Tc may be higher beyond it: the samples do not say) or at a
    parameter's own limit (no beyond), or one above eta_up (outside the model)."""
    if best is None:
        return None
    if "tc_upper_bound_K" in best:
        return (f"Tc is below the temperature floor ({best['tc_upper_bound_K']:g} K) at every "
                f"sample: nothing to polish; move or widen the box")
    said = []
    if best["at_edge"]:
        where = named_values(best, best["at_edge"])
        said.append(f"the best lies on the edge of the box at {where}: Tc may be higher "
                    f"beyond it; widen the box to see")
    if best.get("at_limit"):
        said.append(f"the best lies at {named_values(best, best['at_limit'])}, the "
                    f"parameter's own limit: Tc is highest there within the model's range")
    if "outside_model" in best["flags"]:
        said.append(f"the best's eta = {best['eta']:.6g} is {OUTSIDE_MODEL}")
    return "; ".join(said) or None


def _print_explore(doc: dict) -> None:
    print(f"explore {doc['store']}: {doc['samples']} samples (budget {doc['budget']}) and "
          f"{doc['polish']} polish points in the store; computed {doc['computed']} with "
          f"{doc['evaluations']} solver evaluations in {doc['wall_s']:.1f} s"
          + (f"; {doc['failed']} failed (tracebacks in the store's explore_failures; "
             f"--resume computes them again)" if doc["failed"] else ""))
    b = doc["best"]
    if b is None:
        print("no sample computed yet")
        return
    explored = doc["axes"]

    def values(names):
        return named_values(b, names, spec=".6g")

    shown = [a for a in ("L", "W", "V", "omega0", "g") if a in explored]
    fixed = [a for a in ("L", "W", "V", "omega0", "g") if a not in explored]
    if shown:
        print("best structure: " + values(shown) + (f" ({values(fixed)})" if fixed else ""))
    else:  # only eta explored: the structure is the [grid]'s
        print(f"structure (from [grid]; only eta explored): {values(fixed)}")
    what = "Tc" if "eta" in explored else "max Tc over eta"
    if "tc_upper_bound_K" in b:
        where = f"at eta = {b['eta']:.6g} (mu - E_L = {fmt(b['mu_minus_E_L_meV'], '.5g')} meV)" \
            if "eta" in explored else "at every eta searched"
        print(f"  {what} < {b['tc_upper_bound_K']:g} K (below the temperature floor: an upper "
              f"bound) {where}")
    else:
        lower = " (a lower bound: the maximum over eta lies on its bound)" \
            if b.get("tc_is_lower_bound") else ""
        print(f"  {what} = {b['tc_K']:.7g} K{lower} at eta = {b['eta']:.6g} "
              f"(mu - E_L = {fmt(b['mu_minus_E_L_meV'], '.5g')} meV)")
    how = {"converged": "converged", "points": "stopped before its tolerance (it used its "
           "polish_points)", "failed": "stopped by a failed point (--resume tries it again)",
           "below_floor": "not run: the best is below the temperature floor, nothing to polish",
           None: "not run"}[doc["polish_stopped"]]
    print(f"  found by {'the polish' if b['polish'] else 'the learner'} (sample {b['sample']}); "
          f"polish {how}")
    print(f"map: fanodome plot {doc['store']} --kind explore -o map.png")


def add_commands(sub) -> None:
    """Add ``explore`` to the ``fanodome`` sub-parsers ``sub``."""
    e = sub.add_parser(
        "explore", help="search a box of structures adaptively for the highest Tc",
        description="Sample the objective of CONFIG's [explore] table over its box of 1 to 4 "
                    "of L, W, V, omega0, g, eta (the maximum of Tc over eta, followed past "
                    "the [grid] eta axis without clipping; Tc at the point when eta is "
                    "explored) with python-adaptive's learners, as tasks on a Dask cluster, "
                    "then polish the best sample with a bounded Nelder-Mead; every sample "
                    "goes into the store as it finishes. Exit 0: done; 1: some samples "
                    "failed; 2: bad input; 3: stalled (the store is resumable).")
    e.add_argument("config", metavar="CONFIG", help="TOML config with an [explore] table")
    e.add_argument("--store", required=True, metavar="PATH", help="explore store (zarr)")
    add_executor_options(e)
    add_store_mode_options(e, resume="go on with an existing store of the same explore (its "
                                     "failed samples computed again, the others told to the "
                                     "learner); refused when there is none")
    e.add_argument("--json", action="store_true", help="one JSON document on stdout")
    add_stall_option(e)
    add_cluster_options(e)
    e.set_defaults(func=_cmd_explore, show=_print_explore)
