"""The solver's kernels compiled in the background of the process that starts a sweep.

Workers on the same machine share its numba cache: compiled once here (a daemon thread, its LLVM
work outside the GIL), the kernels are only loaded by each worker, instead of every worker
compiling the same kernels at once on the same cores. Light (no distributed, no xarray): the
CLI decides with :func:`workers_share_this_cache` before it builds a cluster.
"""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
import urllib.parse

log = logging.getLogger(__name__)


class BackgroundCompile:
    """Compiles (or loads) the solver's kernels in this process, in a daemon thread, into the
    on-disk numba cache that workers on this machine then load. A thread, so that the compile
    (one core, ~20 s on a fresh install) overlaps the start of the cluster (worker processes
    importing on the other cores); a daemon, so that Ctrl-C does not wait for it."""

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
            solver.warmup(gaps=self.gaps)
        except BaseException as err:  # noqa: BLE001 - raised again by wait() in the caller
            self.error = err
        self.seconds = time.perf_counter() - t0

    def wait(self) -> None:
        while self._thread.is_alive():  # short joins: a signal handler can still run
            self._thread.join(0.2)
        if self.error is not None:
            raise self.error
        log.info("solver kernels ready in the numba cache in %.1f s", self.seconds)


def workers_share_this_cache(spec, scheduler: str | None) -> bool:
    """Whether the workers run on this machine (a local cluster, a scheduler on loopback), and
    so load the kernels this process compiles into its numba cache."""
    return bool((scheduler is None and spec.kind == "local")
                or (scheduler and on_loopback(scheduler)))


def on_loopback(address: str) -> bool:
    """Whether a scheduler ``address`` (``tcp://host:port``, ``host:port``) is this machine's
    loopback."""
    host = urllib.parse.urlsplit(address if "://" in address else f"tcp://{address}").hostname
    if host in (None, "localhost"):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
