"""Sweep configs: TOML in, a validated :class:`SweepConfig` out (no Dask, no I/O beyond reading).

A config has six tables (``[grid]`` and ``[model]`` define the sweep, the others what else is
computed and how it is stored and run)::

    [grid]    eta, g, L (Å), W (Å), V (meV), omega0 (meV): each a list of values, a single
              number, {start, stop, step} (stop included) or {start, stop, num}; an axis left
              out takes the paper's value (for eta and g: the Fig. 4 ranges).
    [model]   solver options: every parameter of :data:`solver.parameters.PARAMETERS` that is
              fixed for a sweep (:data:`MODEL_KEYS`: masses in m_e, nbands, ben_daniel_duke,
              g_lower, g_inter, softening, t_floor in K), paper defaults.
    [outputs] optional: gaps (true: also the gaps below Tc, see :mod:`solver.gaps`),
              gap_T_over_tc (temperatures of the gaps as fractions of Tc, each in [0, 1);
              default [0.0]). Part of the sweep's identity only when gaps are on.
    [run]     optional: chunk_eta, chunk_g, chunk_omega0 (points per store chunk along each
              axis), task_seconds (target duration of a task, s), task_points_min,
              task_points_max (bounds of a task, points), retries (extra tries of a chunk that
              raised), batch_size (tasks in flight). Tasks are rectangles of whole store
              chunks sized from the measured cost (:class:`TaskSizing`,
              :mod:`sweep.execution.sizing`), unless chunk_* keys are given without any task_*
              key: then each task is exactly one store chunk.
    [cluster] optional: where it runs (local, slurm, pbs, kubernetes) and with what resources;
              see :class:`ClusterConfig`. Not part of the sweep's identity.
    [refine]  optional: refine the store after the grid (:mod:`sweep.refine`): thresholds
              (temperatures T* of the windows Tc >= T*, K), the tolerances of
              :class:`RefineSettings`, curves_per_task. The paper config has it.
              Not part of the sweep's identity (the store keeps the refine settings apart).
    [explore] optional: what ``fanodome explore`` searches (:mod:`sweep.explore`): axes
              (1 to 4 of L, W, V, omega0, g, eta, each [low, high]), budget (samples),
              loss_goal, polish_points; see :class:`ExploreSettings`. ``fanodome run``
              ignores it.

Each table's settings are validated here, once, into the dataclass its room uses
(:class:`TaskSizing`, :class:`RefineSettings`, :class:`ClusterConfig`); the rooms never read
TOML.

Every error is a :class:`ConfigError` (a ``ValueError``) whose message starts with the key.
Values of the model's parameters (grid axes and ``[model]``) are checked by the parameter table,
:mod:`solver.parameters`, so a config accepts exactly what the solver accepts.
"""
from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Container, Mapping
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from types import MappingProxyType

import numpy as np

from solver.parameters import MODEL, PARAMETERS, STRUCTURE, ParameterError, check, check_g

from .grid import (AXES, BLOCK_AXES, STRUCTURE_AXES, ChunkPlan, inclusive_range,
                   linspace_values, range_length)

MODEL_KEYS = tuple(k for k in STRUCTURE if k not in STRUCTURE_AXES) + MODEL
"""Keys of ``[model]``: the parameters fixed for a whole sweep (the structure's materials and
subbands, the pairing and Tc-search options); each goes to the solver under the same name."""

TARGET_CHUNK_POINTS = 512
"""Default points per chunk (whole eta rows). Each task pays the solver's per-structure setup
once (bands, DOS tables: about 65 ms measured here) plus 0.2-0.3 ms per point, and ~15 ms of
region writes: 512 points keep that fixed part near a third of a task while leaving enough
chunks to balance the load (the paper grid: 6 chunks for 2 workers; 10^5 points: 200 chunks
for 16 workers) and little work to redo after a lost worker."""

DEFAULT_RETRIES = 2
"""Extra tries of a chunk that raised before its points are marked failed."""

DEFAULT_TASK_SECONDS = 5.0
"""Target duration of a task: the scheduler's and client's cost per task (a few ms) is then
~0.1 % of it, and a lost worker or the last wave costs a few seconds per worker. Large clusters
get longer tasks from :data:`sweep.execution.sizing.SCHEDULER_TASKS_PER_S`."""

DEFAULT_MIN_POINTS = 1
"""Smallest task, in points: one store chunk is the real floor (a task is whole store chunks)."""

DEFAULT_MAX_POINTS = 1_000_000
"""Largest task, in points: bounds a task's memory (tc, status and the solver's work arrays are
a few tens of bytes a point) and the work a lost worker takes with it."""


@dataclass(frozen=True)
class TaskSizing:
    """``[run]`` options of measured task sizing (:mod:`sweep.execution.sizing`):
    ``task_seconds`` (s), the target duration; ``min_points`` and ``max_points``, bounds of a
    task in points."""

    task_seconds: float = DEFAULT_TASK_SECONDS
    min_points: int = DEFAULT_MIN_POINTS
    max_points: int = DEFAULT_MAX_POINTS

    def __post_init__(self):
        if not (self.task_seconds > 0 and math.isfinite(self.task_seconds)):
            raise ValueError(f"task_seconds must be positive, got {self.task_seconds!r}")
        if self.min_points < 1 or self.max_points < self.min_points:
            raise ValueError(f"task points bounds must satisfy 1 <= min <= max, got "
                             f"{self.min_points}, {self.max_points}")


RUN_KEYS = ("chunk_eta", "chunk_g", "chunk_omega0", "retries", "batch_size", "task_seconds",
            "task_points_min", "task_points_max", "max_points")
SIZING_KEYS = ("task_seconds", "task_points_min", "task_points_max")

MAX_POINTS = 10**9
"""Largest grid run without ``[run] max_points``: a billion points are ~9 GB of tc and status and
~23 core-days at :data:`SECONDS_PER_POINT`; a bigger one is refused before the store is laid
out, with its size and time, unless the config allows it explicitly."""
SECONDS_PER_POINT = 2e-3
"""Time per point on one core that the estimates use (the refusal above, the local cluster's
mode, a refinement's cost): an upper figure. The Tc kernel alone takes 0.16-0.33 ms a point on
the paper's structure and those of a larger basis (docs/performance.md); a task adds its
structure builds and writes, and slow structures more."""

