"""How tasks run: on any ``distributed.Client`` or ``concurrent.futures`` executor.

What to compute comes from the caller: a stream of tasks and the function that runs one (for a
sweep, :class:`sweep.run.tasks.ChunkTask` and :func:`sweep.run.tasks.compute_chunk`; for a
refinement, its curve and top tasks). This module submits them in a bounded window, retries the
ones that raise, and reports each outcome; it knows nothing of the solver or the store. A task
needs only ``index`` (a hashable identity) and ``n_points``; an outcome only ``n_points`` and
``seconds``.

Tasks come from an iterable, or from a source that places them (:class:`TaskSource`, e.g.
:class:`sweep.execution.dealer.StructureDealer`): on a ``distributed.Client`` every worker
thread has :data:`WINDOW_PER_WORKER` slots, and a freed slot is filled with
``source.take(worker)``, submitted to that worker with ``allow_other_workers=True`` (a loose
restriction: the scheduler still moves it if the worker dies, and its work stealing may move it
to an idle worker).
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 2.0
"""Seconds between progress lines: often enough to watch, rare enough not to flood a log."""

STALL_S = 300.0
"""Seconds a run may have tasks waiting and no running worker (none at all, or every one
paused at its memory limit) before it gives up as stalled: long enough for a batch job to
replace a lost one or a worker to spill and resume, short enough that nobody waits for hours."""

NO_PROGRESS_S = 3600.0
"""Seconds a run may have running workers but not one task finished before it gives up as
stalled: a task takes seconds, so an hour means a hung solver or a scheduler that lost them."""

LOST_S = 10.0
"""Seconds without a finished task after which tasks that no worker holds, while a running
worker has nothing to do, are taken for lost and submitted again. The scheduler places a task
within milliseconds, so this happens only when the task's worker died together with every other
one: distributed then keeps the task restricted to the dead worker (state ``no-worker``) even
after new workers join, because it places such tasks on a newcomer only when the newcomer is one
of the restricted workers, whatever ``allow_other_workers`` says."""

LOST_TRIES = 5
"""Times a task may be lost with its workers before it is recorded as failed: each loss means
every worker died under it; a task lost this often kills its workers itself (out of memory)."""

POLL_S = 0.5
"""Seconds between looks at the cluster (a scheduler round trip) while no task has finished."""

READY_POLL_S = 0.01
"""Seconds between looks for a finished task meanwhile (a local check): a finished task is
taken up within this, not within :data:`POLL_S` (half a second a task on short runs)."""

WINDOW_PER_WORKER = 2
"""Tasks in flight per worker thread: one running, one queued so no worker waits on the
client's round trip; more only adds client memory and scheduler load."""

WORKERS_REFRESH_S = 1.0
"""Seconds between looks at the cluster's workers (one scheduler round trip): workers that join
get slots within this time, and a 1000-worker cluster costs no scan per task."""

RECONNECT_S = 30.0
"""Seconds a run waits for a client that lost its connection to the scheduler to get it back
before it gives up (:class:`SchedulerLost`). distributed's client cancels every future when its
connection drops, tries to connect again for its own ``timeout`` (10 s for a ``--scheduler``
client, ``SCHEDULER_TIMEOUT_S``; distributed's connect timeout, 30 s, for the client of a
cluster fanodome starts) and then closes itself, which ends the wait; this bounds it where a
client's timeout is longer or a connection attempt hangs."""

NOTICE_S = 2.0
"""Seconds a call to the client that raised waits for the client to notice that its connection
dropped (its report stream reads the end of a dead scheduler's connection within milliseconds)
before the error is taken for what it says."""


class TaskSource(Protocol):
    """Where tasks come from when they are placed: ``take`` the next task for ``worker`` (None:
    anywhere) on a cluster of ``workers`` threads, None when none is ready; ``finished`` hears
    every outcome. A source may also have ``waiting()``: whether it will release more tasks
    once tasks in flight finish (tasks that depend on others); without it, or when it says
    False, the first None ends the stream."""

    def take(self, worker: object = None, *, workers: int = 1): ...

    def finished(self, outcome) -> None: ...


