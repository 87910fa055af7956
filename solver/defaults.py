"""The paper's structure and model (MODEL.md sections 1-3), in the project's units.

Lengths in Å, energies in meV, masses in m_e, temperatures in K.
"""
from types import MappingProxyType

PAPER = MappingProxyType({
    "L": 8.5,            # well (wire) width, Å
    "W": 5.5,            # barrier (spacer) width, Å
    "V": 4160.0,         # barrier height, meV (the paper's "4.16 meV" is a typo for 4.16 eV)
    "m_well": 0.86,      # mass in the well along z, m_e
    "m_barrier": 1.0,    # mass in the barrier along z, m_e
    "m_x": 0.86,         # mass along the wires, m_e
    "nbands": 3,         # subbands kept; the highest is the resonant one
    "ben_daniel_duke": False,  # False: psi and psi' continuous (the paper's choice)
    "omega0": 230.0,     # pairing cut-off before Migdal softening, meV
    "g_lower": 0.1,      # intraband coupling of the lower subbands
    "g_inter": 0.1,      # coupling between different subbands
    "softening": True,   # cut-off omega0*sqrt(1 - 2g), g of the resonant subband
    "t_floor": 1e-6,     # lowest temperature searched, K
})
"""Immutable mapping of every default; public functions take each as a keyword argument."""

STRUCTURE_KEYS = ("L", "W", "V", "m_well", "m_barrier", "m_x", "nbands", "ben_daniel_duke")
MODEL_KEYS = ("g_lower", "g_inter", "softening", "t_floor")
