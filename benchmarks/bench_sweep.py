"""The main job against the serial grid, side by side in one run, with a warm numba cache.

Run from the repository root::

    python benchmarks/bench_sweep.py [--repeat 5] [--baseline ../main]
    python benchmarks/bench_sweep.py --phases 8 [--baseline ../main]

Measures, alternating the commands so that the machine's load weighs on each alike, the median
and the range of ``--repeat`` runs of each:

- serial: ``fanodome tc --eta -0.5:3:0.05 --g 0.1:0.49:0.01 --json`` (the paper grid, 2840
  points, in one process: imports, kernels loaded, the grid, the JSON);
- run: ``fanodome run --store TMP`` (the README's first command: the paper grid and its
  refinement, 1350 solver evaluations, on a local cluster whose mode ``auto`` picks), and its
  ratio to serial (the goal: at most 1.5);
- run_threads, run_processes: the same with ``--local-mode threads`` / ``processes``;
- tiny_threads, tiny_processes: a 6-point grid in each mode; their difference is what a cluster
  of worker processes costs beyond one of threads (``PROCESS_CLUSTER_S`` in
  ``sweep/execution/clusters.py``);
- t_point: the solver's cost per point, one in-process ``tc_grid`` call on the paper grid;
- with ``--baseline CHECKOUT``: serial and run with that checkout's code in the same loop (the
  same machine load), e.g. main's before a change.

With ``--phases N`` instead: where the main job's time goes, from the timestamps of the log of
``fanodome -v run`` (N runs, alternating with the baseline's when given; medians). The phases
end at the log lines of :data:`PHASES`, the last at the process's exit.

Prints the commands and one JSON document (seconds of wall time).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "sweep.cli"]
SERIAL = ["tc", "--eta", "-0.5:3:0.05", "--g", "0.1:0.49:0.01", "--json"]
TINY_TOML = "[grid]\neta = [0.5, 1.0, 1.5]\ng = [0.2, 0.3]\n"


PHASES = (("start and imports", "local cluster:"),
          ("kernels from the numba cache", "kernels ready"),
          ("layout of the store", "laid out /"),
          ("layout of the refined numbers", "laid out the refined"),
          ("grid and refinement", "points (100.0 %)"),
          ("summary, close, exit", None))
"""(phase, the log line that ends it); None: the process's exit."""


