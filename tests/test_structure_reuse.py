"""A prepared structure is reused across calls and threads without changing any result."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from solver import prepare_structure, tc_grid, tc_on_structure

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
    tc_on_structure(st, eta=[4.0], g=[0.1])  # far beyond: rebuilt over the union
    assert st._tables[0][2] is not built
