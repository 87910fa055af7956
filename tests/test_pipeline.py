"""A sweep's refinement runs in the same stream of tasks as its grid: each structure is refined
once its own grid is done, the stores are those of a grid then a refinement, a structure with
failed points is left for later. Real stores on disk; the tasks run in-process."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sweep_support import assert_same_sweep

from sweep import store as store_mod
from sweep.config import parse_config
from sweep.execution.runner import InProcessExecutor
from sweep.refine.dealer import RefineDealer
from sweep.refine.service import refine_store
from sweep.run.pipeline import RefineStep
from sweep.run.service import run_sweep
from sweep.run.tasks import compute_chunk

THREE = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "step": 0.25}, "g": [0.3, 0.35],
                  "L": [8.5, 9.0, 9.5]},
         "run": {"chunk_eta": 15, "chunk_g": 1},
         "refine": {"thresholds": [273.15], "curves_per_task": 1}}
"""Three structures of two chunks (one per g) each: two curve blocks and a top per structure."""


def _config(doc=THREE):
    return parse_config(doc)


def failing_structure(structure: int):
    """The chunk task function, raising on every chunk of one structure (its L index)."""

    def compute(task):
        if task.index[0] == structure:
            raise RuntimeError("this structure's solver is broken")
        return compute_chunk(task)

    return compute


@pytest.fixture(scope="module")
def grid_then_refine(tmp_path_factory):
    """The reference: the grid without its refinement, then refine_store."""
    store = tmp_path_factory.mktemp("ref") / "three.zarr"
    cfg = _config()
    run_sweep(cfg, store=str(store), executor=InProcessExecutor(), refine=False)
    refine_store(str(store), settings=cfg.refine, executor=InProcessExecutor(),
                 curves_per_task=cfg.curves_per_task)
    return store


@pytest.mark.slow
@pytest.mark.ci
def test_each_structure_is_refined_once_its_grid_is_done(tmp_path, grid_then_refine,
                                                          monkeypatch):
    from sweep.run import pipeline

    ran: list[tuple[str, int]] = []
    real = pipeline.compute_refine_task

    def refine_task(task):
        ran.append(("top" if len(task.index) == 4 else "curves", task.index[0]))
        return real(task)

    monkeypatch.setattr(pipeline, "compute_refine_task", refine_task)

    def chunk(task):
        ran.append(("chunk", task.index[0]))
        return compute_chunk(task)

    store = tmp_path / "three.zarr"
    result = run_sweep(_config(), store=str(store), executor=InProcessExecutor(),
                       compute=chunk)
    assert result.complete and result.refine.curves == 6 and result.refine.domes == 3
    first_refine = {s: ran.index(("curves", s)) for s in range(3)}
    last_chunk = {s: max(i for i, r in enumerate(ran) if r == ("chunk", s)) for s in range(3)}
    for s in range(3):  # after its own grid ...
        assert first_refine[s] > last_chunk[s], ran
    assert first_refine[0] < last_chunk[2], ran  # ... and before the others' grids end
    for s in range(3):  # each top after its curves
        top = ran.index(("top", s))
        assert top > max(i for i, r in enumerate(ran) if r == ("curves", s)), ran
    assert_same_sweep(store, grid_then_refine)


@pytest.mark.slow
def test_a_structure_with_failed_points_is_refined_by_the_resume(tmp_path, grid_then_refine):
    store = tmp_path / "three.zarr"
    cfg = dataclasses.replace(_config(), retries=0)
    result = run_sweep(cfg, store=str(store), executor=InProcessExecutor(),
                       compute=failing_structure(1))
    assert not result.complete
    assert result.counts["failed"] == 2 * 15
    assert result.refine.curves == 4 and result.refine.domes == 2  # structures 0 and 2
    ds = store_mod.open_dataset(str(store))
    assert np.all(ds["refine_status"].isel(L=1).values == 0)  # left pending, not failed
    assert np.all(ds["refine_status"].isel(L=[0, 2]).values != 0)
    again = run_sweep(_config(), store=str(store), executor=InProcessExecutor(), resume=True)
    assert again.complete and again.refine.curves == 2 and again.refine.domes == 1
    assert_same_sweep(store, grid_then_refine)


@pytest.mark.slow
def test_structures_without_grid_work_are_refined_on_resume(tmp_path, grid_then_refine):
    """A resume whose grid work is one structure in the middle: the refinement of the
    structures before it (passed by the grid's dealer) and after it (once the dealer is done)
    runs too."""
    store = tmp_path / "three.zarr"
    cfg = dataclasses.replace(_config(), retries=0)
    run_sweep(cfg, store=str(store), executor=InProcessExecutor(), refine=False,
              compute=failing_structure(1))
    again = run_sweep(_config(), store=str(store), executor=InProcessExecutor(), resume=True)
    assert again.complete and again.refine.curves == 6 and again.refine.domes == 3
    assert again.report.points_done == 2 * 15
    assert_same_sweep(store, grid_then_refine)


# ------------------------------------------------------------------ the dealer, no I/O

def _dealer(**kw):
    curves = [(s, 0, 0, 0, g, g + 1) for s in range(3) for g in range(2)]
    tops = [(s, 0, 0, 0) for s in range(3)]
    return RefineDealer(curves=curves, tops=tops, make_curve_task=lambda i: ("curves", i),
                        make_top_task=lambda i: ("top", i), **kw)


@dataclasses.dataclass
class Outcome:
    index: tuple


def test_tops_wait_for_their_curves_and_workers_keep_their_structure():
    d = _dealer()
    a1 = d.take("a")
    b1 = d.take("b")
    assert a1[1][0] != b1[1][0]  # two workers, two structures
    a2 = d.take("a")
    assert a2[0] == "curves" and a2[1][0] == a1[1][0]  # a keeps its structure
    assert d.waiting()  # tops wait for curves in flight
    d.finished(Outcome(a1[1]))
    d.finished(Outcome(a2[1]))
    assert d.take("b") == ("curves", (b1[1][0], 0, 0, 0, 1, 2))  # b keeps its structure too
    assert d.take("a") == ("top", (a1[1][0], 0, 0, 0))  # a's top, released, comes first


def test_a_failed_block_drops_its_top_and_nothing_waits_for_it():
    d = _dealer()
    taken = [d.take("a") for _ in range(6)]
    assert all(t[0] == "curves" for t in taken) and d.take("a") is None
    for t in taken:
        if t[1] == (0, 0, 0, 0, 0, 1):
            d.failed(t[1])
        else:
            d.finished(Outcome(t[1]))
    tops = []
    while (t := d.take("a")) is not None:
        tops.append(t[1])
    assert sorted(tops) == [(1, 0, 0, 0), (2, 0, 0, 0)] and not d.waiting()



def test_a_dome_of_one_block_is_refined_with_its_top_in_one_task():
    # dome 0: one block over both g (with its top); dome 1: two blocks, then its own top
    curves = [(0, 0, 0, 0, 0, 2), (1, 0, 0, 0, 0, 1), (1, 0, 0, 0, 1, 2)]
    d = RefineDealer(curves=curves, tops=[(0, 0, 0, 0), (1, 0, 0, 0)],
                     make_curve_task=lambda i, with_top=False: ("curves", i, with_top),
                     make_top_task=lambda i: ("top", i), g_size=2)
    taken = []
    while (t := d.take("a")) is not None:
        taken.append(t)
        d.finished(Outcome(t[1]))
    assert sorted(taken) == [("curves", (0, 0, 0, 0, 0, 2), True),
                             ("curves", (1, 0, 0, 0, 0, 1), False),
                             ("curves", (1, 0, 0, 0, 1, 2), False), ("top", (1, 0, 0, 0))]
    assert not d.waiting()
    # a merged block that fails leaves nothing waiting
    d = RefineDealer(curves=curves[:1], tops=[(0, 0, 0, 0)],
                     make_curve_task=lambda i, with_top=False: ("curves", i, with_top),
                     make_top_task=lambda i: ("top", i), g_size=2)
    t = d.take("a")
    assert t[2] and not d.waiting()
    d.failed(t[1])
    assert d.take("a") is None and not d.waiting()

def test_structures_wait_for_their_grid():
    d = _dealer(grid_pending=[(0, 0, 0), (1, 0, 0), (2, 0, 0)])
    assert d.take("a") is None and d.waiting()
    d.grid_done((1, 0, 0))
    assert d.take("a")[1][:3] == (1, 0, 0)
    d.grid_failed((2, 0, 0))
    d.grid_done((0, 0, 0))
    assert {d.take("a")[1][0] for _ in range(2)} == {0, 1}
    assert d.grid_pending == []


def test_a_refine_step_is_named_apart_from_every_chunk():
    from sweep.refine.tasks import RefineTask

    t = RefineTask(store="s", index=(0, 0, 0, 0, 0, 1), L=8.5, W=5.5, V=4160.0, omega0=230.0,
                   model=(), settings=())
    step = RefineStep(t)
    assert step.index == ("refine", 0, 0, 0, 0, 0, 1) and step.n_points == 0
