"""Shared helpers of the sweep tests: configs, the one roundtrip, store comparison, processes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

from sweep import store as store_mod
from sweep.config import SweepConfig, parse_config
from sweep.execution.runner import InProcessExecutor
from sweep.run.service import run_sweep

REPO = Path(__file__).resolve().parent.parent

SMALL_TOML = """
[grid]
eta = { start = -0.5, stop = 3.0, num = 8 }
g = [0.2, 0.25, 0.3, 1e-3]
L = [8.5, 9.0]
omega0 = [200.0, 230.0]

[run]
chunk_eta = 3
chunk_g = 2
retries = 1
"""

LONG_TOML = """
[grid]
eta = { start = -0.5, stop = 3.0, num = 40 }
g = { start = 0.05, stop = 0.44, step = 0.01 }

[run]
chunk_eta = 4
chunk_g = 1
retries = 1
"""
LONG_POINTS = 40 * 40
"""A sweep of 400 tasks of 4 points: it lasts seconds, so a kill lands in its middle."""


def tasks_for(*, store: str, plan, axes, model, chunks, storage_options=None,
              gap_T_over_tc=()):
    """One ChunkTask per store chunk of ``chunks`` (block indices of ``plan``), lazily."""
    from sweep.run.tasks import task_for_region

    for index in chunks:
        yield task_for_region(store=store, index=index, region=plan.region(index), axes=axes,
                              model=model, storage_options=storage_options,
                              gap_T_over_tc=gap_T_over_tc)


def small_config() -> SweepConfig:
    return parse_config(tomllib.loads(SMALL_TOML))


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def roundtrip(config: SweepConfig, store: Path, **kw) -> xr.Dataset:
    """Run ``config`` in-process into ``store`` and read it back (the one roundtrip helper)."""
    run_sweep(config, store=str(store), executor=InProcessExecutor(), **kw)
    return store_mod.open_dataset(str(store)).load()


def assert_same_sweep(a: str | Path, b: str | Path) -> None:
    """Two stores hold the same sweep, value for value (creation time aside)."""
    da_, db = store_mod.open_dataset(str(a)).load(), store_mod.open_dataset(str(b)).load()
    assert set(da_.variables) == set(db.variables)
    for name in da_.variables:
        np.testing.assert_array_equal(da_[name].values, db[name].values, err_msg=name)
        assert da_[name].attrs.keys() == db[name].attrs.keys(), name
    skip = {"created"}
    assert {k: v for k, v in da_.attrs.items() if k not in skip} == \
        {k: v for k, v in db.attrs.items() if k not in skip}


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m sweep.cli ARGS`` and wait."""
    return subprocess.run([sys.executable, "-m", "sweep.cli", *args], capture_output=True,
                          text=True, cwd=kw.pop("cwd", REPO), timeout=kw.pop("timeout", 120),
                          **kw)


def cli_background(*args: str, log: Path) -> subprocess.Popen:
    """Start ``python -m sweep.cli ARGS`` in its own process group (killed by ``kill_group``)."""
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "sweep.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started with ``cli_background`` and everything it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def points_done(store: Path) -> int:
    """Points done so far (0 while the store is not laid out yet)."""
    root = store / "zarr.json"
    if not root.exists() or b"consolidated_metadata" not in root.read_bytes():
        return 0  # not laid out, or being laid out (consolidation comes last)
    return store_mod.status_counts(str(store))["done"]


def json_out(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout)


def slow_compute(task):
    """The chunk task, a little slower: a run lasts long enough to disturb it (importable by
    dask workers started with tests/ on their path)."""
    from sweep.run.tasks import compute_chunk
    time.sleep(0.3)
    return compute_chunk(task)



CF_CHECK = r"""
import sys
from compliance_checker.runner import CheckSuite, ComplianceChecker
CheckSuite.load_all_available_checkers()
ComplianceChecker.run_checker(sys.argv[1], ["cf:1.8"], verbose=0, criteria="normal",
                              output_filename=sys.argv[2], output_format="json")
"""


def cf_problems(nc: Path) -> dict[str, list[str]]:
    """The IOOS compliance-checker's CF-1.8 errors and warnings of a netCDF file (in its own
    process: it loads plugins), by priority."""
    report = nc.with_suffix(".cf.json")
    proc = subprocess.run([sys.executable, "-c", CF_CHECK, str(nc), str(report)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(report.read_text())["cf:1.8"]
    return {level: [m for item in result[level] for m in item["msgs"]]
            for level in ("high_priorities", "medium_priorities")}