OUTPUT_KEYS = ("gaps", "gap_T_over_tc")
DEFAULT_GAP_T_OVER_TC = (0.0,)
"""Gaps at T = 0 unless the config asks for other temperatures."""

PAPER_GRID = MappingProxyType({
    "eta": {"start": -0.5, "stop": 3.0, "step": 0.05},
    "g": {"start": 0.10, "stop": 0.49, "step": 0.01},
})
"""The paper's Fig. 4 dome: eta -0.5..3 step 0.05, g 0.10..0.49 step 0.01 (2840 points)."""

PAPER_G = ((0.25, "1/4"), (1 / 3, "1/3"))
"""The paper's two couplings (its Fig. 5 cuts and its quoted Tc), with their labels: what the
run summary, ``fanodome fano`` and the cuts plot show when no g is asked for."""


def package_version() -> str:
    """The installed fanodome's version (recorded in every store with its config)."""
    try:
        return metadata.version("fanodome")
    except metadata.PackageNotFoundError:
        return "unknown"


class ConfigError(ValueError):
    """A config that cannot be run; the message names the offending key."""


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep.

    ``axes``: values of each axis of :data:`sweep.grid.AXES` (units in
    :data:`solver.parameters.PARAMETERS`). ``model``: every key of :data:`MODEL_KEYS`.
    ``chunk``: points per chunk along omega0, g and eta. ``retries``, ``batch_size``: how it
    runs (``batch_size`` None: chosen from the number of workers). ``document``: the config as
    a TOML-able mapping, defaults filled in.
    ``gap_T_over_tc``: temperatures of the stored gaps as fractions of Tc (``[outputs]``).
    ``sizing``: how tasks are sized from the measured cost; None: one store chunk a task.
    """

    axes: Mapping[str, tuple[float, ...]]
    model: Mapping[str, object]
    chunk: Mapping[str, int]
    retries: int
    batch_size: int | None
    document: Mapping[str, Mapping[str, object]]
    cluster: ClusterConfig = field(default_factory=lambda: ClusterConfig())
    gap_T_over_tc: tuple[float, ...] = ()
    """Temperatures (fractions of Tc) of the gaps the sweep stores; empty: gaps off."""
    refine: RefineSettings | None = None
    """``[refine]``: refine the store after the grid with these settings; None: no."""
    curves_per_task: int = 0
    """Curves per refine task (``[refine] curves_per_task``)."""
    sizing: TaskSizing | None = TaskSizing()
    explore: ExploreSettings | None = None
    """``[explore]``: what ``fanodome explore`` searches; None: no such table."""

    @property
    def shape(self) -> dict[str, int]:
        return {a: len(self.axes[a]) for a in AXES}

    def plan(self) -> ChunkPlan:
        return ChunkPlan(shape=self.shape, block=dict(self.chunk))

    def identity(self) -> str:
        """Canonical JSON of what the store's numbers depend on (values, model, chunks).

        Two configs with equal identity fill a store identically; ``retries`` and
        ``batch_size`` only change how it runs and are left out.
        """
        doc = {
            "grid": {a: list(self.axes[a]) for a in AXES},
            "model": dict(self.model),
            "chunk": dict(self.chunk),
        }
        if self.gap_T_over_tc:  # left out when off: stores made before [outputs] still resume
            doc["outputs"] = {"gaps": True, "gap_T_over_tc": list(self.gap_T_over_tc)}
        return json.dumps(doc, sort_keys=True)

    def explore_identity(self) -> str:
        """Canonical JSON of what an explore store's samples depend on: the ``[explore]``
        table, the values of the axes not explored, the eta axis the maximum over eta starts
        on (when eta is not explored), the model and the refinement's settings (its
        tolerances and ``eta_max_bound``, not its thresholds). Two configs with equal
        identity explore alike;
        ``--resume`` compares it."""
        if self.explore is None:
            raise ConfigError("explore: the config has no [explore] table")
        fixed = {a: self.axes[a][0] for a in AXES if a not in self.explore.axes and a != "eta"}
        doc = {"explore": self.explore.to_dict(), "fixed": fixed, "model": dict(self.model),
               "refine": {k: v for k, v in (self.refine or RefineSettings()).to_dict().items()
                          if k != "thresholds"}}
        if "eta" not in self.explore.axes:
            doc["eta"] = list(self.axes["eta"])
        return json.dumps(doc, sort_keys=True)

    def to_toml(self) -> str:
        return to_toml(self.document)

    def stored_toml(self) -> str:
        """The config as a store records it: what reproduces the science (``[grid]``,
        ``[model]``, ``[run]``, ``[outputs]``), never ``[cluster]``: hosts, accounts and job
        script lines (``job_script_prologue`` may export tokens) are deployment, and stores are
        meant to be published."""
        return to_toml({k: v for k, v in self.document.items() if k != "cluster"})


def check_sweepable(config: SweepConfig) -> None:
    """Refuse (:class:`~sweep.config.ConfigError`) a config with an ``[explore]`` table: its
    ``[grid]`` holds the axes not explored, one value each, and a sweep of it would silently
    leave the exploring out."""
    if config.explore is not None:
        raise ConfigError("explore: the config has an [explore] table: explore it with "
                          "fanodome explore CONFIG --store PATH (sweep.explore); a run sweeps "
                          "a [grid] alone")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _number(v: object, key: str) -> float:
    if not _is_number(v):
        raise ConfigError(f"{key}: expected a number, got {type(v).__name__} {v!r}")
    x = float(v)
    if not math.isfinite(x):
        raise ConfigError(f"{key}: must be finite, got {v!r}")
    return x


def _integer(v: object, key: str, *, minimum: int | None = None) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ConfigError(f"{key}: expected an integer, got {type(v).__name__} {v!r}")
    if minimum is not None and v < minimum:
        raise ConfigError(f"{key}: must be at least {minimum}, got {v}")
    return v


def _checked(name: str, value: object, *, key: str, softening: bool | None = None):
    """``value`` checked by the parameter table (``check_g`` for g given ``softening``); a
    :class:`ConfigError` starting with ``key`` otherwise."""
    try:
        if softening is not None:
            return check_g(value, softening=softening)
        return check(name, value)
    except ParameterError as err:
        raise ConfigError(f"{key}: {err.reason}") from None


def _table(doc: Mapping, name: str) -> Mapping:
    t = doc.get(name, {})
    if not isinstance(t, Mapping):
        raise ConfigError(f"{name}: expected a table [{name}], got {type(t).__name__}")
    return t


def axis_length(spec: object) -> int | None:
    """How many values :func:`axis_values` gives for ``spec``, counted without making them;
    None where it cannot tell (a malformed entry, which :func:`axis_values` then refuses)."""
    if _is_number(spec):
        return 1
    if isinstance(spec, list):
        return len(spec)
    if not isinstance(spec, Mapping) or not all(_is_number(v) for v in spec.values()):
        return None
    try:
        if set(spec) == {"start", "stop", "step"}:
            return range_length(float(spec["start"]), float(spec["stop"]), float(spec["step"]))
    except ValueError:
        return None
    if set(spec) == {"start", "stop", "num"} and isinstance(spec["num"], int):
        return spec["num"]
    return None


def axis_values(spec: object, *, key: str) -> tuple[float, ...]:
    """Values of one axis from its config entry: a number, a list, or a range table."""
    if _is_number(spec):
        values = [_number(spec, key)]
    elif isinstance(spec, list):
        values = [_number(v, f"{key}[{i}]") for i, v in enumerate(spec)]
    elif isinstance(spec, Mapping):
        keys = set(spec)
        try:
            if keys == {"start", "stop", "step"}:
                values = list(inclusive_range(_number(spec["start"], f"{key}.start"),
                                              _number(spec["stop"], f"{key}.stop"),
                                              _number(spec["step"], f"{key}.step")))
            elif keys == {"start", "stop", "num"}:
                values = list(linspace_values(_number(spec["start"], f"{key}.start"),
                                              _number(spec["stop"], f"{key}.stop"),
                                              _integer(spec["num"], f"{key}.num", minimum=1)))
            else:
                raise ConfigError(f"{key}: a range has keys start, stop and step or num; "
                                  f"got {', '.join(sorted(keys)) or 'none'}")
        except ConfigError:
            raise
        except ValueError as err:
            raise ConfigError(f"{key}: {err}") from None
    else:
        raise ConfigError(f"{key}: expected a list of numbers or a range table, "
                          f"got {type(spec).__name__} {spec!r}")
    if not values:
        raise ConfigError(f"{key}: empty axis")
    if len(set(values)) != len(values):
        raise ConfigError(f"{key}: values repeat")
    return tuple(float(v) for v in values)


def _default_block(shape: Mapping[str, int]) -> dict[str, int]:
    eta = min(shape["eta"], TARGET_CHUNK_POINTS)
    g = max(1, min(shape["g"], TARGET_CHUNK_POINTS // eta))
    return {"omega0": 1, "g": g, "eta": eta}


TABLES = ("grid", "model", "run", "outputs", "cluster", "refine", "explore")
"""The tables a config may have."""


def _check_keys(table: Mapping, name: str, allowed: tuple[str, ...], what: str = "option"
                ) -> None:
    """Refuse a key of ``[name]`` that is not in ``allowed``, naming the ones that are."""
    for k in table:
        if k not in allowed:
            raise ConfigError(f"{name}.{k}: unknown {what} (expected one of {', '.join(allowed)})")


def parse_config(doc: Mapping) -> SweepConfig:
    """Validate a config document (as read by ``tomllib``) and fill in the defaults."""
    if not isinstance(doc, Mapping):
        raise ConfigError("config: expected a table")
    unknown = set(doc) - set(TABLES)
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]}: unknown table (expected {', '.join(TABLES)})")
    cluster = parse_cluster(_table(doc, "cluster"))
    grid_t, model_t, run_t = _table(doc, "grid"), _table(doc, "model"), _table(doc, "run")
    _check_keys(grid_t, "grid", AXES, "axis")
    _check_keys(model_t, "model", MODEL_KEYS)
    _check_keys(run_t, "run", RUN_KEYS)
    model = parse_model(model_t)
    counts = [axis_length(grid_t.get(a, _default_axis(a))) for a in AXES]
    if None not in counts:  # a grid far too large is refused before its axes are made
        check_grid_size(math.prod(counts), run_t)
    axes, grid_doc = parse_grid(grid_t, softening=model["softening"])
    run = parse_run(run_t, shape={a: len(axes[a]) for a in AXES})
    gap_ratios = parse_outputs(_table(doc, "outputs"))
    document = {"grid": grid_doc, "model": dict(model), "run": run.document}
    if gap_ratios:
        document["outputs"] = {"gaps": True, "gap_T_over_tc": list(gap_ratios)}
    if cluster.document:
        document["cluster"] = dict(cluster.document)
    refine, curves_per_task = None, REFINE_CURVES_PER_TASK
    if "refine" in doc:
        refine, curves_per_task, document["refine"] = parse_refine(_table(doc, "refine"))
        if len(axes["eta"]) < 2:
            raise ConfigError("grid.eta: [refine] starts its searches on the grid's curves "
                              "Tc(eta); it needs at least two values of eta")
    explore = None
    if "explore" in doc:
        explore = parse_explore(_table(doc, "explore"), grid=axes, given=set(grid_t),
                                softening=bool(model["softening"]))
        document["explore"] = explore.document()
        # an explored axis has no [grid] entry, also where the config is printed
        document["grid"] = {a: v for a, v in grid_doc.items() if a not in explore.axes}
    return SweepConfig(axes=MappingProxyType(axes), model=MappingProxyType(model),
                       chunk=MappingProxyType(run.block), retries=run.retries,
                       batch_size=run.batch_size, document=MappingProxyType(document),
                       cluster=cluster, gap_T_over_tc=gap_ratios, refine=refine,
                       curves_per_task=curves_per_task, sizing=run.sizing, explore=explore)


def parse_model(table: Mapping[str, object]) -> dict[str, object]:
    """Validate a ``[model]`` table: every key of :data:`MODEL_KEYS`, the table's defaults
    filled in."""
    return {k: _checked(k, table.get(k, PARAMETERS[k].default), key=f"model.{k}")
            for k in MODEL_KEYS}


def parse_grid(table: Mapping[str, object], *, softening: bool
               ) -> tuple[dict[str, tuple[float, ...]], dict[str, object]]:
    """Validate a ``[grid]`` table: the values of every axis (an axis left out takes the paper's
    values) and the table as it will be printed. ``softening``: the model's, which bounds g."""
    grid_doc: dict[str, object] = {}
    axes: dict[str, tuple[float, ...]] = {}
    for a in ("eta", "g", "L", "W", "V", "omega0"):
        spec = table[a] if a in table else _default_axis(a)
        axes[a] = axis_values(spec, key=f"grid.{a}")
        grid_doc[a] = spec
        for v in axes[a]:
            _checked(a, v, key=f"grid.{a}", softening=softening if a == "g" else None)
    return axes, grid_doc


