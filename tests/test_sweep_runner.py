"""Running chunks: failures are data, retries, the bounded window, resume after failures."""
import concurrent.futures as cf
import json
import threading

import numpy as np
import pytest

from sweep import flags
from sweep import store as store_mod
from sweep.execution.runner import InProcessExecutor, run_tasks
from sweep.run.tasks import ChunkTask, compute_chunk
from sweep_support import tasks_for
from sweep.run.service import run_sweep
from sweep_support import assert_same_sweep, roundtrip, small_config

BAD_CHUNK = (1, 0, 0, 1, 0, 1)
"""A chunk of the small config (second L, second omega0, eta block 1) that the tests break."""


class StructureRejected(ValueError):
    pass


def failing_on(index, *, times=None):
    """A task function that raises on chunk ``index`` (``times`` times, or always)."""
    calls = {"n": 0}

    def compute(task: ChunkTask):
        if task.index == index and (times is None or calls["n"] < times):
            calls["n"] += 1
            raise StructureRejected(f"solver rejects L = {task.L} Å")
        return compute_chunk(task)

    compute.calls = calls
    return compute


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    roundtrip(small_config(), path)
    return path


def test_a_chunk_that_keeps_raising_is_failed_with_its_traceback(tmp_path, reference):
    cfg = small_config()  # retries = 1
    store = tmp_path / "f.zarr"
    compute = failing_on(BAD_CHUNK)
    result = run_sweep(cfg, store=str(store), executor=InProcessExecutor(), compute=compute)
    assert compute.calls["n"] == cfg.retries + 1
    assert not result.complete
    region = cfg.plan().region(BAD_CHUNK)
    n_bad = cfg.plan().n_points_in(BAD_CHUNK)
    assert result.counts["failed"] == n_bad and result.counts["pending"] == 0
    ds = store_mod.open_dataset(str(store)).load()
    sel = tuple(region[a] for a in ("L", "W", "V", "omega0", "g", "eta"))
    assert (ds["status"].values[sel] == flags.STATUS_FAILED).all()
    assert np.isnan(ds["tc"].values[sel]).all()
    mask = np.ones(ds["status"].shape, bool)
    mask[sel] = False
    ref = store_mod.open_dataset(str(reference)).load()
    np.testing.assert_array_equal(ds["tc"].values[mask], ref["tc"].values[mask])
    (record,) = json.loads(ds.attrs["failures"])
    assert record["chunk"] == list(BAD_CHUNK) and record["attempts"] == cfg.retries + 1
    assert "StructureRejected: solver rejects L = 9.0 Å" in record["error"]
    assert "Traceback" in record["traceback"] and "in compute" in record["traceback"]
    assert record["region"]["eta"] == [region["eta"].start, region["eta"].stop]


def test_resume_recomputes_failed_chunks_and_clears_their_records(tmp_path, reference):
    store = tmp_path / "f.zarr"
    run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
              compute=failing_on(BAD_CHUNK))
    result = run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
                       resume=True)
    assert result.complete and result.report.tasks_done == 1
    assert_same_sweep(store, reference)


def test_a_chunk_that_raises_once_is_retried_and_lost_nothing(tmp_path, reference):
    store = tmp_path / "r.zarr"
    compute = failing_on(BAD_CHUNK, times=1)
    result = run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
                       compute=compute)
    assert result.complete and result.report.retried == 1
    assert_same_sweep(store, reference)


def test_thread_pool_runs_give_the_same_store(tmp_path, reference):
    store = tmp_path / "t.zarr"
    with cf.ThreadPoolExecutor(2) as pool:
        result = run_sweep(small_config(), store=str(store), executor=pool)
    assert result.complete
    assert_same_sweep(store, reference)


def test_in_flight_tasks_stay_within_the_window(tmp_path):
    cfg = small_config()
    store = tmp_path / "w.zarr"
    store_mod.layout(store=str(store), axes=cfg.axes, plan=cfg.plan(), config_toml="",
                     config_json=cfg.identity())
    lock = threading.Lock()
    state = {"now": 0, "max": 0}
    pulled = {"n": 0}

    def compute(task):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            return compute_chunk(task)
        finally:
            with lock:
                state["now"] -= 1

    def counted(tasks):
        for t in tasks:
            pulled["n"] += 1
            yield t

    tasks = counted(tasks_for(store=str(store), plan=cfg.plan(), axes=cfg.axes,
                              model=cfg.model, chunks=cfg.plan().chunks()))
    with cf.ThreadPoolExecutor(4) as pool:
        report = run_tasks(tasks, executor=pool, retries=0, total_points=1, compute=compute,
                            window=3)
    assert report.tasks_done == cfg.plan().n_chunks == pulled["n"]
    assert state["max"] <= 3


def test_in_process_runs_prepare_each_structure_once(tmp_path, monkeypatch, reference):
    import solver
    from sweep.run import tasks
    from sweep.worker.structures import StructureCache

    built = []
    prepare = solver.prepare_structure

    def counting(**params):
        built.append(params["L"])
        return prepare(**params)

    monkeypatch.setattr(solver, "prepare_structure", counting)
    monkeypatch.setattr(tasks, "STRUCTURES", StructureCache())
    cfg = small_config()
    with cf.ThreadPoolExecutor(2) as pool:
        result = run_sweep(cfg, store=str(tmp_path / "c.zarr"), executor=pool)
    assert result.complete and cfg.plan().n_chunks > len(cfg.axes["L"])
    # Two threads may build the same structure at once; never once per chunk.
    assert sorted(set(built)) == sorted(cfg.axes["L"]) and len(built) <= 2 * len(cfg.axes["L"])
    assert_same_sweep(tmp_path / "c.zarr", reference)
