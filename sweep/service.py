"""A sweep from config to finished store: check, lock, lay out or resume, run the missing chunks.

Ties the what (:mod:`sweep.config`, :mod:`sweep.grid`, :mod:`sweep.tasks`), the where
(:mod:`sweep.store`) and the how (:mod:`sweep.runner`) together; knows none of their internals.
Everything a run needs besides an executor happens here, so a Python caller of
:func:`run_sweep` gets the same checks as ``fanodome run``: the store can be started (exists,
resume, overwrite), is reachable from the cluster's workers, is locked for the run, and the
window of chunks in flight fits a cluster whose workers join late.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from . import store as store_mod
from .accounting import Accounts
from .affinity import StructureDealer
from .clusters import check_local_capacity, check_store_reachable
from .config import ClusterConfig, SweepConfig
from .lock import StoreLock
from .runner import STALL_S, WINDOW_PER_WORKER, Failure, RunReport, run_chunks
from .tasks import ChunkOutcome, ChunkTask, compute_chunk, task_for_region

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    store: str
    counts: dict[str, int]  # total, done, failed, pending (points)
    report: RunReport
    wall_s: float
    resumed: bool
    accounts: Accounts = dataclasses.field(default_factory=Accounts)

    def accounting(self) -> dict:
        """Per-worker accounting and efficiency over the task phase (see
        :meth:`sweep.accounting.Accounts.summary`)."""
        return self.accounts.summary(wall_s=self.report.seconds, threads=self.report.threads)

    @property
    def complete(self) -> bool:
        return self.counts["failed"] == 0 and self.counts["pending"] == 0


@dataclass(frozen=True)
class Reservation:
    """A store ready to be filled: the config to run (window sized) and the store (absolute
    when the workers run elsewhere)."""

    config: SweepConfig
    store: str


def check_can_start(config: SweepConfig, *, store: str, resume: bool, overwrite: bool,
                    storage_options: Mapping | None = None) -> None:
    """Refuse a store conflict early: before any cluster starts, without writing anything."""
    if resume and overwrite:
        raise store_mod.StoreError("--resume and --overwrite exclude each other")
    if store_mod.is_read_only_url(store):
        raise store_mod.StoreError(
            f"{store}: http(s):// stores are read-only; run into a local path or an s3:// URL "
            f"and publish that folder over HTTP")
    present = store_mod.exists(store, storage_options=storage_options)
    if present and resume:
        store_mod.check_resumable(store, config_json=config.identity(),
                                  storage_options=storage_options)
    elif resume:
        raise store_mod.StoreError(f"--resume: {store} does not exist; nothing to resume "
                                   f"(run without --resume to start it)")
    elif present and not overwrite:
        raise store_mod.StoreError(f"{store}: store exists; pass --resume to finish it or "
                                   f"--overwrite to start again")
    elif present:
        store_mod.check_replaceable(store)


def for_cluster(config: SweepConfig, *, store: str, cluster: ClusterConfig | None = None,
                scheduler: str | None = None) -> Reservation:
    """``config`` and ``store`` as a run on ``cluster`` (or an existing ``scheduler``) needs
    them; :class:`~sweep.clusters.ClusterError` if its workers could not write the store.

    A cluster this process starts that is not local (slurm, pbs, kubernetes) gets a local store
    path made absolute and, unless the config sets ``batch_size``, a window sized for its
    expected workers: batch jobs join one by one, after the first chunks are submitted, so the
    workers present at the start would undersize it.
    """
    spec = cluster or ClusterConfig()
    if not store_mod.is_url(store) and os.path.islink(store.rstrip("/")):
        # The store is where the link points: replaced there (a link cannot be emptied) and
        # locked there, so runs through the link and through the target exclude each other.
        store = os.path.realpath(store)
    if scheduler is None and spec.kind != "local":
        if not store_mod.is_url(store):
            store = os.path.abspath(store)
        if config.batch_size is None:
            threads = spec.expected_threads(local_cores=os.cpu_count() or 1)
            config = dataclasses.replace(config, batch_size=WINDOW_PER_WORKER * threads)
    check_store_reachable(store, spec=spec, scheduler=scheduler)
    if scheduler is None:
        check_local_capacity(spec)
    return Reservation(config=config, store=store)


@contextlib.contextmanager
def reserve(config: SweepConfig, *, store: str, resume: bool = False, overwrite: bool = False,
            storage_options: Mapping | None = None, cluster: ClusterConfig | None = None,
            scheduler: str | None = None, locked: bool = False) -> Iterator[Reservation]:
    """Hold ``store`` for a run of ``config``: checked (:func:`for_cluster`,
    :func:`check_can_start`), then locked (:class:`~sweep.lock.StoreLock`, unless ``locked``:
    the caller holds it) and checked again under the lock, which is released on exit.

    Everything that can refuse a run happens before the block runs, so a caller that starts a
    cluster inside it starts none for a run that cannot go ahead.
    """
    so = dict(storage_options or {}) or None
    r = for_cluster(config, store=store, cluster=cluster, scheduler=scheduler)
    check_can_start(r.config, store=r.store, resume=resume, overwrite=overwrite,
                    storage_options=so)
    with contextlib.nullcontext() if locked else StoreLock(r.store):
        # Checked again under the lock: another run may have changed the store meanwhile.
        check_can_start(r.config, store=r.store, resume=resume, overwrite=overwrite,
                        storage_options=so)
        yield r


def run_sweep(config: SweepConfig, *, store: str, executor, resume: bool = False,
              overwrite: bool = False,
              compute: Callable[[ChunkTask], ChunkOutcome] = compute_chunk,
              storage_options: Mapping | None = None, locked: bool = False,
              cluster: ClusterConfig | None = None,
              scheduler: str | None = None, stall_s: float = STALL_S,
              progress: Callable | None = None) -> SweepResult:
    """Fill ``store`` with ``config``'s sweep, running chunks on ``executor``.

    ``executor``: a distributed.Client or a concurrent.futures.Executor. ``resume``: the store
    must hold this very config; only chunks with pending or failed points run. ``overwrite``:
    start a fresh store. ``compute``: the task function (tests pass their own). ``locked``:
    the caller already holds :class:`~sweep.lock.StoreLock` for ``store`` (as inside
    :func:`reserve`). ``cluster``, ``scheduler``: where ``executor``'s workers run, when that
    is not this machine (see :func:`for_cluster`); ``SweepResult.store`` is the store as used.
    ``stall_s``: seconds with chunks waiting and no running worker before
    :class:`~sweep.runner.Stalled` is raised (the store stays resumable).
    ``progress``: how progress is shown (see :func:`sweep.runner.run_chunks`).
    """
    t0 = time.perf_counter()
    so = dict(storage_options or {}) or None
    with reserve(config, store=store, resume=resume, overwrite=overwrite, storage_options=so,
                 cluster=cluster, scheduler=scheduler, locked=locked) as r:
        accounts = Accounts()
        try:
            report, counts, resumed = _fill(r.config, store=r.store, executor=executor,
                                            resume=resume, compute=compute,
                                            storage_options=so, accounts=accounts,
                                            stall_s=stall_s, progress=progress)
        except OSError as err:  # a full disk, a lost mount: the store stays resumable
            raise store_mod.StoreError(
                f"{r.store}: cannot write the store ({err.strerror or err}); what was written "
                f"is kept: free the space and rerun with --resume") from None
    wall = time.perf_counter() - t0
    log.info("%s: %d points done, %d failed, %d pending (%.1f s)", r.store, counts["done"],
             counts["failed"], counts["pending"], wall)
    accounts.log_summary(wall_s=report.seconds, threads=report.threads)
    return SweepResult(store=r.store, counts=counts, report=report, wall_s=wall,
                       resumed=resumed, accounts=accounts)


def _fill(config: SweepConfig, *, store: str, executor, resume: bool,
          compute: Callable[[ChunkTask], ChunkOutcome], storage_options: Mapping | None,
          accounts: Accounts,
          stall_s: float = STALL_S,
          progress: Callable | None = None) -> tuple[RunReport, dict[str, int], bool]:
    """Lay out or resume ``store`` (held and checked by the caller), run the missing chunks,
    record failures; returns the report, the status counts and whether it resumed."""
    so = storage_options
    present = store_mod.exists(store, storage_options=so)
    if present and resume:
        plan = store_mod.plan_of(store, storage_options=so)
        before = store_mod.status_counts(store, storage_options=so)
        total = before["pending"] + before["failed"]
        records = {tuple(r["chunk"]): r
                   for r in store_mod.read_failures(store, storage_options=so)}
        chunks = store_mod.chunks_to_do(store, plan, storage_options=so)
        log.info("resuming %s: %d of %d points to do", store, total, before["total"])
    else:
        plan = config.plan()
        store_mod.layout(store=store, axes=config.axes, plan=plan,
                         config_toml=config.stored_toml(), config_json=config.identity(),
                         storage_options=so, gap_T_over_tc=config.gap_T_over_tc,
                         nbands=int(config.model["nbands"]))
        total = plan.n_points
        records = {}
        chunks = plan.chunks()
    dirty = False

    def on_failed(f: Failure) -> None:
        nonlocal dirty
        store_mod.write_failed(store=store, region=f.task.region_slices(), storage_options=so)
        records[f.task.index] = {
            "chunk": list(f.task.index),
            "region": {a: [s.start, s.stop] for a, s in f.task.region_slices().items()},
            "attempts": f.attempts, "error": f.error, "traceback": f.traceback,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        store_mod.write_failures(store, list(records.values()), storage_options=so)
        dirty = False

    def on_done(o: ChunkOutcome) -> None:
        nonlocal dirty
        accounts.add(o)
        if records.pop(o.index, None) is not None:
            dirty = True

    def make_task(index, region) -> ChunkTask:
        return task_for_region(store=store, index=index, region=region, axes=config.axes,
                               model=config.model, storage_options=so,
                               gap_T_over_tc=config.gap_T_over_tc)

    tasks = StructureDealer(plan=plan, chunks=chunks, make_task=make_task, points=total,
                            sizing=config.sizing)
    _warn_clear_secrets(executor, so)
    report = run_chunks(tasks, executor=executor, retries=config.retries, total_points=total,
                        compute=compute, window=config.batch_size, on_failed=on_failed,
                        on_done=on_done, stall_s=stall_s, progress=progress)
    # A resumed record whose chunk ran inside a larger task was not matched by index above.
    for index, r in list(records.items()):
        region = {a: slice(*r["region"][a]) for a in r["region"]}
        if store_mod.region_complete(store, region=region, storage_options=so):
            del records[index]
            dirty = True
    if dirty:
        store_mod.write_failures(store, list(records.values()), storage_options=so)
    counts = store_mod.status_counts(store, storage_options=so)
    return report, counts, bool(present and resume)


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
