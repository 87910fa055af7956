"""``fanodome cluster-script``: what ``fanodome run`` would submit to a cluster, printed.

The cluster options it shares with ``run`` are in :mod:`sweep.cli.options`; the clusters
themselves are built by :mod:`sweep.execution.clusters`.
"""
from __future__ import annotations

import argparse
import sys

from .options import add_cluster_options, cluster_config


def _cmd_cluster_script(a: argparse.Namespace) -> dict:
    from ..execution.clusters import job_script, kubernetes_spec
    from ..config import load_config, paper_config

    cfg = load_config(a.config) if a.config else paper_config()
    spec = cluster_config(cfg.cluster, a)
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
                    "spends an allocation: the batch script of one worker job (slurm, pbs) "
                    "or the DaskCluster resource (kubernetes, YAML). Nothing is submitted "
                    "and no scheduler is started, so the script's scheduler address is "
                    "SCHEDULER-HOST:PORT and, with TLS, its credential files end in "
                    ".XXXXXXXX: `fanodome run` fills both in when it starts its scheduler.")
    c.add_argument("config", nargs="?", metavar="CONFIG",
                   help="TOML sweep config whose [cluster] table is used [none]")
    c.add_argument("--workers", type=int, metavar="N", help="worker pods (kubernetes)")
    add_cluster_options(c)
    c.add_argument("--json", action="store_true",
                   help='one JSON document {"kind", "job_script" or "manifest"} on stdout')
    c.set_defaults(func=_cmd_cluster_script, show=_print_cluster_script)

