"""Cost of the gaps below Tc against the cost of Tc, on the same points of the paper's grid.

    python benchmarks/bench_gaps.py [--eta-step 0.25] [--g-step 0.065] [--reference-points 3]

Prints one JSON document. On every point of a sub-grid of the paper's (eta in [-0.5, 3],
g in [0.1, 0.49]) whose Tc is above the floor it times, in one run and on one prepared
structure (DOS tables built, kernels compiled first):
- the Tc of the point alone (``tc_on_structure`` with one eta and one g), best of --repeat;
- the gaps at each T/Tc in {0, 0.5, 0.9} alone (``gaps_on_structure`` with one T_over_tc,
  which includes its own Tc call), best of --repeat;
and reports the ratio gap time / Tc time per (point, T): median and worst, per T and over all.
The slow reference solver (tests/reference_gaps.py) is timed on --reference-points points at the
same temperatures for comparison, with the largest difference of its gaps from the fast
solver's.
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import reference_gaps  # noqa: E402
from solver import STATUS_OK, prepare_structure, tc_on_structure, warmup  # noqa: E402
from solver.gaps import gaps_on_structure  # noqa: E402
from sweep.grid import inclusive_range  # noqa: E402

T_OVER_TC = (0.0, 0.5, 0.9)
REFERENCE_POINTS = [(1.0, 1 / 3), (0.5, 0.25), (2.0, 0.45), (-0.3, 0.3), (2.9, 0.1)]


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _stats(ratios: list[float]) -> dict:
    a = np.asarray(ratios)
    return {"median": round(float(np.median(a)), 2), "worst": round(float(a.max()), 2),
            "p90": round(float(np.quantile(a, 0.9)), 2), "n": int(a.size)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eta-step", type=float, default=0.25, help="eta spacing of the sub-grid")
    ap.add_argument("--g-step", type=float, default=0.065, help="g spacing of the sub-grid")
    ap.add_argument("--repeat", type=int, default=2, help="timings per call (best is kept)")
    ap.add_argument("--reference-points", type=int, default=3,
                    help="points for the slow reference solver")
    a = ap.parse_args()

    t0 = time.perf_counter()
    warmup()
    compile_s = time.perf_counter() - t0
    st = prepare_structure()
    eta = inclusive_range(-0.5, 3.0, a.eta_step)
    g = inclusive_range(0.10, 0.49, a.g_step)
    tc_on_structure(st, eta=eta, g=g)  # the DOS tables over the whole grid, built once

    rows = []
    for gg in g:
        for e in eta:
            tc = tc_on_structure(st, eta=[e], g=[gg])
            if tc.status[0, 0, 0] != STATUS_OK:
                continue
            tc_s = _best(lambda: tc_on_structure(st, eta=[e], g=[gg]), a.repeat)
            for t in T_OVER_TC:
                gap_s = _best(lambda: gaps_on_structure(st, eta=e, g=gg, T_over_tc=[t]),
                              a.repeat)
                rows.append((float(e), float(gg), t, tc_s, gap_s))
    ratios = {t: [r[4] / r[3] for r in rows if r[2] == t] for t in T_OVER_TC}
    worst = max(rows, key=lambda r: r[4] / r[3])

    reference = []
    for e, gg in REFERENCE_POINTS[:a.reference_points]:
        t0 = time.perf_counter()
        ref = reference_gaps.gaps_on_structure(st, eta=e, g=gg, T_over_tc=list(T_OVER_TC))
        reference_s = (time.perf_counter() - t0) / len(T_OVER_TC)
        t0 = time.perf_counter()
        fast = gaps_on_structure(st, eta=e, g=gg, T_over_tc=list(T_OVER_TC))
        fast_s = (time.perf_counter() - t0) / len(T_OVER_TC)
        gap_diff = np.max(np.abs(fast.delta_nodes / ref.delta_nodes - 1))
        mu_diff = np.max(np.abs(fast.mu_shift_meV - ref.mu_shift_meV))
        reference.append({"eta": round(e, 4), "g": round(gg, 4),
                          "reference_ms_per_T": round(1e3 * reference_s, 1),
                          "fast_ms_per_T": round(1e3 * fast_s, 2),
                          "speedup": round(reference_s / fast_s, 1),
                          "max_rel_gap_difference": float(f"{gap_diff:.1e}"),
                          "max_mu_shift_difference_meV": float(f"{mu_diff:.1e}")})

    print(json.dumps({
        "command": "python benchmarks/bench_gaps.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "compile_or_cache_load_s": round(compile_s, 2),
        "points_with_tc": len(rows) // len(T_OVER_TC),
        "tc_ms_per_point_median": round(1e3 * float(np.median([r[3] for r in rows])), 3),
        "gap_ms_per_point_and_T_median": round(1e3 * float(np.median([r[4] for r in rows])), 2),
        "ratio_gap_over_tc": {"all": _stats(sum(ratios.values(), [])),
                              **{f"T/Tc={t}": _stats(v) for t, v in ratios.items()}},
        "worst_case": {"eta": round(worst[0], 4), "g": round(worst[1], 4), "T_over_tc": worst[2],
                       "tc_ms": round(1e3 * worst[3], 3), "gap_ms": round(1e3 * worst[4], 2)},
        "reference_solver": reference,
    }, indent=2))


if __name__ == "__main__":
    main()
