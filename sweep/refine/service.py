"""A refinement of a finished sweep store: lock it, lay out the refined numbers, run what is
missing.

Ties :mod:`sweep.refine.searches` (the searches), :mod:`sweep.refine.tasks` (one block of
curves, one dome top) and :mod:`sweep.store` together and runs the tasks with
:func:`sweep.execution.runner.run_tasks` on any executor: the curves (one task per block of g
of one structure and omega0), and the top of each dome as soon as its curves are refined, dealt
structure by structure to the workers that hold them (:mod:`sweep.refine.dealer`). Resumable
and idempotent: every task writes its own region, statuses last; a rerun
with the same settings computes only what is pending or failed (nothing on a refined store, and
then no cluster is started); other settings start the refined numbers again.
"""
from __future__ import annotations

import contextlib
import logging
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from .. import store as store_mod
from ..front import expect, store_path
from ..store.common import is_explore
from ..config import (DEFAULT_RETRIES, REFINE_CURVES_PER_TASK, ClusterConfig, RefineSettings,
                      parse_config)
from ..execution.clusters import place, resolve_local_mode
from ..execution.failures import FailureLog
from ..execution.runner import STALL_S, Failure, run_tasks
from ..flags import FAILED, TOP_FAILED
from ..grid import CURVE_AXES, DOME_AXES
from ..worker.structures import STRUCTURES_PER_PROCESS
from ..worker.warmup import solver_client
from .dealer import RefineDealer
from .searches import METHOD
from .tasks import (REFINE_GIL_SHARE, RefineTask, TopTask, compute_refine_block, compute_top,
                    refine_work_s)

log = logging.getLogger(__name__)


@dataclass
class RefineResult:
    """What :func:`refine_store` computed: curves and dome tops refined by this call, their
    solver evaluations, the tasks that failed and the wall time (s)."""

    store: str
    curves: int
    domes: int
    evaluations: int
    failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0
    nothing_to_do: bool = False
    """Every curve and dome top was refined with these settings: nothing ran, no cluster
    started."""

    @property
    def complete(self) -> bool:
        return not self.failures


def stored_settings(store: str, *, storage_options: Mapping | None = None
                    ) -> tuple[RefineSettings, int, int]:
    """The refinement a sweep store asks for: (settings of its config's ``[refine]``, or the
    defaults, with the thresholds the store is refined with where it is, so that a refine
    again keeps its windows; curves per task; retries of a task). A store no refinement can
    write is refused first (an http(s):// URL, a missing store, an explore store)."""
    attrs = _refuse_at_once(store, storage_options=storage_options)
    cfg = parse_config(tomllib.loads(store_mod.config_toml(attrs, store=store)))
    settings = cfg.refine or RefineSettings()
    held = store_mod.refine_settings_of(attrs)
    if held:
        settings = replace(settings, thresholds=tuple(held["thresholds"]))
    return settings, cfg.curves_per_task, cfg.retries


def _current(have: dict | None, settings: RefineSettings) -> bool:
    """Whether a store's refine settings are these (curves per task aside)."""
    return have is not None and "curves_per_task" in have and \
        {k: v for k, v in have.items() if k != "curves_per_task"} == settings.to_dict()


def pending_work(store: str, *, settings: RefineSettings,
                 storage_options: Mapping | None = None) -> int:
    """Curves plus dome tops that :func:`refine_store` would compute now (no cluster needed
    when 0)."""
    so = dict(storage_options or {}) or None
    attrs = store_mod.read_attrs(store, storage_options=so)
    if not _current(store_mod.refine_settings_of(attrs), settings):
        ds = store_mod.open_dataset(store, storage_options=so)
        return int(np.prod([ds.sizes[d] for d in CURVE_AXES])) + \
            int(np.prod([ds.sizes[d] for d in DOME_AXES]))
    plan = store_mod.refine_plan(store, storage_options=so)
    return sum(c[5] - c[4] for c in plan["curves"]) + len(plan["domes"])


