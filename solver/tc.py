"""PLACEHOLDER with the final signature; the real solver replaces this module."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .status import STATUS_BELOW_FLOOR, STATUS_OK


@dataclass(frozen=True)
class TcGrid:
    tc_K: np.ndarray  # shape (n_omega0, n_g, n_eta), NaN where status != OK
    status: np.ndarray  # int8, same shape
    E_L: float  # meV
    dE: float  # meV

    @staticmethod
    def status_name(code):
        return {STATUS_OK: "ok", STATUS_BELOW_FLOOR: "below_floor"}[code]


def tc_grid(*, eta, g, omega0=230.0, L=8.5, W=5.5, V=4160.0, m_well=0.86, m_barrier=1.0,
            m_x=0.86, nbands=3, g_lower=0.1, g_inter=0.1, softening=True, t_floor=1e-6,
            ben_daniel_duke=False) -> TcGrid:
    eta = np.atleast_1d(np.asarray(eta, float))
    g = np.atleast_1d(np.asarray(g, float))
    omega0 = np.atleast_1d(np.asarray(omega0, float))
    o, gg, e = np.meshgrid(omega0, g, eta, indexing="ij")
    tc = o * gg * np.exp(-((e - 1.0) ** 2)) * (L / 8.5) * (W / 5.5) * (V / 4160.0)
    status = np.where(tc > 1.0, STATUS_OK, STATUS_BELOW_FLOOR).astype(np.int8)
    tc = np.where(status == STATUS_OK, tc, np.nan)
    return TcGrid(tc, status, 100.0 * V / 4160.0, 142.0 * L / 8.5)


def tc_point(*, eta, g, **kwargs):
    r = tc_grid(eta=[eta], g=[g], **{k: v for k, v in kwargs.items()})
    return float(r.tc_K[0, 0, 0]), int(r.status[0, 0, 0])


def warmup() -> None:
    """Compile (or load from the numba cache) every kernel that tc_grid uses."""
    tc_grid(eta=[1.0], g=[0.25])
