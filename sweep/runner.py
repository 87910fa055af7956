"""How chunks run: on any ``distributed.Client`` or ``concurrent.futures`` executor.

What to compute (a stream of :class:`ChunkTask`) comes from the caller; this module submits them
in a bounded window, retries the ones that raise, and reports each outcome. A task is one
structure (L, W, V) times a block of (omega0, g, eta): one :func:`solver.tc_grid` call, then a
region write into the store (done on the worker, so results never travel through the client).
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import distributed
import numpy as np

import solver

from . import store as store_mod
from .grid import AXES, ChunkPlan

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 2.0
"""Seconds between progress lines: often enough to watch, rare enough not to flood a log."""

WINDOW_PER_WORKER = 2
"""Chunks in flight per worker thread: one running, one queued so no worker waits on the
client's round trip; more only adds client memory and scheduler load."""


@dataclass(frozen=True)
class ChunkTask:
    """One chunk: a structure (L, W in Å, V in meV) and a block of omega0 (meV), g, eta.

    ``index``: block index per axis of :data:`sweep.grid.AXES`; ``region``: (start, stop) per
    axis; ``model``: the solver options; ``store``: where the result goes.
    ``gap_T_over_tc``: temperatures (fractions of Tc) of the gaps to store; empty: none.
    """

    store: str
    index: tuple[int, ...]
    region: tuple[tuple[int, int], ...]
    L: float
    W: float
    V: float
    omega0: tuple[float, ...]
    g: tuple[float, ...]
    eta: tuple[float, ...]
    model: tuple[tuple[str, object], ...]
    storage_options: tuple[tuple[str, object], ...] = ()
    gap_T_over_tc: tuple[float, ...] = ()

    @property
    def n_points(self) -> int:
        return len(self.omega0) * len(self.g) * len(self.eta)

    def region_slices(self) -> dict[str, slice]:
        return {a: slice(lo, hi) for a, (lo, hi) in zip(AXES, self.region)}


@dataclass(frozen=True)
class ChunkOutcome:
    """What a finished task sends back: counts only, never the values."""

    index: tuple[int, ...]
    n_points: int
    n_ok: int
    n_below_floor: int
    seconds: float


STRUCTURE_KEYS = frozenset(solver.defaults.STRUCTURE_KEYS)


def _structure(task: ChunkTask) -> solver.Structure:
    """The task's prepared structure: from this worker's cache when running on a worker."""
    params = {k: v for k, v in task.model if k in STRUCTURE_KEYS}
    params.update(L=task.L, W=task.W, V=task.V)
    try:
        plugin = distributed.get_worker().plugins.get(SolverWarmup.name)
    except ValueError:  # not on a distributed worker (in-process or a plain executor)
        plugin = None
    if plugin is None:
        return solver.prepare_structure(**params)
    return plugin.structure(params)


def compute_chunk(task: ChunkTask) -> ChunkOutcome:
    """Run the solver on one chunk and write it into the store (runs on a worker)."""
    t0 = time.perf_counter()
    model = {k: v for k, v in task.model if k not in STRUCTURE_KEYS}
    st = _structure(task)
    r = solver.tc_on_structure(st, eta=np.asarray(task.eta), g=np.asarray(task.g),
                               omega0=np.asarray(task.omega0), **model)
    gaps = _chunk_gaps(st, task, status=r.status, model=model) if task.gap_T_over_tc else {}
    store_mod.write_chunk(store=task.store, region=task.region_slices(), tc=r.tc_K,
                          status=r.status, E_L=float(r.E_L), dE=float(r.dE),
                          storage_options=dict(task.storage_options) or None, **gaps)
    n_ok = int(np.count_nonzero(r.status == solver.STATUS_OK))
    n_below = int(np.count_nonzero(r.status == solver.STATUS_BELOW_FLOOR))
    return ChunkOutcome(task.index, task.n_points, n_ok, n_below, time.perf_counter() - t0)


