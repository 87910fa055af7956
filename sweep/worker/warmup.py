"""The solver's warm-up (:func:`solver.warmup`: its kernels compiled, or loaded from numba's
cache) for a cluster: once in this process, in the background, then on every worker.

Workers on the same machine share this process's numba cache: compiled once here (a daemon
thread, its LLVM work outside the GIL; on an empty cache with a second process for the band and
DOS kernels, :func:`solver.warmup`'s ``parallel``), the kernels are only loaded by each worker,
instead of every worker compiling the same kernels at once on the same cores.
:func:`solver_client` is the cluster client with the solver warm on every worker, present and
future.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import distributed

from ..addresses import on_this_machine
from ..config import ClusterConfig
from ..execution.clusters import cluster_client
from ..execution.runner import STALL_S

log = logging.getLogger(__name__)


class BackgroundCompile:
    """Runs :func:`solver.warmup` in this process, in a daemon thread, into the on-disk numba
    cache that workers on this machine then load. A thread, so that the compile (one core,
    ~20 s on a fresh install) overlaps the start of the cluster (worker processes importing on
    the other cores); a daemon, so that Ctrl-C does not wait for it."""

    def __init__(self, *, gaps: bool = True):
        self.gaps = gaps
        """Also the gap kernels (a sweep with ``[outputs] gaps = true``; ~10 s more)."""
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._compile, name="fanodome-compile",
                                        daemon=True)
        self._thread.start()

    def _compile(self) -> None:
        import solver

        t0 = time.perf_counter()
        try:
            solver.warmup(gaps=self.gaps, parallel=True)
        except BaseException as err:  # noqa: BLE001 - raised again by wait() in the caller
            self.error = err
        self.seconds = time.perf_counter() - t0

    def wait(self) -> None:
        while self._thread.is_alive():  # short joins: a signal handler can still run
            self._thread.join(0.2)
        if self.error is not None:
            raise self.error
        log.info("solver kernels ready in the numba cache in %.1f s", self.seconds)


class WarmupPlugin(distributed.WorkerPlugin):
    """Runs :func:`solver.warmup` once per worker, when it starts (or joins later), so that no
    task pays for it."""

    name = "fanodome-solver-warmup"

    def __init__(self, *, gaps: bool = True):
        self.gaps = gaps
        """Also the gap kernels (a sweep with ``[outputs] gaps = true``)."""

    def setup(self, worker):
        import solver

        t0 = time.perf_counter()
        solver.warmup(gaps=self.gaps)
        log.info("solver warm on %s in %.1f s", worker.address, time.perf_counter() - t0)


def workers_share_this_cache(spec: ClusterConfig, scheduler: str | None) -> bool:
    """Whether the workers run on this machine (a local cluster, a scheduler on loopback), and
    so load the kernels this process compiles into its numba cache."""
    return on_this_machine(cluster_kind=spec.kind, scheduler=scheduler)


@contextlib.contextmanager
def solver_client(*, scheduler: str | None = None, cluster: ClusterConfig | None = None,
                  store: str | None = None, gaps: bool = True,
                  compiling: BackgroundCompile | None = None,
                  first_worker_s: float = STALL_S) -> Iterator[distributed.Client]:
    """:func:`sweep.execution.clusters.cluster_client` with the solver warm on every worker,
    present and future (:class:`WarmupPlugin`). Workers on this machine load the kernels this
    process compiles first (:class:`BackgroundCompile`; ``compiling``: one the caller started
    earlier, to overlap its own imports too). ``gaps``: warm the gap kernels too (False for work
    that computes Tc only). ``first_worker_s``: the longest wait for a new cluster's first
    worker, its batch jobs' submission included."""
    spec = cluster or ClusterConfig()
    if compiling is None and workers_share_this_cache(spec, scheduler):
        compiling = BackgroundCompile(gaps=gaps)
    # Workers in this process (a local cluster of threads) use the kernels it has loaded.
    in_process = scheduler is None and spec.kind == "local" and spec.local_mode == "threads"
    with cluster_client(scheduler=scheduler, cluster=spec, store=store,
                        plugins=[] if in_process else [WarmupPlugin(gaps=gaps)],
                        ready=None if compiling is None else compiling.wait,
                        first_worker_s=first_worker_s) as client:
        yield client
