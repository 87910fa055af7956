"""Sweeps on a real cluster: `dask scheduler` and `dask worker` processes on 127.0.0.1.

A worker SIGKILLed mid-sweep and a client SIGKILLed then resumed must both end with a store
identical, value for value, to an undisturbed in-process run.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sweep.config import parse_config
from sweep_support import (LONG_POINTS, LONG_TOML, REPO, assert_same_sweep, cli,
                           cli_background, json_out, kill_group, points_done, roundtrip,
                           wait_for, write_toml)

pytestmark = pytest.mark.slow


class Cluster:
    """A scheduler and ``n`` worker processes (no nanny: a SIGKILL really kills a worker)."""

    def __init__(self, tmp_path, n_workers: int):
        self.procs: list[subprocess.Popen] = []
        sched_file = tmp_path / "scheduler.json"
        self.scheduler = self._start(tmp_path / "scheduler.log", [
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(sched_file)])
        wait_for(sched_file.exists, timeout=60, what="the scheduler file")
        self.address = wait_for(lambda: json.loads(sched_file.read_text() or "{}")
                                .get("address"), timeout=30, what="the scheduler address")
        self.workers = [self._start(tmp_path / f"worker{i}.log", [
            "worker", self.address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
            "--no-dashboard", "--death-timeout", "60"]) for i in range(n_workers)]
        logs = [tmp_path / f"worker{i}.log" for i in range(n_workers)]
        wait_for(lambda: all(b"Registered to" in log.read_bytes() for log in logs),
                 timeout=60, what="the workers")

    def _start(self, log, args):
        with open(log, "wb") as out:
            p = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_" + args[0],
                                  *args[1:]], stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


def running(proc: subprocess.Popen) -> bool:
    """True while ``proc`` runs; fails the test at once if it ended early."""
    assert proc.poll() is None, f"the client exited early with {proc.returncode}"
    return True


@pytest.fixture
def cluster2(tmp_path):
    c = Cluster(tmp_path, n_workers=2)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "long.zarr"
    roundtrip(parse_config(__import__("tomllib").loads(LONG_TOML)), path)
    return path


@pytest.mark.ci
def test_worker_sigkill_mid_sweep_loses_nothing(cluster2, tmp_path, long_reference):
    cfg = write_toml(tmp_path / "long.toml", LONG_TOML)
    store = tmp_path / "s.zarr"
    client = cli_background("run", str(cfg), "--store", str(store), "--scheduler",
                            cluster2.address, "--json", log=tmp_path / "client.log")
    try:
        wait_for(lambda: running(client) and points_done(store) >= 100, timeout=120,
                 what="the first chunks")
        os.kill(cluster2.workers[0].pid, signal.SIGKILL)
        assert 0 < points_done(store) < LONG_POINTS, "the kill must land mid-sweep"
        rc = client.wait(timeout=180)
    finally:
        kill_group(client)
    log = (tmp_path / "client.log").read_text()
    assert rc == 0, log
    assert cluster2.workers[0].poll() is not None
    assert_same_sweep(store, long_reference)


@pytest.mark.ci
def test_client_sigkill_then_resume_computes_the_rest(cluster2, tmp_path, long_reference):
    cfg = write_toml(tmp_path / "long.toml", LONG_TOML)
    store = tmp_path / "s.zarr"
    client = cli_background("run", str(cfg), "--store", str(store), "--scheduler",
                            cluster2.address, log=tmp_path / "client.log")
    try:
        wait_for(lambda: running(client) and points_done(store) >= 100, timeout=120,
                 what="the first chunks")
        # A second run on the same store while the first holds it is refused.
        second = cli("run", str(cfg), "--store", str(store), "--scheduler", cluster2.address,
                     "--resume")
        assert second.returncode == 2 and "another run holds the store" in second.stderr
    finally:
        kill_group(client)
    done_at_kill = points_done(store)
    assert done_at_kill < LONG_POINTS, "the kill must land mid-sweep"
    time.sleep(1.0)  # tasks already running when the client died may still land; harmless
    resumed = cli("run", str(cfg), "--store", str(store), "--scheduler", cluster2.address,
                  "--resume", "--json", timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    doc = json_out(resumed)
    assert doc["done"] == LONG_POINTS and doc["failed"] == 0 and doc["pending"] == 0
    assert 0 < doc["computed_points"] <= LONG_POINTS - done_at_kill + 4 * 8
    assert "stale lock" in resumed.stderr
    assert not os.path.exists(str(store) + ".lock")
    assert_same_sweep(store, long_reference)


def test_default_local_cluster_run_and_status(tmp_path):
    """`fanodome run CONFIG` on its own LocalCluster, then `fanodome status`."""
    cfg = write_toml(tmp_path / "tiny.toml", "[grid]\neta = [0.5, 1.0, 1.5]\ng = [0.2, 0.3]\n")
    out = cli("run", str(cfg), "--workers", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # the dashboard link only where the dashboard works (bokeh>=3.1, the [dashboard] extra)
    from sweep.execution.clusters import DASHBOARD_BOKEH
    try:
        import bokeh
        works = tuple(int(x) for x in bokeh.__version__.split(".")[:2]) >= DASHBOARD_BOKEH
    except ImportError:
        works = False
    assert ("dashboard: http://127.0.0.1:" in out.stderr) == works
    assert "points/s" in out.stderr and "highest Tc" in out.stdout
    status = cli("status", str(tmp_path / "tiny.zarr"), "--json")
    assert json_out(status) == {"total": 6, "done": 6, "failed": 0, "pending": 0,
                                "missing": 0}
