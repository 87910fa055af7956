"""What to compute: parameter axes and ranges (no Dask, no I/O)."""
from __future__ import annotations

import math

import numpy as np

RANGE_RTOL = 1e-9
"""Relative slack when checking that (stop - start) is a whole number of steps: ranges typed by
people (0.1:0.49:0.01) are not exact in binary floating point."""


def inclusive_range(start: float, stop: float, step: float) -> np.ndarray:
    """Values start, start + step, ..., stop (stop included when it is on the lattice).

    The values are computed as ``start + i * step`` (no accumulated rounding) and then rounded
    to 12 significant digits so that 0.1 + 0.01 * 3 prints as 0.13.
    """
    for name, v in (("start", start), ("stop", stop), ("step", step)):
        if not math.isfinite(v):
            raise ValueError(f"range {name} must be finite, got {v!r}")
    if step <= 0:
        raise ValueError(f"range step must be positive, got {step!r}")
    if stop < start:
        raise ValueError(f"range stop {stop!r} is below start {start!r}")
    span = (stop - start) / step
    n = math.floor(span + RANGE_RTOL * max(1.0, abs(span)))
    values = start + step * np.arange(n + 1)
    return np.array([float(f"{v:.12g}") for v in values])


def parse_values(tokens: list[str], *, name: str) -> np.ndarray:
    """Parse command-line values: each token a number or an inclusive range START:STOP:STEP."""
    out: list[float] = []
    for token in tokens:
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
