"""Reading stores cheaply: status counts from the chunk files a store holds, layouts that write
no chunk, and commands that import only what they use. Real stores on disk, the real command
line in its own process."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from sweep_support import REPO

from sweep import store as store_mod
from sweep.config import parse_config
from sweep.flags import STATUS_BELOW_FLOOR, STATUS_FAILED, STATUS_OK

BIG = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "num": 1000},
                "g": {"start": 0.1, "stop": 0.45, "num": 1000},
                "L": {"start": 7.0, "stop": 12.0, "num": 100}}}
"""A grid of 10^8 points in 200 000 chunks of 512 (or 488) points."""


@pytest.fixture(scope="module")
def sparse(tmp_path_factory):
    """The store of :data:`BIG` laid out, four chunks written: ok and below the floor, failed,
    and (in the last structure) ok points whose tc chunk is gone."""
    cfg = parse_config(BIG)
    plan = cfg.plan()
    store = str(tmp_path_factory.mktemp("sparse") / "big.zarr")
    store_mod.layout(store=store, axes=cfg.axes, plan=plan, config_toml=cfg.stored_toml(),
                     config_json=cfg.identity())
    last = tuple(n - 1 for n in plan.numblocks)
    written = {(0, 0, 0, 0, 0, 0): STATUS_OK, (0, 0, 0, 0, 0, 1): STATUS_BELOW_FLOOR,
               (0, 0, 0, 0, 7, 0): STATUS_FAILED, last: STATUS_OK}
    for index, code in written.items():
        region = plan.region(index)
        shape = tuple(region[a].stop - region[a].start for a in ("omega0", "g", "eta"))
        status = np.full(shape, code, dtype=np.int8)
        tc = np.where(status == STATUS_OK, 300.0, np.nan)
        store_mod.write_chunk(store=store, region=region, tc=tc, status=status, E_L=1.0, dE=1.0)
    shutil.rmtree(Path(store) / "tc" / "c" / "99")  # the last structure's tc chunk is lost
    n = {code: plan.n_points_in(index) for index, code in written.items() if index != last}
    want = {"total": plan.n_points, "done": n[STATUS_OK] + n[STATUS_BELOW_FLOOR],
            "failed": n[STATUS_FAILED], "missing": plan.n_points_in(last)}
    want["pending"] = plan.n_points - want["done"] - want["failed"]
    return store, plan, want


def test_status_of_a_sparse_store_reads_only_its_written_blocks(sparse):
    store, _, want = sparse
    tracemalloc.start()
    try:
        counts = store_mod.status_counts(store)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert counts == want
    print(f"status_counts of 10^8 points, 4 chunks written: peak {peak / 2**20:.1f} MiB")
    assert peak < 8 * 2**20  # a slab read would take 36 MiB, the whole store 900 MB


@pytest.mark.slow
@pytest.mark.ci
def test_status_command_on_a_sparse_store_is_quick(sparse):
    store, _, want = sparse
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "sweep.cli", "status", store, "--json"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    took = time.perf_counter() - t0
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == want
    print(f"fanodome status on 10^8 points, 4 chunks written: {took:.1f} s")
    assert took < 15.0  # reading every chunk of it took 82 s on the 2-core machine


def test_resume_of_a_sparse_store_reads_only_the_structures_it_touched(sparse):
    store, plan, _ = sparse
    t0 = time.perf_counter()
    todo = store_mod.chunks_to_do(store, plan)
    first = [next(todo) for _ in range(3)]
    assert first == [(0, 0, 0, 0, 1, 0), (0, 0, 0, 0, 1, 1), (0, 0, 0, 0, 2, 0)]
    n = 3 + sum(1 for _ in todo)
    assert n == plan.n_chunks - 2  # the ok and the below-floor chunks are done
    assert time.perf_counter() - t0 < 60


def test_dense_counts_are_the_arrays_counts(tmp_path):
    """Every path of the count (slab reads, chunk reads, unwritten chunks) against NumPy on
    the whole arrays, with a lost tc chunk."""
    cfg = parse_config({"grid": {"eta": {"start": -0.5, "stop": 3.0, "num": 30},
                                 "g": [0.2, 0.25, 0.3], "L": [8.5, 9.0, 9.5]},
                        "run": {"chunk_eta": 10, "chunk_g": 1}})
    plan = cfg.plan()
    store = str(tmp_path / "s.zarr")
    store_mod.layout(store=store, axes=cfg.axes, plan=plan, config_toml=cfg.stored_toml(),
                     config_json=cfg.identity())
    rng = np.random.default_rng(1)
    for index in plan.chunks():
        if index[0] == 2 or rng.random() < 0.3:  # structure 2 untouched, some chunks left
            continue
        region = plan.region(index)
        status = rng.integers(0, 3, size=(1, 1, 10)).astype(np.int8)
        store_mod.write_chunk(store=store, region=region, tc=np.where(status == 0, 1.0, np.nan),
                              status=status, E_L=1.0, dE=1.0)
    lost = next(p for p in sorted((Path(store) / "tc" / "c").rglob("*")) if p.is_file())
    lost.unlink()
    import zarr
    g = zarr.open_group(store, mode="r")
    st, tc = g["status"][...], g["tc"][...]
    missing = int(((st == STATUS_OK) & np.isnan(tc)).sum())
    assert missing > 0
    want = {"total": st.size, "done": int((st <= STATUS_BELOW_FLOOR).sum()) - missing,
            "failed": int((st == STATUS_FAILED).sum()),
            "pending": int((st > STATUS_FAILED).sum()) + missing, "missing": missing}
    assert store_mod.status_counts(store) == want


def test_small_and_large_layouts_write_the_same_metadata(tmp_path, monkeypatch):
    """A layout's template is a NumPy view on small grids and dask beyond
    TEMPLATE_CHUNKS_IN_MEMORY chunks: the same files either way, no chunk of data."""
    from sweep.store import common
    cfg = parse_config({"grid": {"g": [0.25, 0.3]}, "refine": {"thresholds": [273.15]}})
    trees = []
    for limit in (common.TEMPLATE_CHUNKS_IN_MEMORY, 0):
        monkeypatch.setattr(common, "TEMPLATE_CHUNKS_IN_MEMORY", limit)
        import sweep.store.points as points
        import sweep.store.refined as refined
        monkeypatch.setattr(points, "TEMPLATE_CHUNKS_IN_MEMORY", limit)
        monkeypatch.setattr(refined, "TEMPLATE_CHUNKS_IN_MEMORY", limit)
        store = tmp_path / f"s{limit}.zarr"
        store_mod.layout(store=str(store), axes=cfg.axes, plan=cfg.plan(),
                         config_toml=cfg.stored_toml(), config_json=cfg.identity())
        store_mod.layout_refine(store=str(store), settings=cfg.refine.to_dict(),
                                curves_per_task=1, method="m")
        files = {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*")
                 if p.is_file()}
        root = json.loads(files.pop("zarr.json"))
        root["attributes"].pop("created")
        trees.append((files, root))
    assert trees[0] == trees[1]
    assert not [f for f in trees[0][0] if "/c/" in f and f.split("/")[0] in ("tc", "status")]


HEAVY = ("numba", "xarray", "zarr", "dask", "distributed", "scipy.optimize", "matplotlib")


def _imported(*argv: str) -> list[str]:
    code = ("import sys\nfrom sweep.cli import main\nmain(sys.argv[1:])\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stderr.strip().splitlines()[-1].replace("'", '"'))


@pytest.mark.slow
def test_read_only_commands_import_only_what_they_use(sparse, tmp_path):
    store, _, _ = sparse
    assert _imported("status", store, "--json") == ["zarr"]
    small = tmp_path / "small.zarr"
    from sweep.execution.runner import InProcessExecutor
    from sweep.run.service import run_sweep
    run_sweep(parse_config({"grid": {"g": [0.25, 0.3], "eta": [0.5, 1.0, 1.5]}}),
              store=str(small), executor=InProcessExecutor())
    assert _imported("dome", str(small), "--json") == ["dask", "xarray", "zarr"]
    assert "numba" not in _imported("plot", str(small), "-o", str(tmp_path / "d.png"))


def test_listing_is_not_trusted_over_http():
    """A static HTTP server lists nothing: a store there is read, not listed."""
    import zarr

    from sweep.store.points import written_blocks
    g = zarr.open_group(store=zarr.storage.MemoryStore(), mode="w")
    a = g.create_array("status", shape=(4,), chunks=(2,), dtype="i1", fill_value=3)
    assert written_blocks(a, store="https://example.org/s.zarr") is None
    a[:2] = 0
    assert written_blocks(a, store="memory") == {(): {(0,)}}
