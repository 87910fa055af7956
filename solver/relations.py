"""Closed-form relations of the model that need no kernel: the pairing cut-off and eta_up, the
highest eta at which the model holds (docs/model.md). Importable without numba, so that a
store's analysis can flag a maximum above eta_up from the energies the store holds."""
from __future__ import annotations

import math


def cutoff(*, omega0: float, g: float, softening: bool) -> float:
    """Pairing cut-off, meV: omega0 sqrt(1 - 2g) with Migdal softening, else omega0."""
    return omega0 * math.sqrt(1.0 - 2.0 * g) if softening else omega0


def eta_up(*, E_L: float, dE: float, E_left_out: float, omega0: float, g: float,
           softening: bool) -> float:
    """Highest eta at which the model holds: where mu + omega~ (mu = E_L + eta dE, omega~ the
    :func:`cutoff`) meets ``E_left_out``, the bottom of the first subband the model leaves out
    (:attr:`~solver.structure.Structure.E_left_out`), i.e. (E_left_out - omega~ - E_L)/dE.
    Above it that subband would pair too. inf where ``E_left_out`` is NaN (its edge not
    bracketed, or not known). Energies in meV."""
    if not math.isfinite(E_left_out):
        return math.inf
    return (E_left_out - cutoff(omega0=omega0, g=g, softening=softening) - E_L) / dE
