"""A sweep from config to finished store: check, lock, lay out or resume, run the missing tasks,
and refine the numbers when the config asks for it, each structure once its grid is done.

Ties the what (:mod:`sweep.config`, :mod:`sweep.grid`, :mod:`sweep.run.tasks`), the where
(:mod:`sweep.store`) and the how (:mod:`sweep.execution`) together; knows none of their
internals. Everything a run needs happens here, so a Python caller of :func:`run_sweep` gets
what ``fanodome run`` does: the store can be started (exists, resume, overwrite), is reachable
from the cluster's workers, is locked for the run, the window of tasks in flight fits a cluster
whose workers join late, a cluster is started when no executor is given (and only once nothing
can refuse the run; local: threads or processes as the work's size asks,
:func:`sweep.execution.clusters.resolve_local_mode`), and ``[refine]`` refines each structure as
soon as its grid is done, in the same stream of tasks (:mod:`sweep.run.pipeline`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .. import store as store_mod
from ..front import expect, store_path
from ..config import ClusterConfig, RefineSettings, SweepConfig, check_sweepable
from ..execution.accounting import Accounts
from ..execution.clusters import place, resolve_local_mode
from ..execution.dealer import StructureDealer
from ..execution.failures import FailureLog
from ..execution.runner import STALL_S, Failure, RunReport, run_tasks
from ..refine.service import RefineResult, Refinement, lay_out, pending_work
from ..worker.structures import STRUCTURES_PER_PROCESS
from ..worker.warmup import solver_client
from .pipeline import RefineStep, RefineStepOutcome, SweepAndRefine, compute_step
from .tasks import ChunkOutcome, ChunkTask, compute_chunk, estimated_work, task_for_region

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: the store as used, its point counts (total, done, failed,
    pending, missing), the task report, wall time (s), whether it resumed, the per-worker
    accounts and the refinement (None: none ran)."""

    store: str
    counts: dict[str, int]
    report: RunReport
    wall_s: float
    resumed: bool
    accounts: Accounts = dataclasses.field(default_factory=Accounts)
    refine: RefineResult | None = None
    nothing_to_do: bool = False
    """The store was complete (points and refinement): nothing ran, no cluster started."""

    def accounting(self) -> dict:
        """Per-worker accounting and efficiency over the task phase (see
        :meth:`sweep.execution.accounting.Accounts.summary`)."""
        return self.accounts.summary(wall_s=self.report.seconds, threads=self.report.threads)

    @property
    def complete(self) -> bool:
        """Every point done, and every refine task too."""
        return (self.counts["failed"] == 0 and self.counts["pending"] == 0
                and (self.refine is None or self.refine.complete))


def check_can_start(config: SweepConfig, *, store: str, resume: bool, overwrite: bool,
                    storage_options: Mapping | None = None) -> None:
    """Refuse a store conflict early: before any cluster starts, without writing anything (see
    :func:`sweep.store.check_can_start`)."""
    store_mod.check_can_start(store, identity=config.identity(), resume=resume,
                              overwrite=overwrite, storage_options=storage_options)


