"""The zarr layout of an explore store: one row per sample, written as samples finish.

Written by :mod:`sweep.explore`::

    dimension   sample (budget + polish_points rows, laid out first; a row is filled when its
                sample finishes, in the order they finish)
    coordinates sample (index), and per sample the explored axes' values, named as the
                parameters (L, W in Å; V, omega0 in meV; g, eta)
    variables   tc_max (K; the objective, NaN until computed), eta_max (where the maximum over
                eta sits; the point's eta when eta is explored), E_L, dE (meV; the resonant
                subband's bottom and width: mu - E_L = eta_max * dE), evaluations (solver
                calls of the sample), branch (int8, CF flag_values of
                :data:`sweep.flags.BRANCHES`; -1 pending), sample_status (int16, CF
                flag_masks of :data:`sweep.flags.SAMPLE_FLAGS`; 0 = pending)
    root attrs  title, Conventions, config_toml (the config), explore_json (what --resume
                compares: :meth:`sweep.config.SweepConfig.explore_identity`), model_defaults,
                fanodome_version, created, explore_settings (JSON: learner, loss, batch,
                polish), explore_best (JSON: the best sample), explore_failures (JSON list),
                explore_finished (JSON: which phases finished, and why)

Only the process that drives the learner writes (the values arrive there to be told to the
learner anyway): values first, ``sample_status`` last, so a row cut short reads as pending.
"""
from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr
import zarr

import solver.parameters
from solver.parameters import PARAMETERS

from ..config import package_version, parse_config
from ..grid import AXES
from ..flags import BRANCHES, SAMPLE_DONE, SAMPLE_FAILED, SAMPLE_FLAGS, SAMPLE_POLISH
from .common import (ATTR_CONFIG_JSON, ATTR_CONFIG_TOML, ATTR_EXPLORE_FAILURES,
                     ATTR_EXPLORE_JSON, ATTR_FAILURES, StoreError, check_only_own_files,
                     consolidate, group, identity_mismatch, is_explore, provenance, quiet,
                     template)
from .common import check_can_start as _check_can_start

log = logging.getLogger(__name__)

ATTR_EXPLORE_SETTINGS = "explore_settings"
ATTR_EXPLORE_BEST = "explore_best"
ATTR_EXPLORE_FINISHED = "explore_finished"
"""JSON ``{"learner": why it stopped or null, "polish": why it stopped or null}``: a phase
that finished is not run again by ``--resume`` (a learner's loss need not stay below its goal
when it is told the same samples in another order)."""

VAR_SAMPLE_STATUS = "sample_status"
SAMPLE_DIM = "sample"
CHUNK_SAMPLES = 256
"""Rows per chunk: a chunk is a few kB, rewritten in place as its rows finish (one writer)."""

_VARS = {
    "tc_max": ("f8", {"units": "K", "long_name": "maximum of Tc over eta (the objective)"}),
    "eta_max": ("f8", {"units": "1", "long_name": "eta of the maximum of Tc over eta"}),
    "E_L": ("f8", {"units": "meV", "long_name": "Lifshitz energy (bottom of the resonant "
                                                "subband)"}),
    "dE": ("f8", {"units": "meV", "long_name": "width of the resonant subband"}),
    "evaluations": ("i4", {"units": "1", "long_name": "solver evaluations of the sample"}),
    "branch": ("i1", {"units": "1", "long_name": "where the maximum over eta sits"}),
    VAR_SAMPLE_STATUS: ("i2", {"units": "1", "long_name": "status of the sample"}),
}
_AT_POINT = {"tc_max": "critical temperature at the point (the objective)",
             "eta_max": "eta of the point"}
"""The long names when eta is explored: the objective is Tc at the point."""

NAMES = set(_VARS) | {SAMPLE_DIM} | set(PARAMETERS)
"""Every node an explore store may hold (for ``--overwrite``'s check)."""


PENDING_BRANCH = -1
"""``branch`` of a row not computed yet."""


def _fill(dtype: str):
    """NaN for numbers, -1 for the branch (0 is a branch), 0 (pending) for counts and flags."""
    if dtype == "f8":
        return np.nan
    return np.dtype(dtype).type(PENDING_BRANCH if dtype == "i1" else 0)


