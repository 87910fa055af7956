"""Chunk planning: every point exactly once, one structure per chunk, lazy for huge grids."""
import math
import time
import tracemalloc

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sweep.grid import AXES, ChunkPlan
from sweep_support import tasks_for

shapes = st.fixed_dictionaries({
    "L": st.integers(1, 3), "W": st.integers(1, 2), "V": st.integers(1, 2),
    "omega0": st.integers(1, 4), "g": st.integers(1, 9), "eta": st.integers(1, 17),
})
blocks = st.fixed_dictionaries({
    "omega0": st.integers(1, 5), "g": st.integers(1, 10), "eta": st.integers(1, 20),
})


@settings(max_examples=150, deadline=None)
@given(shape=shapes, block=blocks)
def test_chunks_cover_every_point_exactly_once(shape, block):
    plan = ChunkPlan(shape=shape, block=block)
    seen = np.zeros(tuple(shape[a] for a in AXES), dtype=np.int32)
    n = 0
    for index in plan.chunks():
        reg = plan.region(index)
        for a in ("L", "W", "V"):
            assert reg[a].stop - reg[a].start == 1  # one structure per chunk
        for a in AXES:  # aligned with the store's chunks
            assert reg[a].start % plan.chunk[a] == 0
        seen[tuple(reg[a] for a in AXES)] += 1
        assert plan.n_points_in(index) == math.prod(s.stop - s.start for s in reg.values())
        n += 1
    assert (seen == 1).all()
    assert n == plan.n_chunks


@settings(max_examples=50, deadline=None)
@given(shape=shapes, block=blocks)
def test_chunks_of_one_structure_are_that_structures_share(shape, block):
    plan = ChunkPlan(shape=shape, block=block)
    per_structure = sum(1 for _ in plan.chunks(structure=(0, 0, 0)))
    n_structures = shape["L"] * shape["W"] * shape["V"]
    assert per_structure * n_structures == plan.n_chunks


def test_planning_1e8_points_is_fast_and_flat():
    shape = {"L": 10, "W": 10, "V": 10, "omega0": 1, "g": 100, "eta": 1000}
    axes = {a: tuple(float(i) for i in range(n)) for a, n in shape.items()}
    axes["L"] = tuple(1.0 + i for i in range(10))
    plan = ChunkPlan(shape=shape, block={"omega0": 1, "g": 4, "eta": 250})
    assert plan.n_points == 10**8
    tracemalloc.start()
    t0 = time.perf_counter()
    n = 0
    for task in tasks_for(store="unused.zarr", plan=plan, axes=axes, model={"nbands": 3},
                          chunks=plan.chunks()):
        n += task.n_points
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 10**8
    assert elapsed < 30  # about 100 k chunks; a few seconds here
    assert peak < 2**20  # under 1 MiB: nothing grows with the grid
