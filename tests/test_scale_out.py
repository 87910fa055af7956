"""Scale-out: tasks sized from the measured cost, structure affinity, per-worker accounting."""
import functools
import itertools
import tomllib
from dataclasses import dataclass

import numpy as np
import pytest

from sweep import store as store_mod
from sweep.execution.dealer import StructureDealer
from sweep.worker.structures import STRUCTURES_PER_PROCESS
from sweep.config import parse_config
from sweep.grid import AXES, ChunkPlan
from sweep.execution.runner import InProcessExecutor
from sweep.run.service import run_sweep
from sweep.execution.sizing import TaskSizing, task_points
from sweep_support import cli, json_out, roundtrip, small_config, write_toml


@dataclass
class Outcome:
    index: tuple
    n_points: int
    seconds: float
    worker: str = ""
    build_s: float = 0.0


def region_points(region):
    return int(np.prod([s.stop - s.start for s in region.values()]))


def deal(plan, *, point_s, sizing, workers=2, chunks=None):
    """Hand out every chunk of ``plan`` to ``workers`` workers in turn, each task finishing at
    once at ``point_s`` a point; returns [(worker, index, region)]."""
    dealer = StructureDealer(plan=plan, chunks=chunks if chunks is not None else plan.chunks(),
                             make_task=lambda index, region: (index, region),
                             points=plan.n_points, sizing=sizing,
                             held_per_worker=STRUCTURES_PER_PROCESS)
    out = []
    for w in itertools.cycle(range(workers)):
        task = dealer.take(w, workers=workers)
        if task is None:
            return out
        index, region = task
        n = region_points(region)
        out.append((w, index, region))
        dealer.finished(Outcome(index, n, n * point_s))


PLAN = ChunkPlan(shape={"L": 3, "W": 1, "V": 1, "omega0": 3, "g": 40, "eta": 50},
                 block={"omega0": 1, "g": 2, "eta": 50})  # store chunks of 100 points


def covered(plan, dealt):
    hits = np.zeros([plan.shape[a] for a in AXES], dtype=int)
    for _, _, region in dealt:
        hits[tuple(region[a] for a in AXES)] += 1
    return hits


@pytest.mark.parametrize("point_s", [1e-5, 1e-3])
def test_tasks_are_whole_store_chunks_covering_the_grid_once(point_s):
    dealt = deal(PLAN, point_s=point_s, sizing=TaskSizing(task_seconds=0.5))
    assert (covered(PLAN, dealt) == 1).all()
    for _, _, region in dealt:
        for a in AXES[3:]:
            c = PLAN.chunk[a]
            assert region[a].start % c == 0
            assert region[a].stop % c == 0 or region[a].stop == PLAN.shape[a]


def test_cheap_points_get_fewer_larger_tasks_within_the_bounds():
    sizing = TaskSizing(task_seconds=0.5, min_points=200, max_points=1200)
    cheap = deal(PLAN, point_s=1e-5, sizing=sizing)
    dear = deal(PLAN, point_s=1e-3, sizing=sizing)
    assert len(cheap) < len(dear)
    sizes = {name: [region_points(r) for _, _, r in d[2:]]  # after the one-chunk probes
             for name, d in (("cheap", cheap), ("dear", dear))}
    assert max(sizes["cheap"]) == 1200 and max(sizes["dear"]) <= 500
    for s in sizes.values():
        assert max(s) <= sizing.max_points
    assert np.mean(sizes["cheap"]) > np.mean(sizes["dear"])


def test_task_points_follow_cost_cluster_and_bounds():
    s = TaskSizing(task_seconds=2.0, min_points=10, max_points=10_000)
    size = functools.partial(task_points, s, workers=4, scheduler_tasks_per_s=1000)
    assert size(point_s=1e-3, points_left=10**9) == 2000
    # the tail: tasks shrink as the run ends, never below the bound
    assert size(point_s=1e-3, points_left=8000) == 500
    assert size(point_s=1e-3, points_left=10) == 10
    assert size(point_s=1e-6, points_left=10**9) == 10_000
    # nor below what the scheduler's rate allows: 4 workers at 100 tasks/s, tasks >= 40 ms
    assert task_points(s, point_s=1e-3, workers=4, points_left=10,
                       scheduler_tasks_per_s=100) == 40
    # a large cluster: tasks grow so that the scheduler is not asked for more than its rate
    big = task_points(TaskSizing(task_seconds=0.1, max_points=10**9), point_s=1e-3,
                      workers=10_000, points_left=10**12, scheduler_tasks_per_s=1000)
    assert big == 10_000


