"""An explore from config to store: check, lock, lay out or resume, let the learner place the
samples as tasks on the runner, polish the best sample, record it.

Ties :mod:`sweep.explore.learners` (what to compute next), :mod:`sweep.explore.objective`
(one sample), :mod:`sweep.explore.polish` and :mod:`sweep.store.explored` together, and runs
the samples with :func:`sweep.execution.runner.run_tasks` on any executor: the learner is the
runner's task source, asked for one point whenever a slot frees (two per worker thread), so
every worker stays busy and every point is chosen with all the samples finished so far. Each
finished sample is told to the learner and written into its row of the store at once.
No point is computed twice: the learner is never given a point placed already, and the polish
reads every stored sample (the learner's and its own) for free. Resumable: the learner is told
what the store holds; a resumed polish retraces its path over the stored samples; a finished
explore computes nothing and starts no cluster.
"""
from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from solver.parameters import PARAMETERS

from .. import store as store_mod
from ..front import expect, store_path
from ..config import ClusterConfig, RefineSettings, SweepConfig
from ..execution.clusters import place
from ..execution.failures import FailureLog
from ..execution.runner import STALL_S, WINDOW_PER_WORKER, Failure, Progress, run_tasks
from ..flags import (BRANCHES, SAMPLE_BELOW_FLOOR, SAMPLE_DONE, SAMPLE_FAILED, SAMPLE_FLAGS,
                     SAMPLE_MAX_AT_BOUND, SAMPLE_POLISH, has)
from ..grid import AXES
from ..store import explored
from ..store.common import ATTR_EXPLORE_JSON, is_explore
from ..worker.warmup import solver_client
from . import learners, polish as polish_mod
from .objective import SampleOutcome, SampleTask, compute_sample

log = logging.getLogger(__name__)


@dataclass
class ExploreResult:
    """What :func:`explore` did and what the store holds now.

    ``samples``: the learner's samples in the store (never more than the budget);
    ``polish``: the polish's points in the store; ``computed``: samples and polish points this
    call computed; ``evaluations``: their solver evaluations; ``failed``: rows of the store
    whose task failed; ``best``: the best sample (:func:`best_of`), None when none is done;
    ``polish_stopped``: why the polish stopped (``converged``, ``points``: it used its points,
    ``failed``: a point failed, ``below_floor``: the best is below the temperature floor, there
    is nothing to polish; None: no polish ran); ``nothing_to_do``: the store was complete,
    nothing ran and no cluster started.
    """

    store: str
    axes: tuple[str, ...]
    budget: int
    samples: int = 0
    polish: int = 0
    computed: int = 0
    evaluations: int = 0
    failed: int = 0
    best: dict | None = None
    polish_stopped: str | None = None
    wall_s: float = 0.0
    resumed: bool = False
    nothing_to_do: bool = False
    failures: list[Failure] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """No sample failed in this call, and none stays failed in the store."""
        return not self.failures and self.failed == 0

    @property
    def polish_converged(self) -> bool | None:
        """Whether the polish met its tolerances (None: no polish ran, or nothing to polish)."""
        return polish_converged(self.polish_stopped)


def polish_converged(stopped: str | None) -> bool | None:
    """Whether a polish that stopped for ``stopped`` (``polish_stopped``) met its tolerances;
    None where none ran or there was nothing to polish."""
    return None if stopped in (None, "below_floor") else stopped == "converged"


def check_can_start(config: SweepConfig, *, store: str, resume: bool, overwrite: bool,
                    storage_options: Mapping | None = None) -> None:
    """Refuse an explore store conflict early: before any cluster starts, without writing
    anything (:func:`sweep.store.explored.check_can_start`)."""
    explored.check_can_start(store, identity=config.explore_identity(), resume=resume,
                             overwrite=overwrite, storage_options=storage_options)


