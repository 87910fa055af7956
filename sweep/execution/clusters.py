"""Where the work runs: a Dask cluster built from a validated ``[cluster]`` config, and a client
on it with the caller's worker plugins on every worker.

=========== =================================================================================
kind        engine
=========== =================================================================================
local       ``distributed.LocalCluster``: one single-threaded worker per core, threads of
            this process (``inproc://``) or processes (scheduler, workers and dashboard on
            127.0.0.1), as ``local_mode`` says (:func:`resolve_local_mode`)
slurm, pbs  ``dask_jobqueue.SLURMCluster`` / ``PBSCluster``: the scheduler runs in this
            process, each batch job starts ``processes`` single-threaded workers
kubernetes  ``dask_kubernetes.operator.KubeCluster`` from the spec of ``make_cluster_spec``
            (what :func:`kubernetes_spec` returns is exactly what is submitted)
=========== =================================================================================

dask-jobqueue (a dependency) and dask-kubernetes (extra ``kubernetes``) are imported only when
their kind is used. Workers of any kind get the caller's worker plugins (the solver's warm-up,
:mod:`sweep.worker.warmup`) registered on the client: the scheduler hands them to workers that
join later (batch jobs that leave the queue, adaptive scaling), so no job script or image needs
a hook. Knows Dask, not the solver or the store (a store here is only its address).
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import distributed
import distributed.utils
from distributed.core import Status
from dask.utils import parse_bytes

from ..addresses import is_url, local_path, on_loopback, url_scheme
from ..config import WORKER_FOOTPRINT, ClusterConfig, package_version
from .runner import STALL_S, WINDOW_PER_WORKER, Stalled

log = logging.getLogger(__name__)

LOCAL_HOST = "127.0.0.1"
"""Where a local cluster listens: nothing outside this machine can reach it."""

PRIVATE_DASHBOARD = "127.0.0.1:0"
"""Dashboard of a scheduler this process starts: loopback only, any free port (reach it from
elsewhere through an SSH tunnel)."""

WORKER_JOB_NAME = "fanodome"
"""Batch job name of the workers (``squeue -n fanodome``, ``qstat``)."""

KUBERNETES_SCHEDULER_RESOURCES = {"cpu": "1", "memory": "2Gi"}
"""The scheduler pod's share: it only routes a few thousand small tasks, whatever the workers
ask for."""


SCHEDULER_TIMEOUT_S = 10.0
"""Seconds to connect to an existing scheduler: it answers in milliseconds when it is up;
distributed's default (30 s) only delays the error."""


class ClusterError(ValueError):
    """A cluster that cannot be used as asked (missing engine, store not reachable)."""


MAX_WORKERS_PER_CORE = 4
"""Most local worker processes per core: the solver is CPU-bound and one-threaded, so beyond a
few per core they only share the same cores and add memory and start-up time."""


def check_local_capacity(spec: ClusterConfig) -> None:
    """Refuse a local cluster of more workers than this machine holds, with the numbers: each
    needs :data:`~sweep.config.WORKER_FOOTPRINT` (or its ``memory`` limit, if larger) of
    available memory, and there are at most :data:`MAX_WORKERS_PER_CORE` per core. Nothing is
    started."""
    if spec.kind != "local":
        return
    n = spec.adaptive_maximum if spec.adaptive else spec.workers
    if n is None:
        return
    import psutil

    cores = os.cpu_count() or 1
    if n > MAX_WORKERS_PER_CORE * cores:
        raise ClusterError(f"--workers {n}: this machine has {cores} cores; at most "
                           f"{MAX_WORKERS_PER_CORE * cores} local workers "
                           f"({MAX_WORKERS_PER_CORE} per core)")
    each = max(WORKER_FOOTPRINT, parse_bytes(spec.memory) if spec.memory else 0)
    available = psutil.virtual_memory().available
    if n * each > available:
        raise ClusterError(f"--workers {n}: {n} workers need ~{n * each / 2**30:.1f} GiB "
                           f"({each / 2**30:.2f} GiB each) and this machine has "
                           f"{available / 2**30:.1f} GiB available; at most "
                           f"{max(1, available // each)}")


