"""The model's parameters, written once: name, paper default, unit, meaning and allowed range.

Every other place that names a parameter reads this table: the public solver signatures
(``L: float = PARAMETERS["L"].default``), the sweep's config parser, the command-line options, the
store's attributes and the tests. The physics behind each one is in ``docs/model.md``.

Units: lengths in Å, energies in meV, masses in units of the free-electron mass m_e, temperatures
in K; ``"1"`` marks a dimensionless number (the CF/UDUNITS spelling).

Status codes of a Tc result live here too, because the solver returns them and the sweep stores
them as small integers.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

import numpy as np


class ParameterError(ValueError):
    """A value that the model does not accept; ``name`` is the parameter, the message says why."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name} {message}")
        self.name = name
        self.reason = message


@dataclass(frozen=True)
class Parameter:
    """One parameter of the model: what it means, its unit, its paper value and its range."""

    name: str
    default: object
    """The paper's value; None for the swept point coordinates eta and g (no default)."""
    unit: str
    long_name: str
    kind: type = float
    """float, int or bool."""
    minimum: float | None = None
    """Lower bound (None: any finite number)."""
    exclusive: bool = False
    """True: the value must be strictly above ``minimum``."""
    maximum: float | None = None
    """Upper bound, inclusive (None: none). Every number a user gives drives some loop or array
    of the solver; the bounds keep them inside what the model means and what the kernels can
    compute in bounded time and memory (:data:`BOUNDS_WHY` says why, per parameter)."""

    def check(self, value):
        """The value as ``kind``; :class:`ParameterError` naming the parameter otherwise."""
        if self.kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ParameterError(self.name, f"must be true or false, got {value!r}")
            return bool(value)
        if self.kind is int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ParameterError(self.name, f"must be an integer, got {value!r}")
            value = int(value)
        else:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ParameterError(self.name, f"must be a real number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(self.name, f"must be finite, got {value!r}")
        if self.minimum is not None:
            if self.exclusive and value <= self.minimum:
                bound = "positive" if self.minimum == 0 else f"> {self.minimum:g}"
                raise ParameterError(self.name, f"must be {bound}, got {value!r}")
            if not self.exclusive and value < self.minimum:
                raise ParameterError(self.name, f"must be >= {self.minimum:g}, got {value!r}"
                                                f"{self._why()}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(self.name, f"must be <= {self.maximum:g}, got {value!r}"
                                            f"{self._why()}")
        return value

    def _why(self) -> str:
        why = BOUNDS_WHY.get(self.name)
        return f" ({why})" if why else ""

    @property
    def unit_suffix(self) -> str:
        """`` unit`` after a value (`` Å``); nothing for a dimensionless parameter."""
        return "" if self.unit == "1" else f" {self.unit}"

    @property
    def description(self) -> str:
        """``long_name, unit`` (the unit left out for dimensionless and boolean parameters)."""
        if self.kind is bool or self.unit == "1":
            return self.long_name
        return f"{self.long_name}, {self.unit}"


_TABLE = (
    # the structure: a Kronig-Penney superlattice of wells (wires) and barriers (spacers)
    Parameter("L", 8.5, "Å", "well (wire) width", minimum=0.1, maximum=1e4),
    Parameter("W", 5.5, "Å", "barrier (spacer) width", minimum=0.1, maximum=1e4),
    # the paper prints "V = 4.16 meV"; only 4160 meV reproduces its dE = 142 meV (docs/model.md)
    Parameter("V", 4160.0, "meV", "barrier height", minimum=0.0, maximum=1e12),
    Parameter("m_well", 0.86, "m_e", "mass in the well along z", minimum=1e-3, maximum=1e3),
    Parameter("m_barrier", 1.0, "m_e", "mass in the barrier along z", minimum=1e-3,
              maximum=1e3),
    Parameter("m_x", 0.86, "m_e", "mass along the wires (x)", minimum=1e-3, maximum=1e3),
    Parameter("nbands", 3, "1", "subbands kept; the highest is the resonant one", kind=int,
              minimum=1, maximum=20),
    Parameter("ben_daniel_duke", False, "1",
              "BenDaniel-Duke interfaces: psi and psi'/m continuous (false: psi and psi')",
              kind=bool),
    # the pairing
    Parameter("omega0", 230.0, "meV", "pairing cut-off before softening", minimum=0.0,
              exclusive=True, maximum=1e4),
    Parameter("g_lower", 0.1, "1", "intraband coupling of the lower subbands", minimum=0.0,
              maximum=10.0),
    Parameter("g_inter", 0.1, "1", "coupling between different subbands", minimum=0.0,
              maximum=10.0),
    Parameter("softening", True, "1",
              "Migdal softening: cut-off omega0*sqrt(1 - 2g), g < 1/2 (false: omega0)", kind=bool),
    Parameter("t_floor", 1e-6, "K",
              "lowest temperature searched for Tc (below it the status is below_floor)",
              minimum=1e-9, maximum=1e3),
    # the point: chemical potential and resonant coupling (swept, no default)
    Parameter("eta", None, "1", "Lifshitz parameter (mu - E_L)/dE", minimum=-1e4, maximum=1e4),
    Parameter("g", None, "1", "coupling of the resonant subband", minimum=0.0, maximum=10.0),
)

BOUNDS_WHY: Mapping[str, str] = MappingProxyType({
    "L": "a well below 0.1 Å is no material layer and (pi/L)^2 overflows the band search; "
         "beyond 1 µm the subbands are a continuum and the band search counts millions of "
         "nodes",
    "W": "a barrier below 0.1 Å is no material layer; beyond 1 µm the wells no longer couple "
         "and exp(kappa W) underflows every transfer matrix",
    "V": "the infinite-barrier limit is reached to 1e-4 by 1e10 meV; beyond 1e12 meV the "
         "band search loses every digit of the wells' levels",
    "m_well": "effective masses in solids lie between ~0.01 and ~100 m_e; far outside, the "
              "wavenumbers overflow and the band search cannot bracket an edge",
    "m_barrier": "effective masses in solids lie between ~0.01 and ~100 m_e; far outside, the "
                 "wavenumbers overflow and the band search cannot bracket an edge",
    "m_x": "effective masses in solids lie between ~0.01 and ~100 m_e; far outside, the "
           "densities of states overflow",
    "nbands": "the model is about a resonance among the lowest few subbands: the 20th of the "
              "paper's 8.5 Å well lies 78 eV up, far above any band it describes; each subband "
              "adds a DOS table and an overlap block: one Tc takes up to a minute at 20 subbands, "
              "several at 100",
    "ben_daniel_duke": "a switch",
    "omega0": "pairing cut-offs are phonon or exciton energies, far below 10 eV",
    "g_lower": "BCS couplings beyond ~2 are outside weak-coupling theory; 10 leaves room",
    "g_inter": "BCS couplings beyond ~2 are outside weak-coupling theory; 10 leaves room",
    "softening": "a switch",
    "t_floor": "below a nanokelvin 1/T overflows the pair kernel's window; above 1000 K no "
               "superconductor is searched",
    "eta": "|eta| beyond 10^4 puts the chemical potential thousands of subband widths away "
           "from the resonance, where the window's panels no longer resolve anything",
    "g": "BCS couplings beyond ~2 are outside weak-coupling theory; 10 leaves room",
})
"""Why each parameter's range is what it is (a sentence each, quoted by the error message)."""

PARAMETERS: Mapping[str, Parameter] = MappingProxyType({p.name: p for p in _TABLE})
"""Every parameter of the model by name, in the order above."""

STRUCTURE = ("L", "W", "V", "m_well", "m_barrier", "m_x", "nbands", "ben_daniel_duke")
"""What :func:`solver.prepare_structure` takes: bands, wavefunctions and DOS tables depend on
these only."""
MODEL = ("g_lower", "g_inter", "softening", "t_floor")
"""Options of the pairing and of the Tc search, fixed for a whole sweep."""

G_SOFTENING_LIMIT = 0.5
"""With Migdal softening the cut-off is omega0*sqrt(1 - 2g): g must stay below 1/2."""

STATUS_OK = 0
"""Tc was found: Lambda(Tc) = 1 with Tc above the temperature floor."""
STATUS_BELOW_FLOOR = 1
"""Lambda < 1 at the temperature floor: Tc is below the floor, no number is reported."""
STATUS_NAMES: Mapping[int, str] = MappingProxyType({STATUS_OK: "ok",
                                                    STATUS_BELOW_FLOOR: "below_floor"})
"""Name of each status code the solver returns (the sweep adds its own after these)."""


def defaults(names: Iterable[str] = STRUCTURE + MODEL + ("omega0",)) -> dict[str, object]:
    """The paper's value of each named parameter."""
    return {n: PARAMETERS[n].default for n in names}


def check(name: str, value):
    """``PARAMETERS[name].check(value)``."""
    return PARAMETERS[name].check(value)


def check_all(values: Mapping[str, object]) -> dict[str, object]:
    """Each value checked against its parameter (in the order of ``values``' keys)."""
    return {n: check(n, v) for n, v in values.items()}


def check_g(g, *, softening: bool) -> float:
    """A resonant coupling: >= 0, and below :data:`G_SOFTENING_LIMIT` when softening is on."""
    g = check("g", g)
    if softening and g >= G_SOFTENING_LIMIT:
        limit = Fraction(G_SOFTENING_LIMIT).limit_denominator(100)  # "1/2", as the papers write it
        raise ParameterError("g", f"must be < {limit} with softening "
                                  f"(cut-off omega0*sqrt(1 - 2g)), got {g!r}")
    return g
