"""The first ``fanodome run`` on a machine compiles the kernels once, in the client, into the
on-disk numba cache; the workers of a local cluster only load them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Counts numba cache misses (compiles) of the solver's kernels in the client and on each worker
# of a fresh local cluster, with an empty per-user cache.
SCRIPT = r"""
import json, sys
import numba

def compiles():
    import solver
    from solver import bands, dos, gaps, overlaps, structure, tc
    seen = {}
    for mod in (bands, dos, gaps, overlaps, structure, tc):
        for obj in vars(mod).values():
            if isinstance(obj, numba.core.registry.CPUDispatcher):
                seen[obj.py_func.__qualname__] = obj
    misses = sum(sum(d.stats.cache_misses.values()) for d in seen.values())
    hits = sum(sum(d.stats.cache_hits.values()) for d in seen.values())
    return {"misses": misses, "hits": hits, "cache": numba.config.CACHE_DIR}

from sweep.config import ClusterConfig
from sweep.worker.warmup import solver_client
with solver_client(cluster=ClusterConfig(workers=2)) as client:
    out = {"client": compiles(), "workers": list(client.run(compiles).values())}
json.dump(out, sys.stdout)
"""


@pytest.mark.slow
def test_first_run_compiles_in_the_client_and_workers_only_load(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    env.pop("NUMBA_CACHE_DIR", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["client"]["misses"] > 0
    assert out["client"]["cache"].startswith(str(tmp_path / "cache"))
    assert len(out["workers"]) == 2
    for w in out["workers"]:
        assert w["misses"] == 0, out
        assert w["hits"] > 0, out


# An empty cache: solver.warmup(parallel=True) compiles the band and DOS kernels in a child
# process and the Tc kernels here, on a structure made of arrays; then a real call compiles
# nothing more (the warm-up's argument types are the real ones).
PARALLEL = r"""
import json, sys
import numpy as np
import solver
from solver import overlaps, tc

solver.warmup(gaps=False, parallel=True)
before = {"tc_misses": sum(tc.tc_kernel.stats.cache_misses.values()),
          "structure_hits": sum(overlaps.exchange_integrals.stats.cache_hits.values()),
          "structure_misses": sum(overlaps.exchange_integrals.stats.cache_misses.values())}
r = solver.tc_grid(eta=np.array([0.0, 1.0]), g=[0.2, 0.3], omega0=[200.0, 230.0])
json.dump({**before, "ok": bool(np.all(r.status == 0)),
           "tc_signatures": len(tc.tc_kernel.signatures),
           "tc_misses_after": sum(tc.tc_kernel.stats.cache_misses.values())}, sys.stdout)
"""


@pytest.mark.slow
def test_parallel_warmup_compiles_each_kernel_once(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", PARALLEL], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["structure_misses"] == 0 and out["structure_hits"] > 0, out  # the child's
    assert out["tc_misses"] == 1, out  # compiled here, once
    assert out["ok"] and out["tc_signatures"] == 1 and out["tc_misses_after"] == 1, out