def _chunk_gaps(st: solver.Structure, task: ChunkTask, *, status: np.ndarray,
                model: Mapping[str, object]) -> dict[str, np.ndarray]:
    """``delta`` (meV; omega0, g, eta, subband, T_over_tc) and ``mu_shift`` (meV; omega0, g,
    eta, T_over_tc) of a chunk: one gap solve per point whose Tc is ok, NaN elsewhere."""
    from solver.gaps import gaps_on_structure

    nb, nt = st.bottoms.size, len(task.gap_T_over_tc)
    delta = np.full(status.shape + (nb, nt), np.nan)
    mu_shift = np.full(status.shape + (nt,), np.nan)
    for i, j, k in zip(*np.nonzero(status == solver.STATUS_OK)):
        gr = gaps_on_structure(st, eta=task.eta[k], g=task.g[j], omega0=task.omega0[i],
                               T_over_tc=list(task.gap_T_over_tc), **model)
        delta[i, j, k] = gr.delta_fermi.T
        mu_shift[i, j, k] = gr.mu_shift_meV
    return {"delta": delta, "mu_shift": mu_shift}


@dataclass
class Failure:
    """A chunk that raised on every one of its ``attempts`` tries."""

    task: ChunkTask
    attempts: int
    error: str
    traceback: str


@dataclass
class RunReport:
    chunks_done: int = 0
    points_done: int = 0
    failures: list[Failure] = field(default_factory=list)
    retried: int = 0
    seconds: float = 0.0
    task_seconds: float = 0.0  # summed over finished tasks: solver plus region writes

    @property
    def points_failed(self) -> int:
        return sum(f.task.n_points for f in self.failures)


class InProcessExecutor(cf.Executor):
    """Runs each submitted call at once in the calling thread (tests, debugging)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - handed to the caller through the future
            fut.set_exception(err)
        return fut


STRUCTURES_PER_WORKER = 8
"""Prepared structures a worker keeps (~1 MB each): chunks of one structure usually arrive
together, so a few suffice to avoid recomputing bands, overlaps and DOS tables per chunk."""


class SolverWarmup(distributed.WorkerPlugin):
    """Compiles (or loads from the numba cache) the solver kernels once per worker, and keeps the
    worker's most recent prepared structures for the chunks that follow."""

    name = "fanodome-solver-warmup"

    def __init__(self):
        self._structures: dict[tuple, solver.Structure] = {}

    def structure(self, params: Mapping[str, object]) -> solver.Structure:
        key = tuple(sorted(params.items()))
        st = self._structures.pop(key, None)
        if st is None:
            st = solver.prepare_structure(**params)
        self._structures[key] = st  # most recent last
        while len(self._structures) > STRUCTURES_PER_WORKER:
            self._structures.pop(next(iter(self._structures)))
        return st

    def setup(self, worker):
        t0 = time.perf_counter()
        solver.warmup()
        log.info("solver warm on %s in %.1f s", worker.address, time.perf_counter() - t0)


def _is_client(executor) -> bool:
    return isinstance(executor, distributed.Client)


class _ClientPool:
    """Submissions to a distributed.Client, collected with as_completed."""

    def __init__(self, client):
        self.client = client
        self.run_id = uuid.uuid4().hex[:8]
        self.completed = distributed.as_completed()
        self.count = 0

    def submit(self, fn, task: ChunkTask, attempt: int):
        key = f"fanodome-chunk-{self.run_id}-{'.'.join(map(str, task.index))}-{attempt}"
        fut = self.client.submit(fn, task, key=key, pure=False)
        self.completed.add(fut)
        self.count += 1
        return fut

    def next_done(self):
        fut = next(self.completed)
        self.count -= 1
        return fut

    def default_window(self) -> int:
        threads = sum(self.client.nthreads().values())
        return max(1, threads) * WINDOW_PER_WORKER


class _ExecutorPool:
    """Submissions to a concurrent.futures executor."""

    def __init__(self, executor: cf.Executor):
        self.executor = executor
        self.pending: set[cf.Future] = set()
        self.done: list[cf.Future] = []

    @property
    def count(self) -> int:
        return len(self.pending) + len(self.done)

    def submit(self, fn, task: ChunkTask, attempt: int):
        fut = self.executor.submit(fn, task)
        self.pending.add(fut)
        return fut

    def next_done(self):
        if not self.done:
            done, self.pending = cf.wait(self.pending, return_when=cf.FIRST_COMPLETED)
            self.done.extend(done)
        return self.done.pop()

    def default_window(self) -> int:
        return max(1, getattr(self.executor, "_max_workers", 1)) * WINDOW_PER_WORKER


