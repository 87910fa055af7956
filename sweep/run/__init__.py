"""A sweep run: the grid's tasks (:mod:`sweep.run.tasks`) and the service that fills a store
with them and refines it (:mod:`sweep.run.service`, :func:`run_sweep`)."""
from .service import SweepResult, check_can_start, run_sweep
from .tasks import ChunkOutcome, ChunkTask, compute_chunk, task_for_region

__all__ = ["ChunkOutcome", "ChunkTask", "SweepResult", "check_can_start", "compute_chunk",
           "run_sweep", "task_for_region"]
