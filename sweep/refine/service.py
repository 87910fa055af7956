"""A refinement of a finished sweep store: lock it, lay out the refined numbers, run what is
missing.

Ties :mod:`sweep.refine.searches` (the searches), :mod:`sweep.refine.tasks` (one block of
curves, one dome top) and :mod:`sweep.store` together and runs the tasks with
:func:`sweep.execution.runner.run_tasks` on any executor, in two passes: the curves (one task
per block of g of one structure and omega0), then the tops of the domes whose curves are all
refined. Resumable and idempotent: every task writes its own region, statuses last; a rerun
with the same settings computes only what is pending or failed (nothing on a refined store, and
then no cluster is started); other settings start the refined numbers again.
"""
from __future__ import annotations

import contextlib
import logging
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .. import store as store_mod
from ..config import (DEFAULT_RETRIES, REFINE_CURVES_PER_TASK, ClusterConfig, RefineSettings,
                      parse_config)
from ..execution.clusters import place
from ..execution.failures import FailureLog
from ..execution.runner import Failure, run_tasks
from ..flags import FAILED, TOP_FAILED
from ..grid import CURVE_AXES, DOME_AXES
from ..worker.warmup import solver_client
from .searches import METHOD
from .tasks import RefineTask, TopTask, compute_refine_block, compute_top

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
    """The refinement a sweep store's own config asks for: (settings of its ``[refine]``, or
    the defaults; curves per task; retries of a task)."""
    attrs = store_mod.read_attrs(store, storage_options=storage_options)
    cfg = parse_config(tomllib.loads(store_mod.config_toml(attrs, store=store)))
    return cfg.refine or RefineSettings(), cfg.curves_per_task, cfg.retries


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
                 locked: bool = False, on_client: Callable | None = None) -> RefineResult:
    """Refine every curve and dome of the finished sweep at ``store``, locked like a run.

    ``settings``, ``curves_per_task``, ``retries``: default the store's own config's
    (``[refine]``, else :class:`~sweep.config.RefineSettings`' defaults). ``executor``: a
    distributed.Client or concurrent.futures executor; None: a cluster of ``cluster`` (default
    local) or the existing ``scheduler``, started only when something is left to refine.
    ``locked``: the caller holds the store's lock (as :func:`sweep.run_sweep` does).
    ``on_client``: called with the client of a cluster this call starts. Raises
    :class:`~sweep.store.StoreError` if the store is not a finished sweep.
    """
    t0 = time.perf_counter()
    so = dict(storage_options or {}) or None
    if settings is None or curves_per_task is None or retries is None:
        own = stored_settings(store, storage_options=so)
        settings = own[0] if settings is None else settings
        curves_per_task = own[1] if curves_per_task is None else curves_per_task
        retries = own[2] if retries is None else retries
    where = place(store, cluster=cluster, scheduler=scheduler, window=window)
    store = where.store

    def check() -> None:
        _check_refinable(store, storage_options=so)

    with store_mod.held(store, check=check, locked=locked), _disk_errors(store):
        _lay_out(store, settings=settings, curves_per_task=curves_per_task, storage_options=so)
        if pending_work(store, settings=settings, storage_options=so) == 0:
            log.debug("%s: every curve and dome top refined with these settings; nothing "
                      "to do", store)
            return RefineResult(store=store, curves=0, domes=0, evaluations=0,
                                nothing_to_do=True)
        with contextlib.ExitStack() as stack:
            if executor is None:
                executor = stack.enter_context(solver_client(
                    scheduler=scheduler, cluster=cluster, store=store, gaps=False))
                if on_client is not None:
                    on_client(executor)
            done, evaluations, failures = _run_passes(
                store, executor=executor, retries=retries, window=where.window,
                storage_options=so)
    wall = time.perf_counter() - t0
    log.info("%s: refined %d curves and %d domes with %d solver evaluations (%.1f s)", store,
             done["curves"], done["domes"], evaluations, wall)
    return RefineResult(store=store, curves=done["curves"], domes=done["domes"],
                        evaluations=evaluations, failures=failures, wall_s=wall)


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


def _run_passes(store: str, *, executor, retries: int, window: int | None,
                storage_options: Mapping | None) -> tuple[dict[str, int], int, list[Failure]]:
    """Run the curve tasks, then the top tasks, of what is pending; returns what each pass
    finished (curves, domes), the solver evaluations and the failures."""
    so = storage_options
    attrs = store_mod.read_attrs(store, storage_options=so)
    wanted = store_mod.refine_settings_of(attrs)
    settings_items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                  for k, v in wanted.items()))
    model_items = tuple(sorted(store_mod.model_options(attrs).items()))
    so_items = tuple(sorted((so or {}).items()))
    ds = store_mod.open_dataset(store, storage_options=so)
    coords = {d: ds[d].values for d in DOME_AXES}
    failures = FailureLog(store_mod.read_failures(store, log="refine", storage_options=so),
                          key="task", write=lambda records: store_mod.write_failures(
                              store, records, log="refine", storage_options=so))

    def task(cls, index):
        iL, iW, iV, io = index[:4]
        return cls(store=store, index=tuple(int(i) for i in index), L=float(coords["L"][iL]),
                   W=float(coords["W"][iW]), V=float(coords["V"][iV]),
                   omega0=float(coords["omega0"][io]), model=model_items,
                   settings=settings_items, storage_options=so_items)

    def on_failed(f: Failure) -> None:
        if isinstance(f.task, TopTask):
            store_mod.write_top(store=store, region=f.task.region_slices(),
                                values={store_mod.VAR_TOP_STATUS: TOP_FAILED},
                                storage_options=so)
        else:
            store_mod.write_refine_failed(store=store, region=f.task.region_slices(),
                                          flag=FAILED, storage_options=so)
        failures.failed(f, kind=type(f.task).__name__)

    evaluations = 0
    errors: list[Failure] = []
    done = {"curves": 0, "domes": 0}
    for kind, cls, compute in (("curves", RefineTask, compute_refine_block),
                               ("domes", TopTask, compute_top)):
        todo = store_mod.refine_plan(store, storage_options=so)[kind]
        if not todo:
            continue
        tasks = [task(cls, index) for index in todo]
        total = sum(t.n_points for t in tasks)
        log.info("refining %d %s of %s in %d tasks", total, kind, store, len(tasks))
        outcomes = []

        def on_done(o) -> None:
            outcomes.append(o)
            failures.done(o.index)

        report = run_tasks(tasks, executor=executor, compute=compute, retries=retries,
                           total_points=total, window=window, on_failed=on_failed,
                           on_done=on_done)
        evaluations += sum(o.evaluations for o in outcomes)
        done[kind] = report.points_done
        errors.extend(report.failures)
    failures.flush()
    return done, evaluations, errors


__all__ = ["RefineResult", "pending_work", "refine_store", "stored_settings",
           "DEFAULT_RETRIES", "REFINE_CURVES_PER_TASK"]