class Progress:
    """Logs points done, rate and ETA at most every ``interval_s`` seconds."""

    def __init__(self, *, total_points: int, interval_s: float = PROGRESS_INTERVAL_S):
        self.total = total_points
        self.interval_s = interval_s
        self.done = 0
        self.t0 = time.monotonic()
        self.last = self.t0

    def add(self, n: int, *, final: bool = False) -> None:
        self.done += n
        now = time.monotonic()
        if not final and now - self.last < self.interval_s:
            return
        self.last = now
        elapsed = max(now - self.t0, 1e-9)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = "0 s" if left <= 0 else (f"{left / rate:.0f} s" if rate > 0 else "?")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        log.info("%d/%d points (%.1f %%), %.0f points/s, ETA %s", self.done, self.total, pct,
                 rate, eta)


def _error_text(fut, err: BaseException) -> tuple[str, str]:
    tb = fut.traceback() if hasattr(fut, "traceback") and callable(fut.traceback) else None
    tb = tb if tb is not None else err.__traceback__
    text = "".join(traceback.format_exception(type(err), err, tb))
    return f"{type(err).__name__}: {err}", text


def run_chunks(tasks: Iterable[ChunkTask], *, executor, retries: int, total_points: int,
               compute: Callable[[ChunkTask], ChunkOutcome] = compute_chunk,
               window: int | None = None,
               on_failed: Callable[[Failure], None] | None = None,
               on_done: Callable[[ChunkOutcome], None] | None = None) -> RunReport:
    """Run every task on ``executor`` (a distributed.Client or concurrent.futures.Executor).

    At most ``window`` tasks are in flight (default: two per worker thread), so memory and
    scheduler load do not grow with the number of tasks. A task that raises is resubmitted up
    to ``retries`` more times; then ``on_failed`` gets its :class:`Failure` (the caller records
    it) and it is listed in the report. ``total_points`` is only for the progress log.
    """
    pool = _ClientPool(executor) if _is_client(executor) else _ExecutorPool(executor)
    window = window or pool.default_window()
    report = RunReport()
    progress = Progress(total_points=total_points)
    attempts: dict[tuple[int, ...], int] = {}
    inflight: dict[object, ChunkTask] = {}
    t0 = time.perf_counter()
    source = iter(tasks)
    retry_queue: list[ChunkTask] = []

    def refill() -> None:
        while len(inflight) < window:
            if retry_queue:
                task = retry_queue.pop()
            else:
                task = next(source, None)
                if task is None:
                    return
            attempts[task.index] = attempts.get(task.index, 0) + 1
            fut = pool.submit(compute, task, attempts[task.index])
            inflight[fut] = task

    refill()
    while inflight:
        fut = pool.next_done()
        task = inflight.pop(fut)
        err = fut.exception()
        if err is None:
            outcome = fut.result()
            attempts.pop(task.index, None)
            report.chunks_done += 1
            report.points_done += outcome.n_points
            report.task_seconds += outcome.seconds
            progress.add(outcome.n_points)
            if on_done is not None:
                on_done(outcome)
        else:
            error, text = _error_text(fut, err)
            n = attempts[task.index]
            if n <= retries:
                log.warning("chunk %s raised (try %d of %d), retrying: %s", task.index, n,
                            retries + 1, error)
                report.retried += 1
                retry_queue.append(task)
            else:
                log.error("chunk %s failed after %d tries: %s", task.index, n, error)
                attempts.pop(task.index, None)
                failure = Failure(task=task, attempts=n, error=error, traceback=text)
                report.failures.append(failure)
                progress.add(task.n_points)
                if on_failed is not None:
                    on_failed(failure)
        if hasattr(fut, "release"):
            fut.release()
        refill()
    progress.add(0, final=True)
    report.seconds = time.perf_counter() - t0
    return report


def tasks_for(*, store: str, plan: ChunkPlan, axes: Mapping[str, tuple[float, ...]],
              model: Mapping[str, object], chunks: Iterable[tuple[int, ...]],
              storage_options: Mapping | None = None,
              gap_T_over_tc: tuple[float, ...] = ()) -> Iterable[ChunkTask]:
    """ChunkTasks for the given block indices, lazily (only the chunk's axis values are held)."""
    model_items = tuple(sorted(model.items()))
    so = tuple(sorted((storage_options or {}).items()))
    for index in chunks:
        reg = plan.region(index)
        values = {a: tuple(axes[a][reg[a]]) for a in AXES}
        yield ChunkTask(store=store, index=tuple(index),
                        region=tuple((reg[a].start, reg[a].stop) for a in AXES),
                        L=values["L"][0], W=values["W"][0], V=values["V"][0],
                        omega0=values["omega0"], g=values["g"], eta=values["eta"],
                        model=model_items, storage_options=so,
                        gap_T_over_tc=tuple(gap_T_over_tc))
