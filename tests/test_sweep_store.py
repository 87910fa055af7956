"""The sweep store: layout and attributes (roundtrip), refusals, resume, the lock."""
import json
import os
import socket
import subprocess
import sys
import tomllib

import numpy as np
import pytest
import xarray as xr

import solver.parameters
from sweep import store as store_mod
from sweep.cli import main
from sweep.config import package_version, parse_config
from sweep.grid import AXES
from sweep.store.common import identity_mismatch
from sweep.store.lock import LockedError, StoreLock
from sweep.execution.runner import InProcessExecutor
from sweep.run.service import run_sweep
from sweep_support import assert_same_sweep, roundtrip, small_config, write_toml, SMALL_TOML


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "small.zarr"
    ds = roundtrip(small_config(), path)
    return path, ds


def _tree(path):
    """Every file under ``path`` with its bytes: to check a store was left untouched."""
    return {p: p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_layout_dims_coords_and_cf_attrs(small_store):
    _, ds = small_store
    cfg = small_config()
    assert tuple(ds["tc"].dims) == AXES and tuple(ds["status"].dims) == AXES
    assert tuple(ds["E_L"].dims) == ("L", "W", "V") and tuple(ds["dE"].dims) == ("L", "W", "V")
    for a in AXES:
        np.testing.assert_array_equal(ds[a].values, cfg.axes[a])
    for name in ds.variables:
        assert ds[name].attrs.get("units") and ds[name].attrs.get("long_name"), name
    assert ds["tc"].attrs["units"] == "K" and ds["E_L"].attrs["units"] == "meV"
    assert ds["L"].attrs["units"] == "Å" and ds["omega0"].attrs["units"] == "meV"
    assert list(ds["status"].attrs["flag_values"]) == [0, 1, 2, 3]
    assert ds["status"].attrs["flag_meanings"] == "ok below_floor failed pending"
    assert ds["status"].dtype == np.int8 and ds["tc"].dtype == np.float64


def test_root_attrs_roundtrip(small_store):
    path, ds = small_store
    cfg = small_config()
    assert parse_config(tomllib.loads(ds.attrs["config_toml"])).identity() == cfg.identity()
    assert ds.attrs["config_json"] == cfg.identity()
    assert json.loads(ds.attrs["model_defaults"]) == solver.parameters.defaults()
    assert ds.attrs["fanodome_version"] == package_version() != "unknown"
    assert ds.attrs["created"].endswith("+00:00")
    assert json.loads(ds.attrs["failures"]) == []
    zarr_json = json.loads((path / "zarr.json").read_text())
    assert zarr_json["zarr_format"] == 3 and "consolidated_metadata" in zarr_json


def test_values_match_direct_solver_calls(small_store):
    _, ds = small_store
    cfg = small_config()
    for iL, L in enumerate(cfg.axes["L"]):
        r = solver.tc_grid(eta=np.array(cfg.axes["eta"]), g=np.array(cfg.axes["g"]),
                           omega0=np.array(cfg.axes["omega0"]), L=L, W=cfg.axes["W"][0],
                           V=cfg.axes["V"][0], **cfg.model)
        np.testing.assert_array_equal(ds["tc"].values[iL, 0, 0], r.tc_K)
        np.testing.assert_array_equal(ds["status"].values[iL, 0, 0], r.status)
        assert ds["E_L"].values[iL, 0, 0] == r.E_L and ds["dE"].values[iL, 0, 0] == r.dE
    assert np.isnan(ds["tc"].values[ds["status"].values != 0]).all()


def test_zarr_chunks_follow_the_plan(small_store):
    path, _ = small_store
    plan = small_config().plan()
    ds = xr.open_zarr(str(path), zarr_format=3, consolidated=True)
    assert ds["tc"].encoding["chunks"] == tuple(plan.chunk[a] for a in AXES)
    assert store_mod.plan_of(str(path)).chunk == plan.chunk


def test_status_counts_of_a_finished_and_a_fresh_store(small_store, tmp_path):
    path, _ = small_store
    n = small_config().plan().n_points
    assert store_mod.status_counts(str(path)) == {"total": n, "done": n, "failed": 0,
                                                  "pending": 0, "missing": 0}
    fresh = tmp_path / "fresh.zarr"
    cfg = small_config()
    store_mod.layout(store=str(fresh), axes=cfg.axes, plan=cfg.plan(), config_toml="",
                     config_json=cfg.identity())
    assert store_mod.status_counts(str(fresh)) == {"total": n, "done": 0, "failed": 0,
                                                   "pending": n, "missing": 0}
    assert len(list(store_mod.chunks_to_do(str(fresh), cfg.plan()))) == cfg.plan().n_chunks


def test_status_command(small_store, capsys):
    path, _ = small_store
    n = small_config().plan().n_points
    assert main(["status", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"total": n, "done": n, "failed": 0,
                                                   "pending": 0, "missing": 0}
    assert main(["status", str(path) + "-missing"]) == 2


def test_the_same_run_again_prints_the_result_untouched(small_store, tmp_path, capsys):
    path, _ = small_store
    before = _tree(path)
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    assert main(["run", str(cfg), "--store", str(path), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "nothing to do" in captured.err and "dashboard" not in captured.err
    assert "complete, nothing computed" in captured.out
    assert f"fanodome dome {path}" in captured.out and "highest Tc" in captured.out
    assert main(["run", str(cfg), "--store", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["nothing_to_do"] is True and doc["done"] == doc["total"] and doc["dome"]
    assert _tree(path) == before
    assert not os.path.exists(str(path) + ".lock")


def test_a_run_of_another_config_on_a_store_is_refused_untouched(small_store, tmp_path,
                                                                capsys):
    path, _ = small_store
    before = _tree(path)
    cfg = write_toml(tmp_path / "other.toml", SMALL_TOML.replace("0.3, 1e-3", "0.31, 1e-3"))
    assert main(["run", str(cfg), "--store", str(path), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "another sweep" in err and "grid.g" in err and "--overwrite" in err
    assert _tree(path) == before


def test_the_same_run_again_finishes_a_stopped_one(small_store, tmp_path):
    path, _ = small_store
    cfg = small_config()
    part = tmp_path / "part.zarr"
    plan = cfg.plan()
    store_mod.layout(store=str(part), axes=cfg.axes, plan=plan, config_toml=cfg.stored_toml(),
                     config_json=cfg.identity())
    from sweep.run.tasks import compute_chunk
    from sweep_support import tasks_for
    compute_chunk(next(iter(tasks_for(store=str(part), plan=plan, axes=cfg.axes,
                                      model=cfg.model, chunks=[next(iter(plan.chunks()))]))))
    done = store_mod.status_counts(str(part))["done"]
    assert 0 < done < plan.n_points
    result = run_sweep(cfg, store=str(part), executor=InProcessExecutor())
    assert result.resumed and result.complete and not result.nothing_to_do
    assert result.report.points_done == plan.n_points - done
    assert_same_sweep(part, path)


def test_resume_with_other_config_is_refused_untouched(small_store, tmp_path, capsys):
    path, _ = small_store
    before = _tree(path)
    cfg = write_toml(tmp_path / "other.toml", SMALL_TOML.replace("0.3, 1e-3", "0.31, 1e-3"))
    assert main(["run", str(cfg), "--store", str(path), "--workers", "1", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "different config" in err and "grid.g" in err
    assert _tree(path) == before


def test_not_a_store_is_never_overwritten(tmp_path):
    victim = tmp_path / "data"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    with pytest.raises(store_mod.StoreError, match="not a zarr store"):
        run_sweep(small_config(), store=str(victim), executor=InProcessExecutor(),
                  overwrite=True)
    assert (victim / "precious.txt").read_text() == "keep"


def test_overwrite_replaces(tmp_path, small_store):
    path, _ = small_store
    other = tmp_path / "o.zarr"
    cfg2 = parse_config({"grid": {"g": [0.2], "eta": [1.0]}})
    roundtrip(cfg2, other)
    roundtrip(small_config(), other, overwrite=True)
    assert_same_sweep(other, path)


def test_resume_of_a_finished_store_computes_nothing(small_store, tmp_path):
    path, _ = small_store
    copy = tmp_path / "copy.zarr"
    subprocess.run(["cp", "-r", str(path), str(copy)], check=True)
    result = run_sweep(small_config(), store=str(copy), executor=InProcessExecutor(),
                       resume=True)
    assert result.resumed and result.report.tasks_done == 0 and result.complete
    assert_same_sweep(copy, path)


def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path):
    store = str(tmp_path / "s.zarr")
    with StoreLock(store):
        with pytest.raises(LockedError, match=f"PID {os.getpid()}"):
            StoreLock(store).acquire()
    assert not os.path.exists(store + ".lock")
    # A dead PID on this host: stale, taken over.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lockfile = tmp_path / "s.zarr.lock"
    lockfile.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(),
                                    "started": "then"}))
    with StoreLock(store) as lock:
        assert json.loads(lockfile.read_text())["pid"] == os.getpid()
    assert not lock.held and not lockfile.exists()


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_run_is_refused_while_another_holds_the_lock(tmp_path, capsys, mode):
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    store = tmp_path / "s.zarr"
    with StoreLock(str(store)):
        assert main(["run", str(cfg), "--store", str(store), "--workers", "1",
                     "--local-mode", mode]) == 2
    assert "another run holds the store" in capsys.readouterr().err
    assert not store.exists()


@pytest.mark.parametrize("old, new, named", [("budget = 5", "budget = 4", "explore.budget"),
                                              ("g = 0.3333333333333333", "g = 0.25", "fixed.g")])
def test_an_explore_of_another_config_is_refused_naming_what_differs(old, new, named):
    # an explore's identity also holds a value outside any table (the eta grid's list)
    base = ("[grid]\ng = 0.3333333333333333\neta = { start = -0.5, stop = 3.0, step = 0.25 }\n"
            "[explore]\naxes = { L = [7.0, 11.0] }\nbudget = 5\n")
    have, want = (parse_config(tomllib.loads(t)).explore_identity()
                  for t in (base, base.replace(old, new)))
    assert store_mod.identity_diffs(have, want) == [named]
    assert str(identity_mismatch("e.zarr", have=have, want=want)) == (
        f"--resume: e.zarr was made with a different config (differs in {named}); store left "
        f"untouched")
