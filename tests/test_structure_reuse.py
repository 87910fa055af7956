"""A prepared structure is reused across calls and threads without changing any result."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import pytest

from solver import prepare_structure, structure, tc_grid, tc_on_structure
from solver.dos import build_table
from solver.structure import DosTables, dos_tables

ETA = np.array([-0.3, 0.0, 0.5, 1.0, 2.5])


def test_reuse_and_threads_give_identical_results():
    ref = tc_grid(eta=ETA, g=[0.2, 0.35])
    st = prepare_structure()
    # a narrow request first, then a wider one: the DOS tables are rebuilt over the union
    narrow = tc_on_structure(st, eta=ETA[2:4], g=[0.2])
    np.testing.assert_array_equal(narrow.tc_K[0, 0], ref.tc_K[0, 0, 2:4])
    with ThreadPoolExecutor(4) as ex:
        runs = list(ex.map(lambda g: tc_on_structure(st, eta=ETA, g=[g]).tc_K[0, 0],
                           [0.2, 0.35] * 4))
    for k, tc in enumerate(runs):
        np.testing.assert_array_equal(tc, ref.tc_K[0, k % 2])


def test_chunks_differing_in_g_share_one_build_of_the_tables():
    # a sweep's chunks differ in g (the softened window) and in blocks of eta less than a band
    # width apart: one build serves them all
    st = prepare_structure()
    tc_on_structure(st, eta=ETA[:3], g=[0.45])
    built = st._tables[0][2]
    tc_on_structure(st, eta=ETA[1:4], g=[0.1])
    assert st._tables[0][2] is built
    tc_on_structure(st, eta=[4.0], g=[0.1])  # far beyond: widened to the union
    assert st._tables[0][2] is not built


@pytest.mark.parametrize("L, W", [(8.5, 5.5), (7.0, 3.0), (10.0, 9.0)])
def test_widened_tables_equal_one_build_and_compute_only_the_added_panels(L, W, monkeypatch):
    st = prepare_structure(L=L, W=W)
    E, dE = st.E_L, st.dE
    st.tables(lo=E, hi=E + dE)
    st.tables(lo=E - 3 * dE, hi=E + 2 * dE)
    panels = []

    def counting(breaks, *args):
        panels.append(max(breaks.size - 1, 0))
        return build_table(breaks, *args)

    monkeypatch.setattr(structure, "build_table", counting)
    before = st._tables[0][2]
    st.tables(lo=E - 300.0, hi=E + 40 * dE + 500.0)  # below every band, past several
    lo, hi, widened = st._tables[0]
    monkeypatch.setattr(structure, "build_table", build_table)
    fresh = dos_tables(st, lo=lo, hi=hi)
    for name, a, b in zip(DosTables._fields, widened, fresh):
        assert np.array_equal(a, b), name  # bit for bit
    assert sum(panels) == fresh.values.shape[0] - before.values.shape[0] > 0