def _default_axis(a: str) -> object:
    """The ``[grid]`` entry of an axis left out: for eta and g the paper's Fig. 4 ranges, else
    the parameter's default."""
    return dict(PAPER_GRID[a]) if a in PAPER_GRID else [float(PARAMETERS[a].default)]


@dataclass(frozen=True)
class RunSettings:
    """A validated ``[run]`` table: the store chunk (``block``: points per chunk along omega0,
    g and eta), ``retries``, ``batch_size`` (None: from the workers), ``sizing`` (None: one
    store chunk a task) and the table as it will be printed."""

    block: dict[str, int]
    retries: int
    batch_size: int | None
    sizing: TaskSizing | None
    document: dict[str, object]


def check_grid_size(n_points: int, table: Mapping[str, object]) -> int:
    """Refuse a grid of ``n_points`` above the ``[run]`` table's ``max_points`` (default
    :data:`MAX_POINTS`), naming its size and time; returns ``max_points``."""
    max_points = _integer(table.get("max_points", MAX_POINTS), "run.max_points", minimum=1)
    if n_points > max_points:
        raise ConfigError(
            f"grid: {n_points:.3g} points (store ~{n_points * 9 / 1e9:.3g} GB, "
            f"~{n_points * SECONDS_PER_POINT / 3600:.3g} core-hours) is above {max_points:.3g}; "
            f"set [run] max_points = {n_points} to run it anyway")
    return max_points


