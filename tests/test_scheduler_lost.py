"""A scheduler that dies under ``fanodome run``, ``explore`` and ``refine``: the command stops
within seconds with one line naming the scheduler's address, that the connection was lost, that
what was written is kept and the way on; exit 3, no traceback; the way on, with a new scheduler,
finishes the store. A real ``dask scheduler`` and ``dask worker`` (tests/test_reliability.py's
``_Cluster``), the scheduler SIGKILLed once the store shows progress."""
from __future__ import annotations

import re
import shlex
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from sweep_support import (assert_same_sweep, cli, cli_background, kill_group, points_done,
                           roundtrip, slow_compute, small_config, wait_for, write_toml)
from test_reliability import _Cluster

from sweep import flags
from sweep import store as store_mod
from sweep.config import load_config
from sweep.execution.runner import InProcessExecutor, SchedulerLost, Stalled
from sweep.run.service import run_sweep
from sweep.store import explored

STOP_WITHIN_S = 45.0
"""A stop 'within seconds' of the kill: distributed's client tries to connect again for 10 s
(``SCHEDULER_TIMEOUT_S``), then the command closes its client and releases the lock; generous
for a loaded 2-core machine."""

PROGRESS_S = 300.0
"""Longest wait for the first result in the store (a cold numba cache compiles first)."""

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
"""A line of the ``logging`` format the CLI sets (``sweep/cli/__init__.py``)."""

RUN_TOML = """
[grid]
eta = { start = 0.0, stop = 3.0, step = 0.02 }
g = { start = 0.05, stop = 0.45, step = 0.01 }
L = [8.5, 9.0, 9.5]
"""
"""18 573 points: about 10 s on one worker, so the kill after the first chunk lands mid-run."""

EXPLORE_TOML = """
[grid]
g = 0.3333333333333333
eta = { start = -0.5, stop = 3.0, step = 0.25 }

[explore]
axes = { L = [7.0, 11.0], W = [3.0, 10.0] }
budget = 6
polish_points = 2
"""
"""Samples of about 2 s each (the maximum over eta, followed past the grid)."""

REFINE_TOML = """
[grid]
eta = { start = 0.0, stop = 3.0, step = 0.05 }
g = { start = 0.2, stop = 0.4, step = 0.01 }
L = [8.5, 9.0]

[refine]
curves_per_task = 1
"""
"""42 curves and 2 dome tops, a task each: seconds of refining."""


def _lose_the_scheduler(tmp_path: Path, *args: str, progressed) -> tuple[int, str, str, float]:
    """Run ``fanodome ARGS --scheduler ADDRESS`` on a real cluster of one worker, SIGKILL the
    scheduler once ``progressed()``; (exit code, stdout and stderr, address, seconds from the
    kill to the exit)."""
    cluster = _Cluster(tmp_path)
    log = tmp_path / "fanodome.log"
    try:
        cluster.worker()
        proc = cli_background(*args, "--scheduler", cluster.address, log=log)
        try:
            wait_for(progressed, timeout=PROGRESS_S, what="the first result", interval=0.05)
            cluster.procs[0].kill()  # the scheduler
            t0 = time.monotonic()
            rc = proc.wait(timeout=2 * STOP_WITHIN_S)
            stopped_in = time.monotonic() - t0
        finally:
            kill_group(proc)
    finally:
        cluster.close()
    return rc, log.read_text(), cluster.address, stopped_in


def _the_line(out: str, command: str, address: str, stopped_in: float) -> str:
    """The one line (not a log line) of a command whose scheduler was lost."""
    assert "Traceback" not in out, out
    assert stopped_in < STOP_WITHIN_S, out
    lines = [ln for ln in out.splitlines() if ln.strip() and not LOG_LINE.match(ln)
             and "numba kernels are not compiled yet" not in ln]
    assert len(lines) == 1, out
    line = lines[0]
    assert line.startswith(f"fanodome {command}: lost the connection to the scheduler at "
                           f"{address}"), line
    return line


