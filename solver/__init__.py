"""Numba kernels and thin public functions for the BPV multigap Tc of a superlattice of wires.

Public functions (keyword-only arguments, units in their docstrings):

- :func:`band_structure` -- Kronig-Penney subbands, exact edges, E_L and dE.
- :func:`tc_grid` -- Tc over a grid of (omega0, g, eta) for one structure (L, W, V).
- :func:`tc_point` -- Tc for a single (eta, g) point.
- :func:`prepare_structure` / :func:`tc_on_structure` -- the same, with the structure's work
  (bands, overlaps, DOS tables) kept for reuse across calls.
- :func:`gaps_on_structure` / :func:`gaps_point` -- the gaps below Tc with the density equation.
"""
from . import defaults
from .status import STATUS_BELOW_FLOOR, STATUS_OK
from .tc import (Resolution, Structure, TcGrid, prepare_structure, tc_grid, tc_on_structure,
                 tc_point, warmup)
from .bands import BandStructure, band_structure
from .gaps import GapResolution, GapResult, gaps_on_structure, gaps_point

__all__ = [
    "defaults",
    "STATUS_BELOW_FLOOR",
    "STATUS_OK",
    "BandStructure",
    "Resolution",
    "Structure",
    "TcGrid",
    "band_structure",
    "GapResolution",
    "GapResult",
    "gaps_on_structure",
    "gaps_point",
    "prepare_structure",
    "tc_grid",
    "tc_on_structure",
    "tc_point",
    "warmup",
]