def parse_run(table: Mapping[str, object], *, shape: Mapping[str, int]) -> RunSettings:
    """Validate a ``[run]`` table for a grid of ``shape`` (points per axis); refuse a grid
    above ``max_points`` with its size and time."""
    max_points = check_grid_size(math.prod(shape.values()), table)
    block = _default_block(shape)
    for a in BLOCK_AXES:
        k = f"chunk_{a}"
        if k in table:
            block[a] = min(_integer(table[k], f"run.{k}", minimum=1), shape[a])
    retries = _integer(table.get("retries", DEFAULT_RETRIES), "run.retries", minimum=0)
    batch_size = (_integer(table["batch_size"], "run.batch_size", minimum=1)
                  if "batch_size" in table else None)
    sizing = _sizing(table)
    document: dict[str, object] = {f"chunk_{a}": block[a] for a in BLOCK_AXES}
    if sizing is not None:  # written out, so that the printed config sizes tasks as well
        document.update(task_seconds=sizing.task_seconds, task_points_min=sizing.min_points,
                        task_points_max=sizing.max_points)
    document["retries"] = retries
    if batch_size is not None:
        document["batch_size"] = batch_size
    if "max_points" in table:
        document["max_points"] = max_points
    return RunSettings(block=block, retries=retries, batch_size=batch_size, sizing=sizing,
                       document=document)


def _sizing(run_t: Mapping[str, object]) -> TaskSizing | None:
    """The task sizing of a ``[run]`` table: None (one store chunk a task) when it sets chunk
    sizes and none of :data:`SIZING_KEYS`."""
    explicit_chunks = any(f"chunk_{a}" in run_t for a in BLOCK_AXES)
    if explicit_chunks and not any(k in run_t for k in SIZING_KEYS):
        return None
    seconds = _number(run_t.get("task_seconds", DEFAULT_TASK_SECONDS), "run.task_seconds")
    if seconds <= 0:
        raise ConfigError(f"run.task_seconds: must be positive, got {seconds!r}")
    lo = _integer(run_t.get("task_points_min", DEFAULT_MIN_POINTS), "run.task_points_min",
                  minimum=1)
    hi = _integer(run_t.get("task_points_max", max(lo, DEFAULT_MAX_POINTS)),
                  "run.task_points_max", minimum=lo)
    return TaskSizing(task_seconds=seconds, min_points=lo, max_points=hi)