def _holds_this_explore(config: SweepConfig, *, store: str) -> bool:
    """Whether ``store`` exists and holds ``config``'s explore: a call without ``resume`` or
    ``overwrite`` then goes on with it, as ``resume`` would. A store of another explore is
    refused (:class:`~sweep.store.StoreError`), untouched, naming what differs; False when
    there is no store yet or it is not an explore store (which :func:`check_can_start`
    refuses)."""
    if not store_mod.exists(store):
        return False
    attrs = store_mod.read_attrs(store)
    if not is_explore(attrs):
        return False
    have, want = attrs[ATTR_EXPLORE_JSON], config.explore_identity()
    if have != want:
        raise store_mod.another_config(store, have=have, want=want, kind="explore")
    return True


def _box_edge(axis: str, x: float, box: tuple[float, float]) -> str | None:
    """Which edge of the explored ``axis``'s ``box`` ``x`` lies on (to the polish's tolerance):
    ``"open"``, one beyond which the parameter goes on (Tc may be higher there); ``"limit"``,
    one at the parameter's own limit (V = 0, say: there is no beyond); None inside."""
    lo, hi = box
    p = PARAMETERS[axis]
    for end, limit in ((lo, p.minimum), (hi, p.maximum)):
        if abs(x - end) <= polish_mod.XTOL:
            return "limit" if limit is not None and end == limit else "open"
    return None


def best_of(ds, *, config: SweepConfig) -> dict | None:
    """The best done sample of an explore store's rows ``ds``: every axis's value (the explored
    ones the sample's, the others the config's; ``eta`` where the maximum sits), ``tc_K``,
    ``mu_minus_E_L_meV`` (meV), ``at_edge`` (the explored axes on whose bound it lies, where
    the parameter goes on beyond it), ``at_limit`` (those where the bound is the parameter's own
    limit, V = 0: :func:`_box_edge`), the
    row (``sample``), whether the polish found it, its branch (None when eta is explored:
    there is no maximum over eta) and flags; ``tc_is_lower_bound`` when its maximum over eta
    lies on its bound, ``tc_upper_bound_K`` (the temperature floor, K) when Tc is below the
    floor (``tc_K`` is then 0, and so is every done sample's). None: no done row."""
    status = np.asarray(ds[explored.VAR_SAMPLE_STATUS].values).astype(np.int64)
    tc = np.where(has(status, SAMPLE_DONE), np.asarray(ds["tc_max"].values, float), -np.inf)
    if not np.isfinite(tc).any():
        return None
    i = int(np.argmax(tc))
    axes = config.explore.axes
    best: dict = {}
    for a in AXES:
        if a == "eta":
            continue
        best[a] = float(ds[a].values[i]) if a in axes else float(config.axes[a][0])
    eta, dE = float(ds["eta_max"].values[i]), float(ds["dE"].values[i])
    flags = int(status[i])
    if has(flags, SAMPLE_BELOW_FLOOR):  # Tc is 0 in the store: below the floor, a bound
        best["tc_upper_bound_K"] = float(config.model["t_floor"])
    best.update(eta=eta, tc_K=float(tc[i]), mu_minus_E_L_meV=eta * dE,
                E_L_meV=float(ds["E_L"].values[i]), dE_meV=dE,
                at_edge=[a for a, box in axes.items()
                         if _box_edge(a, float(ds[a].values[i]), box) == "open"],
                at_limit=[a for a, box in axes.items()
                          if _box_edge(a, float(ds[a].values[i]), box) == "limit"],
                sample=i, polish=bool(has(flags, SAMPLE_POLISH)),
                branch=None if "eta" in axes else BRANCHES[int(ds["branch"].values[i])],
                flags=[n for n, f in SAMPLE_FLAGS.items() if has(flags, f)])
    if has(flags, SAMPLE_MAX_AT_BOUND):
        best["tc_is_lower_bound"] = True
    return best