def layout_explore(*, store: str, axes: Sequence[str], rows: int, config_toml: str,
                   identity: str, settings: Mapping,
                   storage_options: Mapping | None = None) -> None:
    """Write the metadata of an empty explore store of ``rows`` samples over ``axes`` (names
    of parameters), every row pending. ``settings``: JSON-able (learner, loss, ...)."""
    n = int(rows)
    chunk = (max(1, min(CHUNK_SAMPLES, n)),)
    at_point = "eta" in axes
    data, encoding = {}, {}
    for name, (dtype, attrs) in _VARS.items():
        attrs = dict(attrs)
        if at_point and name in _AT_POINT:
            attrs["long_name"] = _AT_POINT[name]
        if name == VAR_SAMPLE_STATUS:
            attrs.update(flag_masks=np.array(list(SAMPLE_FLAGS.values()), dtype=dtype),
                         flag_meanings=" ".join(SAMPLE_FLAGS))
        if name == "branch":
            attrs.update(flag_values=np.arange(len(BRANCHES), dtype=dtype),
                         flag_meanings=" ".join(BRANCHES))
        data[name] = xr.Variable(SAMPLE_DIM, template((n,), _fill(dtype), dtype, lazy=True),
                                 attrs)
        encoding[name] = {"chunks": chunk, "fill_value": _fill(dtype)}
    coords = {SAMPLE_DIM: xr.Variable(SAMPLE_DIM, np.arange(n, dtype=np.int64),
                                      {"units": "1", "long_name": "sample (in the order "
                                                                  "samples finished)"})}
    for a in axes:
        p = PARAMETERS[a]
        coords[a] = xr.Variable(SAMPLE_DIM, template((n,), np.nan, "f8", lazy=True),
                                {"units": p.unit, "long_name": p.long_name})
        encoding[a] = {"chunks": chunk, "fill_value": np.nan}
    ds = xr.Dataset(data, coords=coords)
    # a sweep's provenance, but no sweep identity (an explore store is not a sweep: the sweep
    # commands refuse it) and its failure records under their own name
    made = provenance(config_toml=config_toml, config_json="",
                      model_defaults=solver.parameters.defaults(), version=package_version())
    ds.attrs.update({
        "title": "fanodome explore: the objective sampled adaptively over " + ", ".join(axes),
        "Conventions": "CF-1.10",
        **{k: v for k, v in made.items() if k not in (ATTR_CONFIG_JSON, ATTR_FAILURES)},
        ATTR_EXPLORE_JSON: identity,
        ATTR_EXPLORE_SETTINGS: json.dumps(dict(settings), sort_keys=True),
        ATTR_EXPLORE_BEST: "null", ATTR_EXPLORE_FAILURES: "[]",
        ATTR_EXPLORE_FINISHED: json.dumps({"learner": None, "polish": None}),
    })
    with quiet():
        ds.to_zarr(store, compute=False, zarr_format=3, mode="w", consolidated=True,
                   encoding=encoding, storage_options=storage_options)
    log.info("laid out %s: %d sample rows over %s", store, n, ", ".join(axes))


def check_resumable(store: str, *, identity: str,
                    storage_options: Mapping | None = None) -> None:
    """Raise :class:`StoreError` unless ``store`` is an explore store of exactly this
    identity."""
    attrs = dict(group(store, mode="r", storage_options=storage_options).attrs)
    if not is_explore(attrs):
        raise StoreError(f"{store}: not a fanodome explore store (no {ATTR_EXPLORE_JSON} "
                         f"attribute)")
    if attrs[ATTR_EXPLORE_JSON] != identity:
        raise identity_mismatch(store, have=attrs[ATTR_EXPLORE_JSON], want=identity)


def check_replaceable(store: str) -> None:
    """Refuse to replace a local ``store`` unless it is an explore store holding only its own
    nodes."""
    check_only_own_files(store, attr=ATTR_EXPLORE_JSON, kind="explore", names=NAMES)


def check_can_start(store: str, *, identity: str, resume: bool, overwrite: bool,
                    storage_options: Mapping | None = None) -> None:
    """Refuse an explore store conflict before anything starts (as
    :func:`sweep.store.points.check_can_start` does for sweeps)."""
    _check_can_start(store, kind="explore", identity=identity, resume=resume,
                     overwrite=overwrite, check_resumable=check_resumable,
                     check_replaceable=check_replaceable, storage_options=storage_options)


def read_samples(store: str, *, storage_options: Mapping | None = None) -> xr.Dataset:
    """Every row of an explore store, loaded (a few numbers per sample)."""
    g = group(store, mode="r", storage_options=storage_options)
    attrs = dict(g.attrs)
    if not is_explore(attrs):
        raise StoreError(f"{store}: not a fanodome explore store")
    with quiet():
        return xr.open_zarr(store, zarr_format=3, consolidated=True,
                            storage_options=storage_options).load()