def _engine(module: str, extra: str):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as err:
        raise ClusterError(f"cluster: {module} is not installed ({err}); "
                           f"pip install '{extra}'") from None


def default_image() -> str:
    """Image the Kubernetes workers run: the one deploy/Dockerfile builds for this version."""
    return f"fanodome:{package_version()}"


# ------------------------------------------------------------------------------ batch queues

def jobqueue_kwargs(spec: ClusterConfig) -> dict:
    """Keyword arguments of ``SLURMCluster``/``PBSCluster`` for ``spec`` (kind slurm or pbs).

    Each job asks for ``cores`` cores, ``memory`` and ``walltime`` and starts ``processes``
    worker processes of ``cores // processes`` threads (one thread each by default: the
    per-chunk Python work holds the GIL). The workers run this very Python unless ``python``
    names another one on the nodes.
    """
    if spec.kind not in ("slurm", "pbs"):
        raise ClusterError(f"cluster.kind: {spec.kind} is not a batch queue")
    scheduler_options: dict = {"dashboard_address": PRIVATE_DASHBOARD}
    if spec.host is not None:
        scheduler_options["host"] = spec.host
    kw: dict = {
        "cores": spec.cores,
        "processes": spec.worker_processes,
        "memory": spec.memory_per_job(),
        "walltime": spec.walltime,
        "queue": spec.queue,
        "account": spec.account,
        "interface": spec.interface,
        "python": spec.python or sys.executable,
        "local_directory": spec.local_directory,
        "log_directory": spec.log_directory,
        "job_script_prologue": list(spec.job_script_prologue),
        "job_extra_directives": list(spec.job_extra_directives),
        "job_name": WORKER_JOB_NAME,
        "scheduler_options": scheduler_options,
    }
    if spec.tls:
        # Temporary self-signed credentials; the workers read theirs from a directory that
        # every node sees (the job logs' directory, or the current one).
        kw["security"] = True
        kw["shared_temp_directory"] = spec.log_directory or os.getcwd()
    return kw


def _check_scheduler_place(spec: ClusterConfig) -> None:
    """Refuse (:class:`ClusterError`) an ``interface`` or ``host`` of ``spec`` that this machine,
    where the scheduler of a batch queue listens, does not have."""
    import psutil
    interfaces = psutil.net_if_addrs()
    if spec.interface is not None and spec.interface not in interfaces:
        raise ClusterError(f"--interface {spec.interface}: no such network interface on this "
                           f"machine, where the scheduler listens (it has "
                           f"{', '.join(sorted(interfaces))})")
    mine = {a.address for addrs in interfaces.values() for a in addrs} | _this_machine()
    if spec.host is not None and spec.host not in mine | {"0.0.0.0", "::", "localhost"}:
        raise ClusterError(f"cluster.host {spec.host}: not an address of this machine, where "
                           f"the scheduler listens")


def _jobqueue_cluster(spec: ClusterConfig):
    """A SLURM or PBS cluster of ``spec``: its scheduler runs here, on ``interface`` or
    ``host`` where one is named (refused, :class:`ClusterError`, when this machine has no such
    interface or address). A start that fails takes back the TLS credential files it wrote for
    the workers."""
    jq = _engine("dask_jobqueue", "dask-jobqueue")
    cls = jq.SLURMCluster if spec.kind == "slurm" else jq.PBSCluster
    _check_scheduler_place(spec)
    kw = jobqueue_kwargs(spec)
    folder = kw.get("shared_temp_directory")
    if folder is not None:  # the workers' TLS credentials are written there first
        os.makedirs(folder, exist_ok=True)
        before = set(os.listdir(folder))
    try:
        return cls(**kw)
    except BaseException:
        if folder is not None:
            for name in set(os.listdir(folder)) - before:
                if name.startswith(_CREDENTIAL_FILES):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(folder, name))
        raise


_CREDENTIAL_FILES = ".dask-jobqueue.worker."
"""How the files of the workers' TLS credentials that dask-jobqueue writes begin."""


