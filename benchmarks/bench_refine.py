"""Refining a store against the sweep that made it, side by side in one run, with a warm numba
cache.

Run from the repository root::

    python benchmarks/bench_refine.py [--stores paper nine many] [--repeat 3] [--baseline ../main]

For each store, alternating the two commands ``--repeat`` times (median and range of each):

- sweep: ``fanodome run GRID.toml --store TMP --json`` end to end, the grid without
  ``[refine]``;
- refine: ``fanodome refine TMP --threshold 273.15 293.15 --json`` end to end on that store,
  and ``refine_s``, the refinement alone (its ``wall_s``);
- ratio = refine / sweep (the goal on many-structure stores: at most 1.5);
- the solver evaluations of the refinement, per curve (maximum's and all searches') and per top;
- with ``--baseline CHECKOUT``: the same two commands with that checkout's code, in the same
  loop (the same machine load), e.g. main's before a change.

The stores: ``paper`` (the paper grid, 40 curves, one dome), ``nine`` (L 8-9 Å, W 5-7 Å, two
g, eta -0.5..3.5: 18 curves, 9 domes), ``many`` (L 8-10 Å and W 5-9 Å, 9 values each, two g:
162 curves, 81 domes).

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

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sweep import store as store_mod  # noqa: E402
from sweep.config import PAPER_GRID, to_toml  # noqa: E402

THRESHOLDS = ("273.15", "293.15")
ETA_WIDE = {"start": -0.5, "stop": 3.5, "step": 0.05}
G_PAPER = [0.25, 1 / 3]
STORES = {
    "paper": {"grid": {k: dict(v) for k, v in PAPER_GRID.items()}},
    "nine": {"grid": {"eta": ETA_WIDE, "g": G_PAPER, "L": [8.0, 8.5, 9.0],
                      "W": [5.0, 6.0, 7.0]}},
    "many": {"grid": {"eta": ETA_WIDE, "g": G_PAPER, "L": {"start": 8.0, "stop": 10.0, "num": 9},
                      "W": {"start": 5.0, "stop": 9.0, "num": 9}}},
}


def _timed(cmd: list[str], *, show: bool, checkout: Path = REPO) -> tuple[float, dict]:
    """Wall seconds and JSON output of ``cmd`` run with the code of ``checkout``."""
    if show:
        print(f"$ fanodome {' '.join(cmd[3:])}  # {checkout}", file=sys.stderr)
    env = dict(os.environ, PYTHONPATH=str(checkout))
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=checkout, check=True, env=env)
    return time.perf_counter() - t0, json.loads(out.stdout)


def _distribution(values: np.ndarray) -> dict:
    v = np.asarray(values).ravel()
    return {"min": int(v.min()), "median": float(np.median(v)),
            "p90": float(np.percentile(v, 90)), "max": int(v.max()),
            "mean": round(float(v.mean()), 1)}


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def bench(name: str, *, tmp: Path, repeat: int, baseline: Path | None = None) -> dict:
    cli = [sys.executable, "-m", "sweep.cli"]
    grid = tmp / f"{name}.toml"
    grid.write_text(to_toml(STORES[name]))
    sweeps, refines, inside = [], [], []
    base_sweeps, base_refines = [], []
    evaluations = None
    for i in range(repeat):
        store = tmp / f"{name}-{i}.zarr"
        wall, doc = _timed(cli + ["run", str(grid), "--store", str(store), "--json"],
                           show=i == 0)
        sweeps.append(wall)
        wall, doc = _timed(cli + ["refine", str(store), "--threshold", *THRESHOLDS, "--json"],
                           show=i == 0)
        refines.append(wall)
        inside.append(doc["wall_s"])
        evaluations = doc["evaluations"]
        if baseline is not None:
            store = tmp / f"{name}-baseline-{i}.zarr"
            wall, _ = _timed(cli + ["run", str(grid), "--store", str(store), "--json"],
                             show=i == 0, checkout=baseline)
            base_sweeps.append(wall)
            wall, _ = _timed(cli + ["refine", str(store), "--threshold", *THRESHOLDS,
                                    "--json"], show=i == 0, checkout=baseline)
            base_refines.append(wall)
    ds = store_mod.open_dataset(str(tmp / f"{name}-0.zarr"))
    base = {}
    if baseline is not None:
        base = {"baseline_sweep_wall_s": _summary(base_sweeps),
                "baseline_refine_wall_s": _summary(base_refines),
                "baseline_ratio_refine_to_sweep": round(
                    statistics.median(base_refines) / statistics.median(base_sweeps), 2)}
    return {**base,
        "curves": int(ds["refine_status"].size), "domes": int(ds["top_status"].size),
        "points": int(ds["tc"].size), "evaluations": evaluations,
        "evaluations_maximum_per_curve": _distribution(ds["refine_evaluations_max"].values),
        "evaluations_per_curve": _distribution(ds["refine_evaluations"].values),
        "evaluations_per_top": _distribution(ds["top_evaluations"].values),
        "sweep_wall_s": _summary(sweeps), "refine_wall_s": _summary(refines),
        "refine_s": _summary(inside),
        "ratio_refine_to_sweep": round(statistics.median(refines) / statistics.median(sweeps),
                                       2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stores", nargs="+", choices=tuple(STORES), default=list(STORES),
                   help="stores to make and refine [all]")
    p.add_argument("--repeat", type=int, default=3, help="runs of each command [3]")
    p.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                   help="another checkout (e.g. main's) whose sweep and refine are measured in "
                        "the same loop")
    a = p.parse_args()
    load_before = os.getloadavg()
    baseline = None if a.baseline is None else a.baseline.resolve()
    with tempfile.TemporaryDirectory(prefix="fanodome-bench-refine-") as tmp:
        results = {name: bench(name, tmp=Path(tmp), repeat=a.repeat, baseline=baseline)
                   for name in a.stores}
    print(json.dumps({
        "cpu_count": os.cpu_count(), "repeat": a.repeat,
        "load_average_1min": {"before": round(load_before[0], 2),
                              "after": round(os.getloadavg()[0], 2)},
        **results,
    }, indent=2))


if __name__ == "__main__":
    main()