def check_fraction_of_tc(value: float, *, name: str) -> None:
    """Refuse a temperature of the gaps, a fraction of Tc, outside [0, 1): the gaps vanish at
    Tc. :class:`ConfigError` names ``name`` (a config key or a command-line option)."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name}: must be in [0, 1) (the gaps vanish at Tc), got {value!r}")


def parse_outputs(table: Mapping[str, object]) -> tuple[float, ...]:
    """Validate an ``[outputs]`` table: the gap temperatures (fractions of Tc), () if gaps off.
    Temperatures without any ``gaps`` key are refused (they would be ignored); with
    ``gaps = false`` they are kept for the day it is switched on, and ignored."""
    _check_keys(table, "outputs", OUTPUT_KEYS)
    gaps = table.get("gaps", False)
    if not isinstance(gaps, bool):
        raise ConfigError(f"outputs.gaps: expected true or false, got {gaps!r}")
    if "gaps" not in table and "gap_T_over_tc" in table:
        raise ConfigError("outputs.gap_T_over_tc: given without gaps (off unless asked); set "
                          "[outputs] gaps = true to compute the gaps at these temperatures")
    spec = table.get("gap_T_over_tc", list(DEFAULT_GAP_T_OVER_TC))
    if not isinstance(spec, list):
        raise ConfigError(f"outputs.gap_T_over_tc: expected a list of numbers, "
                          f"got {type(spec).__name__} {spec!r}")
    ratios = [_number(v, f"outputs.gap_T_over_tc[{i}]") for i, v in enumerate(spec)]
    for i, r in enumerate(ratios):
        check_fraction_of_tc(r, name=f"outputs.gap_T_over_tc[{i}]")
    if not ratios:
        raise ConfigError("outputs.gap_T_over_tc: empty list")
    if len(set(ratios)) != len(ratios):
        raise ConfigError("outputs.gap_T_over_tc: values repeat")
    return tuple(ratios) if gaps else ()


# ----------------------------------------------------------------------------- [refine]

MAX_EVALUATIONS_MIN = 10
"""Fewest solver evaluations a search may be allowed: a bracketed Brent search needs a handful
to move at all; below ten every search would stop as ``not_converged``."""
MAX_EVALUATIONS_MAX = 2000
"""Most solver evaluations a search may be allowed: ten times the default; a search that has
not met its tolerance after that many (~3 s of solver time) asks for more than Tc resolves,
and without a cap a tolerance below the float spacing would make it run for ever."""
MAX_THRESHOLDS = 100
"""Most window temperatures T*: each adds a root search per curve, and a hundred already
resolve Tc(eta) more finely than its windows are read."""


@dataclass(frozen=True)
class RefineSettings:
    """Tolerances and thresholds of a refinement (``[refine]``; stored with the results).

    The searches that use them are :mod:`sweep.refine.searches`.
    """

    thresholds: tuple[float, ...] = ()
    """Temperatures T* (K) of the windows Tc >= T*."""
    eta_tol: float = 1e-6
    """Bracket width in eta at which a search for a maximum or minimum stops: far below any
    grid step. A smooth extremum stops earlier, on ``tc_rtol``: its Tc is then within that of
    the extremum's, its eta within about sqrt(2 tc_rtol / |d2 ln Tc / d eta2|) (4e-5 at the
    paper structure's antiresonances, where the curvature is about 1)."""
    tc_rtol: float = 1e-9
    """A search also stops when Tc at both bracket ends is within this of the best value: the
    solver's precision on ln Tc (Resolution.u_tol); going on would chase its noise."""
    root_tol: float = 1e-8
    """Largest |eta - eta_edge| of a window edge."""
    floor_tol: float = 1e-6
    """Largest error of the edges of an interval below the temperature floor, in eta."""
    g_tol: float = 1e-6
    """Largest |g - g*| of the top of the dome."""
    follow_margin: float = 0.5
    """An antiresonance is followed outward down to eta = -omega~/dE - follow_margin (omega~ the
    softened cut-off, dE the resonant subband's width): half a band width past the point where
    the pairing window leaves the resonant subband, beyond which no Fano minimum can lie."""
    max_evaluations: int = 200
    """Cap on the solver evaluations of one search (a safety net: a search that hits it is
    flagged ``not_converged``); between :data:`MAX_EVALUATIONS_MIN` and
    :data:`MAX_EVALUATIONS_MAX`."""
    eta_max_bound: float | None = None
    """Highest eta the maximum and the windows are followed to past the grid's last eta (None:
    only the physical bound, where mu + omega~ meets the bottom of the first subband the model
    leaves out; else the lower of the two)."""

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("thresholds", "follow_margin", "max_evaluations", "eta_max_bound"):
                continue
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{f.name}: must be a positive number, got {v!r}")
        if self.eta_max_bound is not None and not (
                isinstance(self.eta_max_bound, (int, float)) and math.isfinite(self.eta_max_bound)):
            raise ValueError(f"eta_max_bound: must be a finite number, got {self.eta_max_bound!r}")
        if not (math.isfinite(self.follow_margin) and self.follow_margin >= 0):
            raise ValueError(f"follow_margin: must be >= 0, got {self.follow_margin!r}")
        if int(self.max_evaluations) < MAX_EVALUATIONS_MIN:
            raise ValueError(f"max_evaluations: must be >= {MAX_EVALUATIONS_MIN}, got "
                             f"{self.max_evaluations!r}")
        if int(self.max_evaluations) > MAX_EVALUATIONS_MAX:
            raise ValueError(f"max_evaluations: must be <= {MAX_EVALUATIONS_MAX} (beyond, a "
                             f"search asks for more than Tc resolves), got "
                             f"{self.max_evaluations!r}")
        if isinstance(self.thresholds, (str, bytes)) or not hasattr(self.thresholds, "__len__"):
            raise TypeError(f"thresholds: a list of temperatures in K, e.g. (273.15,), got "
                            f"{type(self.thresholds).__name__} {self.thresholds!r}")
        if len(self.thresholds) > MAX_THRESHOLDS:
            raise ValueError(f"thresholds: at most {MAX_THRESHOLDS} temperatures (each is a "
                             f"search per curve), got {len(self.thresholds)}")
        th = tuple(float(t) for t in self.thresholds)
        for t in th:
            if not (math.isfinite(t) and t > 0):
                raise ValueError(f"thresholds: must be positive temperatures in K, got {t!r}")
        if len(set(th)) != len(th):
            raise ValueError(f"thresholds: must be distinct, got {list(th)}")
        object.__setattr__(self, "thresholds", tuple(sorted(th)))

    def to_dict(self) -> dict:
        """Every setting by name (thresholds as a list): what the store records."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}


REFINE_KEYS = tuple(f.name for f in fields(RefineSettings)) + ("curves_per_task",)
"""Keys of ``[refine]``: the fields of :class:`RefineSettings` and the curves per task. Not
part of the sweep's identity: the refined numbers keep their own settings in the store."""

REFINE_CURVES_PER_TASK = 10
"""Curves per refine task: each costs ~0.05-0.3 s of solver time (tens to hundreds of
evaluations at ~1.5 ms), against ~0.1 s of fixed cost per task (store read, region writes); ten
keep that fixed part small and still give the paper store (40 curves) four tasks for two
workers."""

PAPER_REFINE = MappingProxyType({"thresholds": [273.15, 293.15]})
"""The paper config refines, with windows at 0 °C and 20 °C (room temperature, its title)."""


def parse_refine(table: Mapping[str, object]) -> tuple[RefineSettings, int, dict]:
    """Validate a ``[refine]`` table: (RefineSettings, curves per task, document). Types are
    read from :class:`RefineSettings`' defaults; its own checks give the ranges."""
    _check_keys(table, "refine", REFINE_KEYS)
    kw: dict[str, object] = {}
    for f in fields(RefineSettings):
        if f.name not in table:
            continue
        key, v = f"refine.{f.name}", table[f.name]
        if isinstance(f.default, tuple):
            if not isinstance(v, list):
                raise ConfigError(f"{key}: expected a list of temperatures in K, "
                                  f"got {type(v).__name__} {v!r}")
            kw[f.name] = tuple(_number(x, f"{key}[{i}]") for i, x in enumerate(v))
        elif isinstance(f.default, int):
            kw[f.name] = _integer(v, key)
        else:  # numbers, and eta_max_bound (default None)
            kw[f.name] = _number(v, key)
    cpt = _integer(table.get("curves_per_task", REFINE_CURVES_PER_TASK), "refine.curves_per_task",
                   minimum=1)
    try:
        settings = RefineSettings(**kw)
    except ValueError as err:
        raise ConfigError(f"refine.{err}") from None
    document = dict(table)
    document["thresholds"] = list(settings.thresholds)
    return settings, cpt, document