def _remove_credentials(cluster) -> None:
    """Delete the files of the workers' TLS credentials (private key included) that a closed
    dask-jobqueue ``cluster`` wrote. dask-jobqueue keeps each as a ``NamedTemporaryFile`` on
    the cluster (``_job_ca_file``, ``_job_cert``, ``_job_key``: ``_get_worker_security``),
    deleted only when the cluster is collected, which the cluster's reference cycles put off
    to a garbage collection that may never come before the process ends."""
    for key in ("ca_file", "cert", "key"):
        f = getattr(cluster, f"_job_{key}", None)
        if f is not None:
            with contextlib.suppress(FileNotFoundError):
                f.close()


SCHEDULER_PLACEHOLDER = "SCHEDULER-HOST:PORT"
"""The scheduler's address (after ``tcp://`` or ``tls://``) in a printed job script
(:func:`job_script`): ``fanodome run`` knows it only once its scheduler listens, on a free
port."""

CREDENTIAL_PLACEHOLDER = "XXXXXXXX"
"""The random end of each TLS credential file's name in a printed job script, as in a
``mktemp`` template: ``fanodome run`` writes the files, with new names, when it starts."""


def job_script(spec: ClusterConfig) -> str:
    """The batch script one worker job of ``spec`` would run; nothing is submitted, no
    scheduler is started and no port is bound.

    dask-jobqueue 0.9 writes a script from a ``Job`` (``SLURMJob``, ``PBSJob``), which needs
    only the scheduler's address as text: ``JobQueueCluster.job_script()`` is
    ``self._dummy_job.job_script()``, that job built with the cluster's job keywords and the
    name ``dummy-name``. The same job is built here from the same keywords
    (:func:`jobqueue_kwargs`, the protocol ``tls://`` with TLS), without the cluster, so the
    script is the one ``fanodome run`` submits but for :data:`SCHEDULER_PLACEHOLDER` and, with
    TLS, the credential files' names (:data:`CREDENTIAL_PLACEHOLDER`; the folder is the real
    one). ``interface`` and ``host`` are checked as for a run (:class:`ClusterError`).
    """
    jq = _engine("dask_jobqueue", "dask-jobqueue")
    job_cls = (jq.SLURMCluster if spec.kind == "slurm" else jq.PBSCluster).job_cls
    kw = jobqueue_kwargs(spec)
    _check_scheduler_place(spec)
    kw.pop("scheduler_options")
    folder = kw.pop("shared_temp_directory", None)
    security = None
    if kw.pop("security", None):
        def name(key: str) -> str:
            return os.path.join(folder, f"{_CREDENTIAL_FILES}{key}.{CREDENTIAL_PLACEHOLDER}")
        security = distributed.Security(tls_ca_file=name("ca_file"),
                                        tls_worker_cert=name("cert"),
                                        tls_worker_key=name("key"))
    protocol = "tls://" if security is not None else None
    job = job_cls(f"{protocol or 'tcp://'}{SCHEDULER_PLACEHOLDER}", name="dummy-name",
                  protocol=protocol, security=security, **kw)
    return job.job_script()


# -------------------------------------------------------------------------------- kubernetes

def _quantity(size: str) -> str:
    """A byte size such as ``"4GiB"`` as a Kubernetes quantity in MiB."""
    return f"{parse_bytes(size) // 2**20}Mi"


def kubernetes_spec(spec: ClusterConfig) -> dict:
    """The ``DaskCluster`` resource (kubernetes.dask.org/v1) for ``spec``.

    Worker pods ask for (and are limited to) ``cores`` CPUs and ``memory`` and run one worker
    with ``cores`` threads; the scheduler pod gets :data:`KUBERNETES_SCHEDULER_RESOURCES`. The
    scheduler's service stays a ClusterIP (reachable inside the cluster; ``KubeCluster``
    port-forwards to it).
    """
    if spec.kind != "kubernetes":
        raise ClusterError(f"cluster.kind: {spec.kind} is not kubernetes")
    operator = _engine("dask_kubernetes.operator", "fanodome[kubernetes]")
    per_pod = {"cpu": str(spec.cores), "memory": _quantity(spec.memory_per_job())}
    n = spec.adaptive_minimum if spec.adaptive else (spec.workers or 1)
    worker_command = ["dask-worker", "--nthreads", str(spec.cores),
                      "--memory-limit", str(parse_bytes(spec.memory_per_job()))]
    doc = operator.make_cluster_spec(
        name=spec.name, image=spec.image or default_image(), n_workers=n,
        resources={"requests": dict(per_pod), "limits": dict(per_pod)},
        env={"PYTHONUNBUFFERED": "1"}, worker_command=worker_command,
        scheduler_service_type="ClusterIP")
    if spec.namespace:
        doc["metadata"]["namespace"] = spec.namespace
    sched = KUBERNETES_SCHEDULER_RESOURCES
    for c in doc["spec"]["scheduler"]["spec"]["containers"]:
        c["resources"] = {"requests": dict(sched), "limits": dict(sched)}
    return doc


