"""The first run on a machine: ``fanodome run`` with an empty numba cache, end to end.

    python benchmarks/bench_first_run.py [--runs 3] [--baseline TREE] [CONFIG]

Each run gets a fresh temporary folder (its working directory and store) and a fresh, empty
``NUMBA_CACHE_DIR``, and runs ``python -m sweep.cli run [CONFIG]`` there with this repository's
code: the paper's grid and refinement by default, compiling every kernel it needs. Prints one
JSON document: per run the wall time, the compile time the command logs ("solver kernels ready
in the numba cache in ... s"), the sweep's time, the load average before and after, and the
exit code.

``--baseline TREE``: TREE is another version's checkout (for main's:
``git archive main | tar -x -C TREE``); its runs alternate with this version's, so that both
see the same machine.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMPILE = re.compile(r"ready in the numba cache in ([0-9.]+) s")
SWEEP = re.compile(r"computed \d+ in ([0-9.]+) s")


def first_run(tree: Path, config: str | None) -> dict:
    """One ``run`` with the code of ``tree`` in a fresh folder with an empty numba cache."""
    with tempfile.TemporaryDirectory(prefix="fanodome-first-run-") as tmp:
        cache = Path(tmp) / "numba"
        cache.mkdir()
        env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(tree)}
        cmd = [sys.executable, "-m", "sweep.cli", "run"] + ([config] if config else [])
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd + ["--store", str(Path(tmp) / "store.zarr")], cwd=tmp,
                              env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        found = COMPILE.search(proc.stderr)
        sweep = SWEEP.search(proc.stdout)
        return {"wall_s": round(wall, 1),
                "compile_s": float(found.group(1)) if found else None,
                "sweep_s": float(sweep.group(1)) if sweep else None,
                "load_average": [round(load0, 2), round(os.getloadavg()[0], 2)],
                "exit_code": proc.returncode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", help="a sweep config (default: the paper's)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each version")
    ap.add_argument("--baseline", type=Path, metavar="TREE",
                    help="another version's checkout, run alternately with this one")
    a = ap.parse_args()
    config = str(Path(a.config).resolve()) if a.config else None
    trees = {"fanodome": REPO}
    if a.baseline is not None:
        if not (a.baseline / "sweep" / "cli").is_dir():
            sys.exit(f"--baseline: {a.baseline} holds no checkout (sweep/cli missing)")
        trees["baseline"] = a.baseline.resolve()
    runs = {name: [] for name in trees}
    for _ in range(a.runs):
        for name, tree in trees.items():
            runs[name].append(first_run(tree, config))
    doc = {"command": "python benchmarks/bench_first_run.py " + " ".join(sys.argv[1:]),
           "machine": {"cpus": os.cpu_count()},
           "runs": runs}
    for name, rs in runs.items():
        walls = [r["wall_s"] for r in rs if r["exit_code"] == 0]
        doc[f"{name}_wall_s_min_max"] = [min(walls), max(walls)] if walls else None
    print(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
