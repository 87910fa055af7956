"""Physical constants in the project's units (meV, Å, K, m_e).

Values from CODATA 2018 (NIST): hbar^2/(2 m_e) = 3.80998212 eV Å^2 and
k_B = 8.617333262e-5 eV/K.
"""

HBAR2_2ME = 3809.98212
"""hbar^2 / (2 m_e) in meV Å^2."""

KB = 0.0861733326
"""Boltzmann constant in meV/K."""
