"""Tc converged: doubling every resolution parameter changes it by < 1e-4 relative.

The requirement is docs/model.md §4; the resolution parameters are described in §6.

The points cover the paper grid's regimes: the antiresonance (Tc ~ mK), the Lifshitz point
eta = 0, the van Hove point eta = 1 (mu on the log singularity of the resonant band's DOS), the
dome's top, the open-Fermi-surface tail, weak and strong coupling; and structures whose resonant
subband is several hundred meV wide (thin or low barriers), where the Bloch functions and the
overlaps depend strongly on q.
"""
import numpy as np
import pytest

from solver import Resolution, band_structure, tc_grid

TOL = 1e-4

PAPER_ETA = [-0.5, -0.3, -0.05, 0.0, 0.35, 0.95, 1.0, 1.05, 2.0, 3.0]
PAPER_G = [0.1, 0.25, 1 / 3, 0.49]


def _relative_change(**kw):
    coarse = tc_grid(**kw)
    fine = tc_grid(resolution=Resolution().doubled(), **kw)
    assert np.array_equal(coarse.status, fine.status)
    ok = coarse.status == 0
    return coarse, np.abs(fine.tc_K[ok] / coarse.tc_K[ok] - 1)


def test_paper_grid_points_converged():
    coarse, change = _relative_change(eta=PAPER_ETA, g=PAPER_G)
    assert coarse.status.size == 40 and np.all(coarse.status == 0)
    assert np.nanmin(coarse.tc_K) < 1.0  # the antiresonance is among them
    assert change.max() < TOL


@pytest.mark.slow
@pytest.mark.ci
def test_thin_barrier_converged():
    # W = 2 Å: the resonant subband is ~900 meV wide (the adaptive basis takes 16 nodes)
    assert band_structure(W=2.0).dE > 300.0
    _, change = _relative_change(eta=[-0.3, 0.0, 0.5, 1.0, 2.0], g=[0.2, 0.4], W=2.0)
    assert change.max() < TOL


@pytest.mark.slow
@pytest.mark.parametrize("structure", [dict(W=1.0, V=2000.0), dict(V=1000.0)])
def test_wide_resonant_subband_converged(structure):
    # ~1.6 and ~0.9 eV wide; V = 1000 meV leaves an 18 meV Bragg gap above the resonant band,
    # the hardest case for the basis in q (32 nodes, 64 when doubled: minutes)
    assert band_structure(**structure).dE > 300.0
    _, change = _relative_change(eta=[0.0, 1.0, 2.0], g=[0.3], **structure)
    assert change.max() < TOL


def test_ben_daniel_duke_converged():
    _, change = _relative_change(eta=[-0.2, 0.5, 1.0, 1.5], g=[0.3], ben_daniel_duke=True)
    assert change.max() < TOL
