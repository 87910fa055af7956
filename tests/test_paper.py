"""The paper's published numbers (docs/model.md §4): the Fano profile of Tc(eta)."""
import numpy as np
import pytest

from solver import tc_grid
from sweep.grid import inclusive_range

ETA = inclusive_range(-0.5, 3.0, 0.05)  # the paper's Fig. 4 axis


@pytest.fixture(scope="module")
def curves():
    r = tc_grid(eta=ETA, g=[0.25, 1 / 3])
    assert np.all(r.status == 0)
    return r.tc_K[0]


@pytest.mark.parametrize("row, published", [(0, 203.0), (1, 287.7)])
def test_dome_maximum_near_van_hove_within_five_percent(curves, row, published):
    tc = curves[row]
    k = int(np.argmax(tc))
    assert 0.8 <= ETA[k] <= 1.2  # the maximum sits near the 2D-1D Lifshitz point eta = 1
    assert tc[k] == pytest.approx(published, rel=0.05)


@pytest.mark.parametrize("row", [0, 1])
def test_antiresonance_below_the_lifshitz_point(curves, row):
    tc = curves[row]
    k_max = int(np.argmax(tc))
    k_min = int(np.argmin(np.log(tc[:k_max])))
    assert ETA[k_min] < 0.0  # the Fano antiresonance: resonant subband empty
    assert tc[k_min] < 1e-2  # millikelvin, five orders of magnitude below the maximum
    # asymmetric Fano profile: steep rise from the antiresonance, slow fall on the open side
    assert tc[-1] > 1e3 * tc[k_min]


def test_stronger_resonant_coupling_raises_the_dome(curves):
    assert curves[1].max() > curves[0].max()
