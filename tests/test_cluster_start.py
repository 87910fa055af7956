"""A batch cluster whose job submission fails: `fanodome run --cluster slurm|pbs` stops at once
with one line naming the submission's error (exit 2, nothing written), instead of waiting
``--stall-timeout`` for a worker that cannot come.

The submit command here is a real executable that fails (``false``, found on PATH as ``sbatch``
or ``qsub``), run by dask-jobqueue's own ``Job.start`` through distributed's ``SpecCluster``:
the same path as a real batch system's refusal, which tests/test_slurm.py checks against a real
SLURM (an unknown partition).
"""
from __future__ import annotations

import os
import shutil
import time

import pytest

from sweep_support import SMALL_TOML, cli, write_toml

STALL_S = 120
"""--stall-timeout of these runs: a refused submission must end the run long before it."""

PROMPT_S = 30
"""Seconds within which a refused submission ends the run: the CLI's imports, the scheduler's
start and the submit command, about 2 s; the margin is for a loaded machine."""


def failing_submit_command(folder, name: str) -> dict:
    """An environment whose PATH finds ``name`` first as ``false`` (exit 1, no output)."""
    folder.mkdir()
    (folder / name).symlink_to(shutil.which("false"))
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("kind, command", [("slurm", "sbatch"), ("pbs", "qsub")])
def test_a_refused_submission_ends_the_run_at_once_leaving_nothing(tmp_path, kind, command):
    env = failing_submit_command(tmp_path / "bin", command)
    work = tmp_path / "work"
    work.mkdir()
    cfg = write_toml(work / "c.toml", SMALL_TOML)
    store = work / "s.zarr"
    t0 = time.perf_counter()
    p = cli("run", str(cfg), "--store", str(store), "--cluster", kind, "--jobs", "2",
            "--interface", "lo", "--shared-fs", "--stall-timeout", str(STALL_S), cwd=work,
            env=env, timeout=STALL_S + 60)
    took = time.perf_counter() - t0
    assert p.returncode == 2, p.stderr[-3000:]
    assert took < PROMPT_S, f"{took:.1f} s"
    errors = [ln for ln in p.stderr.splitlines() if not ln[:4].isdigit()]  # not log lines
    assert errors == [f"fanodome run: error: --cluster {kind}: no job could be submitted "
                      f"({command} exited with code 1, printing nothing)"], p.stderr
    assert "Traceback" not in p.stderr and "Exception in callback" not in p.stderr
    # No store, no lock, and the workers' TLS credentials written for the jobs are gone.
    assert sorted(x.name for x in work.iterdir()) == ["c.toml"]