# ------------------------------------------------------------------------------- the cluster

def warn_if_exposed(spec: ClusterConfig) -> bool:
    """Warn (and return True) when the scheduler this process starts for ``spec`` listens
    beyond loopback without TLS: then anyone who reaches its port can run code on the workers
    and read the task specs."""
    if spec.tls:
        return False
    if spec.kind == "local":
        beyond = spec.host is not None and not on_loopback(spec.host)
    else:  # batch queues and Kubernetes: the workers reach it over the network
        beyond = spec.kind == "kubernetes" or spec.host is None or not on_loopback(spec.host)
    if beyond and spec.kind != "kubernetes":
        log.warning("cluster: the scheduler listens on %s without TLS ([cluster] tls = false): "
                    "anyone who reaches it can run code on the workers and read the task "
                    "specs; leave tls on", spec.host or spec.interface or "the network")
        return True
    return False


@contextlib.contextmanager
def _children_ignore_terminal_signals() -> Iterator[None]:
    """Worker processes started inside ignore SIGINT and SIGHUP (the disposition survives their
    exec, and Python then installs no KeyboardInterrupt handler): a Ctrl-C at the terminal, or
    the terminal's hangup, reaches the whole process group, and it is the client's to stop the
    run, not each worker's (each would print a traceback or die under running tasks). Only from
    the main thread (signals are set there); such a signal while the workers start is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


PROCESS_CLUSTER_S = 2.5
"""Seconds a local cluster of worker processes costs beyond one of worker threads: each process
starts an interpreter, imports numpy, numba, xarray, zarr and distributed and loads the kernels,
the TLS credentials are made, and the processes stop at the end. Measured 2.3-2.9 s on the
2-core development machine, 2026-12 (``benchmarks/bench_sweep.py``, ``local_modes``: a 6-point
grid run with ``--local-mode processes`` against ``threads``)."""


def resolve_local_mode(spec: ClusterConfig, *, work_s: float, gil_share: float,
                       cores: int | None = None) -> ClusterConfig:
    """``spec`` with ``local_mode = "auto"`` decided for work of ``work_s`` seconds of solver
    time on one core, of which ``gil_share`` holds the GIL (the Python between the kernels,
    which release it); any other ``spec`` as it is.

    Threads in this process start in milliseconds but share one GIL: n of them lose about
    (n - 1) x ``gil_share`` x ``work_s`` / n seconds of wall time against n processes, which
    pay :data:`PROCESS_CLUSTER_S` once. ``auto`` becomes ``threads`` when that loss is at most
    :data:`PROCESS_CLUSTER_S` (always with one worker), else ``processes``.
    """
    if spec.kind != "local" or spec.local_mode != "auto":
        return spec
    n = spec.adaptive_maximum or spec.workers or cores or os.cpu_count() or 1
    loss = (n - 1) * gil_share * work_s / n
    mode = "threads" if loss <= PROCESS_CLUSTER_S else "processes"
    log.info("local cluster: %d worker %s (local_mode auto: ~%.0f s of solver work, %.1f s "
             "lost to the GIL in threads against %.1f s to start processes)", n,
             "threads in this process" if mode == "threads" else "processes", work_s, loss,
             PROCESS_CLUSTER_S)
    return dataclasses.replace(spec, local_mode=mode)


def _local_cluster(spec: ClusterConfig) -> distributed.LocalCluster:
    n = spec.adaptive_minimum if spec.adaptive else (spec.workers or os.cpu_count() or 1)
    if spec.local_mode == "threads":
        # Workers in this process: the scheduler and workers talk through in-process queues
        # (inproc://), so nothing listens on a port and there is nothing to encrypt.
        return distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=False,
                                        dashboard_address=PRIVATE_DASHBOARD,
                                        memory_limit=spec.memory or "auto")
    host = spec.host or LOCAL_HOST
    with _children_ignore_terminal_signals():
        return distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        host=host, dashboard_address=PRIVATE_DASHBOARD,
                                        memory_limit=spec.memory or "auto",
                                        security=True if spec.tls else None)


DASHBOARD_BOKEH = (3, 1)
"""The oldest bokeh (major, minor) with which distributed's dashboard works
(``pip install 'fanodome[dashboard]'``, whose requirement the tests check against this)."""


def dashboard_link(client: distributed.Client) -> str | None:
    """The dashboard's address, or None where it does not work: without bokeh
    :data:`DASHBOARD_BOKEH` or later the scheduler serves only an error page there."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        major_minor = tuple(int(x) for x in version("bokeh").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return None
    return client.dashboard_link if major_minor >= DASHBOARD_BOKEH else None


