"""Gaps as a sweep output: [outputs], the delta/mu_shift layout, values, resume, dome ratios."""
import json
import tomllib

import numpy as np
import pytest
import zarr

import solver.parameters
from solver.constants import KB
from solver.gaps import gaps_on_structure
from sweep import flags
from sweep import store as store_mod
from sweep.cli import main
from sweep.config import ConfigError, load_config, parse_config
from sweep.execution.runner import InProcessExecutor
from sweep.run.service import run_sweep
from sweep_support import roundtrip, write_toml

GAPS_TOML = """
[grid]
eta = [0.5, 1.0]
g = [0.3, 1e-3]

[model]
t_floor = 2.0

[run]
chunk_eta = 1

[outputs]
gaps = true
gap_T_over_tc = [0.0, 0.5]
"""
"""Two eta at g = 0.3 (a dome) and at g = 1e-3 (Tc about 0.2 and 1 K, below the 2 K floor: no
gaps), one chunk per eta: four chunks, two gap solves."""


def gaps_config():
    return parse_config(tomllib.loads(GAPS_TOML))


@pytest.fixture(scope="module")
def gap_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("gaps") / "g.zarr"
    ds = roundtrip(gaps_config(), path)
    return path, ds


def test_delta_and_mu_shift_are_the_gap_solver_s_values(gap_store):
    _, ds = gap_store
    cfg = gaps_config()
    st = solver.prepare_structure(**{k: v for k, v in cfg.model.items()
                                     if k in solver.parameters.STRUCTURE})
    model = {k: cfg.model[k] for k in solver.parameters.MODEL}
    point = ds.isel(L=0, W=0, V=0, omega0=0)
    assert (point["status"].sel(g=0.3) == solver.STATUS_OK).all()
    assert (point["status"].sel(g=1e-3) == solver.STATUS_BELOW_FLOOR).all()
    for eta in cfg.axes["eta"]:
        r = gaps_on_structure(st, eta=eta, g=0.3, omega0=cfg.axes["omega0"][0],
                              T_over_tc=[0.0, 0.5], **model)
        here = point.sel(g=0.3, eta=eta)
        np.testing.assert_allclose(here["delta"].values, r.delta_fermi.T, rtol=1e-12)
        np.testing.assert_allclose(here["mu_shift"].values, r.mu_shift_meV, rtol=1e-12)
        assert float(here["tc"]) == pytest.approx(r.tc_K, rel=1e-12)
    d = point["delta"].sel(g=0.3).values
    assert (d > 0).all() and (d[..., 0] > d[..., 1]).all()  # gaps shrink from T = 0 to Tc/2
    assert np.isnan(point["delta"].sel(g=1e-3).values).all()
    assert np.isnan(point["mu_shift"].sel(g=1e-3).values).all()


def test_gap_layout_coordinates_attributes_and_chunks(gap_store):
    path, ds = gap_store
    assert ds["delta"].dims == ("L", "W", "V", "omega0", "g", "eta", "subband", "T_over_tc")
    assert ds["mu_shift"].dims == ("L", "W", "V", "omega0", "g", "eta", "T_over_tc")
    assert ds["subband"].values.tolist() == [1, 2, 3]
    assert ds["T_over_tc"].values.tolist() == [0.0, 0.5]
    for name in ("delta", "mu_shift", "subband", "T_over_tc"):
        assert ds[name].attrs["long_name"] and ds[name].attrs["units"], name
    assert ds["delta"].attrs["units"] == ds["mu_shift"].attrs["units"] == "meV"
    g = zarr.open_group(str(path), mode="r")
    tc_chunks = g["tc"].chunks
    assert g["delta"].chunks == tc_chunks + (3, 2)
    assert g["mu_shift"].chunks == tc_chunks + (2,)
    cfg = json.loads(ds.attrs["config_json"])
    assert cfg["outputs"] == {"gaps": True, "gap_T_over_tc": [0.0, 0.5]}


def test_resume_is_idempotent_and_refuses_other_outputs(gap_store, tmp_path):
    path, ds = gap_store
    again = run_sweep(gaps_config(), store=str(path), executor=InProcessExecutor(), resume=True)
    assert again.complete and again.report.tasks_done == 0
    other = parse_config(tomllib.loads(GAPS_TOML.replace("[0.0, 0.5]", "[0.0]")))
    with pytest.raises(store_mod.StoreError, match="outputs.gap_T_over_tc"):
        run_sweep(other, store=str(path), executor=InProcessExecutor(), resume=True)
    off = parse_config(tomllib.loads(GAPS_TOML.split("[outputs]")[0]))
    with pytest.raises(store_mod.StoreError, match="outputs"):
        run_sweep(off, store=str(path), executor=InProcessExecutor(), resume=True)


