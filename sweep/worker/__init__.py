"""The solver on the cluster's workers: the structures each worker process keeps prepared
(:mod:`sweep.worker.structures`) and the solver's warm-up, compiled once on this machine and
loaded by every worker (:mod:`sweep.worker.warmup`)."""
