"""Numba kernels and thin public functions for the BPV multigap Tc of a superlattice of wires.

The physics is in docs/model.md. Modules, each a job's kernels (arrays and floats only) with its
thin public wrapper:

- :mod:`solver.parameters` -- the one table of the model's parameters (paper default, unit,
  meaning, range check) and the status codes; every public signature reads its defaults there.
- :mod:`solver.bands` -- Kronig-Penney subbands and their exact edges (§1).
- :mod:`solver.overlaps` -- Bloch functions and exchange integrals I_nn'(q, q') (§2).
- :mod:`solver.dos` -- weighted densities of states and their tables (§3, §6).
- :mod:`solver.structure` -- a structure prepared once: bands, basis, exchange integrals, cached
  DOS tables.
- :mod:`solver.tc` -- the linearised gap equation and Tc (§3).
- :mod:`solver.gaps` -- the gaps below Tc with the density equation (§5).
- :mod:`solver.relations` -- the pairing cut-off and eta_up, closed forms without numba.
- :mod:`solver.constants` (hbar^2/2m_e, k_B) and :mod:`solver.jit` (the numba decorator).

Public functions (keyword-only arguments, units in their docstrings):

- :func:`band_structure` -- Kronig-Penney subbands, exact edges, E_L and dE.
- :func:`tc_grid` -- Tc over a grid of (omega0, g, eta) for one structure (L, W, V).
- :func:`tc_point` -- Tc for a single (eta, g) point.
- :func:`prepare_structure` / :func:`tc_on_structure` -- the same, with the structure's work
  (bands, overlaps, DOS tables) kept for reuse across calls.
- :func:`gaps_on_structure` / :func:`gaps_point` -- the gaps below Tc with the density equation.
- :func:`warmup` -- compile (or load from numba's cache) the Tc and gap kernels once per process.

A bad parameter raises :class:`solver.parameters.ParameterError`, a ValueError that names it.
"""
from __future__ import annotations

import importlib

from . import parameters as parameters  # solver.parameters, the table
from .parameters import PARAMETERS, STATUS_BELOW_FLOOR, STATUS_NAMES, STATUS_OK

_LAZY = {
    "BandStructure": "bands", "band_structure": "bands",
    "GapResolution": "gaps", "GapResult": "gaps", "gaps_on_structure": "gaps",
    "gaps_point": "gaps", "warmup": "gaps",
    "Resolution": "structure", "Structure": "structure", "prepare_structure": "structure",
    "TcGrid": "tc", "tc_grid": "tc", "tc_on_structure": "tc", "tc_point": "tc",
}
"""The public names that need numba, by module: loaded on first use, so that reading the
parameter table (the command line, a store's analysis) does not import numba."""


def __getattr__(name: str):
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'solver' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "PARAMETERS",
    "STATUS_OK",
    "STATUS_BELOW_FLOOR",
    "STATUS_NAMES",
    "BandStructure",
    "Resolution",
    "Structure",
    "TcGrid",
    "GapResolution",
    "GapResult",
    "band_structure",
    "prepare_structure",
    "tc_grid",
    "tc_on_structure",
    "tc_point",
    "gaps_on_structure",
    "gaps_point",
    "warmup",
]
