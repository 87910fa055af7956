"""Nothing lost, nothing hung, nothing leaked.

Each test drives the real component: forked processes racing on the lock, processes killed by
signals, a real ``dask scheduler`` and ``dask worker``, real stores on disk, a small tmpfs for a
full disk (skipped with the reason where it cannot be mounted), the ``fanodome`` command line.
"""
from __future__ import annotations

import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from sweep.store.lock import LockedError, StoreLock
from sweep_support import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def fanodome(*args, timeout=120, cwd=None):
    return subprocess.run([sys.executable, "-m", "sweep.cli", *map(str, args)], env=ENV,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------------ 1 lock

RACE_PAIRS = 100
HOLD_S = 0.01


def _racer(store: str, marker: str, start: float) -> int:
    """In a forked child: 0 held the lock alone, 1 refused, 3 found another holder (4: an
    exception, a negative code: killed by that signal)."""
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
                code = 4  # an exception: its traceback goes to the test's captured stderr
                try:
                    code = _racer(store, marker, start)
                except BaseException:
                    traceback.print_exc()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
            pids.append(pid)
        codes = sorted(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in pids)
        outcomes.append(tuple(codes))
    assert not [c for c in outcomes if 3 in c], f"two holders in {outcomes.count((0, 3))} pairs"
    odd = collections.Counter(c for c in outcomes if c not in ((0, 0), (0, 1)))
    assert not odd, f"pairs of exit codes other than one holder and one refused or later: {odd}"


HOLDER = """
import sys, time
from sweep.store.lock import StoreLock
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


@pytest.mark.parametrize("plant", ["symlink", "dangling symlink", "hard link", "fifo",
                                   "directory"])
def test_a_lock_path_that_is_not_a_plain_file_is_refused_and_nothing_clobbered(
        tmp_path, plant, capsys):
    """Anyone who can create ``S.zarr.lock`` in a shared directory: the run refuses with one
    line naming the lock, exit 2, and writes nothing through it."""
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    store, lock = tmp_path / "S.zarr", tmp_path / "S.zarr.lock"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    if plant == "symlink":
        lock.symlink_to(victim.name)
    elif plant == "dangling symlink":
        lock.symlink_to(tmp_path / "created-through-the-link")
    elif plant == "hard link":
        os.link(victim, lock)
    elif plant == "fifo":
        os.mkfifo(lock)
    else:
        lock.mkdir()
    assert main(["run", str(cfg), "--store", str(store), "--workers", "1"]) == 2
    _one_line(capsys.readouterr().err, str(lock))
    assert victim.read_text() == "precious"
    assert not store.exists() and not (tmp_path / "created-through-the-link").exists()
    assert os.path.lexists(lock)  # not ours to remove


# ----------------------------------------------------------------- 3 inputs that hang or fail

KERNEL = """
import math
from solver.bands import band_edge
for m_barrier, m_well, L in ((1e300, 1.0, 8.5), (1.0, 1e-100, 8.5), (1.0, 0.86, 1e-300)):
    e = band_edge(3, False, L, 5.5, 4160.0, m_well, m_barrier, 1.0, 1.0)
    print(e)
"""


def test_band_search_is_bounded_whatever_the_numbers():
    """The kernel itself (validation bypassed) ends, in bounded time, on extreme numbers far
    outside the parameter table's ranges."""
    out = subprocess.run([sys.executable, "-c", KERNEL], env=ENV, capture_output=True,
                         text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.split()) == 3


@pytest.mark.parametrize(("args", "message"), [
    (["bands", "--m-barrier", "1e300"], "m_barrier must be <= 1000"),
    (["bands", "--m-well", "1e-100"], "m_well must be >= 0.001"),
    (["bands", "--L", "1e-300"], "L must be >= 0.1"),
    (["bands", "--nbands", "100000"], "nbands must be <= 20"),
    (["tc", "--nbands", "100", "--eta", "1", "--g", "0.3"], "nbands must be <= 20"),
    (["tc", "--eta", "0:1e12:1", "--g", "0.3"], "longer than"),
    (["run", "--store", "never.zarr", "--stall-timeout", "inf"], "must be positive and finite"),
])
def test_hostile_solver_inputs_exit_2_with_one_line(args, message, capsys):
    from sweep.cli import main
    t0 = time.monotonic()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert time.monotonic() - t0 < 30


CORNER_S = 120.0
"""Seconds one Tc at the corner of the extreme masses may take (measured: 12 s at nbands = 20,
m_barrier = 1000, m_well = 0.001 on the 2-core machine at load ~6; minutes at nbands = 100)."""


@pytest.mark.slow
def test_the_mass_corner_of_the_ranges_is_bounded():
    """Every parameter in range, the masses at their ends and the most subbands: one Tc, in
    bounded time."""
    from solver.parameters import PARAMETERS
    nbands = PARAMETERS["nbands"].maximum
    t0 = time.monotonic()
    out = fanodome("tc", "--m-barrier", PARAMETERS["m_barrier"].maximum, "--m-well",
                   PARAMETERS["m_well"].minimum, "--nbands", nbands, "--eta", "1", "--g", "0.3",
                   "--json", timeout=2 * CORNER_S)
    took = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    json.loads(out.stdout)
    print(f"Tc at the corner (nbands = {nbands}, m_barrier = 1000, m_well = 0.001): "
          f"{took:.1f} s")
    assert took < CORNER_S


@pytest.mark.parametrize(("table", "message"), [
    ("[model]\nm_barrier = 1e300\n", "model.m_barrier: must be <= 1000"),
    ("[model]\nt_floor = 1e-300\n", "model.t_floor: must be >= 1e-09"),
    ("[model]\nnbands = 100000\n", "model.nbands: must be <= 20"),
    ("[grid]\neta = { start = 0, stop = 1e12, step = 1 }\n", "longer than"),
    ("[grid]\neta = { start = 0, stop = 1, num = 100000 }\ng = { start = 0, stop = 0.4, "
     "num = 100000 }\n", "set [run] max_points = 10000000000"),
    # two axes at their longest: counted, never made (making them took 6-16 s each)
    ("[grid]\neta = { start = 0, stop = 1, num = 10000000 }\ng = { start = 0.1, stop = 0.4, "
     "step = 5e-8 }\n", "set [run] max_points = 60000010000000"),
])
def test_hostile_configs_are_refused_before_anything_is_laid_out(tmp_path, table, message,
                                                                   capsys):
    from sweep.cli import main
    cfg = tmp_path / "c.toml"
    cfg.write_text(table)
    t0 = time.monotonic()
    assert main(["run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--workers", "1"]) == 2
    assert time.monotonic() - t0 < 5
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize("table", ['[model]\nm_barrier = "{big}"\n', '[grid]\neta = "{big}"\n',
                                   '[{big}]\nx = 1\n'])
def test_a_huge_value_in_a_config_gives_a_short_line(tmp_path, table, capsys):
    """A 100 kB value is cut from the error line; its start (the key) and end stay."""
    from sweep.cli import ERROR_LINE_CHARS, main
    cfg = tmp_path / "c.toml"
    cfg.write_text(table.format(big="x" * 100_000))
    assert main(["run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "characters cut" in err, err[:300]
    assert len(err) < sum(ERROR_LINE_CHARS) + 100, len(err)
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize(("table", "message"), [
    ("[refine]\nmax_evaluations = 1000000000\n", "refine.max_evaluations: must be <= 2000"),
    ("[refine]\nthresholds = [" + ", ".join(str(1.0 + t) for t in range(101)) + "]\n",
     "refine.thresholds: at most 100 temperatures"),
])
def test_refine_settings_that_no_search_could_finish_are_refused(tmp_path, table, message,
                                                                 capsys):
    from sweep.cli import main
    cfg = tmp_path / "c.toml"
    cfg.write_text(table)
    assert main(["run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--workers", "1"]) == 2
    _one_line(capsys.readouterr().err, message)
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.slow
def test_refine_with_tolerances_below_the_float_spacing_ends(tmp_path):
    """Every tolerance 1e-300 (below the spacing of floats near any eta or g) on curves with
    intervals below the temperature floor: each search stops at the float spacing or at
    max_evaluations, flagged where it did not meet its tolerance; nothing loops for ever."""
    import tomllib

    from sweep.config import RefineSettings
    from sweep.refine.service import refine_store
    cfg = parse_config(tomllib.loads(SMALL_TOML + "\n[model]\nt_floor = 20.0\n"))
    store = tmp_path / "s.zarr"
    run_sweep(cfg, store=str(store), executor=InProcessExecutor())
    tiny = RefineSettings(thresholds=(100.0,), eta_tol=1e-300, tc_rtol=1e-300, root_tol=1e-300,
                          floor_tol=1e-300, g_tol=1e-300)
    t0 = time.monotonic()
    result = refine_store(str(store), settings=tiny, executor=InProcessExecutor())
    took = time.monotonic() - t0
    assert result.complete and result.curves == 16 and result.domes == 4
    ds = store_mod.open_dataset(str(store))
    from sweep import flags
    assert bool((ds["refine_status"] & flags.ANTI_BELOW_FLOOR).any())  # floor edges bisected
    print(f"refine with tolerances 1e-300: {took:.1f} s, {result.evaluations} evaluations")


# ------------------------------------------------------------------ 4, 5, 7, 9 stores on disk

from sweep import store as store_mod  # noqa: E402
from sweep.cli import main  # noqa: E402
from sweep.config import parse_config  # noqa: E402
from sweep.execution.runner import InProcessExecutor  # noqa: E402
from sweep.run.service import run_sweep  # noqa: E402
from sweep.run.tasks import compute_chunk  # noqa: E402
from sweep_support import (SMALL_TOML, assert_same_sweep, roundtrip, small_config,  # noqa: E402
                                 write_toml)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "small.zarr"
    roundtrip(small_config(), path)
    return path


def _copy(src: Path, dst: Path) -> Path:
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    return dst


def _chunk_files(store: Path, name: str) -> list[Path]:
    return sorted(p for p in (store / name / "c").rglob("*") if p.is_file())


def test_a_lost_tc_chunk_is_found_counted_and_recomputed(reference, tmp_path, capsys):
    store = _copy(reference, tmp_path / "s.zarr")
    victim = _chunk_files(store, "tc")[0]
    victim.unlink()
    counts = store_mod.status_counts(str(store))
    assert counts["missing"] > 0 and counts["done"] == counts["total"] - counts["missing"]
    assert main(["status", str(store)]) == 0
    assert "values are missing" in capsys.readouterr().out
    assert main(["dome", str(store), "--json"]) == 0
    text = capsys.readouterr().out
    json.loads(text)
    missing = [int(m) for m in re.findall(r'"missing_points": (\d+)', text)]
    assert missing and sum(missing) > 0
    result = run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
                       resume=True)
    assert result.report.tasks_done >= 1 and result.complete
    assert result.counts["missing"] == 0
    assert_same_sweep(store, reference)


def test_a_failed_chunk_never_wipes_its_structures_E_L_and_dE(reference, tmp_path):
    """The last chunk of the first structure fails after its siblings have written E_L, dE."""
    cfg = small_config()
    chunks = list(cfg.plan().chunks())
    last_of_first = [c for c in chunks if c[:3] == chunks[0][:3]][-1]

    def compute(task):
        if task.index == last_of_first:
            raise RuntimeError("this chunk always fails")
        return compute_chunk(task)

    store = tmp_path / "s.zarr"
    result = run_sweep(cfg, store=str(store), executor=InProcessExecutor(), compute=compute)
    assert result.counts["failed"] > 0
    got = store_mod.open_dataset(str(store)).load()
    ref = store_mod.open_dataset(str(reference)).load()
    for name in ("E_L", "dE"):
        assert bool(got[name].notnull().all()), name
        assert got[name].equals(ref[name]), name


def test_the_store_records_no_deployment_secret(tmp_path):
    secret = "hunter2-AKIA-not-for-publishing"
    toml = SMALL_TOML + f"""
[cluster]
kind = "slurm"
account = "phys-42"
job_script_prologue = ["export AWS_SECRET_ACCESS_KEY={secret}"]
"""
    cfg = parse_config(__import__("tomllib").loads(toml))
    store = tmp_path / "s.zarr"
    run_sweep(cfg, store=str(store), executor=InProcessExecutor())
    for p in store.rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            assert secret.encode() not in data and b"phys-42" not in data, p
    attrs = store_mod.read_attrs(str(store))
    assert "[cluster]" not in attrs["config_toml"] and "[grid]" in attrs["config_toml"]


def _one_line(err: str, *needles: str) -> None:
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err


def test_half_laid_out_store_names_itself_and_suggests_overwrite(reference, tmp_path, capsys):
    store = _copy(reference, tmp_path / "s.zarr")
    root = json.loads((store / "zarr.json").read_text())
    root.pop("consolidated_metadata", None)  # what a layout cut short leaves (written last):
    (store / "zarr.json").write_text(json.dumps(root))  # no index, some arrays, no results
    subprocess.run(["rm", "-r", str(store / "status"), str(store / "tc" / "c")], check=True)
    # and the temporary file zarr writes a file through, left by a kill mid-write
    (store / f"zarr.{'0123456789abcdef' * 2}.partial").write_text("{")
    assert main(["status", str(store)]) == 2
    _one_line(capsys.readouterr().err, str(store), "--overwrite")
    before = (store / "zarr.json").read_bytes()
    assert main(["refine", str(store)]) == 2  # refused, and nothing written (no index made)
    _one_line(capsys.readouterr().err, str(store), "--overwrite")
    assert (store / "zarr.json").read_bytes() == before
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    assert main(["run", str(cfg), "--store", str(store), "--resume"]) == 2
    _one_line(capsys.readouterr().err, str(store), "--overwrite")
    run_sweep(small_config(), store=str(store), executor=InProcessExecutor(), overwrite=True)
    assert_same_sweep(store, reference)


@pytest.mark.parametrize("command", ["status", "dome", "refine", "run"])
def test_storage_options_for_a_local_store_are_refused(reference, tmp_path, command, capsys):
    store = _copy(reference, tmp_path / "base.zarr")
    args = [command, str(store)]
    if command == "run":
        args = ["run", str(write_toml(tmp_path / "small.toml", SMALL_TOML)), "--store",
                str(tmp_path / "new.zarr"), "--workers", "1"]
    assert main([*args, "--storage-option", "key=X"]) == 2
    _one_line(capsys.readouterr().err, "--storage-option", "on this machine")
    assert not (tmp_path / "new.zarr").exists()


def test_a_file_url_store_is_a_local_store(reference, tmp_path, capsys):
    """``--store file:///abs/path``: storage options refused (one line, nothing started), a
    folder that is not a store left alone, the lock taken as for the path."""
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    url = (tmp_path / "S.zarr").as_uri()
    out = fanodome("run", cfg, "--store", url, "--storage-option", "key=X", "--workers", "1")
    assert out.returncode == 2, out.stderr
    _one_line(out.stderr, "--storage-option")
    assert not (tmp_path / "S.zarr").exists()
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    assert main(["run", str(cfg), "--store", folder.as_uri(), "--workers", "1"]) == 2
    _one_line(capsys.readouterr().err, "not a zarr store")
    assert (folder / "thesis.tex").read_text() == "precious"
    store = _copy(reference, tmp_path / "held.zarr")
    with StoreLock(str(store)):
        with pytest.raises(LockedError, match="another run holds the store"):
            run_sweep(small_config(), store=store.as_uri(), executor=InProcessExecutor(),
                      overwrite=True)


def test_a_lost_index_of_a_store_with_results_is_not_called_a_layout_cut_short(
        reference, tmp_path, capsys):
    """A refinement killed while it rewrote the metadata leaves the results without their
    index: the advice restores the index (fanodome refine), it never discards the results."""
    from sweep.refine.service import refine_store
    store = _copy(reference, tmp_path / "s.zarr")
    root = json.loads((store / "zarr.json").read_text())
    root.pop("consolidated_metadata")
    (store / "zarr.json").write_text(json.dumps(root))
    assert main(["status", str(store)]) == 2
    err = capsys.readouterr().err
    _one_line(err, str(store), f"fanodome refine {store} restores it")
    assert "--overwrite" not in err and "cut short" not in err.replace("was cut short while", "")
    refine_store(str(store), executor=InProcessExecutor())
    assert main(["status", str(store)]) == 0


def _truncate_root(store: Path) -> None:
    text = (store / "zarr.json").read_text()
    (store / "zarr.json").write_text(text[:len(text) // 2])


def _unknown_codec(store: Path) -> None:
    root = json.loads((store / "zarr.json").read_text())
    root["consolidated_metadata"]["metadata"]["status"]["codecs"].append({"name": "lz4hc"})
    (store / "zarr.json").write_text(json.dumps(root))


@pytest.mark.parametrize("damage", [_truncate_root, _unknown_codec])
def test_damage_is_named_as_damage(reference, tmp_path, damage, capsys):
    """A truncated root zarr.json, a codec zarr cannot decode: every command says what is
    damaged and that --overwrite discards it, never that a layout was cut short."""
    store = _copy(reference, tmp_path / "s.zarr")
    damage(store)
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    for args in (["status", str(store)], ["dome", str(store)], ["refine", str(store)],
                 ["run", str(cfg), "--store", str(store), "--resume"]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        _one_line(err, str(store), "damaged", "--overwrite would discard")
        assert "cut short" not in err, err


def test_corrupt_status_chunk_gives_one_line(reference, tmp_path, capsys):
    store = _copy(reference, tmp_path / "s.zarr")
    victim = _chunk_files(store, "status")[2]
    victim.write_bytes(b"\x00garbage" * 3)
    assert main(["status", str(store)]) == 2
    # The chunk is named, and the way that loses only its points: delete it, then --resume.
    _one_line(capsys.readouterr().err, str(store), "damaged",
              str(victim.relative_to(store)), "delete that file")
    victim.unlink()
    result = run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
                       resume=True)
    assert result.complete and result.report.tasks_done >= 1
    assert_same_sweep(store, reference)


def test_a_corrupt_chunk_read_by_slices_is_named(reference, tmp_path):
    """Reads of a large store go slab by slab and block by block (slices of the leading axes):
    a chunk that cannot be decoded is still named, as a whole-array read names it."""
    import zarr

    from sweep.store.common import StoreError
    from sweep.store.points import _read
    store = _copy(reference, tmp_path / "s.zarr")
    victim = _chunk_files(store, "status")[2]
    victim.write_bytes(b"\x00garbage" * 3)
    status = zarr.open_group(str(store), mode="r")["status"]
    index = tuple(int(i) for i in victim.relative_to(store / "status" / "c").parts)
    where = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index[:3], status.chunks))
    with pytest.raises(StoreError, match="damaged.*" + "/".join(victim.relative_to(store).parts)):
        _read(status, where, str(store))


def test_resume_of_a_missing_store_is_refused(tmp_path, capsys):
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    store = tmp_path / "nothing.zarr"
    assert main(["run", str(cfg), "--store", str(store), "--resume", "--workers", "1"]) == 2
    _one_line(capsys.readouterr().err, "does not exist")
    assert not store.exists()


def test_overwrite_never_deletes_unrelated_files(reference, tmp_path, capsys):
    store = _copy(reference, tmp_path / "s.zarr")
    (store / "notes.txt").write_text("mine")
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    assert main(["run", str(cfg), "--store", str(store), "--overwrite", "--workers", "1"]) == 2
    _one_line(capsys.readouterr().err, "notes.txt")
    assert (store / "notes.txt").read_text() == "mine"
    # A zarr store that is not a sweep is not replaced either (an empty group with nodes of
    # its own; a bare group holding only layout names is a sweep's layout cut short).
    other = tmp_path / "other.zarr"
    (other / "data").mkdir(parents=True)
    (other / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    (other / "data" / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group"}')
    with pytest.raises(store_mod.StoreError, match="not a fanodome sweep store"):
        run_sweep(small_config(), store=str(other), executor=InProcessExecutor(),
                  overwrite=True)
    assert (other / "zarr.json").exists()


ONE_AXIS_EXPLORE_TOML = """
[grid]
g = 0.3
W = 6.0
eta = [0.0, 1.0, 2.0]

[explore]
axes = { L = [7.0, 11.0] }
budget = 3
polish_points = 2
"""


def _one_axis_tc(task):
    """An explore sample's function on the L axis: a closed-form Tc (K), its top at 9 Å."""
    from sweep.explore import SampleOutcome, Value
    (L,) = task.point
    return SampleOutcome(task.index, task.point, task.polish,
                         Value(300.0 - (L - 9.0) ** 2, 1.0, 0, 1, 3000.0, 20.0, 0), 0.0)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes: what a refusal leaves as it was."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


STORE_MODES = ([], ["--resume"], ["--overwrite"])
"""A store's modes: without either option, --resume, --overwrite."""


def test_run_on_an_explore_store_names_it_in_every_mode(tmp_path, capsys):
    """A sweep into an explore store: the first answer says what the store is and what to do,
    and --resume and --overwrite give the same answer (no advice that is then refused)."""
    import tomllib

    from sweep.explore import explore
    store = tmp_path / "EXPLORE.zarr"
    explore(parse_config(tomllib.loads(ONE_AXIS_EXPLORE_TOML)), store=str(store),
            executor=InProcessExecutor(), compute=_one_axis_tc)
    cfg = write_toml(tmp_path / "a.toml", SMALL_TOML)
    before = _files(tmp_path)
    for mode in STORE_MODES:
        assert main(["run", str(cfg), "--store", str(store), "--workers", "1", *mode]) == 2
        _one_line(capsys.readouterr().err,
                  f"fanodome run: error: {store} is an explore store (fanodome explore), not a "
                  f"sweep store: choose another --store; --overwrite replaces only sweep stores")
    assert _files(tmp_path) == before  # nothing written, no lock left


def test_explore_on_a_sweep_store_names_it_in_every_mode(reference, tmp_path, capsys):
    """The same the other way: an explore into a sweep store."""
    store = _copy(reference, tmp_path / "SWEEP.zarr")
    cfg = write_toml(tmp_path / "e.toml", ONE_AXIS_EXPLORE_TOML)
    before = _files(tmp_path)
    for mode in STORE_MODES:
        assert main(["explore", str(cfg), "--store", str(store), "--workers", "1", *mode]) == 2
        _one_line(capsys.readouterr().err,
                  f"fanodome explore: error: {store} is a sweep store (fanodome run), not an "
                  f"explore store: choose another --store; --overwrite replaces only explore "
                  f"stores")
    assert _files(tmp_path) == before


def test_export_into_the_store_is_refused(reference, tmp_path, capsys):
    store = _copy(reference, tmp_path / "s.zarr")
    before = (store / "zarr.json").read_bytes()
    assert main(["export", str(store), "--csv", str(store / "zarr.json")]) == 2
    _one_line(capsys.readouterr().err, "inside the zarr store")
    assert main(["export", str(store), "--csv", str(store / "tc" / "x.csv")]) == 2
    capsys.readouterr()
    assert (store / "zarr.json").read_bytes() == before


def test_overwrite_through_a_symlink(reference, tmp_path):
    real = _copy(reference, tmp_path / "real.zarr")
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    result = run_sweep(small_config(), store=str(link), executor=InProcessExecutor(),
                       overwrite=True)
    assert result.complete and link.is_symlink()
    assert_same_sweep(link, reference)
    assert not os.path.exists(str(real) + ".lock") and not os.path.exists(str(link) + ".lock")


@pytest.fixture
def tiny_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a 2 MB tmpfs for a full disk needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(disk: Path, *, leave: int = 0) -> Path:
    """Fill ``disk`` with a ballast file, then give back ``leave`` bytes of it."""
    ballast = disk / "ballast"
    with open(ballast, "ab", buffering=0) as f:  # unbuffered: nothing left to fail at close
        try:
            while f.write(b"\0" * 4096):
                pass
        except OSError:
            pass
    if leave:
        os.truncate(ballast, max(0, ballast.stat().st_size - leave))
    return ballast


@pytest.mark.parametrize("pages", [0, 2, 8])
def test_full_disk_during_layout_gives_one_advice(tiny_disk, reference, pages):
    """The disk fills up while the store is laid out (with 0, 2 or 8 pages of 4 KiB left):
    the run and a following --resume say the same (the layout was cut short, it holds no
    results, --overwrite), and --overwrite then gives the undisturbed store."""
    store = tiny_disk / "s.zarr"
    ballast = _fill(tiny_disk, leave=4096 * pages)
    with pytest.raises(store_mod.StoreError) as run:
        run_sweep(small_config(), store=str(store), executor=InProcessExecutor())
    ballast.unlink()
    with pytest.raises(store_mod.StoreError) as resume:
        run_sweep(small_config(), store=str(store), executor=InProcessExecutor(), resume=True)
    for err in (str(run.value), str(resume.value)):
        _one_line(err, str(store), "--overwrite")
        assert "rerun with --resume" not in err and "damaged" not in err, err
    assert "layout was cut short" in str(run.value)
    result = run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
                       overwrite=True)
    assert result.complete
    assert_same_sweep(store, reference)


def test_full_disk_mid_run_gives_one_line_and_a_resumable_store(tiny_disk, reference):
    store = tiny_disk / "s.zarr"
    state = {"n": 0}

    def compute(task):
        state["n"] += 1
        if state["n"] == 3:  # the disk fills up while the run is under way
            _fill(tiny_disk)
        return compute_chunk(task)

    with pytest.raises(store_mod.StoreError) as err:
        run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
                  compute=compute)
    _one_line(str(err.value), str(store), "--resume")
    assert "No space left" in str(err.value)
    (tiny_disk / "ballast").unlink()
    result = run_sweep(small_config(), store=str(store), executor=InProcessExecutor(),
                       resume=True)
    assert result.complete
    assert_same_sweep(store, reference)


def _paraboloid(task):
    """An explore sample's function: a closed-form Tc (K) with its top inside the box."""
    from sweep.explore import SampleOutcome, Value
    L, W = task.point
    tc = 300.0 - (L - 9.0) ** 2 - (W - 6.0) ** 2
    return SampleOutcome(task.index, task.point, task.polish,
                         Value(tc, 1.0, 0, 1, 3000.0, 20.0, 0), 0.0)


EXPLORE_DOC = {"grid": {"g": 0.3, "eta": [0.0, 1.0, 2.0]},
               "explore": {"axes": {"L": [7.0, 11.0], "W": [3.0, 10.0]}, "budget": 8,
                           "polish_points": 2}}


@pytest.mark.parametrize("pages", [0, 2, 8])
def test_explore_into_a_full_disk_gives_the_runs_advice(tiny_disk, pages):
    """An explore store's layout cut short by a full disk: one line naming the store, that it
    holds no results and --overwrite, as a run's (it was a bare '[Errno 28]'); --overwrite
    then explores."""
    from sweep.explore import explore
    store = tiny_disk / "x.zarr"
    ballast = _fill(tiny_disk, leave=4096 * pages)
    config = parse_config(EXPLORE_DOC)
    with pytest.raises(store_mod.StoreError) as err:
        explore(config, store=str(store), executor=InProcessExecutor(), compute=_paraboloid)
    _one_line(str(err.value), str(store), "layout was cut short", "--overwrite")
    ballast.unlink()
    result = explore(config, store=str(store), executor=InProcessExecutor(),
                     compute=_paraboloid, overwrite=True)
    assert result.samples == 8 and result.best is not None


@pytest.fixture(scope="module")
def refined_reference(reference, tmp_path_factory):
    from sweep.refine.service import refine_store
    path = _copy(reference, tmp_path_factory.mktemp("refined") / "small.zarr")
    refine_store(str(path), executor=InProcessExecutor())
    return path


@pytest.mark.slow
@pytest.mark.parametrize("pages", [0, 40, 60])
def test_refine_into_a_full_disk_gives_one_line_and_goes_on(tiny_disk, reference,
                                                            refined_reference, pages):
    """The disk is full but for 0, 40 or 60 pages of 4 KiB when a refinement starts (it then
    stops in the layout of the refined numbers, in the curves, in the tops): one line naming
    the store and the way on; a second refine gives the numbers of an undisturbed one."""
    from sweep.refine.service import refine_store
    store = _copy(reference, tiny_disk / "s.zarr")
    ballast = _fill(tiny_disk, leave=4096 * pages)
    with pytest.raises(store_mod.StoreError) as err:
        refine_store(str(store), executor=InProcessExecutor())
    _one_line(str(err.value), str(store), "No space left", f"fanodome refine {store} again")
    ballast.unlink()
    assert refine_store(str(store), executor=InProcessExecutor()).complete
    assert_same_sweep(store, refined_reference)


# -------------------------------------------------------------------------- 2 stalls end


class _Cluster:
    """A real ``dask scheduler`` and no-nanny ``dask worker`` processes on 127.0.0.1 whose
    workers import tests/ (for the test's compute functions)."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.env = {**ENV, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"}
        self.procs: list[subprocess.Popen] = []
        sched_file = tmp_path / "scheduler.json"
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(sched_file))
        self.address = _wait(lambda: sched_file.exists() and json.loads(
            sched_file.read_text() or "{}").get("address"), what="the scheduler")

    def _start(self, kind: str, *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{kind}{len(self.procs)}.log", "wb")
        p = subprocess.Popen([sys.executable, "-m", f"distributed.cli.dask_{kind}", *args],
                             stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=self.env)
        log.close()
        self.procs.append(p)
        return p

    def worker(self, *args: str) -> subprocess.Popen:
        return self._start("worker", self.address, "--host", "127.0.0.1", "--nthreads", "1",
                           "--no-nanny", "--no-dashboard", "--death-timeout", "60", *args)

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
            p.wait(timeout=30)


def _wait(predicate, *, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture
def dask_cluster(tmp_path):
    c = _Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


STALL_TEST_S = 3.0


@pytest.mark.slow
@pytest.mark.ci
def test_all_workers_dead_is_a_stall_and_the_store_resumes(dask_cluster, tmp_path, reference):
    import threading

    import distributed

    from sweep.execution.runner import Stalled
    from sweep_support import points_done, slow_compute
    worker = dask_cluster.worker()
    store = tmp_path / "s.zarr"
    killed = {}

    def kill_when_started():
        _wait(lambda: points_done(store) > 0, what="the first chunk")
        worker.kill()
        killed["at"] = time.monotonic()

    with distributed.Client(dask_cluster.address) as client:
        client.wait_for_workers(1, timeout=90)
        killer = threading.Thread(target=kill_when_started, daemon=True)
        killer.start()
        with pytest.raises(Stalled, match="no worker") as err:
            run_sweep(small_config(), store=str(store), executor=client, compute=slow_compute,
                      stall_s=STALL_TEST_S)
        detected = time.monotonic() - killed["at"]
        print(f"stall detected {detected:.1f} s after the last worker died "
              f"(stall_s = {STALL_TEST_S})")
        assert STALL_TEST_S <= detected < STALL_TEST_S + 15, detected
        assert len(str(err.value).splitlines()) == 1
        dask_cluster.worker()
        client.wait_for_workers(1, timeout=90)
        result = run_sweep(small_config(), store=str(store), executor=client, resume=True)
    assert result.complete
    assert_same_sweep(store, reference)


ALL_DEAD_DEADLINE_S = 180.0
"""Seconds a run whose workers all died may take to finish before the test fails (the client is
closed then, so a hung run ends the test instead of hanging it)."""


@pytest.mark.slow
@pytest.mark.ci
def test_every_worker_killed_at_once_the_run_finishes(tmp_path, reference, caplog):
    """SIGKILL of every worker process of a real LocalCluster 1 s into a sweep: the nannies
    start new workers, the tasks the dead ones held (which distributed leaves restricted to
    them) are found lost and submitted again, and the run finishes with the store of an
    undisturbed run."""
    import threading

    import distributed

    from sweep_support import points_done, slow_compute
    store = tmp_path / "s.zarr"
    seen: dict = {}
    finished = threading.Event()

    def kill_every_worker(client):
        _wait(lambda: points_done(store) > 0, what="the first chunk")
        time.sleep(1.0)
        seen["done_at_kill"] = points_done(store)
        for pid in client.run(os.getpid).values():
            os.kill(pid, signal.SIGKILL)
        seen["killed_at"] = time.monotonic()
        if not finished.wait(ALL_DEAD_DEADLINE_S):
            seen["hung"] = True
            client.close()  # the run raises instead of hanging the test

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        killer = threading.Thread(target=kill_every_worker, args=(client,), daemon=True)
        killer.start()
        try:
            result = run_sweep(small_config(), store=str(store), executor=client,
                               compute=slow_compute)
        finally:
            finished.set()
        took = time.monotonic() - seen["killed_at"]
    assert not seen.get("hung")
    assert 0 < seen["done_at_kill"] < result.counts["total"], seen
    assert result.complete and not result.report.failures
    assert "lost with their workers" in caplog.text
    assert_same_sweep(store, reference)
    print(f"every worker killed at {seen['done_at_kill']} of {result.counts['total']} points; "
          f"the run finished {took:.1f} s later")


@pytest.mark.slow
def test_all_workers_paused_stalls_the_cli_with_exit_3(dask_cluster, tmp_path):
    import distributed

    # A worker whose own footprint is above its memory limit's pause threshold (80 %): its
    # memory monitor pauses it, as at `--memory 280MB` under load.
    dask_cluster.worker("--memory-limit", "60MB")
    with distributed.Client(dask_cluster.address) as client:
        client.wait_for_workers(1, timeout=90)
        _wait(lambda: all(w["status"] == "paused" for w in
                          client.scheduler_info(n_workers=-1)["workers"].values()),
              what="the worker to pause")
        cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
        store = tmp_path / "s.zarr"
        t0 = time.monotonic()
        out = fanodome("run", cfg, "--store", store, "--scheduler", dask_cluster.address,
                       "--stall-timeout", STALL_TEST_S, timeout=180)
        took = time.monotonic() - t0
    assert out.returncode == 3, out.stderr
    lines = [line for line in out.stderr.splitlines() if "fanodome run:" in line]
    assert len(lines) == 1 and "paused" in lines[0] and "--resume" in lines[0], out.stderr
    assert "Traceback" not in out.stderr
    assert store_mod.status_counts(str(store))["pending"] > 0  # laid out, resumable
    print(f"paused cluster: exit 3 after {took:.1f} s (stall_s = {STALL_TEST_S})")


BIG_TOML = """
[grid]
eta = { start = -0.5, stop = 3.0, num = 100 }
g = { start = 0.05, stop = 0.45, num = 25 }
L = { start = 8.0, stop = 11.75, num = 16 }

[run]
chunk_eta = 100
chunk_g = 5
"""

CLIENT_GROWTH_MB = 10
"""Most the client's resident memory may grow from its first finished chunk to the end of a
40 000-point sweep (measured: 4 MB over 400 tasks): a client that kept 250 bytes per point (a
small Python object each) fails it."""


@pytest.mark.slow
def test_the_client_memory_stays_flat_over_a_40k_point_sweep(tmp_path):
    import psutil

    from sweep_support import points_done
    cfg = write_toml(tmp_path / "big.toml", BIG_TOML)
    store = tmp_path / "big.zarr"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        p = subprocess.Popen([sys.executable, "-m", "sweep.cli", "run", str(cfg), "--store",
                              str(store), "--workers", "2"], env=ENV, stdout=subprocess.DEVNULL,
                             stderr=err)
    client = psutil.Process(p.pid)
    samples, started = [], False
    try:
        while p.poll() is None:
            rss = client.memory_info().rss / 2**20
            started = started or points_done(store) > 0
            if started:
                samples.append(rss)
            time.sleep(0.5)
    except psutil.NoSuchProcess:
        pass
    assert p.wait(timeout=60) == 0, log.read_text()[-2000:]
    assert store_mod.status_counts(str(store))["done"] == 40_000
    growth = max(samples) - samples[0]
    print(f"client RSS over the 40000-point sweep: {samples[0]:.0f} MB at the first chunk, "
          f"{max(samples):.0f} MB at most ({len(samples)} samples)")
    assert len(samples) > 10 and growth < CLIENT_GROWTH_MB, (samples[0], max(samples))


# --------------------------------------------------------------------- 8 --workers bounded

@pytest.mark.parametrize("n", [100000, 4 * (os.cpu_count() or 1) + 1])
def test_more_workers_than_the_machine_holds_is_refused_with_numbers(tmp_path, n, capsys):
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    t0 = time.monotonic()
    assert main(["run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--workers", str(n)]) == 2
    err = capsys.readouterr().err
    _one_line(err, f"--workers {n}", "at most")
    assert time.monotonic() - t0 < 20 and not (tmp_path / "s.zarr").exists()


def test_workers_beyond_available_memory_are_refused(tmp_path, capsys):
    import psutil
    per = int(psutil.virtual_memory().available * 0.6)  # two such workers do not fit
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML + f'\n[cluster]\nmemory = "{per}B"\n')
    assert main(["run", str(cfg), "--store", str(tmp_path / "s.zarr"), "--workers", "2"]) == 2
    _one_line(capsys.readouterr().err, "GiB available", "at most 1")


# ------------------------------------------------------------------- 6 the scheduler's door

STRANGER = """
import sys
import distributed
from distributed.security import Security
security = Security.temporary() if sys.argv[2] == "True" else None
try:
    distributed.Client(sys.argv[1], security=security, timeout=3).close()
    print("connected")
except Exception as err:  # any failure to connect is the answer the test wants
    print("refused", type(err).__name__)
"""


def test_clusters_the_service_starts_speak_tls_and_refuse_strangers():
    from sweep.config import parse_cluster
    from sweep.execution.clusters import cluster_client
    with cluster_client(cluster=parse_cluster({"workers": 1})) as client:
        address = client.scheduler.address
        assert address.startswith("tls://127.0.0.1:")
        assert client.submit(int, "41").result() == 41
        # Another local process: without credentials, with its own, or in the clear.
        for addr, own in ((address, False), (address, True),
                          (address.replace("tls://", "tcp://"), False)):
            out = subprocess.run([sys.executable, "-c", STRANGER, addr, str(own)], env=ENV,
                                 capture_output=True, text=True, timeout=60)
            assert out.stdout.split()[:1] == ["refused"], (addr, own, out.stdout,
                                                           out.stderr[-500:])


def test_a_scheduler_beyond_loopback_without_tls_warns(caplog):
    from sweep.execution.clusters import warn_if_exposed
    from sweep.config import parse_cluster
    assert not warn_if_exposed(parse_cluster({"host": "0.0.0.0"}))  # TLS on by default
    assert not warn_if_exposed(parse_cluster({"tls": False}))  # loopback only
    assert warn_if_exposed(parse_cluster({"host": "0.0.0.0", "tls": False}))
    assert "without TLS" in caplog.text
    assert warn_if_exposed(parse_cluster({"kind": "slurm", "tls": False}))


def test_credentials_for_a_scheduler_in_the_clear_are_warned_about(dask_cluster, caplog):
    import distributed

    from sweep.run.service import _warn_clear_secrets
    with distributed.Client(dask_cluster.address) as client:  # tcp://127.0.0.1: no TLS
        _warn_clear_secrets(client, {"endpoint_url": "http://127.0.0.1:1"})
        assert "without TLS" not in caplog.text
        _warn_clear_secrets(client, {"key": "AKIA", "secret": "s3cr3t"})
    assert "key, secret travels in the task specs" in caplog.text
    assert "s3cr3t" not in caplog.text
