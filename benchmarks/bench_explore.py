"""fanodome explore on the design question of docs/explore.md: which (L, W) gives the highest Tc
at g = 1/3 (paper V, omega0 and model, eta >= -0.5)?

Run from the repository root (warm numba cache: run any fanodome command once before)::

    python benchmarks/bench_explore.py [--workers 2] [--budget 150] [--polish 60]
        [--cache /tmp/fanodome-bench-explore] [--default-loss] [--repeat 1]
        [--keep-samples FOLDER]

Measures, in one run on one machine:

- ``fanodome explore CONFIG --store TMP --workers N --json`` end to end on L 7-11 Å, W 3-10 Å:
  its wall time (process start, local cluster, samples, polish), the best it found, the
  learner's samples, the polish's points and the solver evaluations;
- the true maximum: SciPy's Nelder-Mead on the same objective (``sweep.explore.objective``),
  bounded to the box, from the three best nodes of the reference grid, to 1e-5 Å and 1e-8 K;
  the explore's best is compared with it (relative gap in Tc, distance in L and W);
- the map's error against the objective on a 0.25 Å grid (17 x 29 = 493 nodes), max, 90th
  percentile and median, of two maps of the learner's samples (the polish's points left out):
  the map ``fanodome plot --kind explore`` draws (``smooth_map``: the store's
  :func:`sweep.analysis.maps.explore_map`, Clough-Tocher) and the linear interpolation
  (``max_K``, ``p90_K``, ``median_K``); side by side with a uniform grid of about as many
  samples, and with ``--default-loss`` python-adaptive's Learner2D with its default loss (the
  same samples in flight, the same objective), each under both maps. The samples in flight
  finish in an order the machine decides, so the map's error varies from run to run:
  ``--repeat N`` runs the explore (and the default loss) N times and reports each.

The reference grid, the uniform grid and the true maximum do not depend on the explore: they
are computed once (a process pool of N workers) and kept in ``--cache`` (outside the
repository), keyed by the objective's settings; reruns read them. Prints the commands and one
JSON document.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BOX = {"L": (7.0, 11.0), "W": (3.0, 10.0)}
"""The box of the design question (Å)."""
G = 1 / 3
ETA = {"start": -0.5, "stop": 3.0, "step": 0.25}
"""The eta axis the maximum over eta starts on (eta >= -0.5; followed past 3 without
clipping)."""
REFERENCE_STEP = 0.25
"""Å: the reference grid of the map's error."""

CONFIG = """\
[grid]
g = 0.3333333333333333
eta = {{ start = -0.5, stop = 3.0, step = 0.25 }}

[explore]
axes = {{ L = [7.0, 11.0], W = [3.0, 10.0] }}
budget = {budget}
polish_points = {polish}
"""


def _objective(point: tuple[float, float]) -> tuple[float, float, int]:
    """(Tc max over eta in K, eta at it, branch) at (L, W): the explore's own objective."""
    import solver
    from sweep.config import RefineSettings
    from sweep.grid import inclusive_range
    from sweep.explore.objective import objective

    st = solver.prepare_structure(L=point[0], W=point[1])
    v = objective(st, g=G, omega0=solver.PARAMETERS["omega0"].default,
                  model={k: solver.PARAMETERS[k].default for k in solver.parameters.MODEL},
                  settings=RefineSettings(), eta_grid=inclusive_range(**ETA))
    return v.tc, v.eta, v.branch


def _key() -> str:
    """The cache's key: what the objective's values depend on."""
    import solver
    from sweep.config import RefineSettings
    doc = {"box": BOX, "g": G, "eta": ETA, "refine": RefineSettings().to_dict(),
           "defaults": solver.parameters.defaults(), "step": REFERENCE_STEP}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _values(points: list[tuple[float, float]], *, pool) -> np.ndarray:
    return np.array(pool.map(_objective, points, chunksize=4))


