"""Per-worker accounting of a run: tasks, points, structure builds and busy time per worker,
and the run's parallel efficiency (no Dask, no I/O)."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

log = logging.getLogger(__name__)


@dataclass
class WorkerAccount:
    """What one worker did: ``tasks`` finished, ``points``, ``structure_builds`` (structures it
    prepared) and ``busy_s`` (seconds inside tasks)."""

    tasks: int = 0
    points: int = 0
    structure_builds: int = 0
    busy_s: float = 0.0


JSON_KEYS = {"tasks": "chunks"}
"""Fields of :class:`WorkerAccount` named otherwise in the JSON documents."""


class Accounts:
    """Accounts of every worker that finished a task, fed with task outcomes (``worker``,
    ``n_points``, ``seconds``, ``structure_builds``; the last two optional)."""

    def __init__(self):
        self.workers: dict[str, WorkerAccount] = {}

    def add(self, outcome) -> None:
        a = self.workers.setdefault(getattr(outcome, "worker", "") or "?", WorkerAccount())
        a.tasks += 1
        a.points += outcome.n_points
        a.structure_builds += getattr(outcome, "structure_builds", 0)
        a.busy_s += outcome.seconds

    @property
    def structure_builds(self) -> int:
        return sum(a.structure_builds for a in self.workers.values())

    @property
    def busy_s(self) -> float:
        return sum(a.busy_s for a in self.workers.values())

    def efficiency(self, *, wall_s: float, threads: int) -> float | None:
        """Σ busy_s / (wall_s × threads): the share of the workers' time spent inside tasks
        while the run lasted (None for a run without time or workers)."""
        if wall_s <= 0 or threads <= 0:
            return None
        return self.busy_s / (wall_s * threads)

    def summary(self, *, wall_s: float, threads: int) -> dict:
        """The JSON form: ``workers`` (a list, by name; each worker's tasks under the key
        ``chunks``, as ``fanodome run --json`` documents it),
        ``structure_builds``, ``efficiency`` (over ``wall_s``, s, the run's task phase, and
        ``threads`` worker threads)."""
        eff = self.efficiency(wall_s=wall_s, threads=threads)
        return {
            "workers": [{"worker": w, **{JSON_KEYS.get(k, k): round(v, 3)
                                         if isinstance(v, float) else v
                                         for k, v in asdict(a).items()}}
                        for w, a in sorted(self.workers.items())],
            "structure_builds": self.structure_builds,
            "worker_threads": threads,
            "efficiency": None if eff is None else round(eff, 4),
        }

    def log_summary(self, *, wall_s: float, threads: int) -> None:
        for w, a in sorted(self.workers.items()):
            log.info("worker %s: %d tasks, %d points, %d structure builds, busy %.1f s",
                     w, a.tasks, a.points, a.structure_builds, a.busy_s)
        eff = self.efficiency(wall_s=wall_s, threads=threads)
        log.info("%d structure builds; efficiency %s (busy %.1f s over %.1f s x %d threads)",
                 self.structure_builds, "n/a" if eff is None else f"{eff:.3f}", self.busy_s,
                 wall_s, threads)
