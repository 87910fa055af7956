"""Parallel efficiency of a sweep on a LocalCluster: N workers against 1.

Run from the repository root, e.g. on a 16-core machine::

    python benchmarks/scaling.py --workers 1 8 16 --points 100000

and on a 2-core machine (goal: efficiency >= 0.9 on 2 workers)::

    python benchmarks/scaling.py --workers 2 --points 20000 --repeat 2

The grid is g (40 values, 0.10..0.49) x eta (-0.5..3) x ``--structures`` well widths L (8.5 Å
up, 0.05 Å apart), eta as long as it takes to reach ``--points``, on the paper's other
parameters. For each worker count a fresh LocalCluster (single-threaded worker processes on
127.0.0.1) is started and warmed (not timed); the timed part is ``run_sweep``: layout of a fresh
store in a temporary directory, every chunk, the final count. Reported per run: ``efficiency``
as ``fanodome run --json`` reports it (Σ busy / (task-phase wall × workers)), structure builds,
tasks; with several worker counts also ``scaling`` = T(1) / (N * T(N)) against the smallest.
Prints one JSON document; report ``uptime`` next to it.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import solver  # noqa: E402
from sweep.worker.warmup import solver_client  # noqa: E402
from sweep.config import ClusterConfig, parse_config  # noqa: E402
from sweep.run.service import run_sweep  # noqa: E402

N_G = 40


def grid_config(points: int, *, structures: int, chunk_eta: int | None, chunk_g: int | None):
    n_l = structures
    n_eta = max(1, math.ceil(points / (N_G * n_l)))
    doc = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "num": n_eta},
                    "g": {"start": 0.10, "stop": 0.49, "step": 0.01},
                    "L": {"start": 8.5, "stop": round(8.5 + 0.05 * (n_l - 1), 6), "num": n_l}},
           "run": {}}
    if chunk_eta:
        doc["run"]["chunk_eta"] = chunk_eta
    if chunk_g:
        doc["run"]["chunk_g"] = chunk_g
    return parse_config(doc)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 16],
                   help="worker counts to run [1 16]")
    p.add_argument("--points", type=int, default=100_000, help="grid size, about [100000]")
    p.add_argument("--structures", type=int, default=10, help="well widths L [10]")
    p.add_argument("--repeat", type=int, default=1, help="runs of each worker count [1]")
    p.add_argument("--chunk-eta", type=int, help="points per chunk along eta [config default]")
    p.add_argument("--chunk-g", type=int, help="points per chunk along g [config default]")
    p.add_argument("-v", "--verbose", action="store_true", help="progress lines on stderr")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO if a.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("distributed").setLevel(logging.WARNING)

    cfg = grid_config(a.points, structures=a.structures, chunk_eta=a.chunk_eta,
                      chunk_g=a.chunk_g)
    plan = cfg.plan()
    solver.warmup()  # fills the on-disk numba cache once, before any worker starts
    runs = []
    with tempfile.TemporaryDirectory(prefix="fanodome-scaling-") as tmp:
        for n in sorted(set(a.workers)):
            with solver_client(cluster=ClusterConfig(workers=n)) as client:
                for i in range(a.repeat):
                    store = str(Path(tmp) / f"w{n}-{i}.zarr")
                    t0 = time.perf_counter()
                    result = run_sweep(cfg, store=store, executor=client)
                    wall = time.perf_counter() - t0
                    assert result.complete, result.counts
                    acc = result.accounting()
                    runs.append({"workers": n, "wall_s": round(wall, 3),
                                 "tasks_wall_s": round(result.report.seconds, 3),
                                 "points_per_s": round(plan.n_points / wall, 1),
                                 "efficiency": acc["efficiency"],
                                 "structure_builds": acc["structure_builds"],
                                 "tasks": result.report.tasks_done,
                                 "load_avg": os.getloadavg()})
                    print(f"{n} workers: {wall:.2f} s, efficiency {acc['efficiency']}",
                          file=sys.stderr)
    base = min((r for r in runs if r["workers"] == runs[0]["workers"]),
               key=lambda r: r["wall_s"])
    for r in runs:
        r["speedup"] = round(base["wall_s"] / r["wall_s"], 3)
        r["scaling"] = round(base["wall_s"] * base["workers"] / (r["wall_s"] * r["workers"]), 3)
    print(json.dumps({
        "command": " ".join(["python", "benchmarks/scaling.py", *sys.argv[1:]]),
        "points": plan.n_points, "shape": plan.shape, "chunk": plan.chunk,
        "n_chunks": plan.n_chunks, "cpu_count": os.cpu_count(), "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