def test_each_worker_keeps_its_structure():
    plan = ChunkPlan(shape={"L": 6, "W": 1, "V": 1, "omega0": 1, "g": 10, "eta": 30},
                     block={"omega0": 1, "g": 1, "eta": 30})
    dealt = deal(plan, point_s=1e-4, sizing=TaskSizing(task_seconds=0.01))
    pairs = {(w, index[:3]) for w, index, _ in dealt}
    assert len(pairs) <= 6 + 2
    assert (covered(plan, dealt) == 1).all()


def test_resume_deals_only_the_chunks_to_do():
    todo = [c for i, c in enumerate(PLAN.chunks()) if i % 3 != 1]
    dealt = deal(PLAN, point_s=1e-5, sizing=TaskSizing(task_seconds=1.0), chunks=iter(todo))
    hits = covered(PLAN, dealt)
    for i, c in enumerate(PLAN.chunks()):
        r = PLAN.region(c)
        assert (hits[tuple(r[a] for a in AXES)] == (0 if i % 3 == 1 else 1)).all()


def test_explicit_chunks_are_one_task_each_and_sizing_keys_are_checked():
    cfg = small_config()  # chunk_eta = 3, chunk_g = 2: tasks are exactly those chunks
    assert cfg.sizing is None
    sized = parse_config(tomllib.loads("[run]\nchunk_eta = 3\ntask_seconds = 2.5\n"))
    assert sized.sizing == TaskSizing(task_seconds=2.5) and sized.chunk["eta"] == 3
    assert parse_config({}).sizing == TaskSizing()
    # the printed config sizes tasks as well
    again = parse_config(tomllib.loads(parse_config({}).to_toml()))
    assert again.sizing == TaskSizing() and again.identity() == parse_config({}).identity()
    for bad, key in (("task_seconds = 0", "run.task_seconds"),
                     ("task_points_min = 5\ntask_points_max = 4", "run.task_points_max")):
        with pytest.raises(ValueError, match=key):
            parse_config(tomllib.loads("[run]\n" + bad))


def test_sized_tasks_fill_the_same_store_and_account_for_every_point(tmp_path, monkeypatch):
    from sweep.run import tasks
    from sweep.worker.structures import StructureCache

    fixed = small_config()
    doc = tomllib.loads(fixed.to_toml())
    doc["run"]["task_seconds"] = 10.0
    sized = parse_config(doc)
    assert sized.identity() == fixed.identity()
    roundtrip(fixed, tmp_path / "fixed.zarr")
    monkeypatch.setattr(tasks, "STRUCTURES", StructureCache())
    result = run_sweep(sized, store=str(tmp_path / "sized.zarr"), executor=InProcessExecutor())
    assert result.complete and result.report.tasks_done < fixed.plan().n_chunks
    a, b = (store_mod.open_dataset(str(tmp_path / n)).load()
            for n in ("sized.zarr", "fixed.zarr"))
    for name in b.variables:  # the same numbers; only the stored [run] table differs
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert a.attrs["config_json"] == b.attrs["config_json"]
    acc = result.accounting()
    (worker,) = acc["workers"]
    assert worker["points"] == fixed.plan().n_points
    assert worker["chunks"] == result.report.tasks_done
    assert acc["structure_builds"] == len(fixed.axes["L"])
    assert 0 < acc["efficiency"] <= 1.0


SIX_TOML = """
[grid]
eta = { start = -0.5, stop = 3.0, num = 30 }
g = { start = 0.1, stop = 0.46, step = 0.04 }
L = [8.5, 8.6, 8.7, 8.8, 8.9, 9.0]

[run]
task_seconds = 0.2
"""


@pytest.mark.slow
@pytest.mark.ci
def test_six_structures_on_two_workers_are_built_about_once(tmp_path):
    from test_sweep_cluster import Cluster

    cluster = Cluster(tmp_path, n_workers=2)
    try:
        cfg = write_toml(tmp_path / "six.toml", SIX_TOML)
        out = cli("run", str(cfg), "--store", str(tmp_path / "six.zarr"), "--scheduler",
                  cluster.address, "--json", timeout=300)
    finally:
        cluster.close()
    assert out.returncode == 0, out.stderr
    doc = json_out(out)
    total = 6 * 30 * 10
    assert doc["done"] == total
    assert len(doc["workers"]) == 2
    assert sum(w["points"] for w in doc["workers"]) == total
    assert sum(w["structure_builds"] for w in doc["workers"]) == doc["structure_builds"] <= 8
    assert all(w["chunks"] > 0 and w["busy_s"] > 0 for w in doc["workers"])
    assert doc["worker_threads"] == 2 and 0 < doc["efficiency"] <= 1.0
    assert "structure builds; efficiency" in out.stderr