def refine_store(store: str, *, settings: RefineSettings | None = None, executor=None,
                 curves_per_task: int | None = None, retries: int | None = None,
                 storage_options: Mapping | None = None, window: int | None = None,
                 cluster: ClusterConfig | None = None, scheduler: str | None = None,
                 locked: bool = False, on_client: Callable | None = None,
                 stall_s: float = STALL_S) -> RefineResult:
    """Refine every curve and dome of the finished sweep at ``store``, locked like a run.

    ``settings``, ``curves_per_task``, ``retries``: default the store's own
    (:func:`stored_settings`: its config's ``[refine]``, else the defaults, with the thresholds
    it is refined with). ``executor``: a
    distributed.Client or concurrent.futures executor; None: a cluster of ``cluster`` (default
    local) or the existing ``scheduler``, started only when something is left to refine.
    ``locked``: the caller holds the store's lock (as :func:`sweep.run_sweep` does).
    ``on_client``: called with the client of a cluster this call starts. ``stall_s``: seconds
    with tasks waiting and no worker running before :class:`~sweep.execution.runner.Stalled`
    (the refined curves are kept). Raises :class:`~sweep.store.StoreError` if the store is not
    a finished sweep.
    """
    store = store_path(store)
    if settings is not None:
        expect(settings, RefineSettings, name="settings",
               takes="a RefineSettings (sweep.RefineSettings(thresholds=(273.15,)))")
    t0 = time.perf_counter()
    so = dict(storage_options or {}) or None
    if settings is None or curves_per_task is None or retries is None:
        own = stored_settings(store, storage_options=so)  # refuses what cannot be refined
        settings = own[0] if settings is None else settings
        curves_per_task = own[1] if curves_per_task is None else curves_per_task
        retries = own[2] if retries is None else retries
    else:
        _refuse_at_once(store, storage_options=so)
    where = place(store, cluster=cluster, scheduler=scheduler, window=window)
    store = where.store

    def check() -> None:
        _check_refinable(store, storage_options=so)

    # Disk errors are mapped around the store's work and the tasks only: a cluster that fails
    # to start or a scheduler that goes away is never reported as a full disk (a lost
    # scheduler is the runner's SchedulerLost, whatever distributed raised).
    with store_mod.held(store, check=check, locked=locked):
        with _disk_errors(store):
            _lay_out(store, settings=settings, curves_per_task=curves_per_task,
                     storage_options=so)
            work = Refinement(store, storage_options=so)
        pending = work.todo["curves"] + work.todo["domes"]
        if pending == 0:
            log.debug("%s: every curve and dome top refined with these settings; nothing "
                      "to do", store)
            return RefineResult(store=store, curves=0, domes=0, evaluations=0,
                                nothing_to_do=True)
        with contextlib.ExitStack() as stack:
            if executor is None:
                spec = resolve_local_mode(cluster or ClusterConfig(),
                                          work_s=refine_work_s(pending),
                                          gil_share=REFINE_GIL_SHARE)
                executor = stack.enter_context(solver_client(
                    scheduler=scheduler, cluster=spec, store=store, gaps=False,
                    first_worker_s=stall_s))
                if on_client is not None:
                    on_client(executor)
            with _disk_errors(store):
                result = _run_refinement(work, executor=executor, retries=retries,
                                         window=where.window, stall_s=stall_s)
    result.wall_s = time.perf_counter() - t0
    log.info("%s: refined %d curves and %d domes with %d solver evaluations (%.1f s)", store,
             result.curves, result.domes, result.evaluations, result.wall_s)
    return result


@contextlib.contextmanager
def _disk_errors(store: str):
    """A full disk or a lost mount while refining: one line naming the store and the way on
    (what is refined is kept; a second refine repairs the metadata index and goes on)."""
    try:
        yield
    except OSError as err:
        raise store_mod.StoreError(
            f"{store}: cannot write the store ({err.strerror or err}); what is refined is "
            f"kept: free the space and run fanodome refine {store} again") from None


