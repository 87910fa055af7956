"""Refined numbers in a real store: layout, units, idempotence, resume after SIGKILL, failures."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sweep import flags
from sweep import store as store_mod
from sweep.config import RefineSettings
from sweep.config import parse_config
from sweep.refine.service import refine_store
from sweep.execution.runner import InProcessExecutor
from sweep.run.service import run_sweep

SMALL = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "step": 0.1}, "g": [0.25, 0.3, 0.35, 0.4]}}
SETTINGS = RefineSettings(thresholds=(200.0, 293.15))
REFINED = ("eta_max", "tc_max", "eta_antiresonance", "tc_antiresonance", "eta_antiresonance_lo",
           "eta_antiresonance_hi", "refine_status", "refine_evaluations",
           "refine_evaluations_max", "eta_window_lo", "eta_window_hi", "window_status", "top_g",
           "top_eta", "top_tc", "top_status", "top_evaluations")


def _sweep(path: Path, doc=SMALL) -> str:
    store = str(path)
    run_sweep(parse_config(doc), store=store, executor=InProcessExecutor())
    return store


@pytest.fixture(scope="module")
def refined(tmp_path_factory):
    store = _sweep(tmp_path_factory.mktemp("refine") / "small.zarr")
    result = refine_store(store, settings=SETTINGS, executor=InProcessExecutor(),
                          curves_per_task=2)
    return store, result


def _values(store) -> dict:
    ds = store_mod.open_dataset(store)
    return {k: ds[k].values for k in REFINED}


@pytest.mark.slow
@pytest.mark.ci
def test_refined_store_layout_and_values(refined):
    store, result = refined
    assert result.complete and result.curves == 4 and result.domes == 1
    ds = store_mod.open_dataset(store)
    for k in REFINED:
        assert ds[k].attrs["units"] and ds[k].attrs["long_name"], k
    assert ds["tc_max"].attrs["units"] == "K" and ds["threshold"].attrs["units"] == "K"
    assert list(ds["threshold"].values) == [200.0, 293.15]
    assert "flag_masks" in ds["refine_status"].attrs
    assert ds["refine_status"].attrs["flag_meanings"].split()[0] == "done"
    settings = json.loads(ds.attrs["refine_settings"])
    assert settings["thresholds"] == [200.0, 293.15] and settings["eta_tol"] == 1e-6
    assert "config_json" in ds.attrs  # the sweep's attributes survive the new variables
    status = ds["refine_status"].values
    assert np.all(status & flags.DONE) and not np.any(status & flags.FAILED)
    tc = ds["tc"].values
    assert np.all(ds["tc_max"].values >= np.nanmax(tc, axis=-1))
    assert np.all(ds["refine_evaluations_max"].values <= 40)
    # windows: g = 0.25 (max ~194 K) is below 293.15 K, above 200 K only at g >= 0.3
    ws = ds["window_status"].sel(threshold=293.15).values.ravel()
    assert ws[0] == flags.BELOW_THRESHOLD
    top = float(ds["top_tc"].values.ravel()[0])
    assert top >= float(ds["tc_max"].max()) and ds["top_status"].values.ravel()[0] & 1
    # the store still opens consolidated, over plain xarray too
    xr.open_zarr(store, zarr_format=3, consolidated=True).close()


@pytest.mark.slow
def test_second_refine_computes_nothing(refined):
    store, _ = refined
    before = _values(store)
    again = refine_store(store, settings=SETTINGS, executor=InProcessExecutor(),
                         curves_per_task=2)
    assert again.curves == 0 and again.domes == 0 and again.evaluations == 0
    after = _values(store)
    for k in REFINED:
        np.testing.assert_array_equal(before[k], after[k])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tc_max", "eta_antiresonance_lo", "refine_evaluations",
                                  "eta_window_hi", "window_status", "top_tc"])
def test_a_lost_refined_chunk_is_pending_unrefined_and_recomputed(refined, tmp_path, name,
                                                                    capsys):
    """Delete one chunk file of a refined variable: its curves (or top) count as pending,
    ``dome`` does not call them refined, and a refine computes exactly them (and the top of
    their dome, searched from their maxima), back to the identical store. Chunks that hold only
    fill values (an antiresonance with no floor interval, a closed window's status 0) are written
    too, so absence is loss."""
    from sweep.cli import main
    reference, _ = refined
    store = tmp_path / "s.zarr"
    subprocess.run(["cp", "-r", reference, str(store)], check=True)
    victim = sorted(p for p in (store / name / "c").rglob("*") if p.is_file())[0]
    victim.unlink()
    top = name.startswith("top_")
    want = {"curves": 0, "domes": 1} if top else {"curves": 2, "domes": 0}
    plan = store_mod.refine_plan(str(store))
    assert (sum(c[5] - c[4] for c in plan["curves"]), len(plan["domes"])) == \
        (want["curves"], want["domes"])
    assert main(["dome", str(store), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    s0 = doc["structures"][0]
    if top:
        assert not s0["top"]["refined"]
    else:
        assert [r["refined"] for r in s0["per_g"]] == [False, False, True, True]
    again = refine_store(str(store), settings=SETTINGS, executor=InProcessExecutor(),
                         curves_per_task=2)
    assert (again.curves, again.domes) == (want["curves"], 1) and again.complete
    want_values, got = _values(reference), _values(str(store))
    for k in REFINED:
        np.testing.assert_array_equal(want_values[k], got[k], err_msg=k)
    assert store_mod.refine_plan(str(store)) == {"curves": [], "domes": [], "block": 2}


_CHILD = """
import sys
from sweep.config import RefineSettings
from sweep.refine.service import refine_store
from sweep.execution.runner import InProcessExecutor
refine_store(sys.argv[1], settings=RefineSettings(thresholds=(200.0, 293.15)),
             executor=InProcessExecutor(), curves_per_task=1)
"""


@pytest.mark.slow
def test_resume_after_sigkill_gives_the_identical_store(refined, tmp_path):
    reference, _ = refined
    store = _sweep(tmp_path / "killed.zarr")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1])]
                                                     + sys.path))
    child = subprocess.Popen([sys.executable, "-c", _CHILD, store], env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            try:  # the child may be rewriting the metadata right now
                attrs = store_mod.read_attrs(store)
                if "refine_settings" in attrs:
                    done = np.asarray(store_mod.open_dataset(store)["refine_status"].values)
                    if np.any(done & flags.DONE):
                        break
            except (ValueError, KeyError, FileNotFoundError):
                pass
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL, "the refine finished before it was killed"
    ds = store_mod.open_dataset(store)
    cut = (not np.all(ds["refine_status"].values & flags.DONE)
           or not np.all(ds["top_status"].values & flags.TOP_DONE))
    assert cut
    resumed = refine_store(store, settings=SETTINGS, executor=InProcessExecutor(),
                           curves_per_task=1)
    assert resumed.complete and resumed.curves + resumed.domes > 0
    want, got = _values(reference), _values(store)
    for k in REFINED:
        np.testing.assert_array_equal(want[k], got[k], err_msg=k)


@pytest.mark.slow
def test_other_settings_refine_again_and_unfinished_stores_are_refused(refined, tmp_path):
    store, _ = refined
    other = RefineSettings(thresholds=(250.0,))
    r = refine_store(store, settings=other, executor=InProcessExecutor(), curves_per_task=4)
    assert r.curves == 4
    ds = store_mod.open_dataset(store)
    assert list(ds["threshold"].values) == [250.0]
    assert json.loads(ds.attrs["refine_settings"])["curves_per_task"] == 4
    # back to the module's settings for the other tests
    refine_store(store, settings=SETTINGS, executor=InProcessExecutor(), curves_per_task=2)
    # a store with pending points is refused, untouched
    pending = str(tmp_path / "pending.zarr")
    cfg = parse_config(SMALL)
    store_mod.layout(store=pending, axes=cfg.axes, plan=cfg.plan(), config_toml=cfg.to_toml(),
                     config_json=cfg.identity())
    with pytest.raises(store_mod.StoreError, match="pending"):
        refine_store(pending, settings=SETTINGS, executor=InProcessExecutor())
    assert "refine_settings" not in store_mod.read_attrs(pending)


def _boom(task):
    raise RuntimeError("no solver today")


@pytest.mark.slow
def test_failures_are_recorded(tmp_path, monkeypatch):
    from sweep.refine import service as refine_service
    store = _sweep(tmp_path / "fail.zarr", {"grid": {"eta": {"start": -0.5, "stop": 3.0,
                                                             "step": 0.25}, "g": [0.3, 0.35]}})
    monkeypatch.setattr(refine_service, "compute_refine_block", _boom)
    r = refine_store(store, settings=SETTINGS, executor=InProcessExecutor(), retries=0)
    assert not r.complete and len(r.failures) == 1
    ds = store_mod.open_dataset(store)
    assert np.all(ds["refine_status"].values == flags.FAILED)
    records = json.loads(ds.attrs["refine_failures"])
    assert records[0]["error"].startswith("RuntimeError") and "no solver" in records[0]["traceback"]
    assert np.all(ds["top_status"].values == 0)  # no top from failed curves
    monkeypatch.undo()
    r = refine_store(store, settings=SETTINGS, executor=InProcessExecutor())
    assert r.complete and r.curves == 2 and r.domes == 1
    ds = store_mod.open_dataset(store)
    assert json.loads(ds.attrs["refine_failures"]) == []


# -------------------------------------------------------------------- command line and config

REFINE_TOML = """
[grid]
eta = { start = -0.5, stop = 3.0, step = 0.1 }
g = [0.3, 0.34]

[refine]
thresholds = [273.15]
curves_per_task = 1
"""


@pytest.mark.slow
@pytest.mark.ci
def test_run_refines_with_a_refine_table_and_refine_computes_nothing_after(tmp_path, capsys):
    from sweep.cli import main
    cfg = tmp_path / "r.toml"
    cfg.write_text(REFINE_TOML)
    store = str(tmp_path / "r.zarr")
    assert main(["run", str(cfg), "--store", store, "--workers", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["refine"]["curves"] == 2 and doc["refine"]["domes"] == 1
    row = doc["dome"][0]
    assert row["refined"] and 0.3 <= row["g_at_max"] <= 0.34
    at = {t["g_target"]: t for t in row["at_g"]}
    assert at["1/3"]["windows"][0]["threshold_K"] == 273.15
    # the same thresholds again: nothing to compute, no cluster started
    assert main(["refine", store, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["curves"] == 0 and again["domes"] == 0 and again["evaluations"] == 0
    assert main(["dome", store, "--json"]) == 0
    dome = json.loads(capsys.readouterr().out)["structures"][0]
    assert dome["top"]["refined"] is True and dome["top"]["at_g_edge"] in (True, False)
    assert all(r["refined"] for r in dome["per_g"])
    w = dome["per_g"][1]["windows"][0]
    assert w["threshold_K"] == 273.15 and w["eta_lo"] < dome["per_g"][1]["eta_max"] < w["eta_hi"]
    assert main(["dome", store]) == 0
    out = capsys.readouterr().out
    assert "(refined" in out and "Tc >= 273.15 K: eta in [" in out
    png = tmp_path / "cuts.png"
    assert main(["plot", store, "-o", str(png), "--kind", "cuts"]) == 0
    assert png.stat().st_size > 10_000
    assert main(["plot", store, "-o", str(tmp_path / "dome.png")]) == 2  # two g: no surface
    assert "--kind cuts" in capsys.readouterr().err
    assert main(["refine", store, "--threshold", "-3"]) == 2


def test_refine_again_keeps_the_thresholds_the_store_is_refined_with(tmp_path, capsys):
    # the config has no [refine]: a refine without --threshold keeps the store's 250 K windows
    from sweep.cli import main
    store = _sweep(tmp_path / "t.zarr", doc={"grid": {"eta": SMALL["grid"]["eta"],
                                                      "g": [0.3]}})
    refine_store(store, settings=RefineSettings(thresholds=(250.0,)),
                 executor=InProcessExecutor())
    assert main(["refine", store, "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["nothing_to_do"] and again["evaluations"] == 0
    assert store_mod.open_dataset(store)["threshold"].values.tolist() == [250.0]
    # and so does the Python API without settings
    assert refine_store(store, executor=InProcessExecutor()).nothing_to_do
    assert store_mod.open_dataset(store)["threshold"].values.tolist() == [250.0]


def test_a_maximum_above_eta_up_is_flagged_outside_the_model(tmp_path, refined):
    """L = 7, W = 3 Å, V = 1000 meV: the fourth subband lies close above the third, and the
    maxima near eta = 1 lie above eta_up (where mu + omega~ meets that subband's bottom, from
    the bands of four subbands computed on their own): each such refined maximum, the top, and
    explore's objective there are flagged outside the model; the small store's maxima are not."""
    import math

    import solver
    from sweep.explore.objective import objective
    doc = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "step": 0.1},
                    "g": [0.25, 1 / 3], "L": 7.0, "W": 3.0, "V": 1000.0}}
    store = _sweep(tmp_path / "narrow.zarr", doc=doc)
    refine_store(store, settings=SETTINGS, executor=InProcessExecutor())
    ds = store_mod.open_dataset(store).squeeze()
    three = solver.band_structure(L=7.0, W=3.0, V=1000.0)
    four = solver.band_structure(L=7.0, W=3.0, V=1000.0, nbands=4)
    for g in (0.25, 1 / 3):
        up = (four.E_min[-1] - 230.0 * math.sqrt(1 - 2 * g) - three.E_L) / three.dE
        c = ds.sel(g=g)
        assert float(c["eta_max"]) > up  # the case this test is about
        assert flags.has(int(c[store_mod.VAR_REFINE_STATUS]), flags.MAX_OUTSIDE_MODEL)
    assert flags.has(int(ds[store_mod.VAR_TOP_STATUS]), flags.TOP_OUTSIDE_MODEL)
    report = sweep_dome_report(store)
    assert all(r["outside_model"] for r in report["per_g"]) and report["top"]["outside_model"]
    st = solver.prepare_structure(L=7.0, W=3.0, V=1000.0)
    value = objective(st, g=1 / 3, omega0=230.0, model={}, settings=SETTINGS,
                      eta_grid=np.arange(-0.5, 3.0001, 0.1))
    assert value.flags & flags.SAMPLE_OUTSIDE_MODEL
    small, _ = refined  # the paper's structure: eta_up = 8.45 and more, far above its maxima
    status = store_mod.open_dataset(small)[store_mod.VAR_REFINE_STATUS].values
    assert not flags.has(status, flags.MAX_OUTSIDE_MODEL).any()
    assert not sweep_dome_report(small)["top"]["outside_model"]


def sweep_dome_report(store: str) -> dict:
    """The first dome's record of ``fanodome dome --json``."""
    from sweep.analysis.domes import dome_report
    return dome_report(store_mod.open_dataset(store))["structures"][0]


def test_refine_table_is_checked():
    from sweep.config import ConfigError, paper_config, parse_config
    cfg = parse_config({"refine": {"thresholds": [293.15, 273.15], "eta_tol": 1e-7}})
    assert cfg.refine.thresholds == (273.15, 293.15) and cfg.refine.eta_tol == 1e-7
    assert "[refine]" in cfg.to_toml()
    assert parse_config({}).refine is None
    assert paper_config().refine.thresholds == (273.15, 293.15)
    assert paper_config().identity() == parse_config({}).identity()  # not part of the identity
    for bad, key in (({"thresholds": [0.0]}, "refine.thresholds"),
                     ({"root_tol": -1.0}, "refine.root_tol"),
                     ({"curves_per_task": 0}, "refine.curves_per_task"),
                     ({"tolerance": 1}, "refine.tolerance"),
                     ({"thresholds": 300}, "refine.thresholds")):
        with pytest.raises(ConfigError, match=f"^{key}"):
            parse_config({"refine": bad})


@pytest.mark.slow
def test_every_curve_lands_in_its_own_place(tmp_path):
    """Two structures, two cut-offs: each stored number is the one refine_curve gives for its
    own (L, omega0, g), computed directly here."""
    import solver
    from sweep.refine import antiresonance_bound, eta_upper_bound, refine_curve, solver_curve
    doc = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "step": 0.25}, "g": [0.3, 0.35],
                    "L": [8.5, 9.0], "omega0": [200.0, 230.0]}}
    store = _sweep(tmp_path / "many.zarr", doc)
    r = refine_store(store, settings=SETTINGS, executor=InProcessExecutor(), curves_per_task=1)
    assert r.curves == 8 and r.domes == 4
    ds = store_mod.open_dataset(store)
    model = store_mod.model_options(ds.attrs)
    for L in (8.5, 9.0):
        st = solver.prepare_structure(L=L)
        for w in (200.0, 230.0):
            for g in (0.3, 0.35):
                one = ds.sel(L=L, omega0=w, g=g).isel(W=0, V=0)
                tc = np.where(one["status"].values == 0, one["tc"].values, 0.0)
                c = solver_curve(st, g=g, omega0=w, model=model, eta=ds["eta"].values,
                                 values=tc)
                bound = antiresonance_bound(omega0=w, g=g, softening=True, dE=st.dE,
                                            settings=SETTINGS)
                upper = eta_upper_bound(omega0=w, g=g, softening=True, E_L=st.E_L, dE=st.dE,
                                        E_left_out=st.E_left_out, settings=SETTINGS)
                want = refine_curve(c, bound=bound, upper=upper, settings=SETTINGS)
                assert float(one["tc_max"]) == want.maximum.tc
                assert float(one["eta_antiresonance"]) == want.antiresonance.eta
                np.testing.assert_array_equal(one["eta_window_lo"].values,
                                              [x.lo for x in want.windows])
            top = ds["top_tc"].sel(L=L, omega0=w).values.ravel()[0]
            assert top >= ds["tc_max"].sel(L=L, omega0=w).max()