def _cached(path: Path, make):
    if path.exists():
        return json.loads(path.read_text())
    value = make()
    path.write_text(json.dumps(value))
    return value


def _nodes(step_L: float, step_W: float) -> list[tuple[float, float]]:
    Ls = np.round(np.arange(BOX["L"][0], BOX["L"][1] + 1e-9, step_L), 9)
    Ws = np.round(np.arange(BOX["W"][0], BOX["W"][1] + 1e-9, step_W), 9)
    return [(float(a), float(b)) for a in Ls for b in Ws]


def _uniform(n: int) -> list[tuple[float, float]]:
    """A uniform grid of about ``n`` samples over the box, equal steps in Å."""
    (l0, l1), (w0, w1) = BOX["L"], BOX["W"]
    best = None
    for nl in range(2, n):
        nw = max(2, round(n / nl))
        err = abs((l1 - l0) / (nl - 1) - (w1 - w0) / (nw - 1)) + abs(nl * nw - n) * 1e-3
        if best is None or err < best[0]:
            best = (err, nl, nw)
    _, nl, nw = best
    return [(float(a), float(b)) for a in np.linspace(l0, l1, nl) for b in np.linspace(w0, w1, nw)]


def _errors(mapped, truth) -> dict:
    e = np.abs(np.asarray(mapped) - truth)
    return {"max_K": round(float(np.max(e)), 3), "p90_K": round(float(np.percentile(e, 90)), 3),
            "median_K": round(float(np.median(e)), 3)}


def _map_error(points, values, nodes, truth, *, smooth=None) -> dict:
    """The errors of the linear map of the samples and of the smooth map (``smooth``: its
    values at ``nodes``; by default :func:`sweep.analysis.maps.smooth_map` of the samples)."""
    from scipy.interpolate import LinearNDInterpolator

    from sweep.analysis.maps import smooth_map
    points, values = np.asarray(points), np.asarray(values)
    doc = {"samples": len(points),
           **_errors(LinearNDInterpolator(points, values)(nodes), truth)}
    doc["smooth_map"] = _errors(smooth_map(points, values, nodes) if smooth is None else smooth,
                                truth)
    return doc


def _true_maximum(nodes, truth, *, pool) -> dict:
    """SciPy's bounded Nelder-Mead from the three best reference nodes (in parallel)."""
    starts = [nodes[i] for i in np.argsort(-truth)[:3]]
    results = pool.map(_nelder_mead, starts)
    best = max(results, key=lambda r: r["tc_K"])
    best["evaluations"] = sum(r["evaluations"] for r in results)
    return best


def _nelder_mead(start) -> dict:
    from scipy.optimize import minimize
    n = [0]

    def f(x):
        n[0] += 1
        return -_objective((float(x[0]), float(x[1])))[0]

    r = minimize(f, np.asarray(start, float), method="Nelder-Mead", bounds=list(BOX.values()),
                 options={"xatol": 1e-5, "fatol": 1e-8, "maxfev": 2000})
    return {"L": float(r.x[0]), "W": float(r.x[1]), "tc_K": float(-r.fun), "evaluations": n[0]}


