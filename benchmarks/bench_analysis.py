"""The analysis commands against plain xarray, side by side in one run.

Run from the repository root::

    python benchmarks/bench_analysis.py [--repeat 5] [--baseline ../main]

On the paper store (made first with ``fanodome run``, its grid and refinement), alternating the
commands so that the machine's load weighs on each alike, the median and range of ``--repeat``
runs of each, as processes (what a user waits for):

- ``fanodome status STORE --json``, ``fanodome dome STORE --json``,
  ``fanodome plot STORE -o TMP.png`` (``--kind dome``) and ``--kind cuts``;
- xarray_points: ``python -c`` opening the store with ``xr.open_zarr`` and loading ``tc`` and
  ``status`` (what ``status`` reads); xarray_all: loading every variable (what ``dome`` and
  ``plot`` read: the points and the refined numbers);
- the ratio of each command to its baseline (the goal: at most 1.5);
- with ``--baseline CHECKOUT``: the same commands with that checkout's code, in the same loop
  (the same machine load), e.g. main's before a change.

In this process, after a first call of each (imports done): the median time of each command's
``main([...])`` and of the xarray baselines (``inprocess``); drawing a figure is most of a plot
there.

On a store laid out for 10^8 points with four chunks written (``sparse``): ``fanodome status``'s
wall time and peak resident memory.

Prints the commands and one JSON document (seconds; MiB).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ENV = dict(os.environ, PYTHONPATH=str(REPO))

XARRAY = {
    "xarray_points": "import sys, xarray as xr; ds = xr.open_zarr(sys.argv[1]); "
                     "ds['tc'].load(); ds['status'].load()",
    "xarray_all": "import sys, xarray as xr; xr.open_zarr(sys.argv[1]).load()",
}
"""The baselines: a Python process that opens the store with xarray and loads what a command
reads."""

BASELINE = {"status": "xarray_points", "dome": "xarray_all", "plot_dome": "xarray_all",
            "plot_cuts": "xarray_all"}


def commands(store: str, tmp: Path) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "sweep.cli"]
    py = [sys.executable, "-c"]
    return {
        "status": cli + ["status", store, "--json"],
        "dome": cli + ["dome", store, "--json"],
        "plot_dome": cli + ["plot", store, "-o", str(tmp / "dome.png")],
        "plot_cuts": cli + ["plot", store, "-o", str(tmp / "cuts.png"), "--kind", "cuts"],
        **{name: py + [code, store] for name, code in XARRAY.items()},
    }


def without_figures(tmp: Path) -> None:
    """Remove the figures the plot commands wrote into ``tmp``: ``plot`` refuses a file that
    exists (and the baseline's code may not know ``--overwrite``)."""
    for f in tmp.glob("*.png"):
        f.unlink()


def timed(cmd: list[str], *, checkout: Path = REPO) -> float:
    """Wall seconds of ``cmd`` run with the code of ``checkout``."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=checkout, env=dict(ENV, PYTHONPATH=str(checkout)), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def in_process(store: str, tmp: Path, *, repeat: int) -> dict:
    """Median seconds of each command's ``main`` and each baseline in this process, imports
    done (a first call of each is not counted)."""
    import xarray as xr

    from sweep.cli import main

    calls = {
        "status": lambda: main(["status", store, "--json"]),
        "dome": lambda: main(["dome", store, "--json"]),
        "plot_dome": lambda: main(["plot", store, "-o", str(tmp / "d.png")]),
        "plot_cuts": lambda: main(["plot", store, "-o", str(tmp / "c.png"), "--kind", "cuts"]),
        "xarray_points": lambda: [xr.open_zarr(store)[v].load() for v in ("tc", "status")],
        "xarray_all": lambda: xr.open_zarr(store).load(),
    }
    out: dict[str, list[float]] = {name: [] for name in calls}
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(repeat + 1):
            for name, call in calls.items():
                without_figures(tmp)
                t0 = time.perf_counter()
                call()
                out[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v[1:]) for name, v in out.items()}
    return {**{name: round(v, 4) for name, v in med.items()},
            **{f"ratio_{name}": round(med[name] / med[base], 2)
               for name, base in BASELINE.items()}}


def sparse_status(tmp: Path) -> dict:
    """``fanodome status`` on 10^8 points laid out, four chunks written."""
    import numpy as np

    from sweep import store as store_mod
    from sweep.config import parse_config

    cfg = parse_config({"grid": {"eta": {"start": -0.5, "stop": 3.0, "num": 1000},
                                 "g": {"start": 0.1, "stop": 0.45, "num": 1000},
                                 "L": {"start": 7.0, "stop": 12.0, "num": 100}}})
    plan = cfg.plan()
    store = str(tmp / "sparse.zarr")
    store_mod.layout(store=store, axes=cfg.axes, plan=plan, config_toml=cfg.stored_toml(),
                     config_json=cfg.identity())
    for index in list(plan.chunks())[:4]:
        region = plan.region(index)
        shape = tuple(region[a].stop - region[a].start for a in ("omega0", "g", "eta"))
        store_mod.write_chunk(store=store, region=region, tc=np.ones(shape),
                              status=np.zeros(shape, dtype=np.int8), E_L=1.0, dE=1.0)
    cmd = [sys.executable, "-m", "sweep.cli", "status", store, "--json"]
    print("$ " + " ".join(cmd[1:]), file=sys.stderr)
    # The peak memory through /usr/bin/time: a child forked from this (large) process would
    # count this process's pages in its own peak.
    rss = tmp / "rss.txt"
    wall = timed(["/usr/bin/time", "-f", "%M", "-o", str(rss)] + cmd)
    return {"points": plan.n_points, "chunks": plan.n_chunks, "chunks_written": 4,
            "status_wall_s": round(wall, 3),
            "status_max_rss_mib": round(int(rss.read_text().split()[-1]) / 1024, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="runs of each command [5]")
    p.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                   help="another checkout (e.g. main's) whose commands are measured in the same "
                        "loop, as baseline_status, baseline_dome, ...")
    a = p.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fanodome-bench-") as tmp:
        tmp = Path(tmp)
        store = str(tmp / "paper.zarr")
        subprocess.run([sys.executable, "-m", "sweep.cli", "run", "--store", store], cwd=REPO,
                       env=ENV, check=True, capture_output=True)
        cmds = commands(store, tmp)
        where = {name: REPO for name in cmds}
        if a.baseline is not None:
            for name in BASELINE:
                cmds[f"baseline_{name}"] = cmds[name]
                where[f"baseline_{name}"] = a.baseline.resolve()
        for name, cmd in cmds.items():
            print("$ " + " ".join(c if len(c) < 80 else repr(c) for c in cmd[1:])
                  + f"  # {where[name]}", file=sys.stderr)
        for name, cmd in cmds.items():
            without_figures(tmp)
            timed(cmd, checkout=where[name])  # files in the page cache
        walls: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(a.repeat):
            for name, cmd in cmds.items():
                without_figures(tmp)
                walls[name].append(timed(cmd, checkout=where[name]))
        med = {name: statistics.median(v) for name, v in walls.items()}
        inproc = in_process(store, tmp, repeat=a.repeat)
        sparse = sparse_status(tmp)
    print(json.dumps({
        "cpu_count": os.cpu_count(), "repeat": a.repeat,
        "load_average_1min": {"before": round(load_before[0], 2),
                              "after": round(os.getloadavg()[0], 2)},
        "processes": {name: summary(v) for name, v in walls.items()},
        "ratios": {name: round(med[name] / med[base], 2) for name, base in BASELINE.items()},
        **({"baseline": str(a.baseline),
            "baseline_ratios": {name: round(med[f"baseline_{name}"] / med[base], 2)
                                for name, base in BASELINE.items()}}
           if a.baseline is not None else {}),
        "inprocess": inproc, "sparse": sparse,
    }, indent=2))


if __name__ == "__main__":
    main()
