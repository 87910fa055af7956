"""Speed of the Tc kernel against a straightforward NumPy/SciPy implementation, in one run.

    python benchmarks/bench_solver.py [--naive-points 3] [--repeat 3] [--baseline DIR] [--L WIDTH]

Prints one JSON document: ms per (eta, g) point for fanodome on the paper's Fig. 4 grid (2840
points, everything included: bands, overlaps, DOS tables, roots) as one call, and as the sweep
calls it (one call per store chunk of the paper config, on one prepared structure); one point
per call, as a refinement's searches call it (each eta of the grid at g = 1/4, 1/3 and 0.45, on
a prepared structure); the evaluations of Lambda(T) per root; a single tc_point call (a
structure prepared, a point solved); and tests/naive.py's NaiveTc
(structure set-up excluded, to its advantage), with the ratio and the naive result's deviation
from fanodome's.

``--baseline DIR``: DIR holds another version's ``solver`` package (for main's:
``git archive main solver | tar -x -C DIR``). Its grid is timed in this process too, rounds
alternating with this version's, so that both see the same machine: ms per point of each, the
ratio per round, and the largest relative difference between their Tc; the same for one point
per call.

``--L``: the well width (Å) of the structure whose grid is timed (the paper's by default); the
naive comparison, on the paper structure, is left out for another.
"""
import argparse
import importlib.util
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import naive  # noqa: E402
import solver  # noqa: E402
from solver import prepare_structure, tc_on_structure, tc_point  # noqa: E402
from solver.constants import KB as KB_MEV_PER_K  # noqa: E402
from solver.parameters import PARAMETERS  # noqa: E402
from solver.tc import coupling_matrix, cutoff  # noqa: E402
from sweep.config import paper_config  # noqa: E402
from sweep.grid import inclusive_range  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naive-points", type=int, default=3, help="points for the naive solver")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the grid timing (best)")
    ap.add_argument("--baseline", type=Path, metavar="DIR",
                    help="a folder holding another version's solver package, timed alongside")
    ap.add_argument("--L", type=float, default=PARAMETERS["L"].default, metavar="WIDTH",
                    help="well width of the timed structure, Å [%(default)s]")
    a = ap.parse_args()
    eta = inclusive_range(-0.5, 3.0, 0.05)
    g = inclusive_range(0.10, 0.49, 0.01)
    points = eta.size * g.size
    versions = {"fanodome": solver}
    if a.baseline is not None:
        versions["baseline"] = load_solver(a.baseline)

    compile_s = {}
    for name, mod in versions.items():
        t0 = time.perf_counter()
        mod.warmup(gaps=False)
        compile_s[name] = round(time.perf_counter() - t0, 2)

    grid_s = {name: [] for name in versions}
    one_s = {name: [] for name in versions}
    one_g = (0.25, 1 / 3, 0.45)
    tc, one_tc = {}, {}
    for _ in range(a.repeat):
        for name, mod in versions.items():
            t0 = time.perf_counter()
            r = mod.tc_grid(eta=eta, g=g, L=a.L)
            grid_s[name].append(time.perf_counter() - t0)
            tc[name] = r.tc_K
            if name == "fanodome":
                evaluations = r.evaluations
                ok = int(np.count_nonzero(r.status == 0))
            st = mod.prepare_structure(L=a.L)
            mod.tc_on_structure(st, eta=eta, g=one_g)  # the DOS tables over the whole range
            t0 = time.perf_counter()
            one_tc[name] = [mod.tc_on_structure(st, eta=[e], g=[gg]).tc_K[0, 0, 0]
                            for gg in one_g for e in eta]
            one_s[name].append(time.perf_counter() - t0)
    one_points = len(one_g) * eta.size

    chunk_s = math.inf
    rows = paper_config().chunk["g"]
    for _ in range(a.repeat):
        st = prepare_structure(L=a.L)
        t0 = time.perf_counter()
        for j in range(0, g.size, rows):
            tc_on_structure(st, eta=eta, g=g[j:j + rows])
        chunk_s = min(chunk_s, time.perf_counter() - t0)

    t0 = time.perf_counter()
    tc_point(eta=1.0, g=0.25)
    single_s = time.perf_counter() - t0

    paper = a.L == PARAMETERS["L"].default
    naive_result = naive_comparison(a.naive_points) if a.naive_points > 0 and paper else {}
    best = min(grid_s["fanodome"])
    doc = {
        "command": "python benchmarks/bench_solver.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "compile_or_cache_load_s": compile_s["fanodome"],
        "L_angstrom": a.L,
        "paper_grid_points": points,
        "paper_grid_s": round(best, 3),
        "fanodome_ms_per_point": round(1e3 * best / points, 3),
        "fanodome_ms_per_point_in_sweep_chunks": round(1e3 * chunk_s / points, 3),
        "sweep_chunk_g_rows": rows,
        "fanodome_ms_per_point_one_per_call": round(1e3 * min(one_s["fanodome"]) / one_points,
                                                    3),
        "lambda_evaluations_per_root": {"mean": round(float(evaluations.mean()), 2),
                                        "max": int(evaluations.max())},
        "fanodome_single_tc_point_ms": round(1e3 * single_s, 1),
        "status_ok_points": ok,
    }
    if "baseline" in versions:
        doc["baseline"] = {
            "path": str(a.baseline),
            "compile_or_cache_load_s": compile_s["baseline"],
            "ms_per_point_rounds": [round(1e3 * s / points, 3) for s in grid_s["baseline"]],
            "fanodome_ms_per_point_rounds": [round(1e3 * s / points, 3)
                                             for s in grid_s["fanodome"]],
            "baseline_over_fanodome_per_round": [
                round(b / f, 2) for b, f in zip(grid_s["baseline"], grid_s["fanodome"])],
            "max_relative_difference_of_tc": float(
                f"{np.nanmax(np.abs(tc['fanodome'] / tc['baseline'] - 1)):.2e}"),
            "same_nan_points": bool(np.array_equal(np.isnan(tc["fanodome"]),
                                                   np.isnan(tc["baseline"]))),
            "one_per_call_ms_per_point_rounds": [round(1e3 * s / one_points, 3)
                                                 for s in one_s["baseline"]],
            "fanodome_one_per_call_ms_per_point_rounds": [round(1e3 * s / one_points, 3)
                                                          for s in one_s["fanodome"]],
            "one_per_call_same_tc": bool(np.array_equal(one_tc["fanodome"], one_tc["baseline"],
                                                        equal_nan=True)),
        }
    if naive_result:
        doc.update({k: v for k, v in naive_result.items() if k != "naive_s_per_point"})
        doc["speedup_naive_over_fanodome"] = round(naive_result["naive_s_per_point"]
                                                   / (best / points))
    print(json.dumps(doc, indent=2))