class SampleWriter:
    """Writes finished samples into their rows, opening the store's arrays once; only the
    process that drives the learner writes. Rows are handed out in order, from the first
    row that holds nothing."""

    def __init__(self, store: str, *, axes: Sequence[str],
                 storage_options: Mapping | None = None):
        self.store = store
        self.axes = tuple(axes)
        g = zarr.open_group(store, mode="r+", zarr_format=3, use_consolidated=True,
                            storage_options=storage_options)
        self.arrays = {name: g[name] for name in (*self.axes, *_VARS)}
        status = np.asarray(self.arrays[VAR_SAMPLE_STATUS][...]).astype(np.int64)
        used = np.flatnonzero(status != 0)
        self.next_row = int(used[-1]) + 1 if used.size else 0
        self.rows = status.size
        self._opened_with = status

    def write(self, *, point: Sequence[float], values: Mapping[str, float], status: int,
              row: int | None = None) -> int:
        """Write one sample (the explored axes' values ``point``, the variables ``values``)
        into the next free row, or into ``row`` (a failed sample's, tried again),
        ``sample_status`` last; returns the row."""
        if row is None and self.next_row >= self.rows:
            raise StoreError(f"{self.store}: all {self.rows} sample rows are used")
        i = self.next_row if row is None else row
        for a, x in zip(self.axes, point):
            self.arrays[a][i] = float(x)
        for name, x in values.items():
            self.arrays[name][i] = x
        self.arrays[VAR_SAMPLE_STATUS][i] = np.int16(status)
        if row is None:
            self.next_row += 1
        return i

    def failed_rows(self) -> dict[tuple[float, ...], tuple[int, bool]]:
        """The samples that had failed when the store was opened: their point -> (row,
        whether the polish placed it)."""
        status = self._opened_with
        rows = np.flatnonzero(status & SAMPLE_FAILED)
        if not rows.size:
            return {}
        values = [np.asarray(self.arrays[a][...]) for a in self.axes]
        return {tuple(float(v[i]) for v in values): (int(i), bool(status[i] & SAMPLE_POLISH))
                for i in rows}


def write_explore_attrs(store: str, *, best: Mapping | None = None,
                        finished: Mapping | None = None,
                        storage_options: Mapping | None = None) -> None:
    """Record the best sample and/or which phases finished (and why) in the root attributes
    (then re-consolidated). The failure records: :func:`sweep.store.common.write_failures`
    with ``log="explore"``."""
    g = group(store, mode="r+", storage_options=storage_options)
    if best is not None:
        g.attrs[ATTR_EXPLORE_BEST] = json.dumps(dict(best), sort_keys=True)
    if finished is not None:
        g.attrs[ATTR_EXPLORE_FINISHED] = json.dumps(dict(finished), sort_keys=True)
    consolidate(g)


def explore_status(store: str, *, storage_options: Mapping | None = None) -> dict:
    """What an explore store holds, for ``fanodome status``: the learner's samples and the
    polish's points, each ``{"done", "failed", "of"}`` (``of``: its budget or polish_points),
    the phases finished (and why), the best sample so far (None: none), the failure records
    and the explored ``axes`` in the order of each record's ``point``. Reads the sample status
    and the root attributes only."""
    g = group(store, mode="r", storage_options=storage_options)
    attrs = explore_attrs(dict(g.attrs))
    explore = parse_config(tomllib.loads(attrs["config_toml"])).explore
    axes = list(explore.axes) if explore is not None else []
    status = np.asarray(g[VAR_SAMPLE_STATUS][...]).astype(np.int64)
    polish = (status & SAMPLE_POLISH) != 0
    settings = attrs["settings"]

    def counts(rows: np.ndarray, of: int) -> dict:
        return {"done": int(np.count_nonzero(rows & ((status & SAMPLE_DONE) != 0))),
                "failed": int(np.count_nonzero(rows & ((status & SAMPLE_FAILED) != 0))),
                "of": int(of)}

    return {"store": store, "explore": True,
            "samples": counts(~polish & (status != 0), settings.get("budget", 0)),
            "polish": counts(polish, settings.get("polish", {}).get("points", 0)),
            "finished": attrs["finished"], "best": attrs["best"],
            "failures": attrs["failures"], "axes": axes}


def fixed_axes(attrs: Mapping) -> dict[str, float]:
    """The values of the axes an explore store did not explore, by name in the order of
    :data:`sweep.grid.AXES` (units of :data:`solver.parameters.PARAMETERS`): its config's
    ``[grid]`` value of each, as its ``explore_json`` records them. Never eta: when eta is not
    explored the maximum over eta is searched, and each sample's ``eta_max`` says where."""
    fixed = json.loads(attrs[ATTR_EXPLORE_JSON]).get("fixed", {})
    return {a: float(fixed[a]) for a in AXES if a in fixed}


def with_fixed_axes(ds: xr.Dataset) -> xr.Dataset:
    """An explore store's Dataset with a scalar coordinate per axis not explored
    (:func:`fixed_axes`), with its ``units`` and ``long_name``, so that a copy of it (a CSV, a
    netCDF file) says which structure, omega0 and g its samples are of."""
    fixed = fixed_axes(ds.attrs)
    return ds.assign_coords({a: xr.Variable((), v, {"units": PARAMETERS[a].unit,
                                                    "long_name": PARAMETERS[a].long_name})
                             for a, v in fixed.items()})


def explore_attrs(attrs: Mapping) -> dict:
    """The explore settings, best sample, failure records, finished phases and config of a
    store's root attributes."""
    return {"settings": json.loads(attrs.get(ATTR_EXPLORE_SETTINGS, "{}")),
            "best": json.loads(attrs.get(ATTR_EXPLORE_BEST, "null")),
            "failures": json.loads(attrs.get(ATTR_EXPLORE_FAILURES, "[]")),
            "finished": json.loads(attrs.get(ATTR_EXPLORE_FINISHED, "{}")),
            "config_toml": attrs.get(ATTR_CONFIG_TOML, "")}

