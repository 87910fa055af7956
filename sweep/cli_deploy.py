"""Command-line parts for running on clusters: ``fanodome cluster-script`` and the cluster
options of ``fanodome run`` (each overrides the same key of the config's ``[cluster]`` table).

Kept apart from :mod:`sweep.cli` so that each can change on its own; ``cli.build_parser`` calls
:func:`add_commands`, and ``run`` uses :func:`add_cluster_options` and :func:`prepare_run`.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys

from .config import CLUSTER_KEYS, CLUSTER_KINDS, ClusterConfig, SweepConfig, \
    with_cluster_overrides

# option dest -> [cluster] key
_OVERRIDES = {
    "cluster": "kind", "workers": "workers", "jobs": "jobs", "cores": "cores",
    "processes": "processes", "memory": "memory", "walltime": "walltime", "queue": "queue",
    "account": "account", "interface": "interface", "adaptive_minimum": "adaptive_minimum",
    "adaptive_maximum": "adaptive_maximum", "image": "image", "namespace": "namespace",
}


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """Options that override the config's ``[cluster]`` keys (``--workers`` is ``run``'s own)."""
    g = p.add_argument_group("cluster (each overrides the same key of CONFIG's [cluster])")
    g.add_argument("--cluster", choices=CLUSTER_KINDS, metavar="KIND",
                   help=f"where workers run: {', '.join(CLUSTER_KINDS)} [config's, else local]")
    g.add_argument("--jobs", type=int, metavar="N", help="batch jobs to submit (slurm, pbs)")
    g.add_argument("--cores", type=int, metavar="N",
                   help="CPU cores per job (slurm, pbs) or per pod (kubernetes)")
    g.add_argument("--processes", type=int, metavar="N",
                   help="single-threaded worker processes per job [cores]")
    g.add_argument("--memory", metavar="SIZE",
                   help="memory per job or pod, or per local worker, e.g. 4GiB")
    g.add_argument("--walltime", metavar="HH:MM:SS", help="walltime per job")
    g.add_argument("--queue", metavar="NAME", help="SLURM partition or PBS queue")
    g.add_argument("--account", metavar="NAME", help="SLURM account or PBS project")
    g.add_argument("--interface", metavar="NAME",
                   help="network interface of scheduler and workers, e.g. ib0")
    g.add_argument("--adaptive-minimum", type=int, metavar="N",
                   help="scale adaptively from N jobs (slurm, pbs) or workers ...")
    g.add_argument("--adaptive-maximum", type=int, metavar="N", help="... up to N")
    g.add_argument("--image", metavar="IMAGE", help="container image of the pods (kubernetes)")
    g.add_argument("--namespace", metavar="NAME", help="Kubernetes namespace")
    g.add_argument("--shared-fs", action="store_true",
                   help="the store path is on a file system that every node mounts at the "
                        "same path (else a non-local cluster needs an s3://... URL)")


def cluster_config(cfg: SweepConfig, a: argparse.Namespace) -> ClusterConfig:
    """``cfg``'s ``[cluster]`` with the options given on the command line."""
    overrides = {key: getattr(a, dest) for dest, key in _OVERRIDES.items()
                 if getattr(a, dest, None) is not None}
    if getattr(a, "shared_fs", False):
        overrides["shared_filesystem"] = True
    spec = with_cluster_overrides(cfg, overrides)
    for dest, key in _OVERRIDES.items():
        if key in overrides and spec.kind not in CLUSTER_KEYS[key][1]:
            flag = "--" + dest.replace("_", "-")
            raise ValueError(f"{flag}: not used by a {spec.kind} cluster (used by "
                             f"{', '.join(CLUSTER_KEYS[key][1])})")
    return spec


def prepare_run(cfg: SweepConfig, a: argparse.Namespace, *,
                store: str) -> tuple[SweepConfig, ClusterConfig, str]:
    """Cluster of a ``run``, its store checked reachable from its workers.

    Returns the config (with ``batch_size`` sized for the cluster's expected workers when it
    is not local: batch jobs join one by one, after the first chunks are submitted), the
    cluster and the store (a local path made absolute when workers run elsewhere).
    """
    from . import store as store_mod
    from .clusters import check_store_reachable
    from .runner import WINDOW_PER_WORKER

    if a.scheduler and a.cluster:
        raise ValueError("--cluster and --scheduler exclude each other")
    spec = cluster_config(cfg, a)
    if a.scheduler is None and spec.kind != "local":
        if not store_mod.is_url(store):
            store = os.path.abspath(store)
        if cfg.batch_size is None:
            threads = spec.expected_threads(local_cores=os.cpu_count() or 1)
            cfg = dataclasses.replace(cfg, batch_size=WINDOW_PER_WORKER * threads)
    check_store_reachable(store, spec=spec, scheduler=a.scheduler)
    return cfg, spec, store


# ------------------------------------------------------------------------- cluster-script

def _cmd_cluster_script(a: argparse.Namespace) -> dict:
    from .clusters import job_script, kubernetes_spec
    from .config import load_config, paper_config

    cfg = load_config(a.config) if a.config else paper_config()
    spec = cluster_config(cfg, a)
    if a.verbose == 0:  # the placeholder scheduler's start and stop are no news
        logging.getLogger("distributed").setLevel(logging.WARNING)
    if spec.kind == "local":
        raise ValueError("--cluster: a local cluster has no job script; pass --cluster "
                         "slurm, pbs or kubernetes (or set [cluster] kind)")
    if spec.kind == "kubernetes":
        return {"kind": spec.kind, "manifest": kubernetes_spec(spec)}
    return {"kind": spec.kind, "job_script": job_script(spec)}


def _print_cluster_script(doc: dict) -> None:
    if "job_script" in doc:
        sys.stdout.write(doc["job_script"].rstrip("\n") + "\n")
        return
    import yaml
    sys.stdout.write(yaml.safe_dump(doc["manifest"], sort_keys=False))


def add_commands(sub) -> None:
    """Add the cluster sub-commands to ``fanodome``'s sub-parsers."""
    c = sub.add_parser(
        "cluster-script", help="print the batch job script or Kubernetes manifest of a sweep",
        description="Print what `fanodome run CONFIG` would submit, to check it before it "
                    "spends an allocation: the batch script of one worker job (slurm, pbs; "
                    "its scheduler address is a placeholder's) or the DaskCluster resource "
                    "(kubernetes, YAML). Nothing is submitted.")
    c.add_argument("config", nargs="?", metavar="CONFIG",
                   help="TOML sweep config whose [cluster] table is used [none]")
    c.add_argument("--workers", type=int, metavar="N", help="worker pods (kubernetes)")
    add_cluster_options(c)
    c.add_argument("--json", action="store_true",
                   help='one JSON document {"kind", "job_script" or "manifest"} on stdout')
    c.set_defaults(func=_cmd_cluster_script, show=_print_cluster_script)


__all__ = ["add_cluster_options", "add_commands", "cluster_config", "prepare_run"]