def explore(config: SweepConfig, *, store: str, executor=None, resume: bool = False,
            overwrite: bool = False, cluster: ClusterConfig | None = None,
            scheduler: str | None = None, locked: bool = False, stall_s: float = STALL_S,
            progress: Callable | None = None, on_client: Callable | None = None,
            compute: Callable[[SampleTask], SampleOutcome] = compute_sample,
            window: int | None = None) -> ExploreResult:
    """Explore ``config``'s ``[explore]`` box into the explore store ``store`` (a local path:
    the process that drives the learner writes it; a symbolic link is followed, as a sweep's
    :func:`~sweep.execution.clusters.store_path`).

    ``executor``: a distributed.Client or a concurrent.futures.Executor; None: a cluster of
    ``cluster`` (default: local) or the existing ``scheduler``, with the solver warm on its
    workers, started only when something is left to compute. ``resume``: the store must hold
    this very explore (:meth:`~sweep.config.SweepConfig.explore_identity`); the learner is
    told what it holds. Without ``resume`` or ``overwrite``, an existing store of this very
    explore is resumed so (the same explore twice computes once), and a store of another
    explore is refused, naming what differs. ``overwrite``: start again. ``locked``: the
    caller holds the store's lock. ``stall_s``, ``progress``: as
    :func:`sweep.execution.runner.run_tasks`'.
    ``compute``: the sample task's function (tests pass closed-form objectives). ``window``:
    samples in flight (default: two per worker thread). ``on_client``: called with the client
    of a cluster this call starts.
    """
    expect(config, SweepConfig, name="config",
           takes="a SweepConfig (sweep.load_config(path) or sweep.parse_config(dict))")
    store = store_path(store)
    if config.explore is None:
        raise store_mod.StoreError("explore: the config has no [explore] table")
    t0 = time.perf_counter()
    spec = cluster or ClusterConfig()
    where = place(store, cluster=spec, scheduler=scheduler, window=window, workers_write=False)
    store, window = where.store, where.window
    resume = resume or (not overwrite and _holds_this_explore(config, store=store))

    def check() -> None:
        check_can_start(config, store=store, resume=resume, overwrite=overwrite)

    with store_mod.held(store, check=check, locked=locked), contextlib.ExitStack() as stack:
        resumed = resume and store_mod.exists(store)
        if not resumed:
            _lay_out(config, store=store)
        clients: list = [executor]

        def client():
            if clients[0] is None:
                clients[0] = stack.enter_context(solver_client(
                    scheduler=scheduler, cluster=spec, store=None, gaps=False,
                    first_worker_s=stall_s))
                if on_client is not None:
                    on_client(clients[0])
            return clients[0]

        run = _Explore(config, store=store, client=client, compute=compute, stall_s=stall_s,
                       progress=progress, window=window)
        run.retry()
        run.learn()
        run.polish()
        result = run.result(resumed=resumed)
    result.wall_s = time.perf_counter() - t0
    result.nothing_to_do = resumed and result.computed == 0 and clients[0] is None
    log.info("%s: %d samples and %d polish points (%d computed now, %d solver evaluations) "
             "in %.1f s; best %s", store, result.samples, result.polish, result.computed,
             result.evaluations, result.wall_s, result.best)
    return result


def _lay_out(config: SweepConfig, *, store: str) -> None:
    e = config.explore
    axes = tuple(e.axes)
    settings = {"learner": learners.LEARNERS[len(axes)], "loss": learners.LOSS,
                "batch": f"{WINDOW_PER_WORKER} samples in flight per worker thread",
                "budget": e.budget, "loss_goal": e.loss_goal,
                "polish": {"method": "Nelder-Mead within the box (scipy.optimize.minimize)",
                           "points": e.polish_points, "xtol": polish_mod.XTOL,
                           "rtol": polish_mod.RTOL},
                "objective": ("Tc at the point" if "eta" in axes else
                              "the maximum of Tc over eta >= the [grid] eta axis's first "
                              "value, followed upward past its last (sweep.refine)")}
    try:
        explored.layout_explore(store=store, axes=axes, rows=e.budget + e.polish_points,
                                config_toml=config.stored_toml(),
                                identity=config.explore_identity(), settings=settings)
    except OSError as err:  # a full disk: what --resume will find is a layout cut short
        raise store_mod.cut_short(store, err.strerror or str(err)) from None