SUBMIT_COMMAND_FAILED = re.compile(
    r"Exit code: (?P<code>-?\d+)\nCommand:\n(?P<command>.*?)\nstdout:\n(?P<stdout>.*?)"
    r"\nstderr:\n(?P<stderr>.*)", re.DOTALL)
"""The RuntimeError of dask-jobqueue's ``Job._call`` when a command exits non-zero."""


def _submission_error(err: BaseException) -> str:
    """One line of a failed submission: the batch system's stderr (``sbatch: error: invalid
    partition specified: nosuch``), else its stdout or exit code, else the error itself (no
    job id in the output, no such command)."""
    m = SUBMIT_COMMAND_FAILED.search(str(err))
    if m is None:
        text = str(err) if not isinstance(err, OSError) else f"{err.strerror}: {err.filename}"
    else:
        command = m["command"].split(" ", 1)[0]
        text = (m["stderr"].strip() or m["stdout"].strip()
                or f"{command} exited with code {m['code']}, printing nothing")
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _submit_jobs(cluster, *, jobs: int, kind: str, timeout_s: float) -> None:
    """Submit ``jobs`` batch jobs of a dask-jobqueue ``cluster`` and wait until the batch
    system has answered each submission (``sbatch``, ``qsub``), at most ``timeout_s`` seconds
    (then :class:`~sweep.execution.runner.Stalled`; the cluster's close waits for the
    submission command to return, so that a job it submitted late is cancelled too).
    :class:`ClusterError` with the batch system's own error when no job was accepted (an
    unknown partition or account, a walltime or memory above the queue's limit); a warning
    with it when only some were, and the run goes on with those.

    Why not ``cluster.scale(jobs=n)``: distributed's ``SpecCluster.scale`` only adds the jobs
    to ``cluster.worker_spec`` and schedules ``_correct_state`` as a callback on the cluster's
    event loop. That starts each job (dask-jobqueue's ``Job.start`` runs the submit command
    and raises RuntimeError with its stderr when it exits non-zero, ValueError when its output
    holds no job id), and the first error ends the callback, where tornado only logs it
    ("Exception in callback", a traceback) and the caller never sees it; the failed jobs stay
    in ``cluster.workers``, never started, and a run would wait ``--stall-timeout`` for a
    worker that cannot come. Here the spec is grown as ``scale`` grows it
    (``new_worker_spec``) and ``_correct_state`` (how SpecCluster's documentation says to
    align a cluster with a changed spec) is awaited, so its error comes back here once every
    submission has answered. Jobs whose submission failed (no ``job_id``) leave the spec and
    the cluster (marked ``Status.failed``), so that neither the client (which awaits the
    cluster, starting any job not yet running) nor a later scale submits them again.
    """
    failure: list[BaseException] = []

    async def submit() -> bool:
        while len(cluster.worker_spec) < jobs:
            cluster.worker_spec.update(cluster.new_worker_spec())
        task = cluster._correct_state()
        # Its error is read here, or dropped once it ends after the wait below.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            # Shielded: a submission that outlasts the wait still ends, and then holds the
            # jobs it submitted, which the cluster's close cancels.
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            return False
        except (RuntimeError, ValueError, OSError) as err:
            failure.append(err)
        return True

    t0 = time.perf_counter()
    if not cluster.sync(submit):
        raise Stalled(f"the {kind} job submission did not answer in {timeout_s:g} s "
                      f"(--stall-timeout): the batch system's controller is slow or "
                      f"unreachable")
    if not failure:
        log.info("submitted %d %s job%s in %.1f s", jobs, kind, "s" * (jobs > 1),
                 time.perf_counter() - t0)
        return
    failed = _drop_unsubmitted(cluster)
    why = _submission_error(failure[0])
    if not failed:  # every job has its id: the error came after their submission
        log.warning("%s: %d jobs submitted, then: %s", kind, jobs, why)
    elif len(failed) >= jobs:
        raise ClusterError(f"--cluster {kind}: no job could be submitted ({why})")
    else:
        log.warning("%s: %d of %d jobs could not be submitted (%s); going on with %d", kind,
                    len(failed), jobs, why, jobs - len(failed))