# ----------------------------------------------------------------------------- [explore]

EXPLORE_AXES = ("L", "W", "V", "omega0", "g", "eta")
"""The axes ``[explore] axes`` may name (units as :data:`solver.parameters.PARAMETERS`)."""
EXPLORE_MAX_AXES = 4
"""Most axes explored at once: python-adaptive's LearnerND triangulates the box, and its cost
per sample grows steeply with the dimension; beyond four a grid of the extra axes is cheaper."""
EXPLORE_XTOL = 1e-3
"""The tolerance of an explore's polish in each axis, in the axis's unit (Å, meV, in g, in
eta): a thousandth of an ångström is far below what a grown superlattice controls (a monolayer
is ~3 Å). It is also the narrowest box axis an explore takes: a narrower axis is one point to
the polish, and its samples would differ by rounding alone."""
EXPLORE_BUDGET_MAX = 100_000
"""Largest ``budget``: the learner re-triangulates its samples as it goes (its own cost grows
with them) and the store lays out a row per sample; 10^5 samples are days of solver time."""
EXPLORE_POLISH_POINTS = 60
"""Default ``polish_points``: most points the polish of the best sample may compute. A
bounded Nelder-Mead converges to 1e-3 in two or three axes in 20-50 points on this objective
(measured: docs/explore.md); the cap bounds a polish that crawls along a kink."""
EXPLORE_KEYS = ("axes", "budget", "loss_goal", "polish_points")


@dataclass(frozen=True)
class ExploreSettings:
    """A validated ``[explore]`` table.

    ``axes``: each explored axis's (low, high) bounds, in the table's order (units as the
    parameter table's); ``budget``: samples the learner may place; ``loss_goal``: stop before
    the budget once the learner's loss is at most this (None: spend the budget);
    ``polish_points``: most points the polish of the best sample computes (0: no polish).
    """

    axes: Mapping[str, tuple[float, float]]
    budget: int
    loss_goal: float | None = None
    polish_points: int = EXPLORE_POLISH_POINTS

    def to_dict(self) -> dict:
        return {"axes": {a: list(b) for a, b in self.axes.items()}, "budget": self.budget,
                "loss_goal": self.loss_goal, "polish_points": self.polish_points}

    def document(self) -> dict:
        """The table as TOML prints it (``loss_goal`` left out when none)."""
        return {k: v for k, v in self.to_dict().items() if v is not None}


def parse_explore(table: Mapping[str, object], *, grid: Mapping[str, tuple[float, ...]],
                  given: Container[str] = (), softening: bool) -> ExploreSettings:
    """Validate an ``[explore]`` table against the sweep's ``[grid]`` values ``grid``: every
    axis not explored must have one value there (eta, when not explored, at least two: the
    axis the maximum over eta starts on), and an explored axis must not be among the axes the
    ``[grid]`` table gave (``given``): its values would be ignored. ``softening``: the model's,
    which bounds g."""
    _check_keys(table, "explore", EXPLORE_KEYS)
    if "axes" not in table:
        raise ConfigError(f"explore.axes: missing; e.g. axes = {{ L = [7.0, 11.0], "
                          f"W = [3.0, 10.0] }} (1 to {EXPLORE_MAX_AXES} of "
                          f"{', '.join(EXPLORE_AXES)})")
    spec = table["axes"]
    if not isinstance(spec, Mapping) or not spec:
        raise ConfigError(f"explore.axes: expected a table of bounds such as "
                          f"{{ L = [7.0, 11.0] }}, got {spec!r}")
    _check_keys(spec, "explore.axes", EXPLORE_AXES, "axis")
    if len(spec) > EXPLORE_MAX_AXES:
        raise ConfigError(f"explore.axes: at most {EXPLORE_MAX_AXES} axes, got {len(spec)} "
                          f"({', '.join(spec)})")
    axes: dict[str, tuple[float, float]] = {}
    for a, b in spec.items():
        key = f"explore.axes.{a}"
        if not isinstance(b, list) or len(b) != 2:
            raise ConfigError(f"{key}: expected [low, high], got {b!r}")
        lo, hi = (_number(x, f"{key}[{i}]") for i, x in enumerate(b))
        if not lo < hi:
            raise ConfigError(f"{key}: low must be below high, got [{lo!r}, {hi!r}]")
        if hi - lo < EXPLORE_XTOL:
            unit = PARAMETERS[a].unit_suffix
            raise ConfigError(f"{key}: [{lo!r}, {hi!r}] is {hi - lo:.3g}{unit} wide; an "
                              f"explored axis needs at least {EXPLORE_XTOL:g}{unit} (the "
                              f"polish's tolerance): a narrower one is a single point")
        for x in (lo, hi):
            _checked(a, x, key=key, softening=softening if a == "g" else None)
        if a in given:
            raise ConfigError(f"grid.{a}: {a} is explored ({key}), so its [grid] values "
                              f"would be ignored; leave {a} out of [grid]")
        axes[a] = (lo, hi)
    for a in EXPLORE_AXES:
        if a in axes:
            continue
        n = len(grid[a])
        if a == "eta" and n < 2:
            raise ConfigError("grid.eta: the maximum over eta starts on the [grid] eta axis; "
                              "it needs at least two values")
        if a != "eta" and n != 1:
            raise ConfigError(f"grid.{a}: {n} values; an axis not explored takes one value "
                              f"from [grid] (e.g. {a} = {grid[a][0]!r})")
    budget = _integer(table.get("budget"), "explore.budget", minimum=1) \
        if "budget" in table else None
    if budget is None:
        raise ConfigError("explore.budget: missing (the samples the learner may place, "
                          "e.g. budget = 150)")
    if budget > EXPLORE_BUDGET_MAX:
        raise ConfigError(f"explore.budget: at most {EXPLORE_BUDGET_MAX}, got {budget}")
    goal = None
    if "loss_goal" in table:
        goal = _number(table["loss_goal"], "explore.loss_goal")
        if goal <= 0:
            raise ConfigError(f"explore.loss_goal: must be positive, got {goal!r}")
    polish = _integer(table.get("polish_points", EXPLORE_POLISH_POINTS), "explore.polish_points",
                      minimum=0)
    if polish > EXPLORE_BUDGET_MAX:
        raise ConfigError(f"explore.polish_points: at most {EXPLORE_BUDGET_MAX}, got {polish}")
    return ExploreSettings(axes=MappingProxyType(axes), budget=budget, loss_goal=goal,
                           polish_points=polish)