def test_dome_reports_the_gap_ratios_at_the_top(gap_store, capsys):
    path, ds = gap_store
    assert main(["dome", str(path), "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out)["structures"]
    top = s["top"]
    assert top["g"] == 0.3
    point = top["gap_point"]
    tc = ds["tc"].isel(L=0, W=0, V=0, omega0=0).sel(g=0.3)
    eta = float(tc["eta"][int(np.argmax(tc.values))])
    assert point == {"g": 0.3, "eta": eta, "T_over_tc": 0.0, "tc_K": float(tc.max())}
    delta = ds["delta"].isel(L=0, W=0, V=0, omega0=0).sel(g=0.3, eta=eta, T_over_tc=0.0)
    np.testing.assert_allclose(top["gap_ratios"], 2 * delta.values / (KB * float(tc.max())),
                               rtol=1e-12)
    assert all(1.0 < r < 10.0 for r in top["gap_ratios"])
    assert main(["dome", str(path)]) == 0
    assert "2 Delta_n/(k_B Tc)" in capsys.readouterr().out


def test_gaps_off_keeps_the_tc_only_layout(tmp_path, capsys):
    text = GAPS_TOML.replace("gaps = true", "gaps = false").replace("g = [0.3, 1e-3]",
                                                                      "g = [1e-3]")
    cfg = parse_config(tomllib.loads(text))
    plain = parse_config(tomllib.loads(text.split("[outputs]")[0]))
    assert cfg.identity() == plain.identity() and cfg.to_toml() == plain.to_toml()
    assert "outputs" not in cfg.identity() and cfg.gap_T_over_tc == ()
    ds = roundtrip(cfg, tmp_path / "off.zarr")
    assert not {"delta", "mu_shift", "subband", "T_over_tc"} & set(ds.variables)
    assert main(["dome", str(tmp_path / "off.zarr"), "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out)["structures"]
    assert "gap_ratios" not in s["top"]


BAD_OUTPUTS = {
    "unknown key": ("[outputs]\ngap = true\n", "outputs.gap"),
    "gaps not bool": ("[outputs]\ngaps = 1\n", "outputs.gaps"),
    "ratios without gaps": ("[outputs]\ngap_T_over_tc = [0.5]\n", "outputs.gap_T_over_tc"),
    "ratios not a list": ("[outputs]\ngaps = true\ngap_T_over_tc = 0.5\n",
                          "outputs.gap_T_over_tc"),
    "ratio not a number": ('[outputs]\ngaps = true\ngap_T_over_tc = ["0"]\n',
                           "outputs.gap_T_over_tc[0]"),
    "ratio at Tc": ("[outputs]\ngaps = true\ngap_T_over_tc = [0.0, 1.0]\n",
                    "outputs.gap_T_over_tc[1]"),
    "negative ratio": ("[outputs]\ngaps = true\ngap_T_over_tc = [-0.1]\n",
                       "outputs.gap_T_over_tc[0]"),
    "empty ratios": ("[outputs]\ngaps = true\ngap_T_over_tc = []\n", "outputs.gap_T_over_tc"),
    "repeated ratios": ("[outputs]\ngaps = true\ngap_T_over_tc = [0.5, 0.5]\n",
                        "outputs.gap_T_over_tc"),
    "not a table": ("outputs = 1\n", "outputs"),
}


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_bad_outputs_is_exit_2_naming_the_key(case, tmp_path, capsys):
    text, key = BAD_OUTPUTS[case]
    cfg = write_toml(tmp_path / "bad.toml", "[grid]\ng = [0.2]\n" + text)
    assert main(["run", str(cfg), "--store", str(tmp_path / "out.zarr"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert key in err and err.startswith("fanodome run: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(cfg)


def test_a_failed_chunk_leaves_its_gaps_nan(tmp_path):
    from sweep.run.tasks import compute_chunk

    bad = (0, 0, 0, 0, 0, 1)  # g = 0.3, eta = 1.0

    def compute(task):
        if task.index == bad:
            raise ValueError("rejected")
        return compute_chunk(task)

    path = tmp_path / "f.zarr"
    cfg = gaps_config()
    run_sweep(cfg, store=str(path), executor=InProcessExecutor(), compute=compute)
    point = store_mod.open_dataset(str(path)).load().isel(L=0, W=0, V=0, omega0=0)
    assert int(point["status"].sel(g=0.3, eta=1.0)) == flags.STATUS_FAILED
    assert np.isnan(point["delta"].sel(g=0.3, eta=1.0).values).all()
    assert np.isnan(point["mu_shift"].sel(g=0.3, eta=1.0).values).all()
    assert np.isfinite(point["delta"].sel(g=0.3, eta=0.5).values).all()