def _drop_unsubmitted(cluster) -> list[str]:
    """Take the jobs of a dask-jobqueue ``cluster`` that were never submitted (no ``job_id``:
    the batch system refused them, at the start or when adaptive scaling asked for more) out of
    its spec and its jobs, marked ``Status.failed``: the cluster's close checks that every job
    it made has stopped, and these stay alive a while (their error's traceback refers to
    them). Returns their names."""
    failed = [name for name, job in cluster.workers.items()
              if job.job_id is None and job.status == Status.created]
    for name in failed:
        cluster.worker_spec.pop(name, None)
        cluster.workers.pop(name).status = Status.failed
    return failed


@contextlib.contextmanager
def make_cluster(spec: ClusterConfig, *, submit_s: float = STALL_S) -> Iterator[object]:
    """A running cluster of ``spec``'s kind and size, closed (jobs cancelled, pods deleted) on
    exit. Batch jobs are submitted here, at most ``submit_s`` seconds for the batch system to
    accept them (:func:`_submit_jobs`: :class:`ClusterError` when it refuses them all); they
    may then wait in the queue for a while."""
    warn_if_exposed(spec)
    if spec.kind == "local":
        cluster = _local_cluster(spec)
    elif spec.kind in ("slurm", "pbs"):
        cluster = _jobqueue_cluster(spec)
    else:
        operator = _engine("dask_kubernetes.operator", "fanodome[kubernetes]")
        cluster = operator.KubeCluster(custom_cluster_spec=kubernetes_spec(spec),
                                       namespace=spec.namespace, shutdown_on_close=True)
    batch = spec.kind in ("slurm", "pbs")
    try:
        # Adaptive without a minimum: one job all the same, whose submission says at once
        # whether the batch system takes this cluster's jobs.
        first_jobs = max(spec.adaptive_minimum or 0, 1) if spec.adaptive else spec.jobs
        if batch:
            log.info("submitting %d %s job%s of %d cores, %s, %s", first_jobs, spec.kind,
                     "s" * (first_jobs > 1), spec.cores, spec.memory_per_job(), spec.walltime)
            _submit_jobs(cluster, jobs=first_jobs, kind=spec.kind, timeout_s=submit_s)
        if spec.adaptive:
            if batch:
                cluster.adapt(minimum_jobs=spec.adaptive_minimum or 0,
                              maximum_jobs=spec.adaptive_maximum)
            else:
                cluster.adapt(minimum=spec.adaptive_minimum or 0,
                              maximum=spec.adaptive_maximum)
        yield cluster
    finally:
        if batch:
            _drop_unsubmitted(cluster)
        cluster.close()
        _remove_credentials(cluster)


