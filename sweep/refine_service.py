"""A refinement of a finished sweep store: lay out the refined numbers, run what is missing.

Ties :mod:`sweep.refine` (the searches), :mod:`sweep.refine_tasks` (one block of curves, one
dome top) and :mod:`sweep.store` together and runs the tasks with :func:`sweep.runner.run_chunks`
on any executor, in two passes: the curves (one task per block of g of one structure and
omega0), then the tops of the domes whose curves are all refined. Resumable and idempotent:
every task writes its own region, statuses last; a rerun with the same settings computes only
what is pending or failed (nothing on a refined store); other settings start the refined
numbers again.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import refine
from . import store as store_mod
from .config import DEFAULT_RETRIES, REFINE_CURVES_PER_TASK as CURVES_PER_TASK
from .refine_tasks import RefineTask, TopTask, compute_refine_block, compute_top
from .runner import Failure, RunReport, run_chunks

log = logging.getLogger(__name__)



@dataclass
class RefineResult:
    store: str
    curves: int
    """Curves refined by this call."""
    domes: int
    """Dome tops refined by this call."""
    evaluations: int
    failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.failures


def settings_record(settings: refine.RefineSettings, *, curves_per_task: int) -> dict:
    return dict(settings.to_dict(), curves_per_task=int(curves_per_task))


def _current(have: dict | None, settings: refine.RefineSettings) -> bool:
    """Whether a store's refine settings are these (curves per task aside)."""
    return have is not None and "curves_per_task" in have and \
        {k: v for k, v in have.items() if k != "curves_per_task"} == settings.to_dict()


def pending_work(store: str, *, settings: refine.RefineSettings,
                 storage_options: Mapping | None = None) -> int:
    """Curves plus dome tops that :func:`refine_store` would compute now (no cluster needed
    when 0)."""
    so = dict(storage_options or {}) or None
    attrs = store_mod.read_attrs(store, storage_options=so)
    if not _current(store_mod.refine_settings_of(attrs), settings):
        ds = store_mod.open_dataset(store, storage_options=so)
        return int(np.prod([ds.sizes[d] for d in store_mod.CURVE_DIMS])) + \
            int(np.prod([ds.sizes[d] for d in store_mod.DOME_DIMS]))
    plan = store_mod.refine_plan(store, storage_options=so)
    return sum(c[5] - c[4] for c in plan["curves"]) + len(plan["domes"])


def refine_store(store: str, *, settings: refine.RefineSettings, executor,
                 curves_per_task: int = CURVES_PER_TASK, retries: int = DEFAULT_RETRIES,
                 storage_options: Mapping | None = None,
                 window: int | None = None) -> RefineResult:
    """Refine every curve and dome of a finished sweep at ``store`` on ``executor`` (a
    distributed.Client or concurrent.futures executor). Raises :class:`store.StoreError` if the
    store is not a finished sweep."""
    t0 = time.perf_counter()
    so = dict(storage_options or {}) or None
    if not store.startswith(("http://", "https://")):  # read-only: nothing to repair
        store_mod.repair_consolidated(store, storage_options=so)
    counts = store_mod.status_counts(store, storage_options=so)
    if counts["pending"] or counts["failed"]:
        raise store_mod.StoreError(
            f"{store}: {counts['pending']} points pending and {counts['failed']} failed; finish "
            f"the sweep first (fanodome run CONFIG --store {store} --resume)")
    attrs = store_mod.read_attrs(store, storage_options=so)
    model = store_mod.model_options(attrs)
    wanted = settings_record(settings, curves_per_task=curves_per_task)
    have = store_mod.refine_settings_of(attrs)
    if not _current(have, settings):
        if have is not None:
            log.info("%s: refined with other settings; refining again", store)
        store_mod.layout_refine(store=store, settings=settings.to_dict(),
                                curves_per_task=curves_per_task,
                                curve_flags=refine.CURVE_FLAGS, window_flags=refine.WINDOW_FLAGS,
                                top_flags=refine.TOP_FLAGS, method=refine.METHOD,
                                storage_options=so)
        attrs = store_mod.read_attrs(store, storage_options=so)
        wanted = store_mod.refine_settings_of(attrs)
    settings_items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                  for k, v in wanted.items()))
    model_items = tuple(sorted(model.items()))
    so_items = tuple(sorted((so or {}).items()))
    ds = store_mod.open_dataset(store, storage_options=so)
    coords = {d: ds[d].values for d in ("L", "W", "V", "omega0")}
    records = {tuple(r["task"]): r for r in json.loads(attrs.get("refine_failures", "[]"))}
    dirty = False

    def task(cls, index):
        iL, iW, iV, io = index[:4]
        return cls(store=store, index=tuple(int(i) for i in index), L=float(coords["L"][iL]),
                   W=float(coords["W"][iW]), V=float(coords["V"][iV]),
                   omega0=float(coords["omega0"][io]), model=model_items,
                   settings=settings_items, storage_options=so_items)

    def on_failed(f: Failure) -> None:
        nonlocal dirty
        records[f.task.index] = {
            "task": list(f.task.index), "kind": type(f.task).__name__,
            "attempts": f.attempts, "error": f.error, "traceback": f.traceback,
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        if isinstance(f.task, TopTask):
            store_mod.write_top(store=store, region=f.task.region_slices(),
                                values={"top_status": refine.TOP_FAILED},
                                storage_options=so)
        else:
            store_mod.write_refine_failed(store=store, region=f.task.region_slices(),
                                          flag=refine.FAILED, storage_options=so)
        store_mod.write_refine_failures(store, list(records.values()), storage_options=so)
        dirty = False

    def on_done(o) -> None:
        nonlocal dirty
        if records.pop(o.index, None) is not None:
            dirty = True

    evaluations = 0
    failures: list[Failure] = []
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
        report: RunReport = run_chunks(tasks, executor=executor, compute=compute,
                                       retries=retries, total_points=total, window=window,
                                       on_failed=on_failed,
                                       on_done=lambda o: (outcomes.append(o), on_done(o)))
        evaluations += sum(o.evaluations for o in outcomes)
        done[kind] = report.points_done
        failures.extend(report.failures)
    if dirty:
        store_mod.write_refine_failures(store, list(records.values()), storage_options=so)
    wall = time.perf_counter() - t0
    log.info("%s: refined %d curves and %d domes with %d solver evaluations (%.1f s)", store,
             done["curves"], done["domes"], evaluations, wall)
    return RefineResult(store=store, curves=done["curves"], domes=done["domes"],
                        evaluations=evaluations, failures=failures, wall_s=wall)