class _Iterated:
    """An iterable of tasks as a :class:`TaskSource` (no placement)."""

    def __init__(self, tasks: Iterable):
        self.tasks = iter(tasks)

    def take(self, worker: object = None, *, workers: int = 1):
        return next(self.tasks, None)

    def finished(self, outcome) -> None:
        pass


class Stalled(RuntimeError):
    """The run cannot make progress (no running worker, or nothing finishing); what is written
    stays in the store, a later ``--resume`` finishes it."""


class SchedulerLost(Stalled):
    """The client lost its connection to the scheduler at ``address`` and did not get it back
    (:data:`RECONNECT_S`): the run cannot go on. What finished tasks wrote stays in the store;
    the same command again on a running scheduler (with ``--resume`` for a run or an explore)
    finishes it. A :class:`Stalled`, so that whoever handles a run that cannot go on handles
    this one too."""

    def __init__(self, address: str, *, waited_s: float):
        back = f" (not back after {waited_s:.0f} s)" if waited_s >= 1 else ""
        super().__init__(f"lost the connection to the scheduler at {address}{back}")
        self.address = address


class _Lost(Exception):
    """Futures that no worker holds while a running worker idles (see :data:`LOST_S`)."""

    def __init__(self, futures: list):
        super().__init__(f"{len(futures)} tasks lost")
        self.futures = futures


@dataclass(frozen=True)
class _Look:
    """One look at a cluster: its workers, how many of them run (not paused), how many of those
    run nothing, and the keys some worker holds."""

    workers: int
    running: int
    idle: int
    placed: frozenset


@dataclass
class Failure:
    """A task that raised on every one of its ``attempts`` tries."""

    task: object
    """The task as submitted (a :class:`sweep.run.tasks.ChunkTask` for a sweep)."""
    attempts: int
    error: str
    traceback: str


@dataclass
class RunReport:
    """What a :func:`run_tasks` call did: tasks and points finished, failures, retries, its
    duration (s), the task time summed over finished tasks (s) and the most worker threads
    seen."""

    tasks_done: int = 0
    points_done: int = 0
    failures: list[Failure] = field(default_factory=list)
    retried: int = 0
    seconds: float = 0.0
    task_seconds: float = 0.0  # summed over finished tasks (their outcomes' ``seconds``)
    threads: int = 0  # most worker threads seen during the run

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


def _is_client(executor) -> bool:
    """Whether ``executor`` is a ``distributed.Client`` (distributed is imported only by those
    who make one: this module stays light for the command line)."""
    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(executor, distributed.Client)


