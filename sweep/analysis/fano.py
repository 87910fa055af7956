"""Fano fits of Tc(eta) at fixed g: the line shape, the least-squares fit, its quality.

Every function takes the Dataset of :func:`sweep.store.open_dataset` (lazy, dask-backed, local
or remote) or a slice of it; :func:`fano_fit` runs curve by curve with
:func:`xarray.apply_ufunc`, chunk by chunk on a dask-backed store.

Quality
-------
A fit is ``good`` only when both of these hold, and says which failed otherwise:

- **The residual is small against the curve** (:data:`FANO_RMS_MAX`): the RMS residual over
  the range (max - min) of the fitted values. Tc(eta) from the solver has no noise: whatever
  the line misses is the shape, so the residual is judged against what the curve spans, not
  against an error bar. The paper structure's curves are Fano lines only roughly (linear fits
  over eta in [-0.5, 3]: 3.4 % at g = 0.10, 6.1 % at g = 1/4, 6.6 % at g = 1/3; log fits 10-18 %;
  docs/cli.md).
- **The covariance is well conditioned** (:data:`FANO_COND_MAX`): the condition number of the
  parameters' correlation matrix (the covariance scaled to unit diagonal, so that the units of
  the parameters do not enter). :func:`scipy.optimize.curve_fit` estimates the covariance from a
  Jacobian taken by finite differences, accurate to about sqrt(machine epsilon) = 1.5e-8 of its
  largest singular value, and drops singular values below epsilon times its size: a direction
  it drops, or resolves no better than that accuracy, gets a variance that is too small or
  meaningless (q = 6.3e5 +- 9.3e-12). At a condition number of 1e12 the weakest direction's
  singular value is 1e-6 of the largest and known to ~1.5 %; beyond it, or with a singular
  covariance, :func:`fit_fano` refuses the error bars (NaN) and the flag says why.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.optimize import OptimizeWarning, curve_fit

from ..front import dataset
from ..grid import on_grid
from ..store import VAR_TC
from .domes import COMPUTED_MAX_POINTS, computed

FANO_PARAMS = ("eta_res", "width", "q", "amplitude", "offset")
"""Parameters of :func:`fano_line`, in the order :func:`fit_fano` fits them."""

FANO_MIN_POINTS = len(FANO_PARAMS) + 1
"""Fewest points of a Fano fit: one more than its parameters, so that a residual is left to
judge the fit by and to scale its covariance."""


def fano_line(eta, *, eta_res: float, width: float, q: float, amplitude: float,
              offset: float) -> np.ndarray:
    """The asymmetric Fano line shape::

        F(eta) = amplitude * (q + e)^2 / (1 + e^2) + offset,   e = 2 (eta - eta_res) / width

    ``eta_res``: resonance position (eta units); ``width``: full width Gamma (eta units, > 0);
    ``q``: Fano asymmetry parameter (1); ``amplitude``, ``offset``: in the units of the fitted
    quantity (K for Tc). F has its zero (plus offset) at e = -q, the antiresonance, its maximum
    amplitude (1 + q^2) + offset at e = 1/q, and tends to amplitude + offset far away. With
    q > 0 the antiresonance lies below the resonance in eta, as in Tc(eta).
    """
    e = 2.0 * (np.asarray(eta, dtype=float) - eta_res) / width
    return amplitude * (q + e) ** 2 / (1.0 + e ** 2) + offset


def _fano_vector(eta, eta_res, width, q, amplitude, offset):
    return fano_line(eta, eta_res=eta_res, width=width, q=q, amplitude=amplitude, offset=offset)


def _log_fano_vector(eta, eta_res, width, q, amplitude, offset):
    return np.log(_fano_vector(eta, eta_res, width, q, amplitude, offset))


FANO_RMS_MAX = 0.05
"""Largest RMS residual of a ``good`` fit, as a fraction of the range (max - min) of the fitted
values: within it the line stays within a few per cent of what the curve spans, about a line's
width in a figure of the curve; beyond it the curve is not that line (27 K on a 315 K dome is
8.6 %)."""

FANO_COND_MAX = 1e12
"""Largest condition number of the correlation matrix of a fit whose 1-sigma errors are
reported: the weakest parameter combination is then resolved to ~1.5 % by the Jacobian's
finite differences (see the module's Quality); beyond it the errors are refused (NaN)."""


def covariance_condition(pcov: np.ndarray) -> float:
    """Condition number of the correlation matrix of covariance ``pcov`` (the covariance scaled
    to unit diagonal); inf where a variance is not positive and finite (singular)."""
    pcov = np.asarray(pcov, dtype=float)
    sd = np.sqrt(np.diag(pcov)) if np.all(np.isfinite(pcov)) else np.zeros(len(pcov))
    if not np.all(sd > 0):
        return float("inf")
    return float(np.linalg.cond(pcov / np.outer(sd, sd)))


@dataclass(frozen=True)
class FanoFit:
    """A Fano fit of one curve: the parameters of :func:`fano_line` and their 1-sigma errors
    (from the covariance of :func:`scipy.optimize.curve_fit`, scaled by the residuals; NaN where
    the covariance is singular or its condition number ``cond`` is above ``cond_max``), the RMS
    residual and the range (max - min) of the fitted values (K for a linear fit, natural log
    units for ``log=True``) and the points used."""

    eta_res: float
    width: float
    q: float
    amplitude: float
    offset: float
    eta_res_err: float
    width_err: float
    q_err: float
    amplitude_err: float
    offset_err: float
    rms: float
    n_points: int
    converged: bool
    y_range: float = float("nan")
    cond: float = float("nan")

    @property
    def params(self) -> dict[str, float]:
        return {p: getattr(self, p) for p in FANO_PARAMS}


def fano_guess(eta: np.ndarray, y: np.ndarray) -> tuple[float, ...]:
    """Starting parameters from the curve's own maximum, minimum and far (high-eta) tail.

    With F_max = A(1 + q^2) + B at e = 1/q, F_min = B at e = -q and F_far = A + B:
    q^2 = (F_max - F_min)/(F_far - F_min) - 1 and Gamma/2 = (eta_max - eta_min)/(q + 1/q).
    """
    k_max = int(np.argmax(y))
    k_min = int(np.argmin(y[:k_max])) if k_max > 0 else 0
    y_max, y_min, y_far = y[k_max], y[k_min], y[-1]
    span = max(y_far - y_min, 1e-12 * max(abs(y_max), 1.0))
    q = float(np.sqrt(max((y_max - y_min) / span - 1.0, 0.25)))
    d_eta = eta[k_max] - eta[k_min]
    if d_eta <= 0:
        d_eta = 0.25 * (eta[-1] - eta[0])
    half = d_eta / (q + 1.0 / q)
    eta_res = eta[k_max] - half / q
    amplitude = max((y_max - y_min) / (1.0 + q * q), 1e-12)
    return (float(eta_res), float(2 * half), q, float(amplitude), float(y_min))


def _fitted(*, eta: np.ndarray, tc: np.ndarray, log: bool) -> np.ndarray:
    """The points of a curve a fit uses (a mask): those with a value (and, for a log fit, a
    positive one)."""
    return np.isfinite(tc) & np.isfinite(eta) & (tc > 0 if log else True)


def fit_fano(*, eta: np.ndarray, tc: np.ndarray, log: bool = False,
             p0: Sequence[float] | None = None, max_evaluations: int = 20000,
             cond_max: float = FANO_COND_MAX) -> FanoFit:
    """Least-squares fit of :func:`fano_line` to one curve Tc(eta).

    ``eta``: (n,), 1; ``tc``: (n,), K, NaN where there is no value (those points are left out:
    below-floor points carry no number). ``log``: fit log Tc to log F (weights the dip as much as
    the dome). Amplitude and offset are kept >= 0, as Tc is. ``p0``: starting parameters in
    :data:`FANO_PARAMS` order (default :func:`fano_guess`). ``max_evaluations``: cap on model
    evaluations. ``cond_max``: the errors are NaN where the covariance's
    :func:`covariance_condition` is above it (:data:`FANO_COND_MAX`). Raises ValueError with
    fewer than :data:`FANO_MIN_POINTS` points; a fit that does not converge returns NaN
    parameters with ``converged=False``.
    """
    eta = np.asarray(eta, dtype=float)
    tc = np.asarray(tc, dtype=float)
    keep = _fitted(eta=eta, tc=tc, log=log)
    x, y = eta[keep], tc[keep]
    n = int(x.size)
    if n < FANO_MIN_POINTS:
        raise ValueError(f"Fano fit needs at least {FANO_MIN_POINTS} points, got {n}")
    start = list(fano_guess(x, y) if p0 is None else p0)
    # Tc >= 0: amplitude and offset are kept non-negative (the offset is Tc at the Fano zero).
    lower = [-np.inf, 1e-9 * (x[-1] - x[0]), -np.inf, 0.0, 0.0]
    start[4] = max(start[4], 1e-6 * float(np.max(y)) if log else 0.0)
    start[1] = max(start[1], 2 * lower[1])
    start[3] = max(start[3], 1e-12)
    fn, target = (_log_fano_vector, np.log(y)) if log else (_fano_vector, y)
    nan = float("nan")
    try:
        with warnings.catch_warnings():
            # Covariance that cannot be estimated comes back as inf: reported as NaN errors.
            warnings.simplefilter("ignore", OptimizeWarning)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                popt, pcov = curve_fit(fn, x, target, p0=start, bounds=(lower, np.inf),
                                       max_nfev=max_evaluations)
    except RuntimeError:  # curve_fit: optimal parameters not found within max_evaluations
        return FanoFit(*([nan] * 10), rms=nan, n_points=n, converged=False)
    cond = covariance_condition(pcov)
    err = np.sqrt(np.diag(pcov)) if cond <= cond_max else np.full(len(popt), nan)
    rms = float(np.sqrt(np.mean((fn(x, *popt) - target) ** 2)))
    return FanoFit(*map(float, popt), *map(float, err), rms=rms, n_points=n, converged=True,
                   y_range=float(np.ptp(target)), cond=cond)


FANO_Q_MAX = 100.0
"""Largest |q| of a fit reported as a Fano line: beyond it the profile is a plain Lorentzian
over any finite data (its zero at e = -q lies hundreds of widths away), q and the amplitude
trade off freely and their errors mean nothing."""

FANO_QUALITY = ("good", "too_few_points", "not_converged", "ill_conditioned", "degenerate",
                "poor_fit", "resonance_outside_data", "undetermined")
"""Fano fit quality flags, in the order :func:`fano_quality` checks them."""


def fano_quality(fit: Mapping[str, float], *, eta_lo: float, eta_hi: float,
                 q_max: float = FANO_Q_MAX, rms_max: float = FANO_RMS_MAX,
                 cond_max: float = FANO_COND_MAX) -> tuple[str, str]:
    """A flag from :data:`FANO_QUALITY` and a one-line reason for one fit (``fit``: the
    parameters of :data:`FANO_PARAMS`, their ``*_err``, ``rms``, ``y_range`` and ``cond``;
    ``eta_lo``, ``eta_hi``: the eta range of the data; ``n_points`` where it is known, the
    points the fit had). Only ``good`` fits describe the curve by a Fano line with error bars;
    the others say why not (see the module's Quality)."""
    n = fit.get("n_points")
    if n is not None and np.isfinite(n) and n < FANO_MIN_POINTS:
        return "too_few_points", (f"too few points ({int(n)}, need {FANO_MIN_POINTS}): "
                                  f"not fitted")
    values = [fit.get(p) for p in FANO_PARAMS]
    if any(v is None or not np.isfinite(v) for v in values):
        return "not_converged", "the least-squares fit did not converge"
    cond = fit.get("cond", np.nan)
    if not (np.isfinite(cond) and cond <= cond_max):
        what = "singular" if not np.isfinite(cond) else f"condition number {cond:.2g} > " \
                                                          f"{cond_max:g}"
        return "ill_conditioned", (f"the covariance is {what}: the parameters are not "
                                   f"determined one by one; no error bars")
    if abs(fit["q"]) > q_max:
        return "degenerate", (f"|q| = {abs(fit['q']):.3g} > {q_max:g}: a Lorentzian, not a "
                              f"Fano line; q and the amplitude are not determined")
    rms, span = fit.get("rms", np.nan), fit.get("y_range", np.nan)
    if not (np.isfinite(rms) and span > 0 and rms <= rms_max * span):
        share = f"{100 * rms / span:.2g} %" if span > 0 else "all"
        return "poor_fit", (f"the rms residual is {share} of the curve's range (more than "
                            f"{100 * rms_max:g} %): the curve is not this Fano line")
    if not eta_lo <= fit["eta_res"] <= eta_hi:
        return "resonance_outside_data", (f"eta_res = {fit['eta_res']:.4g} outside the data "
                                          f"[{eta_lo:g}, {eta_hi:g}]")
    loose = [p for p in ("eta_res", "width", "q")
             if not (np.isfinite(fit.get(p + "_err", np.nan))
                     and fit[p + "_err"] < abs(fit[p]))]
    if loose:
        return "undetermined", (f"1-sigma error of {', '.join(loose)} not smaller than the "
                                f"value (or not estimable)")
    return "good", (f"Fano line with determined parameters (rms {100 * rms / span:.2g} % of the "
                    f"curve's range)")


_OUTPUTS = (*FANO_PARAMS, *(p + "_err" for p in FANO_PARAMS), "rms", "n_points", "y_range",
            "cond")
"""What :func:`fano_fit` returns per curve, in the kernel's order."""


def _fano_kernel(tc: np.ndarray, eta: np.ndarray, *, log: bool) -> np.ndarray:
    """:func:`fit_fano` over the last axis of ``tc`` (..., n) -> (..., len(_OUTPUTS)); a curve
    with fewer than :data:`FANO_MIN_POINTS` points is not fitted: NaN, but its ``n_points``."""
    flat = tc.reshape(-1, tc.shape[-1])
    out = np.full((flat.shape[0], len(_OUTPUTS)), np.nan)
    for i, row in enumerate(flat):
        n = int(np.count_nonzero(_fitted(eta=eta, tc=row, log=log)))
        if n < FANO_MIN_POINTS:
            out[i, _OUTPUTS.index("n_points")] = n
            continue
        f = fit_fano(eta=eta, tc=row, log=log)
        out[i] = [getattr(f, name) for name in _OUTPUTS]
    return out.reshape(*tc.shape[:-1], out.shape[-1])


def fano_fit(ds: xr.Dataset, *, g: float | Sequence[float] | None = None, log: bool = False,
             max_computed: int = COMPUTED_MAX_POINTS) -> xr.Dataset:
    """Fano fits of Tc(eta) at each of ``g`` (a number or numbers, each a g of the store's
    grid, else ValueError naming the nearest: never silently replaced; default: every g), per
    (L, W, V, omega0). Returns the parameters of :func:`fano_line` and their 1-sigma errors
    (``*_err``, NaN where :func:`fit_fano` refuses them), ``rms``, ``n_points``, ``y_range``
    and ``cond``, with units: computed from at most ``max_computed`` points
    (:data:`~sweep.analysis.domes.COMPUTED_MAX_POINTS`), else lazy (dask) where ``ds`` is."""
    dataset(ds)
    tc = ds[VAR_TC]
    if g is not None:  # by position: the g axis need not be sorted
        gv = ds["g"].values
        tc = tc.isel(g=[int(np.argmin(np.abs(gv - x)))
                        for x in on_grid(gv, np.atleast_1d(g), name="g")])
    if tc.chunks is not None:
        tc = tc.chunk({"eta": -1})
    out = xr.apply_ufunc(
        _fano_kernel, tc, ds["eta"], input_core_dims=[["eta"], ["eta"]],
        output_core_dims=[["quantity"]], kwargs={"log": log}, dask="parallelized",
        output_dtypes=[float], dask_gufunc_kwargs={"output_sizes": {"quantity": len(_OUTPUTS)}})
    res = xr.Dataset({name: out.isel(quantity=i, drop=True) for i, name in enumerate(_OUTPUTS)})
    etau, tcu = ds["eta"].attrs.get("units", "1"), ds[VAR_TC].attrs.get("units", "K")
    yu = "1" if log else tcu
    units = {"eta_res": etau, "width": etau, "q": "1", "amplitude": yu, "offset": yu}
    long = {"eta_res": "Fano resonance position", "width": "Fano full width Gamma",
            "q": "Fano asymmetry parameter", "amplitude": "Fano amplitude",
            "offset": "Fano offset"}
    for p in FANO_PARAMS:
        res[p].attrs = {"units": units[p], "long_name": long[p]}
        res[p + "_err"].attrs = {"units": units[p], "long_name": f"1-sigma error of {p}"}
    res["rms"].attrs = {"units": "1" if log else tcu,
                        "long_name": "RMS residual" + (" of log Tc" if log else "")}
    res["n_points"].attrs = {"units": "1", "long_name": "points in the fit"}
    res["y_range"].attrs = {"units": "1" if log else tcu,
                            "long_name": "range (max - min) of the fitted values"}
    res["cond"].attrs = {"units": "1", "long_name": "condition number of the parameters' "
                                                    "correlation matrix"}
    res.attrs["form"] = ("F(eta) = amplitude (q + e)^2 / (1 + e^2) + offset, "
                         "e = 2 (eta - eta_res) / width" + (", fitted as log F to log Tc"
                                                            if log else ", fitted to Tc"))
    return computed(res, points=int(tc.size), max_computed=max_computed)
