"""Domes, antiresonances and Fano fits: exact answers on synthetic stores, the paper on a real
one."""
import json
import tomllib

import numpy as np
import pytest
import xarray as xr

from solver import STATUS_BELOW_FLOOR, STATUS_OK, tc_grid
from sweep import flags
from sweep import store as store_mod
from sweep.analysis import (ANTI_FLAGS, DOME_FLAGS, FANO_PARAMS, dome, dome_summary,
                            dome_report, dome_top, fano_fit, fano_line, fano_quality, fit_fano,
                            vertex)
from sweep.cli import main
from sweep.config import parse_config
from sweep.grid import inclusive_range
from sweep_support import roundtrip

ETA = inclusive_range(-1.5, 3.0, 0.1)
T_FLOOR = 1e-6  # the paper default the synthetic config runs with

# Synthetic log Tc: a parabola around the maximum (eta 1.03, 200 K) for eta > 0.3 and another
# around the dip (eta -0.87, 200 K * e^-5) below: each extremum's three grid neighbours lie on one
# parabola, so the refinement must be exact.
E_MAX, TC_MAX, E_MIN, LOG_DEPTH = 1.03, 200.0, -0.87, 5.0


def synthetic_log_tc(eta):
    return np.where(eta > 0.3, np.log(TC_MAX) - (eta - E_MAX) ** 2,
                    np.log(TC_MAX) - LOG_DEPTH + 3.0 * (eta - E_MIN) ** 2)


SYNTH_TOML = """
[grid]
eta = { start = -1.5, stop = 3.0, step = 0.1 }
g = [0.1, 0.2, 0.3, 0.4]
L = [8.5, 9.0]
[run]
chunk_eta = 16
chunk_g = 2
"""


def synthetic_curves(L_index: int):
    """(g, eta) tc and status of the synthetic store; rows: clean, below floor, pending, none."""
    tc = np.tile(np.exp(synthetic_log_tc(ETA)) * (1 + 0.5 * L_index), (4, 1))
    status = np.full(tc.shape, STATUS_OK, dtype=np.int8)
    below = (ETA >= -1.2 - 1e-9) & (ETA <= -0.6 + 1e-9)
    status[1, below] = STATUS_BELOW_FLOOR
    k_max = int(np.argmax(tc[2]))
    status[2, k_max + 1] = flags.STATUS_PENDING
    status[2, 3] = flags.STATUS_FAILED
    status[3, :] = STATUS_BELOW_FLOOR
    tc[status != STATUS_OK] = np.nan
    return tc, status


@pytest.fixture(scope="module")
def synthetic_store(tmp_path_factory):
    """A real store laid out by store.layout and filled chunk by chunk with known curves."""
    path = str(tmp_path_factory.mktemp("synth") / "synth.zarr")
    cfg = parse_config(tomllib.loads(SYNTH_TOML))
    plan = cfg.plan()
    store_mod.layout(store=path, axes=cfg.axes, plan=plan, config_toml=cfg.to_toml(),
                     config_json=cfg.identity())
    for index in plan.chunks():
        reg = plan.region(index)
        tc, status = synthetic_curves(index[0])
        block = (slice(None), reg["g"], reg["eta"])
        store_mod.write_chunk(store=path, region=reg, tc=tc[None][block],
                              status=status[None][block], E_L=1.0, dE=1.0)
    return path


def test_vertex_of_exact_parabolas():
    rng = np.random.default_rng(1)
    x = np.sort(rng.uniform(-2, 2, (50, 3)), axis=1)
    c = rng.uniform(-3, 3, 50)
    a = rng.uniform(0.5, 2, 50) * rng.choice([-1, 1], 50)
    x[:, 1] = np.clip(c, x[:, 0] + 1e-3, x[:, 2] - 1e-3)  # the vertex between the ends
    y = a[:, None] * (x - c[:, None]) ** 2 + 4.0
    xv, yv = vertex(x, y)
    inside = (c > x[:, 0]) & (c < x[:, 2])
    np.testing.assert_allclose(xv[inside], c[inside], atol=1e-9)
    np.testing.assert_allclose(yv[inside], 4.0, atol=1e-9)
    # a monotonic triple has no vertex between its ends: the middle point comes back
    xm, ym = vertex(np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 3.0]))
    assert (xm, ym) == (1.0, 2.0)


