"""Speed of the Tc kernel against a straightforward NumPy/SciPy implementation, in one run.

    python benchmarks/bench_solver.py [--naive-points 3]

Prints one JSON document: ms per (eta, g) point for fanodome on the paper's Fig. 4 grid (2840
points, everything included: bands, overlaps, DOS tables, roots), for a single tc_point call,
and for tests/naive.py's NaiveTc (structure set-up excluded, to its advantage), with the ratio
and the naive result's deviation from fanodome's.
"""
import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import naive  # noqa: E402
from solver import tc_grid, tc_point, warmup  # noqa: E402
from solver.constants import KB as KB_MEV_PER_K  # noqa: E402
from solver.tc import coupling_matrix, cutoff  # noqa: E402
from sweep.grid import inclusive_range  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naive-points", type=int, default=3, help="points for the naive solver")
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the grid timing (best)")
    a = ap.parse_args()

    t0 = time.perf_counter()
    warmup()
    compile_s = time.perf_counter() - t0

    eta = inclusive_range(-0.5, 3.0, 0.05)
    g = inclusive_range(0.10, 0.49, 0.01)
    best = math.inf
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        grid = tc_grid(eta=eta, g=g)
        best = min(best, time.perf_counter() - t0)
    points = eta.size * g.size
    t0 = time.perf_counter()
    tc_point(eta=1.0, g=0.25)
    single_s = time.perf_counter() - t0

    result = {}
    if a.naive_points > 0:
        result = naive_comparison(a.naive_points)
    per_point = best / points
    print(json.dumps({
        "command": "python benchmarks/bench_solver.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "compile_or_cache_load_s": round(compile_s, 2),
        "paper_grid_points": points,
        "paper_grid_s": round(best, 3),
        "fanodome_ms_per_point": round(1e3 * per_point, 3),
        "fanodome_single_tc_point_ms": round(1e3 * single_s, 1),
        "status_ok_points": int(np.count_nonzero(grid.status == 0)),
        **{k: v for k, v in result.items() if k != "naive_s_per_point"},
        **({"speedup_naive_over_fanodome": round(result["naive_s_per_point"] / per_point)}
           if result else {}),
    }, indent=2))


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
