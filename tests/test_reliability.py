"""Issue 14: nothing lost, nothing hung, nothing leaked.

Each test drives the real component: forked processes racing on the lock, processes killed by
signals, a real ``dask scheduler`` and ``dask worker``, real stores on disk, a small tmpfs for a
full disk (skipped with the reason where it cannot be mounted), the ``fanodome`` command line.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweep.lock import LockedError, StoreLock
from tests.sweep_support import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def fanodome(*args, timeout=120, cwd=None):
    return subprocess.run([sys.executable, "-m", "sweep.cli", *map(str, args)], env=ENV,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------ 1 lock

RACE_PAIRS = 100
HOLD_S = 0.01


def _racer(store: str, marker: str, start: float) -> int:
    """In a forked child: 0 held the lock alone, 1 refused, 3 found another holder."""
    while time.monotonic() < start:
        pass
    lock = StoreLock(store)
    try:
        lock.acquire()
    except LockedError:
        return 1
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return 3
    os.close(fd)
    time.sleep(HOLD_S)
    os.unlink(marker)
    lock.release()
    return 0


def test_lock_racing_pairs_after_a_crash_never_hold_together(tmp_path):
    """100 pairs start together on a store whose last run died (its lock file left behind):
    never two holders; always exactly one of each pair holds."""
    store = str(tmp_path / "s.zarr")
    marker = str(tmp_path / "holder")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    note = json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "then"})
    outcomes = []
    for _ in range(RACE_PAIRS):
        Path(store + ".lock").write_text(note)  # what a crashed run leaves behind
        start = time.monotonic() + 0.02
        pids = []
        for _ in range(2):
            pid = os.fork()
            if pid == 0:  # the child never returns into pytest
                code = 4
                try:
                    code = _racer(store, marker, start)
                finally:
                    os._exit(code)
            pids.append(pid)
        codes = sorted(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids)
        outcomes.append(tuple(codes))
    assert not [c for c in outcomes if 3 in c], f"two holders in {outcomes.count((0, 3))} pairs"
    assert all(0 in c for c in outcomes), outcomes
    assert all(c in ((0, 0), (0, 1)) for c in outcomes), outcomes


HOLDER = """
import sys, time
from sweep.lock import StoreLock
lock = StoreLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_lock_of_a_killed_run_is_recoverable(tmp_path, sig, caplog):
    store = str(tmp_path / "s.zarr")
    p = subprocess.Popen([sys.executable, "-c", HOLDER, store], env=ENV,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"PID {p.pid}"):
            StoreLock(store).acquire()
    finally:
        p.send_signal(sig)
        p.wait(timeout=30)
        p.stdout.close()
    assert os.path.exists(store + ".lock")  # left behind by the dead run
    with StoreLock(store) as lock:
        assert lock.held
    assert "stale lock" in caplog.text
    assert not os.path.exists(store + ".lock")


def test_lock_note_from_another_host_does_not_block(tmp_path):
    """A requeued job on another node finds the note of a run whose host died; no OS lock is
    held on it any more (the file server released it), so the note does not block."""
    store = str(tmp_path / "s.zarr")
    Path(store + ".lock").write_text(json.dumps({"pid": 1, "host": "elsewhere.example",
                                                 "started": "then"}))
    with StoreLock(store) as lock:
        assert lock.held


# ----------------------------------------------------------------- 3 inputs that hang or fail

KERNEL = """
import math
from solver.bands import band_edge
for m_barrier, m_well, L in ((1e300, 1.0, 8.5), (1.0, 1e-100, 8.5), (1.0, 0.86, 1e-300)):
    e = band_edge(3, False, L, 5.5, 4160.0, m_well, m_barrier, 1.0, 1.0)
    print(e)
"""


def test_band_search_is_bounded_whatever_the_numbers():
    """The kernel itself (validation bypassed) ends on numbers that once ran for 36 minutes."""
    out = subprocess.run([sys.executable, "-c", KERNEL], env=ENV, capture_output=True,
                         text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.split()) == 3


@pytest.mark.parametrize(("args", "message"), [
    (["bands", "--m-barrier", "1e300"], "m_barrier must be <= 1000"),
    (["bands", "--m-well", "1e-100"], "m_well must be >= 0.001"),
    (["bands", "--L", "1e-300"], "L must be >= 0.1"),
    (["bands", "--nbands", "100000"], "nbands must be <= 100"),
    (["tc", "--eta", "0:1e12:1", "--g", "0.3"], "longer than"),
])
def test_hostile_solver_inputs_exit_2_with_one_line(args, message, capsys):
    from sweep.cli import main
    t0 = time.monotonic()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert time.monotonic() - t0 < 30


@pytest.mark.parametrize(("table", "message"), [
    ("[model]\nm_barrier = 1e300\n", "model.m_barrier: must be <= 1000"),
    ("[model]\nt_floor = 1e-300\n", "model.t_floor: must be >= 1e-09"),
    ("[model]\nnbands = 100000\n", "model.nbands: must be <= 100"),
    ("[grid]\neta = { start = 0, stop = 1e12, step = 1 }\n", "longer than"),
    ("[grid]\neta = { start = 0, stop = 1, num = 100000 }\ng = { start = 0, stop = 0.4, "
     "num = 100000 }\n", "set [run] max_points = 10000000000"),
])
def test_hostile_configs_are_refused_before_anything_is_laid_out(tmp_path, table, message,
                                                                   capsys):
    from sweep.cli import main
    cfg = tmp_path / "c.toml"
    cfg.write_text(table)
    assert main(["run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s.zarr").exists()