def test_dome_on_synthetic_store_is_exact_and_flags_what_it_cannot_measure(synthetic_store):
    ds = store_mod.open_dataset(synthetic_store)
    d = dome(ds).compute()
    c = d.isel(L=0, W=0, V=0, omega0=0)
    # clean row: both extrema refined exactly
    assert DOME_FLAGS[int(c.dome_flag[0])] == "interior"
    assert float(c.eta_max[0]) == pytest.approx(E_MAX, abs=1e-9)
    assert float(c.tc_max[0]) == pytest.approx(TC_MAX, rel=1e-9)
    assert ANTI_FLAGS[int(c.antiresonance_flag[0])] == "interior"
    assert float(c.eta_antiresonance[0]) == pytest.approx(E_MIN, abs=1e-9)
    assert float(c.tc_antiresonance[0]) == pytest.approx(TC_MAX * np.exp(-LOG_DEPTH), rel=1e-9)
    assert float(c.antiresonance_depth[0]) == pytest.approx(LOG_DEPTH / np.log(10), rel=1e-9)
    # below the floor: no value, the floor as upper bound and the span of those points
    assert ANTI_FLAGS[int(c.antiresonance_flag[1])] == "below_floor"
    assert np.isnan(float(c.tc_antiresonance[1]))
    assert float(c.tc_antiresonance_bound[1]) == T_FLOOR
    assert float(c.eta_antiresonance_lo[1]) == pytest.approx(-1.2)
    assert float(c.eta_antiresonance_hi[1]) == pytest.approx(-0.6)
    assert float(c.eta_max[1]) == pytest.approx(E_MAX, abs=1e-9)
    # a missing neighbour of the maximum: grid value, not refined; missing points counted
    assert DOME_FLAGS[int(c.dome_flag[2])] == "at_grid_edge"
    assert float(c.eta_max[2]) == pytest.approx(1.0) and int(c.n_missing[2]) == 2
    # every point below the floor: no value, the floor as upper bound of the maximum
    assert DOME_FLAGS[int(c.dome_flag[3])] == "below_floor" and np.isnan(float(c.tc_max[3]))
    assert float(c.tc_max_bound[3]) == T_FLOOR and np.isnan(c.tc_max_bound[:3]).all()
    assert ANTI_FLAGS[int(c.antiresonance_flag[3])] == "none"
    # the second structure is 1.5 times hotter
    assert float(d.tc_max.isel(L=1, W=0, V=0, omega0=0, g=0)) == pytest.approx(1.5 * TC_MAX)


def test_dome_keeps_units_computed_when_small_lazy_when_large(synthetic_store):
    ds = store_mod.open_dataset(synthetic_store)
    assert all(dome(ds)[v].chunks is None for v in dome(ds).data_vars), "a small store's"
    d = dome(ds, max_computed=ds["tc"].size - 1)
    assert all(d[v].chunks is not None for v in d.data_vars), "must stay lazy"
    assert d.tc_max.attrs["units"] == "K" and d.eta_max.attrs["units"] == "1"
    assert d.tc_antiresonance_bound.attrs["units"] == "K"
    assert d.dome_flag.attrs["flag_meanings"] == " ".join(DOME_FLAGS)
    eager = dome(ds.load())
    xr.testing.assert_identical(d.compute(), eager)
    top = dome_top(d.compute())
    assert top.top_tc.attrs["units"] == "K"
    # the top: the highest refined maximum over g (rows 0 and 1 tie: the first is taken)
    assert float(top.top_tc.isel(L=0, W=0, V=0, omega0=0)) == pytest.approx(TC_MAX)
    assert float(top.top_g.isel(L=0, W=0, V=0, omega0=0)) == pytest.approx(0.1)


