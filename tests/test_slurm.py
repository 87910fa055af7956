"""A sweep through a real SLURM: `fanodome run --cluster slurm` submits worker jobs with sbatch
(dask-jobqueue's SLURMCluster), and the store must equal an in-process run value for value.

Needs a running SLURM whose default partition takes 1-core jobs: on a Debian machine,
``deploy/slurm/start-local-slurm.sh`` starts one on localhost (``.ci/run`` does that first).
Skipped, with the reason, where there is no ``sbatch`` or no controller answers.
"""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from sweep.config import load_config
from sweep_support import SMALL_TOML, assert_same_sweep, cli, json_out, roundtrip, write_toml

pytestmark = [pytest.mark.slow, pytest.mark.ci]


def _slurm_reason() -> str | None:
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH: no SLURM here (deploy/slurm/start-local-slurm.sh starts one)"
    p = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0 or "is UP" not in p.stdout:
        return (f"sbatch present but no slurmctld answers (scontrol ping: "
                f"{(p.stdout + p.stderr).strip()!r}); start deploy/slurm/start-local-slurm.sh")
    return None


@pytest.fixture(scope="module")
def slurm():
    reason = _slurm_reason()
    if reason:
        pytest.skip(reason)


def _queue() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-n", "fanodome", "-o", "%i"], capture_output=True,
                         text=True, timeout=30, check=True).stdout
    return out.split()


# Two 1-core jobs of 1 GiB; scheduler and workers on loopback; the store in tmp_path is on
# "a shared file system" (the one node's own).
CLUSTER_TOML = """
[cluster]
kind = "slurm"
jobs = 2
cores = 1
memory = "1GiB"
walltime = "00:10:00"
interface = "lo"
shared_filesystem = true
"""


def test_sweep_through_slurm_equals_in_process_run(slurm, tmp_path):
    assert not _queue(), "fanodome jobs already queued: another run is using this SLURM"
    cfg = write_toml(tmp_path / "slurm.toml", SMALL_TOML + CLUSTER_TOML +
                     f'log_directory = "{tmp_path / "jobs"}"\n')
    store = tmp_path / "slurm.zarr"
    p = cli("run", str(cfg), "--store", str(store), "--json", cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json_out(p)
    assert (doc["total"], doc["done"], doc["failed"]) == (128, 128, 0)
    assert "submitted 2 slurm jobs" in p.stderr
    # The work was done in SLURM jobs: each wrote its worker log, and all are gone now.
    logs = sorted((tmp_path / "jobs").glob("fanodome-*.err"))
    assert len(logs) == 2
    assert any("Starting Worker" in log.read_text() for log in logs)
    assert not _queue()

    # The same config in-process (the store records the config, [cluster] included).
    ref = roundtrip(load_config(cfg), tmp_path / "ref.zarr")
    assert int((ref.status == 0).sum()) > 0
    assert_same_sweep(store, tmp_path / "ref.zarr")


def test_job_script_is_accepted_by_sbatch(slurm, tmp_path):
    """sbatch --test-only checks the printed script against the real controller (no job)."""
    p = cli("cluster-script", "--cluster", "slurm", "--cores", "2", "--memory", "1GiB",
            "--walltime", "00:05:00", "--interface", "lo")
    assert p.returncode == 0, p.stderr
    script = tmp_path / "job.sh"
    script.write_text(p.stdout)
    t = subprocess.run(["sbatch", "--test-only", str(script)], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert t.returncode == 0, t.stderr
    assert "to start at" in t.stderr  # "sbatch: Job 123 to start at ... using 2 processors"


# Adaptive, no minimum: Dask asks for jobs only once tasks wait.
ADAPTIVE_TOML = CLUSTER_TOML.replace("jobs = 2\n", "adaptive_maximum = 2\n")


def test_an_adaptive_cluster_without_a_minimum_gets_its_jobs_with_the_tasks(slurm, tmp_path):
    """The run does not wait for a first worker before it has tasks (it waited there until
    --stall-timeout, for jobs nothing would ask for); the store equals an in-process run's."""
    assert "jobs =" not in ADAPTIVE_TOML and "adaptive_maximum = 2" in ADAPTIVE_TOML
    assert not _queue(), "fanodome jobs already queued: another run is using this SLURM"
    cfg = write_toml(tmp_path / "slurm.toml", SMALL_TOML + ADAPTIVE_TOML)
    store = tmp_path / "slurm.zarr"
    p = cli("run", str(cfg), "--store", str(store), "--json", "--stall-timeout", "120",
            cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json_out(p)
    assert (doc["total"], doc["done"], doc["failed"]) == (128, 128, 0)
    assert not _queue()
    roundtrip(load_config(cfg), tmp_path / "ref.zarr")
    assert_same_sweep(store, tmp_path / "ref.zarr")


@pytest.mark.parametrize("cluster", [CLUSTER_TOML, ADAPTIVE_TOML], ids=["jobs", "adaptive"])
def test_a_partition_slurm_refuses_ends_the_run_at_once_leaving_nothing(cluster, slurm,
                                                                        tmp_path):
    """sbatch refuses the jobs (no such partition): the run stops with SLURM's own error in one
    line, exit 2, long before --stall-timeout, and leaves no store, lock, job or credential;
    an adaptive cluster too (one job is submitted at its start to learn this)."""
    assert not _queue(), "fanodome jobs already queued: another run is using this SLURM"
    cfg = write_toml(tmp_path / "slurm.toml", SMALL_TOML + cluster)
    store = tmp_path / "slurm.zarr"
    t0 = time.perf_counter()
    p = cli("run", str(cfg), "--store", str(store), "--queue", "nosuch", "--stall-timeout", "120",
            cwd=tmp_path, timeout=300)
    took = time.perf_counter() - t0
    assert p.returncode == 2, p.stderr[-3000:]
    assert took < 30, f"{took:.1f} s"  # the CLI's start and one sbatch: about 2 s
    errors = [ln for ln in p.stderr.splitlines() if not ln[:4].isdigit()]  # not log lines
    assert len(errors) == 1, p.stderr
    assert errors[0].startswith("fanodome run: error: --cluster slurm: no job could be "
                                "submitted (sbatch: error: invalid partition specified: nosuch")
    assert "Traceback" not in p.stderr and "Exception in callback" not in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["slurm.toml"]
    assert not _queue()