class _ClientPool:
    """Submissions to a distributed.Client, collected with as_completed. Every call to the
    client goes through :meth:`_call` and every wait looks at the connection, so a scheduler
    that goes away is :class:`SchedulerLost`, whatever distributed raises meanwhile."""

    def __init__(self, client):
        import distributed

        self.client = client
        self.address = _scheduler_address(client)
        self.run_id = uuid.uuid4().hex[:8]
        # Results are gathered in the client's event loop, many at once: one blocking
        # ``fut.result()`` per task would cap a run at one scheduler round trip per task.
        self.completed = distributed.as_completed(with_results=True, raise_errors=False)
        self.caps: dict[str, int] = {}
        self.load: Counter = Counter()
        self.threads = 0
        self.refreshed = -float("inf")
        self.submitted = 0
        self.dropped_at: float | None = None  # when a dropped connection was first seen

    def connected(self) -> None:
        """Return once the client is connected to its scheduler: at once, or once a dropped
        connection is back; else raise :class:`SchedulerLost`. distributed's client, when its
        connection drops, cancels every future (reason ``scheduler-connection-lost``), sets its
        ``status`` to ``connecting`` while it tries again, then to ``running`` (back) or
        ``closed`` (given up, after its own ``timeout``); this waits for that outcome at most
        :data:`RECONNECT_S`."""
        if self.client.status == "running":
            return
        if self.dropped_at is None:
            self.dropped_at = time.monotonic()
        while (self.client.status == "connecting"
               and time.monotonic() - self.dropped_at < RECONNECT_S):
            time.sleep(READY_POLL_S)
        if self.client.status != "running":
            raise SchedulerLost(self.address, waited_s=time.monotonic() - self.dropped_at)
        log.warning("the connection to the scheduler at %s dropped and came back after %.1f s; "
                    "the tasks it cancelled are submitted again", self.address,
                    time.monotonic() - self.dropped_at)
        self.dropped_at = None

    def _noticed_drop(self) -> bool:
        """Whether the client's connection has dropped, waiting :data:`NOTICE_S` at most for
        the client to notice it."""
        deadline = time.monotonic() + NOTICE_S
        while self.client.status == "running":
            if time.monotonic() >= deadline:
                return False
            time.sleep(READY_POLL_S)
        return True

    def _call(self, method: Callable, *args, **kwargs):
        """``method(*args, **kwargs)``, a method of the client, on a live connection: one that
        drops before or during the call and does not come back is :class:`SchedulerLost`,
        whatever the call raised (``OSError: Timed out trying to connect``, ``RuntimeError:
        ConnectionPool is closed``, or an ``AttributeError`` of a client that has closed and
        forgotten its scheduler); a call cut by a connection that came back is made again."""
        self.connected()
        try:
            return method(*args, **kwargs)
        except Exception as err:
            if not self._noticed_drop():
                raise
            log.info("%s raised %s (%s) as the connection to the scheduler at %s dropped",
                     getattr(method, "__name__", "a client call"), type(err).__name__, err,
                     self.address)
        self.connected()
        return method(*args, **kwargs)

    def submit(self, fn, task, attempt: int, worker: str | None = None):
        self.submitted += 1  # a lost task submitted again needs a key of its own
        key = (f"fanodome-task-{self.run_id}-{'.'.join(map(str, task.index))}-{attempt}"
               f"-{self.submitted}")
        place = {} if worker is None else {"workers": [worker], "allow_other_workers": True}
        fut = self._call(self.client.submit, fn, task, key=key, pure=False, **place)
        self.completed.add(fut)
        self.load[worker] += 1
        return fut

    def forget(self, futures: list) -> None:
        """Cancel ``futures`` (lost: they come out of :meth:`next_done` cancelled, and are
        skipped there)."""
        self._call(self.client.cancel, futures)

    def dropped(self, fut) -> bool:
        """Whether ``fut``, one this run did not cancel, was cancelled by a connection to the
        scheduler that dropped (and came back: :meth:`next_done` says so first)."""
        return fut.status == "cancelled"

    def release_slot(self, worker: str | None) -> None:
        self.load[worker] -= 1

    def slots(self, prefer: object, *, every: bool = False):
        """Workers with a free slot, one entry per slot: ``prefer`` first (the worker that just
        finished a task), every worker after each :data:`WORKERS_REFRESH_S` or when ``every``
        (slots left empty while the source had no task ready)."""
        now = time.monotonic()
        full_scan = now - self.refreshed >= WORKERS_REFRESH_S
        if full_scan:
            self.refreshed = now
            nthreads = self._call(self.client.nthreads)
            self.threads = max(self.threads, sum(nthreads.values()))
            self.caps = {w: WINDOW_PER_WORKER * n for w, n in nthreads.items()}
        caps = self.caps or {None: WINDOW_PER_WORKER}  # no worker yet: let the scheduler queue
        if prefer in caps:
            while self.load[prefer] < caps[prefer]:
                yield prefer
        if full_scan or every or prefer not in caps:
            for w, cap in caps.items():
                while self.load[w] < cap:
                    yield w

    def next_done(self, watchdog: _Watchdog | None = None, waiting: Iterable = ()):
        """The next finished future, its result and its exception (one of them None); while
        none is ready, ``watchdog`` looks at the cluster and raises :class:`Stalled`, or
        :class:`_Lost` with those of the ``waiting`` futures that no worker holds. A future
        cancelled by a dropped connection comes out once the connection is back
        (:meth:`connected`: else :class:`SchedulerLost`)."""
        looked = -math.inf
        while watchdog is not None and not self.completed.has_ready():
            self.connected()
            if time.monotonic() - looked >= POLL_S:
                lost = watchdog.check(self.look, pending=self.completed.count(),
                                      waiting=waiting)
                if lost:
                    raise _Lost(lost)
                looked = time.monotonic()
            time.sleep(READY_POLL_S)
        fut, result = next(self.completed)
        if fut.status == "error":
            _, err, tb = result
            return fut, None, err.with_traceback(tb)
        if isinstance(result, BaseException):  # cancelled: by this run, or a dropped connection
            self.connected()
            return fut, None, result
        return fut, result, None

    def look(self, *, placed: bool = False) -> _Look:
        """The cluster's workers, those running (paused workers, at their memory limit, run
        nothing) and, with ``placed``, the keys they hold and how many running ones hold none
        (one more scheduler round trip)."""
        workers = self._call(self.client.scheduler_info, n_workers=-1).get("workers", {})
        running = {w for w, info in workers.items() if info.get("status") == "running"}
        if not placed or not running:
            return _Look(len(workers), len(running), 0, frozenset())
        processing = self._call(self.client.processing)
        idle = sum(1 for w in running if not processing.get(w))
        return _Look(len(workers), len(running), idle,
                     frozenset(k for keys in processing.values() for k in keys))

    def default_window(self) -> int:
        threads = sum(self._call(self.client.nthreads).values())
        return max(1, threads) * WINDOW_PER_WORKER