def test_dome_runs_chunk_by_chunk_on_a_large_lazy_sweep():
    """10^8 points, never materialised: the graph is one task per store chunk and computing one
    structure touches only that structure's chunks."""
    import dask.array as da
    shape, chunks = (100, 10, 10, 1, 10, 1000), (1, 1, 1, 1, 10, 250)
    eta = np.linspace(-1.5, 3.0, shape[-1])
    base = da.from_array(np.exp(synthetic_log_tc(eta)), chunks=250)
    tc = da.broadcast_to(base, shape, chunks=chunks)
    ds = xr.Dataset(
        {"tc": (("L", "W", "V", "omega0", "g", "eta"), tc, {"units": "K"}),
         "status": (("L", "W", "V", "omega0", "g", "eta"),
                    da.zeros(shape, dtype=np.int8, chunks=chunks))},
        coords={"L": np.arange(100.0), "W": np.arange(10.0), "V": np.arange(10.0),
                "omega0": [230.0], "g": np.linspace(0.1, 0.4, 10), "eta": eta})
    d = dome(ds, t_floor=T_FLOOR)
    assert d.tc_max.size == 10 ** 5 and d.tc_max.chunks is not None
    one = d.isel(L=7, W=3, V=2).compute()
    step = eta[1] - eta[0]
    assert np.all(np.abs(one.eta_max.values - E_MAX) < step)
    assert np.allclose(one.tc_max.values, TC_MAX, rtol=1e-6)