def test_a_maximum_at_the_eta_bound_is_never_called_refined_or_highest(tmp_path, capsys):
    """L = 9, W = 8.5 Å, g = 1/3 rises past eta = 3 to its maximum at 3.63: with the user
    bound eta_max_bound = 3.3 the search stops there, and every reader says it is a bound."""
    from sweep.analysis.domes import dome_summary
    from sweep.cli import main
    from sweep.cli.run_commands import _print_run
    doc = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "step": 0.25},
                    "g": [0.3333333333333333], "L": 9.0, "W": 8.5},
           "refine": {"thresholds": [300.0], "eta_max_bound": 3.3}}
    store = _sweep(tmp_path / "bound.zarr", doc)
    ds = store_mod.open_dataset(store)
    status = int(ds[store_mod.VAR_REFINE_STATUS].values.ravel()[0])
    assert flags.has(status, flags.MAX_AT_BOUND) and float(ds["eta_max"].values.ravel()[0]) == 3.3
    assert flags.has(int(ds["window_status"].values.ravel()[0]), flags.OPEN_ABOVE)
    assert flags.has(int(ds["top_status"].values.ravel()[0]), flags.TOP_AT_ETA_BOUND)
    assert main(["dome", store, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)["structures"][0]
    assert rec["per_g"][0]["dome"] == "at_bound" and rec["top"]["at_eta_bound"] is True
    assert "open_above" in rec["per_g"][0]["windows"][0]["flags"]
    assert main(["dome", store]) == 0
    out = capsys.readouterr().out
    assert " bound " in out and "a lower bound" in out and ">= 3.300000]" in out
    assert " refined " not in out  # the values column never says refined for it
    row = dome_summary(ds)[0]
    assert row["at_edge"] == ["eta"] and row["at_g"][0]["at_edge"] is True  # one g: no g edge
    _print_run({"store": store, "total": 15, "done": 15, "failed": 0, "pending": 0,
                "computed_points": 15, "wall_s": 1.0, "n_domes": 1, "dome": [row]})
    out = capsys.readouterr().out
    assert out.count("a lower bound") == 3  # the highest Tc, the g = 1/3 line, its window
    # without the user bound: followed to the maximum at 3.63, nothing at a bound
    doc["refine"].pop("eta_max_bound")
    store = _sweep(tmp_path / "free.zarr", doc)
    ds = store_mod.open_dataset(store)
    status = int(ds[store_mod.VAR_REFINE_STATUS].values.ravel()[0])
    assert flags.has(status, flags.MAX_OUTSIDE_GRID)
    assert not flags.has(status, flags.MAX_AT_BOUND | flags.MAX_AT_FIRST_ETA)
    assert 3.6 < float(ds["eta_max"].values.ravel()[0]) < 3.7
    assert dome_summary(ds)[0]["at_edge"] == []
