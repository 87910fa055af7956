"""The local cluster in both of its modes, threads of the ``fanodome`` process and worker
processes: the mode each work gets, and the same stall, kill, lock and resume tests for both.
Real ``fanodome run`` processes, real stores on disk."""
from __future__ import annotations

import os
import shlex
import shutil

import pytest
from sweep_support import (LONG_POINTS, LONG_TOML, SMALL_TOML, assert_same_sweep, cli,
                           cli_background, json_out, kill_group, points_done, roundtrip,
                           small_config, wait_for, write_toml)

from sweep.config import ClusterConfig, paper_config, parse_config
from sweep.execution.clusters import PROCESS_CLUSTER_S, resolve_local_mode
from sweep.run.tasks import estimated_work

MODES = ("threads", "processes")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "small.zarr"
    roundtrip(small_config(), path)
    return path


# ----------------------------------------------------------------------------- the rule

def _mode(work_s: float, *, workers: int, gil_share: float = 0.1, **spec) -> str:
    return resolve_local_mode(ClusterConfig(workers=workers, **spec), work_s=work_s,
                              gil_share=gil_share).local_mode


def test_small_work_gets_threads_large_work_processes():
    paper = estimated_work(paper_config(), refine=True)
    assert _mode(workers=2, **paper) == "threads"
    # the loss in threads, (n - 1) x share x work / n, against the processes' start
    limit = PROCESS_CLUSTER_S / 0.1 * 2  # 2 workers, 10 % of the time under the GIL
    assert _mode(0.99 * limit, workers=2) == "threads"
    assert _mode(1.01 * limit, workers=2) == "processes"
    assert _mode(1e6, workers=1) == "threads"  # one worker shares the GIL with no one
    assert _mode(0.99 * limit, workers=16) == "processes"  # 15 others hold it
    big = parse_config({"grid": {"L": {"start": 7.0, "stop": 12.0, "num": 50}}})
    assert _mode(workers=2, **estimated_work(big, refine=False)) == "processes"
    gaps = parse_config({"outputs": {"gaps": True}})
    assert _mode(workers=2, **estimated_work(gaps, refine=False)) == "processes"


def test_a_mode_given_or_another_kind_is_kept():
    for mode in MODES:
        assert _mode(1e9, workers=2, local_mode=mode) == mode
    spec = ClusterConfig(kind="slurm")
    assert resolve_local_mode(spec, work_s=1.0, gil_share=0.1) is spec


def test_the_mode_is_a_config_key_and_a_flag(tmp_path):
    assert parse_config({"cluster": {"local_mode": "threads"}}).cluster.local_mode == "threads"
    from sweep.config import ConfigError
    with pytest.raises(ConfigError, match="^cluster.local_mode: expected one of auto, "):
        parse_config({"cluster": {"local_mode": "fibres"}})
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    out = cli("run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--local-mode", "fibres")
    assert out.returncode == 2 and "--local-mode" in out.stderr
    out = cli("run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--cluster", "slurm",
              "--local-mode", "threads")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "--local-mode: not used by a slurm cluster" in out.stderr


@pytest.mark.slow
@pytest.mark.ci
def test_threads_run_in_this_process_and_listen_nowhere(tmp_path, reference):
    from sweep.run.service import run_sweep

    seen = {}

    def on_client(client):
        seen["scheduler"] = client.scheduler.address
        seen["workers"] = sorted(client.scheduler_info()["workers"])

    store = tmp_path / "s.zarr"
    result = run_sweep(small_config(), store=str(store), on_client=on_client,
                       cluster=ClusterConfig(workers=2, local_mode="threads"))
    assert result.complete
    assert seen["scheduler"].startswith("inproc://"), seen
    assert len(seen["workers"]) == 2 and all(w.startswith("inproc://") for w in seen["workers"])
    assert {w["worker"] for w in result.accounting()["workers"]} <= set(seen["workers"])
    assert_same_sweep(store, reference)


# --------------------------------------------------- the same stall, kill, lock and resume

PAUSED_ENV = {**os.environ, "DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE": "0.001",
              "DASK_DISTRIBUTED__WORKER__MEMORY__TERMINATE": "False"}
"""A worker pauses at 0.1 % of its memory limit, so at once, and stays paused: no nanny restarts
it (a process worker's nanny would otherwise restart it over and over). The limit itself cannot
be set that low (``MIN_MEMORY_PER_WORKER``)."""


