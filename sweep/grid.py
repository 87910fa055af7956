"""What to compute: parameter axes and ranges (no Dask, no I/O)."""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np

MAX_AXIS_VALUES = 10_000_000
"""Most values one axis may have: 10^7 coordinates are 80 MB and any grid with such an axis is
far beyond what a run finishes; a longer range is refused before anything is allocated."""

RANGE_RTOL = 1e-9
"""Relative slack when checking that (stop - start) is a whole number of steps: ranges typed by
people (0.1:0.49:0.01) are not exact in binary floating point."""


def inclusive_range(start: float, stop: float, step: float) -> np.ndarray:
    """Values start, start + step, ..., stop (stop included). A stop that is not start plus a
    whole number of steps (within :data:`RANGE_RTOL`) is refused, naming the stops that are:
    the range would end short of it, and nothing is dropped silently.

    The values are computed as ``start + i * step`` (no accumulated rounding) and then rounded
    to 12 significant digits so that 0.1 + 0.01 * 3 prints as 0.13.
    """
    values = start + step * np.arange(range_length(start, stop, step))
    return np.array([float(f"{v:.12g}") for v in values])


def range_length(start: float, stop: float, step: float) -> int:
    """How many values :func:`inclusive_range` gives, checked as it checks them (ValueError),
    without making them: a grid's size is known before any axis is built."""
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not math.isfinite(v):
            raise ValueError(f"range {name} must be finite, got {v!r}")
    if step <= 0:
        raise ValueError(f"range step must be positive, got {step!r}")
    if stop < start:
        raise ValueError(f"range stop {stop!r} is below start {start!r}")
    span = (stop - start) / step
    n = math.floor(span + RANGE_RTOL * max(1.0, abs(span)))
    if not n < MAX_AXIS_VALUES:
        raise ValueError(f"range of {span:.3g} steps is longer than {MAX_AXIS_VALUES} values")
    if span - n > RANGE_RTOL * max(1.0, abs(span)):
        below, above = (float(f"{start + step * k:.12g}") for k in (n, n + 1))
        raise ValueError(f"range stop {stop!r} is not start {start!r} plus a whole number of "
                         f"steps {step!r}: give stop = {below!r} or {above!r}")
    return n + 1


def parse_values(tokens: list[str], *, name: str) -> np.ndarray:
    """Parse command-line values: each token a number or an inclusive range START:STOP:STEP."""
    out: list[float] = []
    for token in tokens:
        token = token.strip()  # the CLI keeps negative values from argparse with a space
        parts = token.split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{name}: {token!r} is not a number or START:STOP:STEP") from None
        if len(numbers) == 1:
            if not math.isfinite(numbers[0]):
                raise ValueError(f"{name}: {token!r} is not finite")
            out.append(numbers[0])
        elif len(numbers) == 3:
            try:
                out.extend(inclusive_range(*numbers))
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from None
        else:
            raise ValueError(f"{name}: {token!r} is not a number or START:STOP:STEP")
    if not out:
        raise ValueError(f"{name}: no values")
    return np.asarray(out, dtype=float)


AXES = ("L", "W", "V", "omega0", "g", "eta")
"""The sweep's axes in storage order: structure (L, W, V) outermost, then omega0, g, eta."""

STRUCTURE_AXES = ("L", "W", "V")
"""Axes that define one structure; a chunk always holds exactly one structure."""

BLOCK_AXES = ("omega0", "g", "eta")
"""Axes that one solver call evaluates together for a fixed structure."""

DOME_AXES = STRUCTURE_AXES + ("omega0",)
"""Axes that pick one dome, Tc over (g, eta): a structure and a pairing cut-off."""

CURVE_AXES = DOME_AXES + ("g",)
"""Axes that pick one curve, Tc(eta), of a dome."""

MIN_DOME_G = 3
"""Fewest values of g a dome is drawn from as a surface over (eta, g): with two, a colour map
is two bands joined by a straight ridge over a g axis it extrapolates; the cuts Tc(eta) show
each g as it is."""


