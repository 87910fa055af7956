"""A sweep from config to finished store: lock, lay out or resume, run the missing chunks.

Ties the what (:mod:`sweep.config`, :mod:`sweep.grid`), the where (:mod:`sweep.store`) and the
how (:mod:`sweep.runner`) together; knows none of their internals.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import store as store_mod
from .config import SweepConfig
from .lock import StoreLock
from .runner import ChunkOutcome, ChunkTask, Failure, RunReport, compute_chunk, run_chunks, \
    tasks_for

log = logging.getLogger(__name__)


@dataclass
class SweepResult:
    store: str
    counts: dict[str, int]  # total, done, failed, pending (points)
    report: RunReport
    wall_s: float
    resumed: bool

    @property
    def complete(self) -> bool:
        return self.counts["failed"] == 0 and self.counts["pending"] == 0


def check_can_start(config: SweepConfig, *, store: str, resume: bool, overwrite: bool,
                    storage_options: Mapping | None = None) -> None:
    """Refuse a store conflict early: before any cluster starts, without writing anything."""
    if resume and overwrite:
        raise store_mod.StoreError("--resume and --overwrite exclude each other")
    present = store_mod.exists(store, storage_options=storage_options)
    if present and resume:
        store_mod.check_resumable(store, config_json=config.identity(),
                                  storage_options=storage_options)
    elif present and not overwrite:
        raise store_mod.StoreError(f"{store}: store exists; pass --resume to finish it or "
                                   f"--overwrite to start again")


def run_sweep(config: SweepConfig, *, store: str, executor, resume: bool = False,
              overwrite: bool = False,
              compute: Callable[[ChunkTask], ChunkOutcome] = compute_chunk,
              storage_options: Mapping | None = None, locked: bool = False) -> SweepResult:
    """Fill ``store`` with ``config``'s sweep, running chunks on ``executor``.

    ``executor``: a distributed.Client or a concurrent.futures.Executor. ``resume``: the store
    must hold this very config; only chunks with pending or failed points run. ``overwrite``:
    start a fresh store. ``compute``: the task function (tests pass their own). ``locked``:
    the caller already holds :class:`~sweep.lock.StoreLock` for ``store``.
    """
    t0 = time.perf_counter()
    so = dict(storage_options or {}) or None
    check_can_start(config, store=store, resume=resume, overwrite=overwrite,
                    storage_options=so)
    identity = config.identity()
    with contextlib.nullcontext() if locked else StoreLock(store):
        # Checked again under the lock: another run may have changed the store meanwhile.
        check_can_start(config, store=store, resume=resume, overwrite=overwrite,
                        storage_options=so)
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
                             config_toml=config.to_toml(), config_json=identity,
                             storage_options=so, gap_T_over_tc=config.gap_T_over_tc,
                             nbands=int(config.model["nbands"]))
            total = plan.n_points
            records = {}
            chunks = plan.chunks()
        dirty = False

        def on_failed(f: Failure) -> None:
            nonlocal dirty
            store_mod.write_failed(store=store, region=f.task.region_slices(),
                                   storage_options=so)
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
            if records.pop(o.index, None) is not None:
                dirty = True

        tasks = tasks_for(store=store, plan=plan, axes=config.axes, model=config.model,
                          chunks=chunks, storage_options=so,
                          gap_T_over_tc=config.gap_T_over_tc)
        report = run_chunks(tasks, executor=executor, retries=config.retries,
                            total_points=total, compute=compute, window=config.batch_size,
                            on_failed=on_failed, on_done=on_done)
        if dirty:
            store_mod.write_failures(store, list(records.values()), storage_options=so)
        counts = store_mod.status_counts(store, storage_options=so)
    wall = time.perf_counter() - t0
    log.info("%s: %d points done, %d failed, %d pending (%.1f s)", store, counts["done"],
             counts["failed"], counts["pending"], wall)
    return SweepResult(store=store, counts=counts, report=report, wall_s=wall,
                       resumed=bool(present and resume))
