"""How many points a task holds: from the measured cost per point, a target task duration and
the cluster's size (no Dask, no I/O).

A task pays a fixed part (the scheduler's round trip, the region write, sometimes a structure
build) and a part per point. Small tasks let the scheduler set the pace (a 1000-worker cluster
on 0.4 s tasks asks it for 2500 tasks a second); large tasks leave workers idle at the end of
the run while the last ones finish. The rule here, guided self-scheduling:

1. ``task_seconds / point_s`` points, the configured target duration at the measured cost;
2. lowered to ``points_left / (TAIL_TASKS_PER_WORKER * workers)``, so tasks shrink as the run
   ends and the last wave is short;
3. raised so that the cluster asks the scheduler for at most :data:`SCHEDULER_TASKS_PER_S`
   tasks a second (``workers / task duration``), even in the last waves;
4. clamped to the configured bounds ``[min_points, max_points]``: those always win.

The bounds and the target are the ``[run]`` table's (:class:`sweep.config.TaskSizing`). The
unit of work stays the store chunk (:class:`sweep.grid.ChunkPlan`): the store is laid out
before anything is measured, and a task is a rectangle of whole store chunks, so that store
chunks and tasks stay aligned whatever size the measurements choose.
"""
from __future__ import annotations

from ..config import TaskSizing

SCHEDULER_TASKS_PER_S = 100.0
"""Tasks a second the whole cluster may ask for: ``benchmarks/simulate_cluster.py`` measured
about 4 ms of scheduler CPU per task (a loaded 2-core machine), so 100 tasks/s keeps the
scheduler under half a core whatever the cluster's size (1000 workers: tasks of 10 s or more)."""

TAIL_TASKS_PER_WORKER = 4
"""Tasks per worker that the remaining points are cut into at least (guided self-scheduling):
the last wave then lasts about a quarter of a worker's remaining share, and ever less."""


def task_points(sizing: TaskSizing, *, point_s: float, workers: int, points_left: int,
                scheduler_tasks_per_s: float = SCHEDULER_TASKS_PER_S,
                tail_tasks_per_worker: int = TAIL_TASKS_PER_WORKER) -> int:
    """Points for the next task: ``point_s`` (s) the measured cost of a point, ``workers`` the
    worker threads of the cluster, ``points_left`` the points not yet handed out."""
    workers = max(1, int(workers))
    point_s = max(point_s, 1e-12)
    n = min(sizing.task_seconds / point_s, points_left / (tail_tasks_per_worker * workers))
    n = max(n, workers / scheduler_tasks_per_s / point_s)
    return int(min(max(n, sizing.min_points), sizing.max_points))


class PointCost:
    """The running cost of a point (s): task time less structure builds, over points.

    A ratio of sums, so large tasks weigh more than small ones and one slow first task (cold
    caches, DOS tables built inside the solver call) fades as the run goes on.
    """

    def __init__(self):
        self.seconds = 0.0
        self.points = 0

    def add(self, *, seconds: float, points: int, build_s: float = 0.0) -> None:
        self.seconds += max(seconds - build_s, 0.0)
        self.points += points

    @property
    def point_s(self) -> float | None:
        """Seconds per point; None before the first task finished."""
        return self.seconds / self.points if self.points else None
