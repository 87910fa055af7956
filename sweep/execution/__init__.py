"""How work runs: on any ``distributed.Client`` or ``concurrent.futures`` executor, in a bounded
window, retried, placed on the workers that hold its structure, sized from measured cost,
accounted for, on clusters built from ``[cluster]``. Knows Dask, not the solver or the store:
callers hand in the task functions, the worker plugins and the writers of their records.

- :mod:`sweep.execution.runner` -- :func:`~sweep.execution.runner.run_tasks`, stall watch.
- :mod:`sweep.execution.dealer` -- structure affinity: which task goes to which worker.
- :mod:`sweep.execution.sizing` -- how many points a task holds.
- :mod:`sweep.execution.accounting` -- per-worker accounts and parallel efficiency.
- :mod:`sweep.execution.failures` -- the failure records of a run.
- :mod:`sweep.execution.clusters` -- local, SLURM, PBS and Kubernetes clusters; placement.
"""