def _default_loss_learner(n: int, *, pool, in_flight: int) -> tuple[list, list]:
    """python-adaptive's Learner2D, default loss, on the same objective, ``in_flight`` samples
    at a time (as the explore keeps them)."""
    import adaptive
    learner = adaptive.Learner2D(None, list(BOX.values()))
    running = {}
    while learner.npoints < n:
        while len(running) < in_flight and learner.npoints + len(running) < n:
            (p,), _ = learner.ask(1)
            running[tuple(p)] = pool.apply_async(_objective, (tuple(p),))
        ready = [p for p, r in running.items() if r.ready()]
        if not ready:
            time.sleep(0.01)
        for p in ready:
            learner.tell(p, running.pop(p).get()[0])
    return list(learner.data), list(learner.data.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--polish", type=int, default=60)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir())
                    / "fanodome-bench-explore")
    ap.add_argument("--default-loss", action="store_true",
                    help="also python-adaptive's default loss at the same budget")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the explore")
    ap.add_argument("--keep-samples", type=Path, default=None,
                    help="a folder where each explore's learner samples (L, W, Tc) are saved "
                         "as .npy")
    a = ap.parse_args()
    a.cache.mkdir(parents=True, exist_ok=True)
    key = _key()
    nodes = _nodes(REFERENCE_STEP, REFERENCE_STEP)
    doc: dict = {"box": BOX, "g": "1/3", "eta_axis": ETA, "workers": a.workers,
                 "budget": a.budget, "polish_points": a.polish}
    with mp.get_context("spawn").Pool(a.workers) as pool:
        t0 = time.perf_counter()
        ref = _cached(a.cache / f"reference-{key}.json",
                      lambda: _values(nodes, pool=pool).tolist())
        doc["reference_s"] = round(time.perf_counter() - t0, 1)  # ~0 when cached
        truth = np.array(ref)[:, 0]
        top = _cached(a.cache / f"maximum-{key}.json",
                      lambda: _true_maximum(np.array(nodes), truth, pool=pool))
        uniform = _uniform(a.budget)
        uni = _cached(a.cache / f"uniform-{len(uniform)}-{key}.json",
                      lambda: _values(uniform, pool=pool).tolist())
        doc["uniform_grid"] = _map_error(uniform, np.array(uni)[:, 0], nodes, truth)
        doc["uniform_grid"]["best_K"] = round(float(np.max(np.array(uni)[:, 0])), 4)
        if a.default_loss:
            doc["default_loss"] = []
            for _ in range(a.repeat):
                pts, vals = _default_loss_learner(a.budget, pool=pool,
                                                  in_flight=2 * a.workers)
                doc["default_loss"].append(_map_error(pts, vals, nodes, truth))
                doc["default_loss"][-1]["best_K"] = round(float(max(vals)), 4)
    doc["true_maximum"] = top
    doc["explore"] = [_explore(a, nodes=nodes, truth=truth, top=top) for _ in range(a.repeat)]
    print(json.dumps(doc, indent=1))


def _explore(a, *, nodes, truth, top) -> dict:
    """One ``fanodome explore`` end to end, its map's error and its best against ``top``."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "explore.toml"
        cfg.write_text(CONFIG.format(budget=a.budget, polish=a.polish))
        store = Path(tmp) / "explore.zarr"
        cmd = [sys.executable, "-m", "sweep.cli", "explore", str(cfg), "--store", str(store),
               "--workers", str(a.workers), "--json"]
        print("$ " + " ".join(cmd), file=sys.stderr)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        t0 = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, check=True)
        wall = time.perf_counter() - t0
        result = json.loads(out.stdout)
        from sweep.analysis.maps import explore_map, map_samples
        from sweep.store import explored
        ds = explored.read_samples(str(store))
        pts, vals = map_samples(ds)
        doc = _map_error(pts, vals, nodes, truth, smooth=explore_map(ds, nodes))
        doc["best_of_samples_K"] = round(float(vals.max()), 4)
        if a.keep_samples:
            np.save(a.keep_samples / f"explore-{time.time_ns()}.npy",
                    np.column_stack([pts, vals]))
    best = result["best"]
    doc.update(
        wall_s=round(wall, 1), explore_wall_s=result["wall_s"], polish=result["polish"],
        polish_converged=result["polish_converged"], evaluations=result["evaluations"],
        best={"L": best["L"], "W": best["W"], "eta": best["eta"], "tc_K": best["tc_K"],
              "at_edge": best["at_edge"]},
        gap_to_true_maximum=float((top["tc_K"] - best["tc_K"]) / top["tc_K"]),
        distance_A={"L": abs(best["L"] - top["L"]), "W": abs(best["W"] - top["W"])})
    return doc


if __name__ == "__main__":
    main()