def _way_on(line: str, marker: str, *, address: str, again: str) -> list[str]:
    """The command line after ``marker`` in ``line``, on the new scheduler at ``again``: the
    arguments after ``fanodome``."""
    argv = shlex.split(line.split(marker, 1)[1])
    assert argv[0] == "fanodome" and argv.count(address) == 1, line
    return [again if a == address else a for a in argv[1:]]


def _on_a_new_cluster(tmp_path: Path, args: list[str]):
    """Run ``fanodome ARGS`` on a new cluster (its address in ARGS as ``{address}``)."""
    (tmp_path / "again").mkdir()
    cluster = _Cluster(tmp_path / "again")
    try:
        cluster.worker()
        return cli(*[a.replace("{address}", cluster.address) for a in args], timeout=600)
    finally:
        cluster.close()


@pytest.mark.slow
@pytest.mark.ci
def test_run_whose_scheduler_dies_stops_with_one_line_and_resumes(tmp_path):
    cfg = write_toml(tmp_path / "run.toml", RUN_TOML)
    store = tmp_path / "s.zarr"
    rc, out, address, stopped_in = _lose_the_scheduler(
        tmp_path, "run", str(cfg), "--store", str(store),
        progressed=lambda: points_done(store) > 0)
    assert rc == 3, out
    line = _the_line(out, "run", address, stopped_in)
    assert str(store) in line and "--resume" in line, line
    assert "cannot write the store" not in out and "free the space" not in out, out
    assert not Path(f"{store}.lock").exists()
    counts = store_mod.status_counts(str(store))
    assert 0 < counts["done"] < counts["total"] and counts["failed"] == 0, counts
    print(f"run: exit 3 {stopped_in:.1f} s after the kill, {counts['done']} of "
          f"{counts['total']} points kept: {line}")

    resumed = _on_a_new_cluster(tmp_path, ["run", str(cfg), "--store", str(store),
                                           "--scheduler", "{address}", "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    reference = tmp_path / "reference.zarr"
    roundtrip(load_config(cfg), reference)
    assert_same_sweep(store, reference)


def _samples_done(store: Path) -> int:
    try:
        return explored.explore_status(str(store))["samples"]["done"]
    except (OSError, KeyError, ValueError):  # not laid out yet, or being laid out
        return 0


@pytest.mark.slow
def test_explore_whose_scheduler_dies_stops_with_one_line_and_resumes(tmp_path):
    cfg = write_toml(tmp_path / "explore.toml", EXPLORE_TOML)
    store = tmp_path / "x.zarr"
    rc, out, address, stopped_in = _lose_the_scheduler(
        tmp_path, "explore", str(cfg), "--store", str(store),
        progressed=lambda: _samples_done(store) > 0)
    assert rc == 3, out
    line = _the_line(out, "explore", address, stopped_in)
    kept = explored.explore_status(str(store))
    assert 0 < kept["samples"]["done"] < 6 and kept["samples"]["failed"] == 0, kept
    assert not Path(f"{store}.lock").exists()
    args = _way_on(line, "resume with: ", address=address, again="{address}")
    assert args == ["explore", str(cfg), "--store", str(store), "--scheduler", "{address}",
                    "--resume"], line

    resumed = _on_a_new_cluster(tmp_path, args)
    assert resumed.returncode == 0, resumed.stderr
    status = explored.explore_status(str(store))
    assert status["samples"] == {"done": 6, "failed": 0, "of": 6}, status
    assert status["finished"]["learner"] and status["best"] is not None, status


def _some_refined(store: Path) -> bool:
    try:
        status = store_mod.open_dataset(str(store), check_lost=False)["refine_status"]
        return bool(np.any(status.values & flags.DONE))
    except (ValueError, KeyError, OSError):  # not laid out, or being rewritten
        return False


@pytest.mark.slow
def test_refine_whose_scheduler_dies_stops_with_one_line_and_goes_on(tmp_path):
    from sweep.refine.service import refine_store

    config = load_config(write_toml(tmp_path / "refine.toml", REFINE_TOML))
    store, reference = tmp_path / "s.zarr", tmp_path / "reference.zarr"
    roundtrip(config, store, refine=False)
    shutil.copytree(store, reference)
    refine_store(str(reference), executor=InProcessExecutor())  # the undisturbed numbers
    rc, out, address, stopped_in = _lose_the_scheduler(
        tmp_path, "refine", str(store), progressed=lambda: _some_refined(store))
    assert rc == 3, out
    line = _the_line(out, "refine", address, stopped_in)
    assert "what is refined is kept" in line, line
    assert "cannot write the store" not in out and "free the space" not in out, out
    assert not Path(f"{store}.lock").exists()
    args = _way_on(line, "go on with: ", address=address, again="{address}")
    assert args == ["refine", str(store), "--scheduler", "{address}"], line

    again = _on_a_new_cluster(tmp_path, args)
    assert again.returncode == 0, again.stderr
    got, want = store_mod.open_dataset(str(store)), store_mod.open_dataset(str(reference))
    for name in ("eta_max", "tc_max", "refine_status", "top_tc", "top_status"):
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
    assert refine_store(str(store), executor=InProcessExecutor()).nothing_to_do


CLIENT_TIMEOUT_S = 2.0
"""The timeout of the test's own client: distributed's client tries to connect again for this
long after its connection drops, then closes."""


def test_the_runner_names_a_lost_scheduler_and_keeps_what_finished(tmp_path):
    """The runner itself (no CLI): :class:`SchedulerLost`, a :class:`Stalled`, naming the
    address, soon after the client gives up; no task recorded as failed for the futures the
    lost connection cancelled; the store keeps what finished."""
    import threading

    import distributed
    cluster = _Cluster(tmp_path)
    store = tmp_path / "s.zarr"
    killed = {}

    def kill_when_started():
        wait_for(lambda: points_done(store) > 0, timeout=PROGRESS_S, what="the first chunk",
                 interval=0.05)
        cluster.procs[0].kill()
        killed["at"] = time.monotonic()

    try:
        cluster.worker()
        with distributed.Client(cluster.address, timeout=CLIENT_TIMEOUT_S) as client:
            client.wait_for_workers(1, timeout=90)
            threading.Thread(target=kill_when_started, daemon=True).start()
            with pytest.raises(SchedulerLost) as err:
                run_sweep(small_config(), store=str(store), executor=client,
                          compute=slow_compute)
            stopped_in = time.monotonic() - killed["at"]
    finally:
        cluster.close()
    assert isinstance(err.value, Stalled)
    assert err.value.address == cluster.address
    assert str(err.value).startswith(f"lost the connection to the scheduler at "
                                     f"{cluster.address}"), err.value
    assert stopped_in < CLIENT_TIMEOUT_S + 5, stopped_in
    counts = store_mod.status_counts(str(store))
    assert counts["done"] > 0 and counts["failed"] == 0, counts
    assert store_mod.read_failures(str(store)) == []


@pytest.mark.slow
def test_a_scheduler_back_at_its_address_in_time_costs_nothing(tmp_path):
    """A scheduler killed and started again at the same address within the client's timeout:
    the client connects again, the runner submits the tasks the lost connection cancelled, and
    ``fanodome run`` finishes (exit 0) with the store of an undisturbed run."""
    cfg = write_toml(tmp_path / "run.toml", RUN_TOML)
    store = tmp_path / "s.zarr"
    cluster = _Cluster(tmp_path)
    log = tmp_path / "fanodome.log"
    port = cluster.address.rsplit(":", 1)[1]
    try:
        cluster.worker()
        proc = cli_background("run", str(cfg), "--store", str(store), "--scheduler",
                              cluster.address, log=log)
        try:
            wait_for(lambda: points_done(store) > 0, timeout=PROGRESS_S, what="the first chunk",
                     interval=0.05)
            cluster.procs[0].kill()
            cluster._start("scheduler", "--host", "127.0.0.1", "--port", port,
                           "--no-dashboard")
            cluster.worker()
            rc = proc.wait(timeout=600)
        finally:
            kill_group(proc)
    finally:
        cluster.close()
    out = log.read_text()
    assert rc == 0, out
    assert "dropped and came back" in out and "Traceback" not in out, out
    reference = tmp_path / "reference.zarr"
    roundtrip(load_config(cfg), reference)
    assert_same_sweep(store, reference)