def _scheduler_address(client) -> str:
    """The address of ``client``'s scheduler; a client that closed itself after losing it has
    forgotten its connection but keeps the address it was made with."""
    address = getattr(getattr(client, "scheduler", None), "address", None)
    if address is None:
        address = getattr(client, "_start_arg", None)
    return address if isinstance(address, str) else "its address (unknown: the client closed)"


class _ExecutorPool:
    """Submissions to a concurrent.futures executor."""

    def __init__(self, executor: cf.Executor):
        self.executor = executor
        self.pending: set[cf.Future] = set()
        self.done: list[cf.Future] = []
        self.threads = max(1, getattr(executor, "_max_workers", 1))

    def submit(self, fn, task, attempt: int, worker: str | None = None):
        fut = self.executor.submit(fn, task)
        self.pending.add(fut)
        return fut

    def release_slot(self, worker: str | None) -> None:
        pass

    def dropped(self, fut) -> bool:
        return False  # nothing but this run cancels its futures

    def slots(self, prefer: object, *, every: bool = False):
        while True:  # no placement: the window alone bounds what is in flight
            yield None

    def next_done(self, watchdog=None, waiting=()):
        if not self.done:
            done, self.pending = cf.wait(self.pending, return_when=cf.FIRST_COMPLETED)
            self.done.extend(done)
        fut = self.done.pop()
        err = fut.exception()
        return fut, (None if err is not None else fut.result()), err

    def default_window(self) -> int:
        return max(1, getattr(self.executor, "_max_workers", 1)) * WINDOW_PER_WORKER


