"""Numba kernels and thin public functions for the BPV multigap Tc of a superlattice of wires.

Public functions (keyword-only arguments, units in their docstrings):

- :func:`band_structure` -- Kronig-Penney subbands, exact edges, E_L and dE.
- :func:`tc_grid` -- Tc over a grid of (omega0, g, eta) for one structure (L, W, V).
- :func:`tc_point` -- Tc for a single (eta, g) point.
"""
from . import defaults
from .status import STATUS_BELOW_FLOOR, STATUS_OK
from .tc import Resolution, TcGrid, tc_grid, tc_point, warmup
from .bands import BandStructure, band_structure

__all__ = [
    "defaults",
    "STATUS_BELOW_FLOOR",
    "STATUS_OK",
    "BandStructure",
    "Resolution",
    "TcGrid",
    "band_structure",
    "tc_grid",
    "tc_point",
    "warmup",
]