def _log_time(line: str) -> float:
    """Epoch seconds of a log line of ``fanodome -v`` (logging's default asctime, local)."""
    import datetime

    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def phases_of_run(*, cwd: Path, store: Path) -> dict[str, float]:
    """Seconds of each of :data:`PHASES` in one ``fanodome -v run --store STORE``."""
    env = dict(os.environ, PYTHONPATH=str(cwd))
    t0 = time.time()
    out = subprocess.run(CLI + ["-v", "run", "--store", str(store)], cwd=cwd, env=env,
                         check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    end = time.time()
    lines = out.stderr.splitlines()
    seconds, last = {}, t0
    for name, marker in PHASES:
        t = end if marker is None else next(_log_time(x) for x in lines if marker in x)
        seconds[name], last = t - last, t
    seconds["total"] = end - t0
    return seconds


def phases(*, runs: int, baseline: Path | None) -> dict:
    """Medians of :func:`phases_of_run` over ``runs`` runs (``phases``), alternating with the
    baseline's (``baseline_phases``)."""
    where = {"phases": REPO}
    if baseline is not None:
        where["baseline_phases"] = baseline.resolve()
    seen: dict[str, list[dict]] = {name: [] for name in where}
    with tempfile.TemporaryDirectory(prefix="fanodome-bench-") as tmp:
        for name, checkout in where.items():
            print(f"$ fanodome -v run --store TMP  # {checkout}", file=sys.stderr)
            timed(SERIAL, cwd=checkout)  # the numba cache warm
        for i in range(runs):
            for name, checkout in where.items():
                seen[name].append(phases_of_run(cwd=checkout, store=Path(tmp) / f"{name}-{i}.zarr"))
    return {name: {phase: round(statistics.median(r[phase] for r in rs), 3)
                   for phase in rs[0]} for name, rs in seen.items()}


def kernel_time_per_point(*, repeat: int) -> float:
    """Seconds per point of one in-process ``tc_grid`` call on the paper grid (best of
    ``repeat``), after warm-up: the solver's own cost (``benchmarks/simulate_cluster.py``
    sleeps it per simulated point)."""
    sys.path.insert(0, str(REPO))
    import numpy as np

    import solver
    from sweep.config import paper_config

    cfg = paper_config()
    args = {a: np.asarray(cfg.axes[a]) for a in ("eta", "g", "omega0")}
    solver.warmup(gaps=False)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        solver.tc_grid(**args, L=cfg.axes["L"][0], W=cfg.axes["W"][0], V=cfg.axes["V"][0],
                       **cfg.model)
        best = min(best, time.perf_counter() - t0)
    return best / cfg.plan().n_points


def timed(args: list[str], *, cwd: Path) -> float:
    """Wall seconds of ``fanodome ARGS`` run with the code of the checkout at ``cwd``."""
    env = dict(os.environ, PYTHONPATH=str(cwd))
    t0 = time.perf_counter()
    subprocess.run(CLI + args, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "runs": [round(v, 3) for v in values]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="runs of each command [5]")
    p.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                   help="another checkout (e.g. main's) whose serial and run are measured in "
                        "the same loop, as baseline_serial and baseline_run")
    p.add_argument("--phases", type=int, metavar="N",
                   help="instead: the main job's phases from its log, medians of N runs")
    a = p.parse_args()
    load_before = os.getloadavg()
    if a.phases:
        doc = phases(runs=a.phases, baseline=a.baseline)
        print(json.dumps({"cpu_count": os.cpu_count(), "runs": a.phases,
                          "load_average_1min": {"before": round(load_before[0], 2),
                                                "after": round(os.getloadavg()[0], 2)},
                          **doc, **({"baseline": str(a.baseline)} if a.baseline else {})},
                         indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="fanodome-bench-") as tmp:
        tmp = Path(tmp)
        tiny = tmp / "tiny.toml"
        tiny.write_text(TINY_TOML)
        commands = {
            "serial": lambda i: SERIAL,
            "run": lambda i: ["run", "--store", str(tmp / f"run-{i}.zarr")],
            "run_threads": lambda i: ["run", "--store", str(tmp / f"t-{i}.zarr"),
                                      "--local-mode", "threads"],
            "run_processes": lambda i: ["run", "--store", str(tmp / f"p-{i}.zarr"),
                                        "--local-mode", "processes"],
            "tiny_threads": lambda i: ["run", str(tiny), "--store", str(tmp / f"tt-{i}.zarr"),
                                       "--local-mode", "threads"],
            "tiny_processes": lambda i: ["run", str(tiny), "--store",
                                         str(tmp / f"tp-{i}.zarr"), "--local-mode",
                                         "processes"],
        }
        where = {name: REPO for name in commands}
        if a.baseline is not None:
            commands["baseline_serial"] = commands["serial"]
            commands["baseline_run"] = lambda i: ["run", "--store", str(tmp / f"b-{i}.zarr")]
            where.update(baseline_serial=a.baseline.resolve(),
                         baseline_run=a.baseline.resolve())
        for name, args in commands.items():
            print(f"$ fanodome {' '.join(args('N'))}  # {where[name]}", file=sys.stderr)
        for checkout in set(where.values()):
            timed(SERIAL, cwd=checkout)  # the numba cache warm, the files in the page cache
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(a.repeat):
            for name, args in commands.items():
                walls[name].append(timed(args(i), cwd=where[name]))
    t_point = kernel_time_per_point(repeat=3)
    med = {name: statistics.median(v) for name, v in walls.items()}
    print(json.dumps({
        "cpu_count": os.cpu_count(), "repeat": a.repeat,
        "load_average_1min": {"before": round(load_before[0], 2),
                              "after": round(os.getloadavg()[0], 2)},
        "t_point_ms": round(1e3 * t_point, 4),
        **{name: summary(v) for name, v in walls.items()},
        "ratio_run_to_serial": round(med["run"] / med["serial"], 2),
        "ratio_run_threads_to_serial": round(med["run_threads"] / med["serial"], 2),
        "ratio_run_processes_to_serial": round(med["run_processes"] / med["serial"], 2),
        "process_cluster_s": round(med["tiny_processes"] - med["tiny_threads"], 2),
        **({"baseline": str(a.baseline),
            "ratio_baseline_run_to_baseline_serial": round(
                med["baseline_run"] / med["baseline_serial"], 2)}
           if a.baseline is not None else {}),
    }, indent=2))


if __name__ == "__main__":
    main()