def load_config(path: str | Path) -> SweepConfig:
    """Read and validate a TOML config file."""
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config: no such file {str(path)!r}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config: {path}: not valid TOML: {err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config: {path}: not a text file (a TOML config is UTF-8 text); "
                          f"start one with `fanodome config paper > my.toml`") from None
    except IsADirectoryError:
        raise ConfigError(f"config: {path} is a directory, not a TOML file") from None
    return parse_config(doc)


def paper_config() -> SweepConfig:
    """The paper's Fig. 4 grid on the paper's structure and model."""
    return parse_config({"grid": {k: dict(v) for k, v in PAPER_GRID.items()},
                         "refine": dict(PAPER_REFINE)})


# ---------------------------------------------------------------------------- [cluster]

CLUSTER_KINDS = ("local", "slurm", "pbs", "kubernetes")

LOCAL_MODES = ("auto", "threads", "processes")
"""How a local cluster runs its workers (``[cluster] local_mode``): ``threads`` in this
process, ``processes`` one process each, ``auto`` chosen from the work (the rule of
:func:`sweep.execution.clusters.resolve_local_mode`)."""

_ALL = CLUSTER_KINDS
_HPC = ("slurm", "pbs")
CLUSTER_KEYS = MappingProxyType({
    # key: (type, kinds it applies to)
    "kind": (str, _ALL),
    "workers": (int, ("local", "kubernetes")),
    "jobs": (int, _HPC),
    "cores": (int, ("slurm", "pbs", "kubernetes")),
    "processes": (int, _HPC),
    "memory": (str, _ALL),
    "walltime": (str, _HPC),
    "queue": (str, _HPC),
    "account": (str, _HPC),
    "interface": (str, _HPC),
    "host": (str, ("local", "slurm", "pbs")),
    "python": (str, _HPC),
    "local_directory": (str, _HPC),
    "log_directory": (str, _HPC),
    "job_script_prologue": (list, _HPC),
    "job_extra_directives": (list, _HPC),
    "image": (str, ("kubernetes",)),
    "namespace": (str, ("kubernetes",)),
    "name": (str, ("kubernetes",)),
    "adaptive_minimum": (int, _ALL),
    "adaptive_maximum": (int, _ALL),
    "shared_filesystem": (bool, _ALL),
    "tls": (bool, ("local", "slurm", "pbs")),
    "local_mode": (str, ("local",)),
})
"""Keys of ``[cluster]``: their TOML type and the kinds that use them. A key of another kind
is checked but ignored, so that a SLURM config also runs with ``--cluster local``."""

DEFAULT_WALLTIME = "01:00:00"
"""Walltime of a batch job: long enough for the paper grid many times over (about 2 s of
solver time per 1000 points), short enough to start soon on most queues."""

WORKER_FOOTPRINT = 350 * 2**20
"""Bytes a warm worker process holds (numba, xarray, zarr, a few prepared structures; about
0.3 GB measured): what each local one takes of this machine's memory before any chunk."""

DEFAULT_MEMORY_PER_WORKER_GIB = 2
"""Memory asked per worker process of a batch job or pod: room beyond
:data:`WORKER_FOOTPRINT` for its tasks, and it fits any node."""

MIN_MEMORY_PER_WORKER = 512 * 2**20
"""Least ``memory`` per worker process, bytes: Dask pauses a worker at 80 % of its limit and
restarts it at 95 %, so below :data:`WORKER_FOOTPRINT` / 0.8 (438 MiB) a worker would pause or
restart before its first task."""