def check_store_reachable(store: str, *, spec: ClusterConfig,
                          scheduler: str | None = None) -> None:
    """Refuse a store that workers on other machines could not write.

    Workers write their results themselves, so a cluster spread over machines (slurm, pbs,
    kubernetes, or an existing scheduler that is not on loopback) needs an object store URL
    (``s3://``, ``gs://``, ...) or a path on a file system every node mounts at the same path;
    the latter only when the user says so (``shared_filesystem``).
    """
    remote = scheduler is not None and not on_loopback(scheduler)
    if not remote and (scheduler is not None or spec.kind == "local"):
        return
    if url_scheme(store) not in ("", "file") or spec.shared_filesystem:
        return
    where = f"the scheduler {scheduler}" if scheduler else f"a {spec.kind} cluster"
    raise ClusterError(
        f"--store: {store} is a local path, and workers of {where} may run on other machines "
        f"that cannot write it. Use an object store URL (s3://bucket/sweep.zarr) or a path on "
        f"a file system all nodes share, and say so with --shared-fs "
        f"([cluster] shared_filesystem = true)")


@dataclass(frozen=True)
class Placement:
    """Where work on a store runs: the store as the workers must see it (absolute when they run
    elsewhere) and the window of tasks in flight (None: from the workers present)."""

    store: str
    window: int | None


def store_path(store: str) -> str:
    """Where work on ``store`` happens: a ``file://`` URL is the path it names, a path that is
    a symbolic link the path it points to (replaced and locked there, so that work through the
    link and on its target exclude each other); any other URL or path as it is."""
    store = local_path(store) or store
    if not is_url(store) and os.path.islink(store.rstrip("/")):
        store = os.path.realpath(store)
    return store


def place(store: str, *, cluster: ClusterConfig | None = None, scheduler: str | None = None,
          window: int | None = None, workers_write: bool = True) -> Placement:
    """Work on ``store`` as a run on ``cluster`` (or an existing ``scheduler``) needs it;
    :class:`ClusterError` if its workers could not write the store (unless ``workers_write``
    is false: only this process writes it), or a local cluster would not fit this machine
    (:func:`check_local_capacity`).

    The store is taken where :func:`store_path` says. A cluster this process starts that is
    not local (slurm, pbs, kubernetes) gets a local store path made absolute and, unless
    ``window`` is given, a window sized for its expected workers: batch jobs join one by one,
    after the first tasks are submitted, so the workers present at the start would undersize
    it.
    """
    spec = cluster or ClusterConfig()
    store = store_path(store)
    if scheduler is None and spec.kind != "local":
        if not is_url(store):
            store = os.path.abspath(store)
        if window is None:
            window = WINDOW_PER_WORKER * spec.expected_threads(local_cores=os.cpu_count() or 1)
    if workers_write:
        check_store_reachable(store, spec=spec, scheduler=scheduler)
    if scheduler is None:
        check_local_capacity(spec)
    return Placement(store=store, window=window)


def _wait_for_first_worker(client: distributed.Client, *, kind: str, timeout_s: float,
                           waited_s: float = 0.0) -> None:
    """Wait until a worker has joined, ``timeout_s`` seconds after the cluster's start of which
    ``waited_s`` have passed (starting it, submitting its jobs):
    :class:`~sweep.execution.runner.Stalled` when none has (jobs that wait in the queue longer,
    or that the batch system accepted but that failed to start: its queue and the job logs
    say which; a submission it refused was refused before, by :func:`_submit_jobs`)."""
    if client.nthreads():
        return
    t0 = time.perf_counter()
    left = max(timeout_s - waited_s, 0.0)
    log.info("waiting up to %.0f s for the first %s worker (jobs may wait in the queue)",
             left, kind)
    try:
        client.wait_for_workers(1, timeout=left)
    except TimeoutError:
        raise Stalled(f"no {kind} worker joined in {timeout_s:g} s (--stall-timeout): its "
                      f"jobs wait in the queue or failed to start (the batch system's queue "
                      f"and the job logs say which); a longer --stall-timeout waits "
                      f"longer") from None
    log.info("first worker joined after %.1f s", waited_s + time.perf_counter() - t0)


def _this_machine() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    addresses = {distributed.utils.get_ip()}
    for name in names:
        with contextlib.suppress(OSError):
            addresses.update(socket.gethostbyname_ex(name)[2])
    return names | addresses