class _Watchdog:
    """Says when a run on a cluster has stalled: tasks waiting and no running worker for
    ``stall_s``, or no task finished for ``no_progress_s``; and which waiting tasks are lost:
    held by no worker while a running worker idles, with no task finished (or resubmitted) for
    ``lost_s``."""

    def __init__(self, *, stall_s: float, no_progress_s: float, lost_s: float = LOST_S):
        self.stall_s = stall_s
        self.no_progress_s = no_progress_s
        self.lost_s = lost_s
        self.last_progress = time.monotonic()
        self.last_change = self.last_progress
        self.idle_since: float | None = None
        self.unplaced: set = set()

    def progress(self) -> None:
        self.last_progress = self.last_change = time.monotonic()

    def resubmitted(self) -> None:
        self.last_change = time.monotonic()

    def check(self, look: Callable[..., _Look], *, pending: int, waiting: Iterable = ()
              ) -> list:
        """Raise :class:`Stalled`, or return the lost futures of ``waiting`` (futures with a
        ``key``) -- none while anything moves."""
        now = time.monotonic()
        if now - self.last_progress > self.no_progress_s:
            raise Stalled(f"stalled: no task finished for {self.no_progress_s:g} s while "
                          f"{pending} wait")
        suspect = now - self.last_change >= self.lost_s
        seen = look(placed=suspect)
        if seen.running:
            self.idle_since = None
            # Unplaced in two looks in a row: not a task finishing between the scheduler's
            # answer and the client's hearing of it.
            unplaced = ({f.key for f in waiting if f.status == "pending"} - seen.placed
                        if suspect and seen.idle else set())
            lost, self.unplaced = unplaced & self.unplaced, unplaced
            return [f for f in waiting if f.key in lost]
        self.unplaced = set()
        if self.idle_since is None:
            self.idle_since = now
            return []
        if now - self.idle_since > self.stall_s:
            n = seen.workers
            why = "no worker" if n == 0 else f"all {n} workers paused (memory limit)"
            raise Stalled(f"stalled: {why} for {self.stall_s:g} s while {pending} tasks wait")
        return []


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