_WALLTIME = re.compile(r"^\d{1,4}:[0-5]\d:[0-5]\d$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
_K8S_NAME_MAX = 40
"""Kubernetes names are DNS labels (63 characters); the operator appends suffixes such as
``-scheduler`` and ``-default-worker-<hash>`` to the cluster name, so it is kept to 40."""


@dataclass(frozen=True)
class ClusterConfig:
    """Where a sweep runs, validated. See :data:`CLUSTER_KEYS` for which kind uses what.

    ``workers``: workers (local: threads or processes, ``local_mode``; default one per core) or
    pods (kubernetes: default 1). ``jobs``: batch jobs (slurm, pbs). ``cores``: CPU cores per
    job or pod. ``processes``: worker processes per job, a divisor of ``cores``, each with
    ``cores / processes`` threads (default ``cores``: single-threaded).
    ``memory``: per local worker, per job or per pod, a size such as ``"4GiB"`` (default for
    jobs and pods: :data:`DEFAULT_MEMORY_PER_WORKER_GIB` per worker process). ``walltime``:
    ``HH:MM:SS`` per job. ``queue``: SLURM partition or PBS queue. ``account``: SLURM account or
    PBS project. ``interface``: network interface of the scheduler and workers (e.g. ``ib0``).
    ``host``: address the scheduler binds to. ``adaptive_minimum``/``adaptive_maximum``: scale
    between these (jobs for slurm/pbs, workers otherwise) instead of a fixed size.
    ``shared_filesystem``: a local store path is on a file system every node mounts at the same
    path. ``tls``: scheduler and workers talk TLS with temporary self-signed credentials
    (default: on; only this process and its workers hold them, so no other local user or host
    can submit work or read task specs, which may carry storage keys; ``tls = false`` turns it
    off, with a warning when the scheduler listens beyond loopback). ``local_mode``: one of
    :data:`LOCAL_MODES`, how a local cluster's workers run (threads of this process, or
    processes). ``document``: the keys as given (for TOML output)."""

    kind: str = "local"
    workers: int | None = None
    jobs: int = 1
    cores: int = 1
    processes: int | None = None
    memory: str | None = None
    walltime: str = DEFAULT_WALLTIME
    queue: str | None = None
    account: str | None = None
    interface: str | None = None
    host: str | None = None
    python: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    job_script_prologue: tuple[str, ...] = ()
    job_extra_directives: tuple[str, ...] = ()
    image: str | None = None
    namespace: str | None = None
    name: str = "fanodome"
    adaptive_minimum: int | None = None
    adaptive_maximum: int | None = None
    shared_filesystem: bool = False
    tls: bool = True
    local_mode: str = "auto"
    document: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def adaptive(self) -> bool:
        return self.adaptive_maximum is not None

    @property
    def worker_processes(self) -> int:
        """Single-threaded worker processes per job or pod."""
        if self.kind == "kubernetes":
            return 1
        return self.processes or self.cores

    def memory_per_job(self) -> str:
        """Memory of one job or pod (``memory``, or the default per worker process)."""
        if self.memory is not None:
            return self.memory
        return f"{DEFAULT_MEMORY_PER_WORKER_GIB * self.worker_processes}GiB"

    def expected_threads(self, *, local_cores: int) -> int:
        """Worker threads once the cluster is up (at its adaptive maximum when adaptive)."""
        if self.kind == "local":
            n = self.adaptive_maximum or self.workers or local_cores
            return n
        if self.kind == "kubernetes":
            return self.adaptive_maximum or self.workers or 1
        return (self.adaptive_maximum or self.jobs) * self.worker_processes


def _cluster_value(key: str, v: object) -> object:
    typ = CLUSTER_KEYS[key][0]
    k = f"cluster.{key}"
    if typ is bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{k}: expected true or false, got {v!r}")
        return v
    if typ is int:
        return _integer(v, k, minimum=0 if key == "adaptive_minimum" else 1)
    if typ is str:
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{k}: expected a non-empty string, got {type(v).__name__} {v!r}")
        _one_line(k, v)
        if key in _CLUSTER_WORDS and v.split() != [v]:
            raise ConfigError(f"{k}: expected one word (no spaces), got {v!r}")
        return v
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{k}: expected a list of strings, got {v!r}")
    for i, x in enumerate(v):
        _one_line(f"{k}[{i}]", x)
    return tuple(v)


_CLUSTER_WORDS = ("kind", "memory", "walltime", "queue", "account", "interface", "host", "image",
                  "namespace", "name", "local_mode")
"""``[cluster]`` strings that are one word where a job script or manifest writes them."""


def _one_line(key: str, v: str) -> None:
    """Refuse a value with a line break or another control character: each one is one line of
    a job script, and a second line would be a command or directive nobody asked for."""
    if any(ord(c) < 32 or ord(c) == 127 for c in v):
        raise ConfigError(f"{key}: a line break or control character in {v!r}: each value is "
                          f"one line of the job script")


def parse_cluster(table: Mapping[str, object]) -> ClusterConfig:
    """Validate a ``[cluster]`` table (CLI overrides already merged in)."""
    _check_keys(table, "cluster", tuple(CLUSTER_KEYS))
    values = {k: _cluster_value(k, v) for k, v in table.items()}
    kind = values.get("kind", "local")
    if kind not in CLUSTER_KINDS:
        raise ConfigError(f"cluster.kind: expected one of {', '.join(CLUSTER_KINDS)}, "
                          f"got {kind!r}")
    if "memory" in values:
        from dask.utils import parse_bytes
        try:
            size = parse_bytes(values["memory"])
            if size <= 0:
                raise ValueError("not positive")
        except ValueError:
            raise ConfigError(f"cluster.memory: expected a size such as \"4GiB\" or \"500MB\", "
                              f"got {values['memory']!r}") from None
        per = 1 if kind in ("local", "kubernetes") else \
            values.get("processes") or values.get("cores", 1)
        if size / per < MIN_MEMORY_PER_WORKER:
            each = "" if per == 1 else f" over {per} worker processes"
            raise ConfigError(f"cluster.memory: {values['memory']}{each} is less than "
                              f"{MIN_MEMORY_PER_WORKER / 2**20:g} MiB per worker process, "
                              f"below which a worker pauses or restarts before its first task")
    if "local_mode" in values and values["local_mode"] not in LOCAL_MODES:
        raise ConfigError(f"cluster.local_mode: expected one of {', '.join(LOCAL_MODES)}, "
                          f"got {values['local_mode']!r}")
    if "walltime" in values and not _WALLTIME.match(values["walltime"]):
        raise ConfigError(f"cluster.walltime: expected HH:MM:SS, got {values['walltime']!r}")
    if "walltime" in values and not any(int(x) for x in values["walltime"].split(":")):
        raise ConfigError("cluster.walltime: a job of no time runs nothing, got 00:00:00")
    if "name" in values and not _K8S_NAME.match(values["name"]):
        raise ConfigError(f"cluster.name: expected lower-case letters, digits and '-', at most "
                          f"{_K8S_NAME_MAX} characters, got {values['name']!r}")
    if "processes" in values and values["processes"] > values.get("cores", 1):
        raise ConfigError(f"cluster.processes: at most cluster.cores "
                          f"({values.get('cores', 1)}), got {values['processes']}")
    if "processes" in values and values.get("cores", 1) % values["processes"]:
        raise ConfigError(f"cluster.processes: a divisor of cluster.cores "
                          f"({values.get('cores', 1)}): each worker gets cores / processes "
                          f"threads, got {values['processes']}")
    if "adaptive_minimum" in values:
        if "adaptive_maximum" not in values:
            raise ConfigError("cluster.adaptive_minimum: needs cluster.adaptive_maximum")
        if values["adaptive_minimum"] > values["adaptive_maximum"]:
            raise ConfigError(f"cluster.adaptive_minimum: above cluster.adaptive_maximum "
                              f"({values['adaptive_minimum']} > "
                              f"{values['adaptive_maximum']})")
    document = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
    return ClusterConfig(**values, document=MappingProxyType(document))


def with_cluster_overrides(base: ClusterConfig, overrides: Mapping[str, object]) -> ClusterConfig:
    """``base`` (a config's ``[cluster]``) with ``overrides`` (same keys, e.g. from the command
    line) replacing its entries, validated again."""
    return parse_cluster({**base.document, **overrides})


# ---------------------------------------------------------------------------- TOML writing

_TOML_HEADER = ("# fanodome sweep config. Units: L, W in Å; V, omega0 in meV; t_floor in K; "
                "masses in m_e.\n# Each [grid] axis: a list, {start, stop, step} (stop "
                "included) or {start, stop, num}.\n")


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write non-finite {v!r}")
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, np.generic):
        return _toml_value(v.item())
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def to_toml(document: Mapping[str, Mapping[str, object]]) -> str:
    """A two-level document (tables of scalars, lists and inline tables) as TOML text."""
    lines = [_TOML_HEADER]
    for table, entries in document.items():
        lines.append(f"[{table}]")
        for k, v in entries.items():
            unit = PARAMETERS[k].unit if table == "grid" else None
            comment = f"  # {unit}" if unit and unit != "1" else ""
            lines.append(f"{k} = {_toml_value(v)}{comment}")
        lines.append("")
    return "\n".join(lines)
