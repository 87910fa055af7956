"""Refining the paper store: solver evaluations per curve, wall time, ratio to the grid sweep.

Run from the repository root (warm numba cache: run any fanodome command once before)::

    python benchmarks/bench_refine.py [--workers 2] [--repeat 3]

Measures, in the same run and on the same machine:

- sweep_wall_s: ``fanodome run GRID.toml --store TMP --workers N --json`` end to end, the paper
  grid without ``[refine]`` (process start, local cluster, all chunks);
- refine_wall_s: ``fanodome refine TMP --threshold 273.15 293.15 --workers N --json`` end to end
  on that store (40 curves and one dome top), and refine_s, the refinement alone (its ``wall_s``);
- ratio = refine_wall_s / sweep_wall_s;
- the distribution of the solver evaluations per curve of the search for the maximum
  (``refine_evaluations_max``) and of all searches of a curve (``refine_evaluations``);
- run_wall_s: ``fanodome run --workers N --json`` with no config (the README's first command:
  the paper grid, then its refinement) in a fresh directory.

Prints the commands and one JSON document.
"""
from __future__ import annotations

import argparse
import json
import os
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


def _timed(cmd: list[str], *, cwd: Path, show: bool) -> tuple[float, dict]:
    if show:
        print("$ " + " ".join(cmd), file=sys.stderr)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=True, env=env)
    return time.perf_counter() - t0, json.loads(out.stdout)


def _distribution(values: np.ndarray) -> dict:
    v = np.asarray(values).ravel()
    return {"min": int(v.min()), "median": float(np.median(v)),
            "p90": float(np.percentile(v, 90)), "max": int(v.max()), "mean": float(v.mean()),
            "histogram": {str(int(k)): int(n) for k, n in zip(*np.unique(v, return_counts=True))}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local worker processes [one per core]")
    p.add_argument("--repeat", type=int, default=3, help="runs of each measurement (best kept)")
    a = p.parse_args()
    cli = [sys.executable, "-m", "sweep.cli"]
    workers = ["--workers", str(a.workers)]
    runs = []
    with tempfile.TemporaryDirectory(prefix="fanodome-bench-refine-") as tmp:
        tmp = Path(tmp)
        grid = tmp / "grid.toml"  # the paper grid, no [refine]
        grid.write_text(to_toml({"grid": {k: dict(v) for k, v in PAPER_GRID.items()}}))
        for i in range(a.repeat):
            store = tmp / f"paper-{i}.zarr"
            sweep_wall, sweep = _timed(cli + ["run", str(grid), "--store", str(store), "--json"]
                                       + workers, cwd=tmp, show=i == 0)
            refine_wall, refined = _timed(cli + ["refine", str(store), "--threshold",
                                                 *THRESHOLDS, "--json"] + workers,
                                          cwd=tmp, show=i == 0)
            here = tmp / f"readme-{i}"
            here.mkdir()
            run_wall, run = _timed(cli + ["run", "--json"] + workers, cwd=here, show=i == 0)
            assert run.get("refine", {}).get("curves") == 40, run.get("refine")
            runs.append({"sweep_wall_s": round(sweep_wall, 3), "sweep_s": sweep["wall_s"],
                         "refine_wall_s": round(refine_wall, 3),
                         "refine_s": refined["wall_s"], "run_wall_s": round(run_wall, 3),
                         "evaluations": refined["evaluations"]})
        ds = store_mod.open_dataset(str(tmp / "paper-0.zarr"))
        per_max = ds["refine_evaluations_max"].values
        per_curve = ds["refine_evaluations"].values
        top_evals = int(ds["top_evaluations"].values.ravel()[0])
    best = min(runs, key=lambda r: r["refine_wall_s"])
    print(json.dumps({
        "commands": ["fanodome run grid.toml --store TMP --workers %d" % a.workers,
                     "fanodome refine TMP --threshold 273.15 293.15 --workers %d" % a.workers,
                     "fanodome run --workers %d  (no config: paper grid + refine)" % a.workers],
        "workers": a.workers, "cpu_count": os.cpu_count(), "curves": int(per_max.size),
        "evaluations_maximum_per_curve": _distribution(per_max),
        "evaluations_per_curve": _distribution(per_curve),
        "evaluations_top": top_evals,
        "sweep_wall_s": best["sweep_wall_s"], "refine_wall_s": best["refine_wall_s"],
        "refine_s": best["refine_s"],
        "ratio_refine_to_sweep_wall": round(best["refine_wall_s"] / best["sweep_wall_s"], 2),
        "ratio_refine_to_sweep_inside": round(best["refine_s"] / best["sweep_s"], 2),
        "run_wall_s": min(r["run_wall_s"] for r in runs),
        "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