def _refuse_at_once(store: str, *, storage_options: Mapping | None) -> dict:
    """The root attributes of ``store``, after refusing, before anything else is read, a store
    that no refinement can write: an http(s):// URL (read-only), a missing store, an explore
    store."""
    if store_mod.is_read_only_url(store):
        raise store_mod.read_only(store)
    if not store_mod.exists(store, storage_options=storage_options):
        raise store_mod.StoreError(f"{store}: no such store")
    attrs = store_mod.read_attrs(store, storage_options=storage_options)
    if is_explore(attrs):
        raise store_mod.StoreError(f"{store}: an explore store (fanodome explore), not a sweep: "
                                   f"its samples are refined as they are computed")
    return attrs


def _check_refinable(store: str, *, storage_options: Mapping | None) -> None:
    """Refuse a store that is not a finished sweep (before anything is written or started)."""
    if not store_mod.exists(store, storage_options=storage_options):
        raise store_mod.StoreError(f"{store}: no such store")
    if not store_mod.is_read_only_url(store):  # nothing to repair on a read-only store
        store_mod.repair_consolidated(store, storage_options=storage_options)
    attrs = store_mod.read_attrs(store, storage_options=storage_options)
    if not store_mod.is_sweep(attrs):
        raise store_mod.StoreError(f"{store}: not a fanodome sweep store")
    counts = store_mod.status_counts(store, storage_options=storage_options)
    if counts["pending"] or counts["failed"]:
        raise store_mod.StoreError(
            f"{store}: {counts['pending']} points pending and {counts['failed']} failed; finish "
            f"the sweep first (fanodome run CONFIG --store {store} --resume)")


def lay_out(store: str, *, settings: RefineSettings, curves_per_task: int,
            storage_options: Mapping | None = None) -> None:
    """Lay out the refined numbers of a sweep store for ``settings`` unless it holds them
    already, restoring first a metadata index that a killed process left behind (a sweep's
    run does this before its grid, so that each structure is refined once its grid is done).
    """
    if not store_mod.is_read_only_url(store):
        store_mod.repair_consolidated(store, storage_options=storage_options)
    _lay_out(store, settings=settings, curves_per_task=curves_per_task,
             storage_options=storage_options)


def _lay_out(store: str, *, settings: RefineSettings, curves_per_task: int,
             storage_options: Mapping | None) -> None:
    """Lay out the refined numbers, unless the store holds them for these settings already."""
    have = store_mod.refine_settings_of(store_mod.read_attrs(store,
                                                             storage_options=storage_options))
    if _current(have, settings):
        return
    if have is not None:
        log.info("%s: refined with other settings; refining again", store)
    store_mod.layout_refine(store=store, settings=settings.to_dict(),
                            curves_per_task=curves_per_task, method=METHOD,
                            storage_options=storage_options)