def run_sweep(config: SweepConfig, *, store: str, executor=None, resume: bool = False,
              overwrite: bool = False,
              compute: Callable[[ChunkTask], ChunkOutcome] = compute_chunk,
              storage_options: Mapping | None = None, locked: bool = False,
              cluster: ClusterConfig | None = None,
              scheduler: str | None = None, stall_s: float = STALL_S,
              progress: Callable | None = None, refine: bool = True,
              on_client: Callable | None = None) -> SweepResult:
    """Fill ``store`` with ``config``'s sweep, then refine it when ``config`` has ``[refine]``.

    ``executor``: a distributed.Client or a concurrent.futures.Executor; None: a cluster of
    ``cluster`` (default: local) or the existing ``scheduler`` is used, with the solver warm on
    its workers, started once nothing can refuse the run and closed at the end. ``cluster``,
    ``scheduler``: where the workers run (also with an ``executor``: the store must be
    reachable from them; ``SweepResult.store`` is the store as used). ``resume``: the store
    must hold this very config; only tasks with pending or failed points run, and a complete
    store runs nothing (``nothing_to_do``). Without ``resume`` or ``overwrite``, an existing
    store of this very config is resumed so (the same run twice computes once), and a store
    of another sweep is refused. ``overwrite``: start a fresh store. ``compute``:
    the task function (tests pass their own). ``locked``: the caller already holds
    :class:`~sweep.store.StoreLock` for ``store``. ``stall_s``: seconds with tasks waiting and
    no running worker, or a cluster this call starts without its first worker, before
    :class:`~sweep.execution.runner.Stalled` is raised (the store stays resumable).
    ``progress``: how progress is shown (see :func:`sweep.execution.runner.run_tasks`).
    ``refine``: False leaves ``[refine]`` out.
    ``on_client``: called with the client of a cluster this call starts.
    """
    expect(config, SweepConfig, name="config",
           takes="a SweepConfig (sweep.load_config(path) or sweep.parse_config(dict))")
    store = store_path(store)
    check_sweepable(config)
    t0 = time.perf_counter()
    so = dict(storage_options or {}) or None
    where = place(store, cluster=cluster, scheduler=scheduler, window=config.batch_size)
    config = dataclasses.replace(config, batch_size=where.window)
    store = where.store
    refine_settings = config.refine if refine else None

    resume = resume or (not overwrite and _holds_this_sweep(config, store=store,
                                                            storage_options=so))

    def check() -> None:
        check_can_start(config, store=store, resume=resume, overwrite=overwrite,
                        storage_options=so)

    with store_mod.held(store, check=check, locked=locked):
        if resume and _complete(store, refine=refine_settings, storage_options=so):
            counts = store_mod.status_counts(store, storage_options=so)
            log.debug("%s: all %d points done; nothing to do", store, counts["total"])
            return SweepResult(store=store, counts=counts, report=RunReport(), wall_s=0.0,
                               resumed=True, nothing_to_do=True)
        with contextlib.ExitStack() as stack:
            if executor is None:
                spec = resolve_local_mode(cluster or ClusterConfig(), **estimated_work(
                    config, refine=refine_settings is not None))
                executor = stack.enter_context(solver_client(
                    scheduler=scheduler, cluster=spec, store=store,
                    gaps=bool(config.gap_T_over_tc), first_worker_s=stall_s))
                if on_client is not None:
                    on_client(executor)
            accounts = Accounts()
            report, counts, resumed, refined = _fill_store(
                config, store=store, executor=executor, resume=resume, compute=compute,
                storage_options=so, accounts=accounts, stall_s=stall_s, progress=progress,
                refine=refine_settings)
    wall = time.perf_counter() - t0
    log.info("%s: %d points done, %d failed, %d pending (%.1f s)", store, counts["done"],
             counts["failed"], counts["pending"], wall)
    accounts.log_summary(wall_s=report.seconds, threads=report.threads)
    return SweepResult(store=store, counts=counts, report=report, wall_s=wall,
                       resumed=resumed, accounts=accounts, refine=refined)


def _holds_this_sweep(config: SweepConfig, *, store: str,
                      storage_options: Mapping | None) -> bool:
    """Whether ``store`` exists and holds ``config``'s sweep: a run without ``resume`` or
    ``overwrite`` then finishes it (or, complete, does nothing), as ``resume`` would. A store
    of another sweep is refused (:class:`~sweep.store.StoreError`), untouched, naming what
    differs; False when there is no store yet or it is not a sweep store (which
    :func:`check_can_start` refuses)."""
    if store_mod.is_read_only_url(store) or not store_mod.exists(store,
                                                                 storage_options=storage_options):
        return False  # a read-only URL is refused by check_can_start, naming why
    have = store_mod.identity_of(store_mod.read_attrs(store, storage_options=storage_options))
    if have is None:
        return False  # not a sweep store: refused by check_can_start, untouched
    want = config.identity()
    if have != want:
        raise store_mod.another_config(store, have=have, want=want, kind="sweep")
    return True


def _complete(store: str, *, refine, storage_options) -> bool:
    """Whether ``store`` holds every point (and, with ``refine`` settings, every refinement)."""
    if not store_mod.exists(store, storage_options=storage_options):
        return False
    counts = store_mod.status_counts(store, storage_options=storage_options)
    if counts["pending"] or counts["failed"]:
        return False
    return refine is None or pending_work(store, settings=refine,
                                          storage_options=storage_options) == 0


