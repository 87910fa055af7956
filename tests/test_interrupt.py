"""Ctrl-C, SIGTERM and SIGHUP stop ``fanodome run`` within seconds, with one line, the lock
released, the store resumable, exit 130 / 143 / 129. Real processes, a real local cluster."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_support import REPO, kill_group, points_done, wait_for, write_toml

from sweep.config import load_config
from sweep.run.service import check_can_start

LONG_TOML = """
[grid]
eta = { start = -0.5, stop = 3.0, num = 120 }
g = { start = 0.05, stop = 0.45, num = 20 }
L = [8.5, 9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 12.0]

[run]
chunk_eta = 120
chunk_g = 2
"""

STOP_WITHIN_S = 15.0
"""A stop 'within seconds': the cluster closes and the lock goes; generous for a loaded CI."""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["threads", "processes"])
@pytest.mark.parametrize("signum, to_group, code", [
    pytest.param(signal.SIGINT, True, 130, id="ctrl-c", marks=pytest.mark.ci),
    pytest.param(signal.SIGTERM, False, 143, id="sigterm"),
    pytest.param(signal.SIGHUP, True, 129, id="sighup"),  # the terminal or SSH session closed
])
def test_interrupted_run_stops_quietly_and_can_resume(tmp_path, signum, to_group, code, mode):
    """Both modes of a local cluster: worker threads of this process, or worker processes."""
    cfg = write_toml(tmp_path / "long.toml", LONG_TOML)
    store = tmp_path / "long.zarr"
    err_path = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(err_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sweep.cli", "run", str(cfg), "--store", str(store),
             "--workers", "2", "--local-mode", mode], stdout=subprocess.DEVNULL, stderr=err,
            cwd=tmp_path, env=env, start_new_session=True)
    try:
        wait_for(lambda: points_done(store) > 0, timeout=300, what="the first chunk")
        t0 = time.monotonic()
        if to_group:  # a terminal's Ctrl-C reaches the whole process group
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        rc = proc.wait(timeout=60)
        stopped_in = time.monotonic() - t0
    finally:
        kill_group(proc)
    err = err_path.read_text()
    assert rc == code, err
    assert stopped_in < STOP_WITHIN_S, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("interrupted")]
    assert len(lines) == 1, err
    m = re.fullmatch(r"interrupted: (\d+) of (\d+) points done; resume with: (.*)", lines[0])
    assert m, lines
    done, total = int(m[1]), int(m[2])
    assert 0 < done < total == 120 * 20 * 8
    assert m[3] == f"fanodome run {cfg} --store {store} --workers 2 --local-mode {mode} --resume"
    assert not Path(f"{store}.lock").exists()
    assert "distributed." not in err, err  # no worker or nanny chatter
    assert "leaked semaphore" not in err, err
    check_can_start(load_config(cfg), store=str(store), resume=True, overwrite=False)


REFINE_TOML = """
[grid]
eta = { start = -0.5, stop = 3.0, num = 60 }
g = { start = 0.05, stop = 0.45, num = 10 }
L = [8.5, 9.0, 9.5, 10.0]

[run]
chunk_eta = 60
chunk_g = 2

[refine]
curves_per_task = 1
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum, to_group, code", [
    pytest.param(signal.SIGTERM, False, 143, id="sigterm"),
    pytest.param(signal.SIGHUP, True, 129, id="sighup"),
])
def test_interrupted_refine_stops_quietly_and_goes_on(tmp_path, signum, to_group, code):
    """``fanodome refine`` stopped mid-way: one line, the lock released, and a second refine
    gives the numbers of an undisturbed one."""
    import numpy as np

    from sweep import flags
    from sweep import store as store_mod
    from sweep.execution.runner import InProcessExecutor
    from sweep.refine.service import refine_store
    from sweep_support import roundtrip
    cfg = load_config(write_toml(tmp_path / "refine.toml", REFINE_TOML))
    store, reference = tmp_path / "s.zarr", tmp_path / "reference.zarr"
    roundtrip(cfg, store, refine=False)
    subprocess.run(["cp", "-r", str(store), str(reference)], check=True)
    refine_store(str(reference), executor=InProcessExecutor())

    def some_refined():
        try:
            status = store_mod.open_dataset(str(store), check_lost=False)["refine_status"]
            return bool(np.any(status.values & flags.DONE))
        except (ValueError, KeyError, FileNotFoundError):  # not laid out, or being rewritten
            return False

    err_path = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "sweep.cli", "refine", str(store),
                                 "--workers", "1"], stdout=subprocess.DEVNULL, stderr=err,
                                cwd=tmp_path, env=env, start_new_session=True)
    try:
        wait_for(some_refined, timeout=300, what="the first refined curve", interval=0.05)
        os.killpg(proc.pid, signum) if to_group else os.kill(proc.pid, signum)
        rc = proc.wait(timeout=60)
    finally:
        kill_group(proc)
    err = err_path.read_text()
    assert rc == code, err
    assert "Traceback" not in err and "leaked semaphore" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("interrupted")]
    assert lines == [f"interrupted: what is refined is kept; go on with: fanodome refine "
                     f"{store} --workers 1"], err
    assert not Path(f"{store}.lock").exists()
    again = refine_store(str(store), executor=InProcessExecutor())
    assert again.complete and again.curves + again.domes > 0
    got, want = store_mod.open_dataset(str(store)), store_mod.open_dataset(str(reference))
    for name in ("eta_max", "tc_max", "refine_status", "top_tc", "top_status"):
        np.testing.assert_array_equal(got[name].values, want[name].values, err_msg=name)