class _Forward:
    """A progress that hands its counts to another (the polish's tasks, one at a time)."""

    def __init__(self, target):
        self.target = target

    def add(self, n: int, *, final: bool = False) -> None:
        if n:
            self.target.add(n)


class _Explore:
    """One call's work on an explore store (held by the caller): the learner phase, then the
    polish; counts what it computed."""

    def __init__(self, config: SweepConfig, *, store: str, client: Callable, compute, stall_s,
                 progress, window):
        self.config = config
        self.settings = config.explore
        self.axes = tuple(self.settings.axes)
        self.bounds = [self.settings.axes[a] for a in self.axes]
        self.store = store
        self.client = client
        self.compute = compute
        self.stall_s = stall_s
        self.progress = progress or Progress
        self.window = window
        self.computed = 0
        self.evaluations = 0
        self.errors: list[Failure] = []
        self.polish_stopped: str | None = None
        self.writer = explored.SampleWriter(store, axes=self.axes)
        self.failed_rows = self.writer.failed_rows()  # point -> (row, polish): tried again
        attrs = explored.explore_attrs(store_mod.read_attrs(store))
        records = attrs["failures"]
        self.finished = dict(attrs["finished"])
        self.failures = FailureLog(records, key="task", write=lambda r: store_mod
                                   .write_failures(store, r, log="explore"))
        # task identities never met in this store's failure records
        self.tasks = max([self.writer.next_row] + [int(r["task"][0]) for r in records])
        refine = config.refine or RefineSettings()
        self.refine_items = tuple(sorted((k, tuple(v) if isinstance(v, list) else v)
                                         for k, v in refine.to_dict().items()))
        self.model_items = tuple(sorted(config.model.items()))

    # ------------------------------------------------------------------ tasks and rows

    def task(self, point: tuple[float, ...], *, polish: bool = False) -> SampleTask:
        v = {a: float(self.config.axes[a][0]) for a in AXES if a != "eta"}
        v.update(zip(self.axes, point))
        eta = v.pop("eta", None) if "eta" in self.axes else None
        self.tasks += 1
        return SampleTask(index=(self.tasks,), point=tuple(point), L=v["L"], W=v["W"],
                          V=v["V"], omega0=v["omega0"], g=v["g"], eta=eta,
                          eta_grid=tuple(self.config.axes["eta"]), model=self.model_items,
                          settings=self.refine_items, polish=polish)

    def _retried_row(self, point: tuple[float, ...]) -> int | None:
        """The row of a failed sample at ``point`` that is computed again (its failure record
        settled), else None (a new row)."""
        row, _ = self.failed_rows.pop(tuple(point), (None, False))
        if row is not None:
            self.failures.drop(lambda r: r.get("sample") == row)
        return row

    def write(self, outcome: SampleOutcome) -> None:
        value = outcome.value
        status = SAMPLE_DONE | value.flags | (SAMPLE_POLISH if outcome.polish else 0)
        self.writer.write(point=outcome.point, status=status, row=self._retried_row(
            outcome.point), values={
            "tc_max": value.tc, "eta_max": value.eta, "E_L": value.E_L, "dE": value.dE,
            "evaluations": value.evaluations, "branch": value.branch})
        self.computed += 1
        self.evaluations += value.evaluations
        self.failures.done(outcome.index)

    def failed(self, f: Failure) -> None:
        task = f.task
        row = self.writer.write(point=task.point, values={}, row=self._retried_row(task.point),
                                status=SAMPLE_FAILED | (SAMPLE_POLISH if task.polish else 0))
        self.failures.failed(f, point=list(task.point), sample=row)
        self.errors.append(f)

    def rows(self):
        return explored.read_samples(self.store)

    def run(self, tasks, *, total: int) -> None:
        run_tasks(tasks, executor=self.client(), compute=self.compute,
                  retries=self.config.retries, total_points=total, window=self.window,
                  on_failed=self.failed, on_done=self.write, stall_s=self.stall_s,
                  progress=self.progress)

    # -------------------------------------------------------------------- the learner

    def finish(self, phase: str, why: str) -> None:
        self.finished[phase] = why
        explored.write_explore_attrs(self.store, finished=self.finished)

    def retry(self) -> None:
        """Compute the learner's failed samples again (a resumed explore), each into its own
        row, before the learner is told what the store holds; the polish's are tried again
        where its path meets them."""
        points = [p for p, (_, polish) in self.failed_rows.items() if not polish]
        if points:
            log.info("explore %s: %d failed samples computed again", self.store, len(points))
            self.run([self.task(p) for p in points], total=len(points))
            self.failures.flush()

    def learn(self) -> None:
        """Tell the learner the store's learner samples, then let it place the rest of the
        budget (or until its loss reaches ``loss_goal``, or until it asks only for points
        placed already: ``no_new_point``); nothing when a call finished it."""
        if self.finished.get("learner"):
            return
        ds = self.rows()
        status = np.asarray(ds[explored.VAR_SAMPLE_STATUS].values).astype(np.int64)
        mine = (status != 0) & ~has(status, SAMPLE_POLISH)
        done = mine & has(status, SAMPLE_DONE)
        self.learner = learners.make_learner(self.bounds)
        n = len(self.axes)
        self.placed = polish_mod.KnownPoints(  # never computed again, nor a near twin
            tuple(float(ds[a].values[i]) for a in self.axes) for i in np.flatnonzero(mine))
        for i in np.flatnonzero(done):
            point = tuple(float(ds[a].values[i]) for a in self.axes)
            self.learner.tell(learners.learner_point(point, n),
                              (float(ds["tc_max"].values[i]), float(ds["branch"].values[i])))
        for i in np.flatnonzero(mine & has(status, SAMPLE_FAILED)):  # never asked again
            point = tuple(float(ds[a].values[i]) for a in self.axes)
            self.learner.tell_pending(learners.learner_point(point, n))
        left = self.settings.budget - int(np.count_nonzero(mine))
        if left > 0 and not self._goal_reached():
            log.info("explore %s: %d samples to place (budget %d)", self.store, left,
                     self.settings.budget)
            source = _LearnerSource(self, left=left)
            self.run(source, total=left)
            self.failures.flush()
            if source.no_new_point:
                log.warning("explore %s: the learner has no new point to place (%d of the "
                            "budget left)", self.store, source.left)
                self.finish("learner", "no_new_point")
                return
            left = source.left
        self.finish("learner", "budget" if left <= 0 else "loss_goal")

    def _goal_reached(self) -> bool:
        goal = self.settings.loss_goal
        return goal is not None and self.learner.npoints > 0 and self.learner.loss() <= goal

    # --------------------------------------------------------------------- the polish

    def polish(self) -> None:
        """Polish the best learner sample (:mod:`sweep.explore.polish`), its points computed
        as tasks one at a time and stored like any sample, every sample of the store reused
        (at most ``polish_points`` polish rows in all); no polish when the best is below the
        temperature floor (``below_floor``: Tc is below it at every sample)."""
        e = self.settings
        if self.finished.get("polish"):
            self.polish_stopped = self.finished["polish"]
            return
        if e.polish_points <= 0:
            return
        ds = self.rows()
        status = np.asarray(ds[explored.VAR_SAMPLE_STATUS].values).astype(np.int64)
        done = has(status, SAMPLE_DONE)
        tc = np.asarray(ds["tc_max"].values, float)
        learned = done & ~has(status, SAMPLE_POLISH)
        if not learned.any():
            return
        i = int(np.argmax(np.where(learned, tc, -np.inf)))
        if has(status[i], SAMPLE_BELOW_FLOOR):  # Tc is below the floor at every sample
            self.polish_stopped = "below_floor"
            self.finish("polish", self.polish_stopped)
            return
        x0 = tuple(float(ds[a].values[i]) for a in self.axes)
        polished = np.flatnonzero(has(status, SAMPLE_POLISH) & done)  # a failed one: again
        # every sample in the store, the learner's and a polish's, is reused for free
        known = {tuple(float(ds[a].values[j]) for a in self.axes): float(tc[j])
                 for j in np.flatnonzero(done)}
        steps = [(hi - lo) / max(e.budget, 1) ** (1.0 / len(self.axes)) for lo, hi in self.bounds]
        bar: list = []

        def evaluate(point: tuple[float, ...]) -> float | None:
            if not bar:
                bar.append(self.progress(total_points=e.polish_points - len(polished)))
            got: list[float] = []
            task = self.task(point, polish=True)

            def on_done(o: SampleOutcome) -> None:
                self.write(o)
                got.append(o.value.tc)

            run_tasks([task], executor=self.client(), compute=self.compute,
                      retries=self.config.retries, total_points=1, window=1,
                      on_failed=self.failed, on_done=on_done, stall_s=self.stall_s,
                      progress=lambda **kw: _Forward(bar[0]))
            return got[0] if got else None

        res = polish_mod.polish(evaluate, x0, tc0=float(tc[i]), bounds=self.bounds, steps=steps,
                                max_points=e.polish_points - len(polished), known=known)
        if bar:
            bar[0].add(0, final=True)
            getattr(bar[0], "close", lambda: None)()
        log.info("explore %s: polish %s after %d points computed, %d reused", self.store,
                 res.stopped, res.computed, res.reused)
        self.polish_stopped = res.stopped
        self.failures.flush()
        if res.stopped != "failed":  # a failed point is tried again by --resume
            self.finish("polish", res.stopped)

    # -------------------------------------------------------------------- the result

    def result(self, *, resumed: bool) -> ExploreResult:
        ds = self.rows()
        status = np.asarray(ds[explored.VAR_SAMPLE_STATUS].values).astype(np.int64)
        used = status != 0
        best = best_of(ds, config=self.config)
        if best is not None:
            best["polish_converged"] = polish_converged(self.polish_stopped)
            explored.write_explore_attrs(self.store, best=best)
        return ExploreResult(
            store=self.store, axes=self.axes, budget=self.settings.budget,
            samples=int(np.count_nonzero(used & ~has(status, SAMPLE_POLISH))),
            polish=int(np.count_nonzero(used & has(status, SAMPLE_POLISH))),
            computed=self.computed, evaluations=self.evaluations,
            failed=int(np.count_nonzero(has(status, SAMPLE_FAILED))), best=best,
            polish_stopped=self.polish_stopped, resumed=resumed, failures=self.errors)


class _LearnerSource:
    """The learner as the runner's task source: each free slot gets the point the learner
    asks for now (never one placed already: :func:`~sweep.explore.learners.ask_new`), until
    the budget is placed, the loss goal is met or the learner has no new point."""

    def __init__(self, run: _Explore, *, left: int):
        self.run = run
        self.left = left
        self.no_new_point = False  # the learner asked only for points placed already

    def take(self, worker: object = None, *, workers: int = 1):
        if self.left <= 0 or self.no_new_point or self.run._goal_reached():
            return None
        point = learners.ask_new(self.run.learner, placed=self.run.placed)
        if point is None:
            self.no_new_point = True
            return None
        self.run.placed.add(point)
        self.left -= 1
        return self.run.task(point)

    def finished(self, outcome: SampleOutcome) -> None:
        self.run.learner.tell(learners.learner_point(outcome.point, len(self.run.axes)),
                              learners.told(outcome.value))


__all__ = ["ExploreResult", "best_of", "check_can_start", "explore"]