def _fill_store(config: SweepConfig, *, store: str, executor, resume: bool,
                compute: Callable[[ChunkTask], ChunkOutcome], storage_options: Mapping | None,
                accounts: Accounts, stall_s: float = STALL_S,
                progress: Callable | None = None, refine: RefineSettings | None = None
                ) -> tuple[RunReport, dict[str, int], bool, RefineResult | None]:
    """Lay out or resume ``store`` (held and checked by the caller), run the missing tasks,
    record failures; returns the grid's report, the status counts, whether it resumed and,
    with ``refine`` settings, the refinement. A full disk or a lost mount is a
    :class:`~sweep.store.StoreError` (what was written is kept).

    With ``refine``, the refined numbers are laid out first and each structure is refined as
    soon as its grid is done, in the same stream of tasks (:mod:`sweep.run.pipeline`); a
    structure whose grid has failed points is not refined in this run."""
    so = storage_options
    try:
        resumed, plan, chunks, total, failures = _open_work(config, store=store, resume=resume,
                                                            storage_options=so)
        refinement = None
        if refine is not None:
            lay_out(store, settings=refine, curves_per_task=config.curves_per_task,
                    storage_options=so)
            refinement = Refinement(store, storage_options=so, after_grid=True)
        grid = RunReport()
        t_start = time.perf_counter()

        def on_failed(f: Failure) -> None:
            if isinstance(f.task, RefineStep):
                refinement.on_failed(dataclasses.replace(f, task=f.task.task))
                return
            store_mod.write_failed(store=store, region=f.task.region_slices(), storage_options=so)
            failures.failed(f, region={a: [s.start, s.stop]
                                       for a, s in f.task.region_slices().items()})
            grid.failures.append(f)
            if refinement is not None:
                tasks.failed(f.task)

        def on_done(o) -> None:
            if isinstance(o, RefineStepOutcome):
                refinement.on_done(o.outcome)
                return
            accounts.add(o)
            failures.done(o.index)
            grid.tasks_done += 1
            grid.points_done += o.n_points
            grid.task_seconds += o.seconds
            grid.seconds = time.perf_counter() - t_start

        def on_retry(task) -> None:
            if not isinstance(task, RefineStep):
                grid.retried += 1

        def make_task(index, region) -> ChunkTask:
            return task_for_region(store=store, index=index, region=region, axes=config.axes,
                                   model=config.model, storage_options=so,
                                   gap_T_over_tc=config.gap_T_over_tc)

        tasks = StructureDealer(plan=plan, chunks=chunks, make_task=make_task, points=total,
                                sizing=config.sizing, held_per_worker=STRUCTURES_PER_PROCESS)
        if refinement is not None:
            tasks = SweepAndRefine(grid=tasks, refinement=refinement,
                                   held_per_worker=STRUCTURES_PER_PROCESS)
            compute = functools.partial(compute_step, chunk=compute)
        _warn_clear_secrets(executor, so)
        report = run_tasks(tasks, executor=executor, retries=config.retries,
                           total_points=total, compute=compute, window=config.batch_size,
                           on_failed=on_failed, on_done=on_done, on_retry=on_retry,
                           stall_s=stall_s, progress=progress)
        grid.threads = report.threads
        if refinement is None:
            grid.seconds = report.seconds
        # A resumed record whose chunk ran inside a larger task was not matched by index.
        failures.drop(lambda r: store_mod.region_complete(
            store, region={a: slice(*r["region"][a]) for a in r["region"]}, storage_options=so))
        failures.flush()
        refined = None if refinement is None else refinement.result()
        if refined is not None:
            log.info("%s: refined %d curves and %d domes with %d solver evaluations (%.1f s)",
                     store, refined.curves, refined.domes, refined.evaluations, refined.wall_s)
        counts = store_mod.status_counts(store, storage_options=so)
    except OSError as err:  # a full disk, a lost mount: the store stays resumable (every call
        # to the cluster is in run_tasks, whose lost scheduler is SchedulerLost, no OSError)
        raise store_mod.StoreError(
            f"{store}: cannot write the store ({err.strerror or err}); what was written "
            f"is kept: free the space and rerun with --resume") from None
    return grid, counts, resumed, refined


def _open_work(config: SweepConfig, *, store: str, resume: bool, storage_options: Mapping | None):
    """(resumed, plan, block indices to run, points to run, failure log) of a store: resumed
    from what it holds, or laid out afresh."""
    so = storage_options

    def write(records: list[dict]) -> None:
        store_mod.write_failures(store, records, storage_options=so)

    if resume and store_mod.exists(store, storage_options=so):
        plan = store_mod.plan_of(store, storage_options=so)
        store_mod.add_E_left_out(store, storage_options=so)
        before = store_mod.status_counts(store, storage_options=so)
        total = before["pending"] + before["failed"]
        failures = FailureLog(store_mod.read_failures(store, storage_options=so), key="chunk",
                              write=write)
        log.info("resuming %s: %d of %d points to do", store, total, before["total"])
        return True, plan, store_mod.chunks_to_do(store, plan, storage_options=so), total, failures
    plan = config.plan()
    try:
        store_mod.layout(store=store, axes=config.axes, plan=plan,
                         config_toml=config.stored_toml(), config_json=config.identity(),
                         storage_options=so, gap_T_over_tc=config.gap_T_over_tc,
                         nbands=int(config.model["nbands"]))
    except OSError as err:  # a full disk: what --resume will find is a layout cut short
        raise store_mod.cut_short(store, err.strerror or str(err)) from None
    return False, plan, plan.chunks(), plan.n_points, FailureLog((), key="chunk", write=write)


SECRET_WORDS = ("secret", "token", "password", "key", "credential")
"""Parts of the names of storage options that hold credentials (s3fs ``key``/``secret``,
gcsfs ``token``, ...)."""


def _warn_clear_secrets(executor, storage_options: Mapping | None) -> None:
    """Storage options travel inside each task spec to the workers; warn when they hold
    credentials and the scheduler talks without TLS (anyone who reaches it can read them).
    Credentials the workers find themselves (environment, ~/.aws, instance roles) never
    travel: prefer those."""
    address = getattr(getattr(executor, "scheduler", None), "address", None) or ""
    if not storage_options or not address or address.startswith("tls://"):
        return
    named = sorted(k for k in storage_options if any(w in k.lower() for w in SECRET_WORDS))
    if named:
        log.warning("--storage-option %s travels in the task specs to %s without TLS: anyone "
                    "who reaches that scheduler can read it; use a TLS scheduler, or "
                    "credentials the workers read themselves (environment, ~/.aws)",
                    ", ".join(named), address)