def load_solver(folder: Path):
    """The ``solver`` package in ``folder``, imported as ``solver_baseline`` (its relative
    imports resolve inside it; its numba cache is keyed by its own files)."""
    init = folder / "solver" / "__init__.py"
    if not init.is_file():
        sys.exit(f"--baseline: no solver package in {folder} ({init} missing)")
    spec = importlib.util.spec_from_file_location("solver_baseline", init,
                                                  submodule_search_locations=[str(init.parent)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def naive_comparison(n_points: int) -> dict:
    """Time tests/naive.py's NaiveTc on a few paper points and compare with fanodome."""
    t0 = time.perf_counter()
    ref = naive.NaiveTc(L=8.5, W=5.5, V=4160.0, m_well=0.86, m_barrier=1.0, m_x=0.86, nbands=3)
    naive_setup_s = time.perf_counter() - t0
    cases = [(0.5, 0.25), (1.0, 0.25), (2.0, 1 / 3), (-0.3, 0.25)][:n_points]
    deviations = []
    t0 = time.perf_counter()
    for e, gg in cases:
        mu = ref.lo[-1] + e * (ref.hi[-1] - ref.lo[-1])
        t = ref.tc(mu=mu, gm=coupling_matrix(nbands=3, g=gg, g_lower=0.1, g_inter=0.1),
                   omega=cutoff(omega0=230.0, g=gg, softening=True), t_floor=KB_MEV_PER_K * 1e-6)
        ours = tc_point(eta=e, g=gg)[0]
        deviations.append(abs(t / KB_MEV_PER_K / ours - 1))
    naive_per_point = (time.perf_counter() - t0) / len(cases)
    return {"naive_setup_s": round(naive_setup_s, 1),
            "naive_ms_per_point": round(1e3 * naive_per_point, 1),
            "naive_s_per_point": naive_per_point,
            "naive_relative_deviation": [float(f"{d:.2e}") for d in deviations]}


if __name__ == "__main__":
    main()