def check_workers_reach_store(client: distributed.Client, store: str, *,
                              spec: ClusterConfig) -> None:
    """After connecting to an existing scheduler: refuse a local-only store when any worker
    runs on another machine (a port-forwarded scheduler looks local; its workers need not)."""
    if spec.shared_filesystem or (is_url(store) and url_scheme(store) != "file"):
        return
    here = _this_machine()
    elsewhere = sorted(a for a in client.scheduler_info(n_workers=-1)["workers"]
                       if not on_loopback(a)
                       and urllib.parse.urlsplit(a).hostname not in here)
    if elsewhere:
        raise ClusterError(
            f"--store: {store} is a local path, and workers run on other machines "
            f"({', '.join(elsewhere[:3])}{', ...' if len(elsewhere) > 3 else ''}) that cannot "
            f"write it. Use an object store URL (s3://bucket/sweep.zarr) or a path on a file "
            f"system all nodes share, and say so with --shared-fs")


@contextlib.contextmanager
def cluster_client(*, scheduler: str | None = None, cluster: ClusterConfig | None = None,
                   store: str | None = None, plugins: Iterable[object] = (),
                   ready: Callable[[], None] | None = None,
                   first_worker_s: float = STALL_S) -> Iterator[distributed.Client]:
    """A client with ``plugins`` (worker plugins) on every worker, present and future.

    ``scheduler``: address of an existing cluster (``tcp://host:port``, ``tls://...``), left
    running on exit; with ``store``, its workers must all be able to write there (see
    :func:`check_workers_reach_store`). Otherwise a cluster of ``cluster`` (default: a local
    one), closed on exit. For a new cluster the client waits until at least one worker has
    joined, at most ``first_worker_s`` seconds from the cluster's start, its batch jobs'
    submission included (then :class:`~sweep.execution.runner.Stalled`), unless it is adaptive
    with no minimum (its workers come with the tasks); batch jobs that the
    batch system refuses, every one, end it at once (:class:`ClusterError`, naming its error:
    :func:`_submit_jobs`). ``ready``: called once the cluster is up and
    before the plugins are registered (the caller waits there for what the plugins need, e.g.
    kernels it compiles).
    """
    spec = cluster or ClusterConfig()
    with contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = stack.enter_context(
                    distributed.Client(scheduler, timeout=SCHEDULER_TIMEOUT_S))
            except OSError as err:  # includes TimeoutError: nothing answers there
                raise ClusterError(f"--scheduler: cannot connect to {scheduler} within "
                                   f"{SCHEDULER_TIMEOUT_S:g} s ({err})") from None
            if store is not None:
                check_workers_reach_store(client, store, spec=spec)
        else:
            t0 = time.perf_counter()
            c = stack.enter_context(make_cluster(spec, submit_s=first_worker_s))
            client = stack.enter_context(distributed.Client(c))
            if spec.adaptive and not spec.adaptive_minimum:
                # Dask's adaptive scaling asks for workers once tasks wait, not before: the
                # runner's own watch (tasks waiting, no worker) bounds the wait from there.
                log.info("adaptive %s cluster: its workers are asked for as tasks come",
                         spec.kind)
            else:
                _wait_for_first_worker(client, kind=spec.kind, timeout_s=first_worker_s,
                                       waited_s=time.perf_counter() - t0)
        if ready is not None:
            ready()
        t0 = time.perf_counter()
        for plugin in plugins:
            client.register_plugin(plugin)
        log.info("%d workers ready in %.1f s", len(client.nthreads()), time.perf_counter() - t0)
        try:
            yield client
        except BaseException:  # an error or an interruption: the workers' tasks get cancelled
            try:
                client.run(_quiet_shutdown, wait=True)
            except Exception as err:  # noqa: BLE001 - the error being raised matters more
                log.info("could not quiet the workers' logs before the cluster closes (%s: %s)",
                         type(err).__name__, err)
            raise


def _quiet_shutdown() -> None:
    """On a worker, before a cluster closes under running tasks: their cancellation, and the
    scheduler gone from under a heartbeat, are expected, not worth a traceback on the user's
    terminal (the client says why the run stops)."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