@pytest.mark.slow
@pytest.mark.parametrize("mode", [pytest.param("threads", marks=pytest.mark.ci), "processes"])
def test_a_paused_local_cluster_stalls_with_exit_3_and_resumes(mode, tmp_path, reference):
    """A worker whose process is over its memory limit's pause threshold runs nothing: the
    run ends with exit 3 after --stall-timeout, and --resume finishes the store."""
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    store = tmp_path / "s.zarr"
    out = cli("run", str(cfg), "--store", str(store), "--workers", "1", "--memory", "1GiB",
              "--stall-timeout", "3", "--local-mode", mode, env=PAUSED_ENV, timeout=300)
    assert out.returncode == 3, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("fanodome run:")]
    assert len(lines) == 1 and "paused" in lines[0] and "--resume" in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not os.path.exists(f"{store}.lock")
    resumed = cli("run", str(cfg), "--store", str(store), "--resume", "--local-mode", mode,
                  "--json", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert json_out(resumed)["done"] == 128
    assert_same_sweep(store, reference)


@pytest.mark.slow
@pytest.mark.ci
def test_a_paused_local_cluster_stops_a_refine_with_exit_3(tmp_path, reference):
    """``fanodome refine`` takes --stall-timeout as run does: on a local cluster whose worker
    stays paused it ends with exit 3 and one line with the way on, which then refines."""
    store = tmp_path / "s.zarr"
    shutil.copytree(reference, store)
    out = cli("refine", str(store), "--workers", "1", "--memory", "1GiB", "--stall-timeout", "3",
              "--local-mode", "threads", env=PAUSED_ENV, timeout=300)
    assert out.returncode == 3, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("fanodome refine:")]
    assert len(lines) == 1 and "paused" in lines[0] and "go on with: " in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert not os.path.exists(f"{store}.lock")
    again = shlex.split(lines[0].split("go on with: ")[1])
    assert again[:2] == ["fanodome", "refine"] and "--stall-timeout" in again, again
    done = cli(*again[1:], "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json_out(done)
    assert doc["curves"] == 16 and doc["failed_tasks"] == 0, doc


def _running(proc) -> bool:
    assert proc.poll() is None, f"the run ended early with {proc.returncode}"
    return True


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    import tomllib

    path = tmp_path_factory.mktemp("ref") / "long.zarr"
    roundtrip(parse_config(tomllib.loads(LONG_TOML)), path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("mode", [pytest.param("threads", marks=pytest.mark.ci), "processes"])
def test_a_killed_local_run_holds_its_lock_then_resumes_to_the_same_store(mode, tmp_path,
                                                                         long_reference):
    cfg = write_toml(tmp_path / "long.toml", LONG_TOML)
    store = tmp_path / "s.zarr"
    client = cli_background("run", str(cfg), "--store", str(store), "--workers", "2",
                            "--local-mode", mode, log=tmp_path / "client.log")
    try:
        wait_for(lambda: _running(client) and points_done(store) >= 100, timeout=120,
                 what="the first chunks")
        second = cli("run", str(cfg), "--store", str(store), "--resume")
        assert second.returncode == 2 and "another run holds the store" in second.stderr
    finally:
        kill_group(client)  # SIGKILL: the client, its threads, its worker processes
    done_at_kill = points_done(store)
    assert done_at_kill < LONG_POINTS, "the kill must land mid-run"
    resumed = cli("run", str(cfg), "--store", str(store), "--resume", "--local-mode", mode,
                  "--json", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    doc = json_out(resumed)
    assert doc["done"] == LONG_POINTS and 0 < doc["computed_points"] < LONG_POINTS
    assert "stale lock" in resumed.stderr
    assert not os.path.exists(f"{store}.lock")
    assert_same_sweep(store, long_reference)


def test_a_cluster_whose_first_worker_never_joins_stalls_instead_of_waiting_forever():
    # a batch cluster whose every submission fails has no worker, ever: the wait for the
    # first is bounded by the stall timeout (a real scheduler without workers here)
    import time

    import distributed

    from sweep.execution.clusters import _wait_for_first_worker
    from sweep.execution.runner import Stalled

    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        t0 = time.perf_counter()
        with pytest.raises(Stalled, match=r"no slurm worker joined in 1.5 s \(--stall-timeout\)"):
            _wait_for_first_worker(client, kind="slurm", timeout_s=1.5)
        assert 1.5 <= time.perf_counter() - t0 < 10
