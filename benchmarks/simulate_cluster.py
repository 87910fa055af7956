"""A simulated large cluster: the real runner, dealer and Dask scheduler, many single-threaded
workers, and tasks that sleep for their measured cost instead of solving.

Run from the repository root (one command; about 3 minutes here)::

    python benchmarks/simulate_cluster.py

or, e.g., ``--workers 64 128 256 --seconds 30 --point-ms 0.5``. What runs:

- one ``dask scheduler`` process on 127.0.0.1 (its CPU time is measured), and worker host
  processes that each run up to ``--per-host`` ``distributed.Worker`` objects (nthreads=1) in one
  event loop: a 2-core machine holds hundreds of workers because they only sleep;
- in this process, :func:`sweep.execution.runner.run_tasks` with a
  :class:`sweep.execution.dealer.StructureDealer` over a real :class:`sweep.grid.ChunkPlan`
  (store chunks of 50 points, 10^5 a structure), sized by
  :func:`sweep.execution.sizing.task_points`; each task sleeps ``points * point_s`` plus
  ``build_s`` when its worker has not prepared the structure (an LRU of 8 per worker, as on real
  workers);
  nothing is written (only orchestration is measured);
- ``--point-ms`` default: the solver's cost per point measured here on the paper grid.

Each scenario runs about ``--seconds`` of wall time. ``rate-matched``: tasks as long as they
must be for the simulated cluster to ask the scheduler for as many tasks a second as 1000
workers would under the default sizing on 10^9 points; ``stress``: a target ten times shorter,
which the sizing's scheduler floor (:data:`sweep.execution.sizing.SCHEDULER_TASKS_PER_S`) must
hold back near the rate-matched length. Reported per scenario: tasks/s, efficiency
(Σ busy / (wall × workers)), idle per task, scheduler and client CPU (fraction of one core),
client memory. Then the projection for 1000 workers and 10^9 points (model and assumptions in
the README, "Scale-out"). Prints one JSON document; report ``uptime`` next to it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psutil  # noqa: E402

from sweep.execution.accounting import Accounts  # noqa: E402
from sweep.execution.dealer import StructureDealer  # noqa: E402
from sweep.grid import ChunkPlan  # noqa: E402
from sweep.execution.runner import run_tasks  # noqa: E402
from sweep.execution.sizing import (SCHEDULER_TASKS_PER_S, TAIL_TASKS_PER_WORKER, TaskSizing,  # noqa: E402
                          task_points)
from sweep.run.tasks import ChunkOutcome  # noqa: E402

BUILD_S = 0.075
"""Seconds to prepare a structure (bands, overlaps, DOS tables), as measured on the 2-core
development machine (2026-11)."""
STRUCTURES_HELD = 8
TARGET_WORKERS = 1000
TARGET_POINTS = 10**9
TARGET_STRUCTURES = 10**4
STORE_CHUNK_POINTS = 512
"""Points of a store chunk in the projected sweep (the config's default, 512): the smallest
task. The simulation itself cuts 50-point chunks, so that its tasks can be as short as the rate
of the simulated 1000-worker cluster asks on fewer workers."""
"""The projected sweep: 10^9 points over 10^4 structures (10^5 points each: omega0 x g x eta)."""


@dataclass(frozen=True)
class SimTask:
    index: tuple[int, ...]
    n_points: int
    point_s: float


def simulated_chunk(task: SimTask) -> ChunkOutcome:
    """Sleep for the task's cost (and a structure build on a miss); runs on the workers."""
    import distributed

    t0 = time.perf_counter()
    worker = distributed.get_worker()
    held = getattr(worker, "_fanodome_sim_held", None)
    if held is None:
        held = OrderedDict()
        worker._fanodome_sim_held = held
    key = task.index[:3]
    build = key not in held
    held[key] = True
    held.move_to_end(key)
    while len(held) > STRUCTURES_HELD:
        held.popitem(last=False)
    time.sleep(task.n_points * task.point_s + (BUILD_S if build else 0.0))
    return ChunkOutcome(task.index, task.n_points, task.n_points, 0, time.perf_counter() - t0,
                        worker=worker.address, structure_builds=int(build),
                        build_s=BUILD_S if build else 0.0)


async def _host(address: str, n: int) -> None:
    from distributed import Worker

    workers = [Worker(address, nthreads=1, host="127.0.0.1", dashboard=False,
                      memory_limit=0) for _ in range(n)]
    await asyncio.gather(*workers)
    await asyncio.gather(*(w.finished() for w in workers))


def measured_point_s() -> float:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from bench_sweep import kernel_time_per_point
    return kernel_time_per_point(repeat=3)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


class SimCluster:
    def __init__(self, tmp: Path, n_workers: int, per_host: int):
        self.procs: list[subprocess.Popen] = []
        sched_file = tmp / "scheduler.json"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.procs.append(self.scheduler)
        deadline = time.monotonic() + 60
        while not (sched_file.exists() and sched_file.read_text().strip()):
            if time.monotonic() > deadline:
                raise TimeoutError("scheduler did not start")
            time.sleep(0.1)
        self.address = json.loads(sched_file.read_text())["address"]
        for i in range(math.ceil(n_workers / per_host)):
            n = min(per_host, n_workers - i * per_host)
            self.procs.append(subprocess.Popen(
                [sys.executable, __file__, "--host-workers", self.address, str(n)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


def idle_scheduler_cpu(scheduler: psutil.Process, seconds: float = 5.0) -> float:
    """Scheduler CPU (fraction of a core) with every worker connected and no task: heartbeats."""
    c0 = _cpu(scheduler)
    time.sleep(seconds)
    return (_cpu(scheduler) - c0) / seconds


def run_scenario(client, *, workers: int, point_s: float, task_s: float, seconds: float,
                 scheduler: psutil.Process, heartbeat_s: float,
                 hosts: list[psutil.Process]) -> dict:
    """One simulated sweep of about ``seconds`` wall on ``workers`` workers, tasks of about
    ``task_s`` seconds (probe tasks of one store chunk first, as in a real run)."""
    points = int(seconds * workers / point_s)
    per_structure = 100_000
    n_structures = max(1, math.ceil(points / per_structure))
    n_eta = 50
    n_g = per_structure // n_eta
    plan = ChunkPlan(shape={"L": n_structures, "W": 1, "V": 1, "omega0": 1, "g": n_g,
                            "eta": n_eta},
                     block={"omega0": 1, "g": 1, "eta": n_eta})
    # The same task sizes as a real run, at the simulated cluster's size.
    sizing = TaskSizing(task_seconds=task_s)
    dealer = StructureDealer(
        plan=plan, chunks=plan.chunks(), points=plan.n_points, sizing=sizing,
        make_task=lambda index, region: SimTask(
            index, math.prod(r.stop - r.start for r in region.values()), point_s))
    accounts = Accounts()
    me = psutil.Process()
    rss0 = me.memory_info().rss
    cpu_s0, cpu_c0, cpu_h0 = _cpu(scheduler), _cpu(me), sum(map(_cpu, hosts))
    report = run_tasks(dealer, executor=client, compute=simulated_chunk, retries=0,
                        total_points=plan.n_points, on_done=accounts.add)
    cpu_s, cpu_c = _cpu(scheduler) - cpu_s0, _cpu(me) - cpu_c0
    cpu_h = sum(map(_cpu, hosts)) - cpu_h0
    wall = report.seconds
    threads = report.threads
    idle = wall * threads - accounts.busy_s
    tasks = report.tasks_done
    return {
        "workers": threads, "points": plan.n_points, "structures": n_structures,
        "task_s_target": round(task_s, 4),
        "tasks": report.tasks_done, "wall_s": round(wall, 2),
        "tasks_per_s": round(report.tasks_done / wall, 1),
        "mean_task_s": round(accounts.busy_s / report.tasks_done, 4),
        "efficiency": round(accounts.efficiency(wall_s=wall, threads=threads), 4),
        "idle_per_task_s": round(idle / report.tasks_done, 4),
        "structure_builds": accounts.structure_builds,
        "scheduler_cpu": round(cpu_s / wall, 3),
        "client_cpu": round(cpu_c / wall, 3),
        "worker_hosts_cpu": round(cpu_h / wall, 3),
        "scheduler_cpu_per_task_ms": round(1e3 * (cpu_s - heartbeat_s * wall) / tasks, 3),
        "client_cpu_per_task_ms": round(1e3 * cpu_c / tasks, 3),
        "client_rss_mib": round(me.memory_info().rss / 2**20, 1),
        "client_rss_growth_mib": round((me.memory_info().rss - rss0) / 2**20, 1),
    }


def projection(*, point_s: float, idle_per_task_s: float, scheduler_task_s: float,
               scheduler_heartbeat_s: float, client_task_s: float) -> dict:
    """Efficiency of TARGET_POINTS on TARGET_WORKERS under the default sizing (README model).

    ``idle_per_task_s``: a worker's idle time per task (measured); ``scheduler_task_s``,
    ``client_task_s``: CPU seconds per task; ``scheduler_heartbeat_s``: scheduler CPU per
    worker heartbeat (distributed spaces them ``heartbeat_interval(workers)`` apart)."""
    from distributed.scheduler import heartbeat_interval

    P, N = TARGET_WORKERS, TARGET_POINTS
    sizing = TaskSizing()
    left, n_tasks, sizes = N, 0, []
    while left > 0:  # the sizes the dealer asks for (whole store chunks), wave by wave of P
        per = max(task_points(sizing, point_s=point_s, workers=P, points_left=left),
                  STORE_CHUNK_POINTS)
        n = min(left, per * P)
        sizes.append(per)
        n_tasks += math.ceil(n / per)
        left -= n
    work_s = N * point_s / P
    task_s = sizes[0] * point_s
    rate = P / task_s
    tasks_per_worker = n_tasks / P
    tail_s = sizes[-1] * point_s  # the last wave: at most one smallest task idle per worker
    builds_s = (TARGET_STRUCTURES / P + 1) * BUILD_S
    sched_load = rate * scheduler_task_s + P / heartbeat_interval(P) * scheduler_heartbeat_s
    client_load = rate * client_task_s
    busiest = max(sched_load, client_load)

    def efficiency(idle_s: float) -> float:
        eff = work_s / (work_s + tasks_per_worker * idle_s + tail_s + builds_s)
        # one core cannot keep up: the scheduler or the client sets the pace
        return min(eff, 1 / busiest) if busiest > 1 else eff
    return {"workers": P, "points": N, "structures": TARGET_STRUCTURES,
            "point_ms": round(point_s * 1e3, 4), "work_per_worker_s": round(work_s, 1),
            "task_s": round(task_s, 2), "last_task_s": round(tail_s, 3), "tasks": n_tasks,
            "tasks_per_worker": round(tasks_per_worker, 1), "tasks_per_s": round(rate, 1),
            "scheduler_load": round(sched_load, 3), "client_load": round(client_load, 3),
            "idle_per_task_s": idle_per_task_s, "builds_s": round(builds_s, 2),
            # a worker holds its next task while it runs one: the round trip is hidden when
            # it is shorter than a task and neither scheduler nor client is saturated
            "efficiency": round(efficiency(0.0), 4),
            # the idle per task of the simulation applied to every task (its CPU-starved
            # round trips included): a lower bound
            "efficiency_pessimistic": round(efficiency(idle_per_task_s), 4)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[64, 128],
                   help="simulated worker counts [64 128]")
    p.add_argument("--seconds", type=float, default=20.0, help="wall per scenario [20]")
    p.add_argument("--point-ms", type=float, help="cost of a point [measured here]")
    p.add_argument("--per-host", type=int, default=32, help="workers per host process [32]")
    p.add_argument("--direct", action="store_true",
                   help="the client fetches results from the workers, not via the scheduler")
    a = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from distributed import Client

    point_s = (a.point_ms / 1e3) if a.point_ms else measured_point_s()
    sizing = TaskSizing()
    target_task_s = task_points(sizing, point_s=point_s, workers=TARGET_WORKERS,
                                points_left=TARGET_POINTS) * point_s
    target_rate = TARGET_WORKERS / target_task_s
    runs = []
    with tempfile.TemporaryDirectory(prefix="fanodome-sim-") as tmp:
        for n in a.workers:
            (Path(tmp) / f"w{n}").mkdir()
            cluster = SimCluster(Path(tmp) / f"w{n}", n, a.per_host)
            try:
                with Client(cluster.address, direct_to_workers=a.direct) as client:
                    client.wait_for_workers(n, timeout=300)
                    sched = psutil.Process(cluster.scheduler.pid)
                    heartbeat = idle_scheduler_cpu(sched)
                    hosts = [psutil.Process(p.pid) for p in cluster.procs[1:]]
                    for name, task_s, seconds in (
                            ("rate-matched", n / target_rate, a.seconds),
                            ("stress", n / target_rate / 10, a.seconds / 4)):
                        r = run_scenario(client, workers=n, point_s=point_s, task_s=task_s,
                                         seconds=seconds, scheduler=sched,
                                         heartbeat_s=heartbeat, hosts=hosts)
                        r["scenario"] = name
                        r["scheduler_idle_cpu"] = round(heartbeat, 3)
                        runs.append(r)
                        print(json.dumps(r), file=sys.stderr)
            finally:
                cluster.close()
    matched = [r for r in runs if r["scenario"] == "rate-matched"]
    worst = {k: max(r[k] for r in runs) for k in ("scheduler_cpu_per_task_ms",
                                                   "client_cpu_per_task_ms")}
    from distributed.scheduler import heartbeat_interval
    per_heartbeat = max(r["scheduler_idle_cpu"] * heartbeat_interval(r["workers"]) / r["workers"]
                        for r in runs)
    print(json.dumps({
        "command": " ".join(["python", "benchmarks/simulate_cluster.py", *sys.argv[1:]]),
        "cpu_count": os.cpu_count(), "load_avg": os.getloadavg(),
        "point_ms": round(point_s * 1e3, 4), "build_s": BUILD_S,
        "scheduler_tasks_per_s": SCHEDULER_TASKS_PER_S,
        "tail_tasks_per_worker": TAIL_TASKS_PER_WORKER,
        "client_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "runs": runs,
        "projection": projection(
            point_s=point_s, idle_per_task_s=max(r["idle_per_task_s"] for r in matched),
            scheduler_task_s=worst["scheduler_cpu_per_task_ms"] / 1e3,
            scheduler_heartbeat_s=per_heartbeat,
            client_task_s=worst["client_cpu_per_task_ms"] / 1e3),
    }, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--host-workers":
        asyncio.run(_host(sys.argv[2], int(sys.argv[3])))
    else:
        main()