def linspace_values(start: float, stop: float, num: int) -> np.ndarray:
    """``num`` evenly spaced values from start to stop (both included), rounded like
    :func:`inclusive_range` so that typed decimals print as typed."""
    for name, v in (("start", start), ("stop", stop)):
        if not math.isfinite(v):
            raise ValueError(f"range {name} must be finite, got {v!r}")
    if num < 1:
        raise ValueError(f"range num must be at least 1, got {num!r}")
    if num > 1 and stop < start:
        raise ValueError(f"range stop {stop!r} is below start {start!r}")
    if num == 1 and stop != start:
        raise ValueError(f"range of num = 1 from {start!r} to {stop!r}: one value is one "
                         f"number (start = stop, or the number itself)")
    if num > MAX_AXIS_VALUES:
        raise ValueError(f"range of {num} values is longer than {MAX_AXIS_VALUES} values")
    values = np.linspace(start, stop, num)
    return np.array([float(f"{v:.12g}") for v in values])


class ChunkPlan:
    """How a grid of shape ``shape`` (one length per axis of :data:`AXES`) is cut into chunks.

    Structure axes are always cut one value per chunk, so each chunk is one structure
    (L, W, V) times a block of (omega0, g, eta). Nothing is materialised: a 10^8-point grid is
    six integers here, and :meth:`chunks` yields block indices lazily.
    """

    def __init__(self, *, shape: dict[str, int], block: dict[str, int]):
        missing = set(AXES) - set(shape)
        if missing:
            raise ValueError(f"shape lacks axes {sorted(missing)}")
        self.shape = {a: int(shape[a]) for a in AXES}
        for a, n in self.shape.items():
            if n < 1:
                raise ValueError(f"axis {a} is empty")
        self.chunk = {a: 1 for a in STRUCTURE_AXES}
        for a in BLOCK_AXES:
            size = int(block.get(a, self.shape[a]))
            if size < 1:
                raise ValueError(f"chunk size of {a} must be at least 1, got {size}")
            self.chunk[a] = min(size, self.shape[a])

    @property
    def numblocks(self) -> tuple[int, ...]:
        """Number of chunks along each axis, in :data:`AXES` order."""
        return tuple(-(-self.shape[a] // self.chunk[a]) for a in AXES)

    @property
    def n_points(self) -> int:
        return math.prod(self.shape.values())

    @property
    def n_chunks(self) -> int:
        return math.prod(self.numblocks)

    def chunks(self, structure: tuple[int, int, int] | None = None) -> Iterator[tuple[int, ...]]:
        """Block indices (one per axis of :data:`AXES`), structure-major; only those of one
        structure (its L, W, V indices) when ``structure`` is given."""
        nb = self.numblocks
        if structure is None:
            outer = itertools.product(*(range(n) for n in nb[:3]))
        else:
            outer = iter([tuple(structure)])
        for s in outer:
            for rest in itertools.product(*(range(n) for n in nb[3:])):
                yield (*s, *rest)

    def structures(self) -> Iterator[tuple[int, int, int]]:
        """Indices (iL, iW, iV) of every structure."""
        return itertools.product(*(range(self.shape[a]) for a in STRUCTURE_AXES))

    def region(self, index: tuple[int, ...]) -> dict[str, slice]:
        """The slice of every axis covered by the chunk with block index ``index``."""
        out = {}
        for a, i in zip(AXES, index):
            start = i * self.chunk[a]
            out[a] = slice(start, min(start + self.chunk[a], self.shape[a]))
        return out

    def n_points_in(self, index: tuple[int, ...]) -> int:
        return math.prod(s.stop - s.start for s in self.region(index).values())


GRID_MATCH_RTOL = 1e-6
"""Relative tolerance within which a value asked for on the command line is a grid value: wide
enough for the rounding of ranges built by steps (0.1 * 3 = 0.30000000000000004) and of values
printed with 6+ digits, narrow enough that no two grid values ever match one request."""


def on_grid(values, wanted, *, name: str, rtol: float = GRID_MATCH_RTOL) -> list[float]:
    """The grid values of axis ``name`` (``values``) that match each of ``wanted`` to ``rtol``.

    Raises ValueError naming the nearest grid values when one is not on the grid: a value is
    never silently replaced by a neighbour.
    """
    grid = np.asarray(values, dtype=float)
    out = []
    for w in np.atleast_1d(np.asarray(wanted, dtype=float)):
        k = int(np.argmin(np.abs(grid - w)))
        if not math.isclose(grid[k], w, rel_tol=rtol, abs_tol=rtol * 1e-3):
            near = sorted(grid[np.argsort(np.abs(grid - w))[:2]])
            raise ValueError(f"{name} = {w:g} is not on the store's grid (to {rtol:g} relative); "
                             f"nearest: {', '.join(f'{x:.10g}' for x in near)}")
        out.append(float(grid[k]))
    return out