class Refinement:
    """The refine work left in a store, as tasks of a :class:`~sweep.refine.dealer.RefineDealer`
    (``self.dealer``), and what their outcomes and failures do to the store: failed flags,
    failure records, the counts of a :class:`RefineResult`.

    ``after_grid``: every structure waits for :meth:`RefineDealer.grid_done` (a sweep's run
    refines each structure once its grid is done); else all are ready (a finished store).
    """

    def __init__(self, store: str, *, storage_options: Mapping | None = None,
                 after_grid: bool = False):
        so = storage_options
        self.store = store
        attrs = store_mod.read_attrs(store, storage_options=so)
        wanted = store_mod.refine_settings_of(attrs)
        settings_items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                      for k, v in wanted.items()))
        model_items = tuple(sorted(store_mod.model_options(attrs).items()))
        so_items = tuple(sorted((so or {}).items()))
        coords = store_mod.coordinates(store, CURVE_AXES, storage_options=so)
        self._failures = FailureLog(
            store_mod.read_failures(store, log="refine", storage_options=so), key="task",
            write=lambda records: store_mod.write_failures(store, records, log="refine",
                                                           storage_options=so))
        self._so = so

        def make(cls):
            def task(index, **kw):
                iL, iW, iV, io = index[:4]
                return cls(store=store, index=tuple(int(i) for i in index),
                           L=float(coords["L"][iL]), W=float(coords["W"][iW]),
                           V=float(coords["V"][iV]), omega0=float(coords["omega0"][io]),
                           model=model_items, settings=settings_items, storage_options=so_items,
                           **kw)
            return task

        plan = store_mod.refine_plan(store, storage_options=so)
        tops = set(plan["domes"]) | {tuple(c[:4]) for c in plan["curves"]}
        self.todo = {"curves": sum(c[5] - c[4] for c in plan["curves"]), "domes": len(tops)}
        keys = {tuple(t[:3]) for t in tops}
        self.dealer = RefineDealer(curves=plan["curves"], tops=tops,
                                   make_curve_task=make(RefineTask), make_top_task=make(TopTask),
                                   grid_pending=keys if after_grid else (),
                                   held_per_worker=STRUCTURES_PER_PROCESS,
                                   g_size=len(coords["g"]))
        self.done = {"curves": 0, "domes": 0}
        self.evaluations = 0
        self.failures: list[Failure] = []
        self.started: float | None = None
        self.last: float | None = None

    def on_done(self, outcome) -> None:
        """A refine task's outcome (a :class:`~sweep.refine.tasks.RefineOutcome`)."""
        self._failures.done(outcome.index)
        self.done["curves"] += outcome.n_points - outcome.tops
        self.done["domes"] += outcome.tops
        self.evaluations += outcome.evaluations
        self.last = time.perf_counter()

    def on_failed(self, f: Failure) -> None:
        """A refine task that failed on every try: flagged failed in the store, recorded."""
        task = f.task  # a block with its dome's top: the top stays pending, as after failed curves
        if isinstance(task, TopTask):
            store_mod.write_top(store=self.store, region=task.region_slices(),
                                values={store_mod.VAR_TOP_STATUS: TOP_FAILED},
                                storage_options=self._so)
        else:
            store_mod.write_refine_failed(store=self.store, region=task.region_slices(),
                                          flag=FAILED, storage_options=self._so)
        self._failures.failed(f, kind=type(task).__name__)
        self.failures.append(f)
        self.dealer.failed(task.index)
        self.last = time.perf_counter()

    def take(self, worker: object = None, *, workers: int = 1, **kw):
        """The dealer's next task (see :meth:`RefineDealer.take`), the first one timed."""
        task = self.dealer.take(worker, workers=workers, **kw)
        if task is not None and self.started is None:
            self.started = time.perf_counter()
        return task

    def finished(self, outcome) -> None:
        self.dealer.finished(outcome)

    def waiting(self) -> bool:
        return self.dealer.waiting()

    def result(self) -> RefineResult:
        """What ran, its wall time from the first task handed out to the last outcome."""
        self._failures.flush()
        wall = 0.0 if self.started is None or self.last is None else self.last - self.started
        return RefineResult(store=self.store, curves=self.done["curves"],
                            domes=self.done["domes"], evaluations=self.evaluations,
                            failures=list(self.failures), wall_s=wall)


def _run_refinement(work: Refinement, *, executor, retries: int, window: int | None,
                    stall_s: float = STALL_S) -> RefineResult:
    """Run what is pending of a finished store's refinement: curve blocks, and each dome's top
    as soon as its curves are done, structure by structure on the workers that hold them."""
    total = work.todo["curves"] + work.todo["domes"]
    log.info("refining %d curves and %d domes of %s", work.todo["curves"],
             work.todo["domes"], work.store)
    run_tasks(work, executor=executor, compute=compute_refine_task, retries=retries,
              total_points=total, window=window, on_failed=work.on_failed,
              on_done=work.on_done, stall_s=stall_s)
    return work.result()


def compute_refine_task(task: RefineTask):
    """A curve block or a dome's top, whichever ``task`` is (runs where the task runs)."""
    return compute_top(task) if isinstance(task, TopTask) else compute_refine_block(task)


__all__ = ["RefineResult", "Refinement", "compute_refine_task", "lay_out", "pending_work",
           "refine_store", "stored_settings", "DEFAULT_RETRIES", "REFINE_CURVES_PER_TASK"]