def run_tasks(tasks: Iterable | TaskSource, *, executor, compute: Callable, retries: int,
               total_points: int, window: int | None = None,
               on_failed: Callable[[Failure], None] | None = None,
               on_done: Callable[[object], None] | None = None,
               on_retry: Callable[[object], None] | None = None,
               stall_s: float = STALL_S, no_progress_s: float = NO_PROGRESS_S,
               lost_s: float = LOST_S,
               progress: Callable[..., Progress] | None = None) -> RunReport:
    """Run ``compute(task)`` for every task on ``executor`` (a distributed.Client or
    concurrent.futures.Executor). ``tasks``: an iterable, or a :class:`TaskSource` that places
    them on workers and hears their outcomes.

    At most ``window`` tasks are in flight (default: two per worker thread), so memory and
    scheduler load do not grow with the number of tasks. A task that raises is resubmitted up
    to ``retries`` more times; then ``on_failed`` gets its :class:`Failure` (the caller records
    it) and it is listed in the report; ``on_retry`` hears each task resubmitted.
    ``total_points`` is only for the progress report:
    ``progress(total_points=...)`` makes it (default :class:`Progress`, log lines; the CLI
    passes a live bar on a terminal), and gets ``add(points)`` per finished task and
    ``add(0, final=True)`` at the end.

    On a distributed.Client, :class:`Stalled` is raised when tasks wait and no worker runs
    (none, or all paused) for ``stall_s`` seconds, or no task finishes for ``no_progress_s``
    (see :data:`STALL_S`, :data:`NO_PROGRESS_S`); what finished tasks wrote is kept. Tasks
    lost with their workers (held by no worker while one idles, nothing finished for ``lost_s``
    seconds: :data:`LOST_S`) are submitted again, anywhere; one lost :data:`LOST_TRIES` times
    fails. A connection to the scheduler that drops is waited for (:data:`RECONNECT_S`): back,
    the tasks it cancelled are submitted again; not back, :class:`SchedulerLost` (a
    :class:`Stalled`) is raised, whatever distributed raised meanwhile.
    """
    pool = _ClientPool(executor) if _is_client(executor) else _ExecutorPool(executor)
    window = window or pool.default_window()
    source = tasks if hasattr(tasks, "take") else _Iterated(tasks)
    report = RunReport()
    progress = (progress or Progress)(total_points=total_points)
    attempts: dict[tuple[int, ...], int] = {}
    inflight: dict[object, tuple[object, object]] = {}  # future: (task, worker)
    t0 = time.perf_counter()
    retry_queue: list = []
    drained = False
    starved = False  # slots were left empty while the source waited for outcomes

    def refill(prefer: object = None) -> None:
        nonlocal drained, starved
        for worker in pool.slots(prefer, every=starved):
            if len(inflight) >= window:
                return
            if retry_queue:
                task = retry_queue.pop()
            else:
                task = None if drained else source.take(worker, workers=pool.threads)
                if task is None:
                    starved = not drained and getattr(source, "waiting", lambda: False)()
                    drained = not starved
                    return
            starved = False
            attempts[task.index] = attempts.get(task.index, 0) + 1
            fut = pool.submit(compute, task, attempts[task.index], worker)
            inflight[fut] = (task, worker)

    def give_up(task, n: int, error: str, text: str) -> None:
        attempts.pop(task.index, None)
        failure = Failure(task=task, attempts=n, error=error, traceback=text)
        report.failures.append(failure)
        progress.add(task.n_points)
        if on_failed is not None:
            on_failed(failure)

    def resubmit(lost: list, *, dropped: bool = False) -> None:
        """Submit lost tasks again, anywhere (their worker is gone); one lost
        :data:`LOST_TRIES` times is recorded as failed. ``dropped``: futures cancelled by a
        connection to the scheduler that dropped and came back, through no fault of theirs
        (not counted)."""
        if not dropped:
            pool.forget(lost)
            log.warning("%d tasks lost with their workers (no worker holds them while one "
                        "idles); submitting them again", len(lost))
        for fut in lost:
            task, worker = inflight.pop(fut)
            pool.release_slot(worker)
            n = losses[task.index] = losses.get(task.index, 0) + (not dropped)
            if n >= LOST_TRIES:
                give_up(task, attempts[task.index], f"lost with its workers {n} times",
                        f"every worker holding task {task.index} died, {n} times: a task that "
                        f"kills its worker (out of memory?)")
                continue
            inflight[pool.submit(compute, task, attempts[task.index])] = (task, None)
        watchdog.resubmitted()

    watchdog = (_Watchdog(stall_s=stall_s, no_progress_s=no_progress_s, lost_s=lost_s)
                if isinstance(pool, _ClientPool) else None)
    losses: dict[tuple[int, ...], int] = {}
    refill()
    while inflight:
        try:
            fut, outcome, err = pool.next_done(watchdog, waiting=inflight)
        except SchedulerLost:
            raise  # nothing of this run is left on a scheduler to cancel
        except Stalled:
            pool.forget(list(inflight))  # nothing of this run lingers on the scheduler
            raise
        except _Lost as lost:
            resubmit(lost.futures)
            refill()
            continue
        if fut not in inflight:  # lost, cancelled and submitted again
            continue
        if pool.dropped(fut):  # cancelled by a dropped connection that came back
            resubmit([fut], dropped=True)
            refill()
            continue
        if watchdog is not None:
            watchdog.progress()
        task, worker = inflight.pop(fut)
        pool.release_slot(worker)
        losses.pop(task.index, None)
        if err is None:
            attempts.pop(task.index, None)
            source.finished(outcome)
            report.tasks_done += 1
            report.points_done += outcome.n_points
            report.task_seconds += outcome.seconds
            progress.add(outcome.n_points)
            if on_done is not None:
                on_done(outcome)
        else:
            error, text = _error_text(fut, err)
            n = attempts[task.index]
            if n <= retries:
                log.warning("task %s raised (try %d of %d), retrying: %s", task.index, n,
                            retries + 1, error)
                report.retried += 1
                retry_queue.append(task)
                if on_retry is not None:
                    on_retry(task)
            else:
                log.error("task %s failed after %d tries: %s", task.index, n, error)
                give_up(task, n, error, text)
        if hasattr(fut, "release"):
            fut.release()
        refill(worker)
    progress.add(0, final=True)
    report.seconds = time.perf_counter() - t0
    report.threads = pool.threads
    return report