def test_dome_command_json_shape(synthetic_store, capsys):
    assert main(["dome", synthetic_store, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["structures"]) == 2
    s = doc["structures"][0]
    assert {"L", "W", "V", "omega0", "per_g", "top"} <= set(s)
    assert set(s["top"]) == {"g", "eta", "tc_K", "refined", "searched_in_g", "at_g_edge",
                             "at_eta_bound", "outside_model", "missing_points", "values",
                             "tc_upper_bound_K"}
    assert s["top"]["missing_points"] == 2  # g = 0.3: one point pending, one failed
    # the grid's top: g = 0.1 and 0.2 share the highest Tc; the first is taken, on the g edge
    assert s["top"]["refined"] is False and s["top"]["searched_in_g"] is True
    assert (s["top"]["g"], s["top"]["at_g_edge"], s["top"]["at_eta_bound"]) == (0.1, True, False)
    keys = {"g", "eta_max", "tc_max_K", "eta_antiresonance", "tc_antiresonance_K", "refined",
            "windows"}
    assert all(keys <= set(r) for r in s["per_g"])
    assert not any(r["refined"] or r["windows"] for r in s["per_g"])  # not refined: the grid
    below = s["per_g"][1]
    assert below["antiresonance"] == "below_floor" and below["tc_antiresonance_K"] is None
    assert below["tc_antiresonance_upper_bound_K"] == T_FLOOR
    assert below["eta_antiresonance_range"] == pytest.approx([-1.2, -0.6])
    assert s["per_g"][3]["tc_max_K"] is None
    assert doc == dome_report(store_mod.open_dataset(synthetic_store))
    assert main(["dome", synthetic_store]) == 0
    out = capsys.readouterr().out
    assert "below the floor for eta in [-1.2, -0.6]" in out and "top Tc = 200 K" in out
    assert "2 points of this dome not computed yet: the top of those that are" in out
    assert main(["dome", synthetic_store + "-missing"]) == 2


def test_dome_says_how_far_it_has_read(synthetic_store, capsys, monkeypatch):
    # a large store takes minutes: a line on stderr at most every DOME_PROGRESS_S seconds
    from sweep.cli import analysis_commands
    monkeypatch.setattr(analysis_commands, "DOME_PROGRESS_S", 0.0)
    assert main(["dome", synthetic_store, "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)["structures"]) == 2
    (line,) = captured.err.splitlines()
    assert line.startswith("fanodome dome: 1 of 2 domes read, about ") and \
        line.endswith(" s left (fewer domes: --select)"), line


def test_dome_and_the_run_summary_say_what_their_values_are(synthetic_store, capsys):
    """Unrefined, `dome` gives the vertex of a parabola between grid points (`interp`, an
    estimate) and the run summary the largest computed Tc (`grid values`, a lower bound): two
    numbers, two names, each explained, none changed."""
    from sweep.analysis.domes import VALUES
    from sweep.cli.run_commands import _print_run
    ds = store_mod.open_dataset(synthetic_store)
    doc = dome_report(ds)
    s = doc["structures"][0]
    assert [r["values"] for r in s["per_g"]] == ["interp", "interp", "edge", "below_floor"]
    assert [r["tc_max_upper_bound_K"] for r in s["per_g"]] == [None, None, None, T_FLOOR]
    assert s["top"]["values"] == "interp" and s["top"]["tc_K"] == pytest.approx(TC_MAX)
    assert doc["values_legend"]["interp"] == VALUES["interp"] and "grid" not in \
        doc["values_legend"]
    assert main(["dome", synthetic_store, "--select", "L=8.5"]) == 0
    out = capsys.readouterr().out
    header, *rows = [ln for ln in out.splitlines() if ln.startswith("  ")]
    at = header.index("values")
    assert [r[at:at + 11].strip() for r in rows] == ["interp", "interp", "edge", "below_floor"]
    assert f"< {T_FLOOR:g}" in rows[3] and "every point below the temperature floor" in rows[3]
    assert "(interp, on the edge of the g range" in out and "(grid" not in out
    assert f"values interp: {VALUES['interp']}" in out.splitlines()
    assert "between grid points: vertex of a parabola in ln Tc" in VALUES["interp"]
    (row, *_) = dome_summary(ds, g_targets=((0.2, "1/5"),))
    computed = float(ds["tc"].isel(L=1).max())  # the hotter structure's largest computed Tc
    assert row["values"] == "grid" and row["tc_max_K"] == computed < 1.5 * TC_MAX
    _print_run({"store": synthetic_store, "total": 1, "done": 1, "failed": 0, "pending": 0,
                "computed_points": 0, "wall_s": 1.0, "n_domes": 1, "dome": [row]})
    out = capsys.readouterr().out
    assert f"grid values: {VALUES['grid']}" in out.splitlines() and "(grid values)" in out
    assert "the largest computed Tc, a lower bound of each maximum" in out
    assert "fanodome refine gives the solver's maxima" in out


# ------------------------------------------------------------------------------- Fano fits

TRUE_FANO = dict(eta_res=0.9, width=0.8, q=2.5, amplitude=30.0, offset=2.0)


@pytest.mark.parametrize("log", [False, True])
def test_fano_fit_recovers_known_parameters(log):
    rng = np.random.default_rng(7)
    eta = np.linspace(-1.5, 3.0, 91)
    clean = fano_line(eta, **TRUE_FANO)
    noise = 0.01
    tc = clean * np.exp(noise * rng.standard_normal(eta.size)) if log else \
        clean + noise * TRUE_FANO["amplitude"] * rng.standard_normal(eta.size)
    f = fit_fano(eta=eta, tc=tc, log=log)
    assert f.converged and f.n_points == eta.size
    fit = {**f.params, **{p + "_err": getattr(f, p + "_err") for p in FANO_PARAMS},
           "rms": f.rms, "y_range": f.y_range, "cond": f.cond}
    assert fano_quality(fit, eta_lo=-1.5, eta_hi=3.0)[0] == "good"
    for p in FANO_PARAMS:
        err = getattr(f, p + "_err")
        assert 0 < err < 0.05 * abs(TRUE_FANO[p]) + 0.05, p
        assert abs(getattr(f, p) - TRUE_FANO[p]) < 5 * err, (p, getattr(f, p), err)


def test_fano_line_shape_zero_and_maximum():
    p = TRUE_FANO
    half = p["width"] / 2
    zero = p["eta_res"] - p["q"] * half       # e = -q
    peak = p["eta_res"] + half / p["q"]        # e = 1/q
    assert fano_line(zero, **p) == pytest.approx(p["offset"])
    assert fano_line(peak, **p) == pytest.approx(p["amplitude"] * (1 + p["q"] ** 2) + p["offset"])
    assert fano_line(1e6, **p) == pytest.approx(p["amplitude"] + p["offset"], rel=1e-5)


def test_fano_fit_on_a_store_is_computed_when_small_lazy_when_large_with_units(synthetic_store):
    ds = store_mod.open_dataset(synthetic_store)
    lazy = fano_fit(ds, g=[0.1], max_computed=0)
    assert lazy.q.chunks is not None
    fits = fano_fit(ds, g=[0.1])
    assert fits.q.chunks is None
    xr.testing.assert_identical(lazy.compute(), fits)
    assert fits.eta_res.attrs["units"] == "1" and fits.amplitude.attrs["units"] == "K"
    assert fits.sizes["g"] == 1 and np.isfinite(fits.q).all()
    with pytest.raises(ValueError, match="at least"):
        fit_fano(eta=ETA[:4], tc=np.ones(4))


# --------------------------------------------------------------------- a real small sweep

REAL_TOML = """
[grid]
eta = { start = -1.5, stop = 3.0, step = 0.1 }
g = [0.25, 0.3333333333333333]
"""


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory):
    path = tmp_path_factory.mktemp("real") / "paper-small.zarr"
    roundtrip(parse_config(tomllib.loads(REAL_TOML)), path)
    return str(path)


@pytest.mark.parametrize("row, published", [(0, 203.0), (1, 287.7)])
def test_real_dome_near_the_paper(real_sweep, row, published):
    d = dome(store_mod.open_dataset(real_sweep)).compute().isel(L=0, W=0, V=0, omega0=0, g=row)
    assert DOME_FLAGS[int(d.dome_flag)] == "interior"
    assert 0.8 <= float(d.eta_max) <= 1.2
    assert float(d.tc_max) == pytest.approx(published, rel=0.05)
    # the antiresonance below eta = 0, millikelvin, resolved on this grid
    assert ANTI_FLAGS[int(d.antiresonance_flag)] == "interior"
    assert -1.5 < float(d.eta_antiresonance) < 0.0
    assert float(d.tc_antiresonance) < 1e-2 and float(d.antiresonance_depth) > 4


def test_refined_maximum_converges_to_the_fine_grid_maximum(real_sweep):
    """The parabola in log Tc on a 0.1 grid lands nearer the fine-grid maximum than the coarse
    grid maximum does."""
    ds = store_mod.open_dataset(real_sweep)
    d = dome(ds).compute().isel(L=0, W=0, V=0, omega0=0)
    coarse = ds.tc.isel(L=0, W=0, V=0, omega0=0).max("eta").values
    fine_eta = inclusive_range(0.7, 1.4, 0.005)
    fine = tc_grid(eta=fine_eta, g=ds.g.values).tc_K[0].max(axis=-1)
    refined = d.tc_max.values
    assert np.all(np.abs(refined - fine) <= np.abs(coarse - fine))
    # within 0.5 %: near eta = 1 (the 2D-1D Lifshitz point) Tc(eta) has a kink, which a
    # parabola through points 0.1 apart does not follow exactly
    np.testing.assert_allclose(refined, fine, rtol=5e-3)


def test_one_eta_is_its_own_edge_in_the_summary_and_the_dome(tmp_path):
    # a store of one eta: its maximum over eta is a lower bound, in the run's summary as in
    # `fanodome dome`; three g: the top on the last g is on the edge of the g range
    path = str(tmp_path / "one_eta.zarr")
    cfg = parse_config(tomllib.loads("[grid]\neta = [1.03]\ng = [0.1, 0.2, 0.3]\n"))
    plan = cfg.plan()
    store_mod.layout(store=path, axes=cfg.axes, plan=plan, config_toml=cfg.to_toml(),
                     config_json=cfg.identity())
    (index,) = plan.chunks()
    tc = np.array([[[150.0], [170.0], [190.0]]])
    store_mod.write_chunk(store=path, region=plan.region(index), tc=tc,
                          status=np.full(tc.shape, STATUS_OK, dtype=np.int8), E_L=1.0, dE=1.0)
    ds = store_mod.open_dataset(path, dask=None)
    (row,) = dome_summary(ds, g_targets=((0.2, "1/5"),))
    assert (row["tc_max_K"], row["g_at_max"], row["at_edge"]) == (190.0, 0.3, ["g", "eta"])
    assert [(t["tc_max_K"], t["at_edge"]) for t in row["at_g"]] == [(170.0, True)]
    (rec,) = dome_report(ds)["structures"]
    assert rec["top"]["at_g_edge"] is True and rec["top"]["at_eta_bound"] is True


def test_a_curve_below_the_floor_reports_the_floor_as_its_bound(tmp_path):
    # t_floor = 200 K: at g = 1/4 every Tc is below it (the paper structure's maximum there is
    # 194 K), at g = 0.3 one is above (257 K at eta = 1). The run's summary and `fanodome dome`
    # give the maximum at g = 1/4 as below the floor, an upper bound, not as "no Tc"; a dome of
    # curves all below the floor has its top below it.
    from sweep_support import cli, json_out, write_toml
    cfg = write_toml(tmp_path / "floor.toml", "[grid]\neta = [-0.3, 0.5, 1.0]\n"
                     "g = [0.25, 0.3]\n[model]\nt_floor = 200.0\n")
    store = str(tmp_path / "floor.zarr")
    out = cli("run", str(cfg), "--store", store)
    assert out.returncode == 0, out.stderr
    assert ("g = 1/4 (nearest grid g = 0.25): max Tc over eta < 200 K: every point below the "
            "temperature floor") in out.stdout, out.stdout
    doc = json_out(cli("dome", store, "--json"))
    quarter, third = doc["structures"][0]["per_g"]
    assert (quarter["values"], quarter["tc_max_upper_bound_K"]) == ("below_floor", 200.0)
    assert quarter["tc_max_K"] is None and quarter["dome"] == "below_floor"
    assert third["tc_max_upper_bound_K"] is None and third["tc_max_K"] > 200.0
    ds = store_mod.open_dataset(store)
    (rec,) = dome_report(ds.isel(g=[0]))["structures"]
    assert (rec["top"]["values"], rec["top"]["tc_upper_bound_K"]) == ("below_floor", 200.0)
    (row,) = dome_summary(ds.isel(g=[0]))
    assert row["tc_max_K"] is None and row["tc_max_upper_bound_K"] == 200.0


OUTSIDE_TOML = """
[grid]
eta = { start = 0.6, stop = 1.3, step = 0.1 }
g = [0.25, 0.3333333333333333]
L = [7.0]
W = [3.0]
V = [1000.0]
"""
"""L = 7, W = 3 Å, V = 1000 meV: eta_up = 0.938 at g = 1/4 and 0.954 at g = 1/3 (solver's bands,
docs/refine.md), below the curves' maxima near eta = 1."""


def test_grid_maxima_above_eta_up_are_outside_the_model_also_unrefined(tmp_path):
    # eta_up from the energies the store keeps (E_L, dE, E_left_out), against the solver's own
    # (TcGrid.eta_up, from the structure's bands); the maxima lie above it: flagged in `dome`
    # and the run's summary; a store laid out without E_left_out flags nothing, and --resume
    # adds it for what it computes
    from sweep_support import cli, json_out, write_toml
    cfg = write_toml(tmp_path / "out.toml", OUTSIDE_TOML)
    store = str(tmp_path / "out.zarr")
    run = cli("run", str(cfg), "--store", store, "--json")
    assert run.returncode == 0, run.stderr
    (row,) = json_out(run)["dome"]
    assert row["outside_model"] is True and row["values"] == "grid"
    assert [t["outside_model"] for t in row["at_g"]] == [True, True]
    want = tc_grid(eta=[1.0], g=[0.25, 1 / 3], L=7.0, W=3.0, V=1000.0).eta_up[0]
    rec = json_out(cli("dome", store, "--json"))["structures"][0]
    np.testing.assert_allclose([r["eta_up"] for r in rec["per_g"]], want, rtol=1e-12)
    assert [r["outside_model"] for r in rec["per_g"]] == [True, True]
    assert all(r["eta_max"] > r["eta_up"] for r in rec["per_g"])
    assert rec["top"]["outside_model"] is True
    # the paper's structure: eta_up = 8.45 and 8.66, far above the grid
    paper = str(tmp_path / "paper.zarr")
    cfg_p = write_toml(tmp_path / "p.toml", OUTSIDE_TOML.replace(
        'L = [7.0]\nW = [3.0]\nV = [1000.0]\n', ''))
    assert cli("run", str(cfg_p), "--store", paper).returncode == 0
    rec = json_out(cli("dome", paper, "--json"))["structures"][0]
    assert not any(r["outside_model"] for r in rec["per_g"]) and rec["per_g"][0]["eta_up"] > 8
    # a store laid out before E_left_out was kept: no flag, eta_up unknown; a resume adds it
    import zarr

    from sweep.store.common import consolidate
    old = str(tmp_path / "old.zarr")
    c = parse_config(tomllib.loads(OUTSIDE_TOML))
    store_mod.layout(store=old, axes=c.axes, plan=c.plan(), config_toml=c.stored_toml(),
                     config_json=c.identity())
    g = zarr.open_group(old, mode="r+", zarr_format=3)
    del g[store_mod.VAR_E_LEFT_OUT]
    consolidate(g)
    assert store_mod.VAR_E_LEFT_OUT not in store_mod.open_dataset(old)
    resumed = cli("run", str(cfg), "--store", old, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    ds = store_mod.open_dataset(old)
    assert float(ds[store_mod.VAR_E_LEFT_OUT].squeeze()) == pytest.approx(
        float(store_mod.open_dataset(store)[store_mod.VAR_E_LEFT_OUT].squeeze()), rel=0)
