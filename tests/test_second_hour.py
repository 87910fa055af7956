"""A physicist's second hour: commands that can be run again, a word before the kernels
compile, lists and ranges everywhere the README promises them, help texts that are complete and
true, labels that name the right g, flags that say why, fits rated by their residual and their
covariance, and figures that choose well.

Real components only: stores on disk, CLI processes, matplotlib figures checked by their
artists (titles, limits, legend entries), never by pixels.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from sweep_support import REPO, cf_problems

import sweep
from sweep import store as store_mod
from sweep.cli import build_parser, main
from sweep.config import parse_config
from sweep.execution.runner import InProcessExecutor
from sweep.run.service import run_sweep

DESIGN = {"grid": {"eta": {"start": -0.5, "stop": 3.0, "step": 0.1}, "g": [0.25, 0.3, 0.35, 0.4],
                   "L": [7.5, 8.5]},
          "refine": {"thresholds": [200.0, 293.15]}}
"""Two structures, four g, refined: the paper's structure (L = 8.5 Å) has the higher dome."""
ONE_G = {"grid": {"eta": {"start": -0.5, "stop": 0.7, "step": 0.1}, "g": [1 / 3]},
         "refine": {"thresholds": [200.0, 273.15], "eta_max_bound": 0.7}}
"""One g, refined, eta up to 0.7 and bounded there: the maximum (near eta = 0.93) lies past
the bound, so the refined Tc_max is a lower bound."""


def _toml(doc: dict) -> str:
    from sweep.config import parse_config
    return parse_config(doc).to_toml()


def _store(tmp_path_factory, name: str, doc: dict):
    path = tmp_path_factory.mktemp(name) / f"{name}.zarr"
    run_sweep(parse_config(doc), store=str(path), executor=InProcessExecutor())
    config = path.with_suffix(".toml")
    config.write_text(_toml(doc))
    return path, config


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    """(store, config) of :data:`DESIGN`, swept and refined in this process."""
    return _store(tmp_path_factory, "design", DESIGN)


@pytest.fixture(scope="module")
def one_g(tmp_path_factory):
    """(store, config) of :data:`ONE_G`, swept and refined in this process."""
    return _store(tmp_path_factory, "one-g", ONE_G)


def _one_line_error(err: str, *words: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])


# ---------------------------------------------------------------- a word before the compile

NOTICE = "kernels are not compiled yet"
HEAVY = ("xarray", "zarr", "distributed")
"""Modules whose import takes the seconds after the start: the notice comes before them."""


@pytest.mark.parametrize("args", [("tc", "--eta", "1", "--g", "0.25"),
                                  ("run", "--store", "{tmp}/x.zarr", "--workers", "1"),
                                  ("explore", "{tmp}/e.toml", "--store", "{tmp}/x.zarr")])
def test_a_cold_kernel_cache_is_announced_before_the_heavy_imports(tmp_path, args):
    (tmp_path / "e.toml").write_text("[grid]\ng = 0.3\n[explore]\naxes = { L = [7.0, 9.0] }\n"
                                     "budget = 5\n")
    args = [a.format(tmp=tmp_path) for a in args]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "empty-cache")}
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "sweep.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            cwd=REPO, env=env, start_new_session=True)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if NOTICE in line:
                break
        elapsed = time.monotonic() - t0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    notice = seen[-1]
    assert NOTICE in notice, "".join(seen[-5:])
    assert re.search(r"about \d+ s", notice) and "once" in notice
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in seen if ln.startswith("import time:")}
    assert not imported & set(HEAVY), imported & set(HEAVY)
    # 0.7 s on the idle development machine: python, numba and the parser
    assert elapsed < 2.0, elapsed


def test_a_warm_kernel_cache_is_not_announced(tmp_path):
    import solver
    solver.warmup(gaps=False)  # this process's cache is the command's: now warm
    proc = subprocess.run([sys.executable, "-m", "sweep.cli", "tc", "--eta", "1", "--g", "0.25"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


# --------------------------------------------------------------------- lists and ranges

def test_tc_takes_ranges_and_lists_of_every_structure_number(capsys):
    from solver import tc_grid
    assert main(["tc", "--eta", "1", "--g", "0.25", "--L", "8:9:0.5", "--W", "5", "6",
                 "--m-x", "0.86", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["L"], r["W"]) for r in records] == [(8.0, 5.0), (8.0, 6.0), (8.5, 5.0),
                                                  (8.5, 6.0), (9.0, 5.0), (9.0, 6.0)]
    want = tc_grid(eta=[1.0], g=[0.25], L=9.0, W=6.0).tc_K[0, 0, 0]
    assert records[-1]["tc_K"] == pytest.approx(want, rel=1e-12)
    assert main(["tc", "--eta", "1", "--g", "0.25", "--L", "8:9:0.5", "--W", "5", "6"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["L", "(Å)", "W", "(Å)"] and len(out) == 7


@pytest.mark.parametrize("args, words", [
    (["--nbands", "3.5"], ("--nbands", "integers")),
    (["--L", "8:7:1"], ("--L",)),
    (["--eta", "-0.5:3:0.0001", "--L", "8:9:0.5"], ("points", "fanodome run")),
])
def test_tc_refuses_what_it_cannot_compute_in_one_line(args, words, capsys):
    argv = ["tc", "--eta", "1", "--g", "0.25", *args]
    assert main(argv) == 2
    _one_line_error(capsys.readouterr().err, *words)


def test_a_list_option_given_again_adds_its_values(capsys):
    assert main(["tc", "--eta", "-0.5:0:0.5", "--eta", "1", "--g", "0.25", "--L", "8",
                 "--L", "9", "--omega0", "200", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["L"], r["eta"]) for r in records] == [(L, e) for L in (8.0, 9.0)
                                                     for e in (-0.5, 0.0, 1.0)]
    assert {r["omega0"] for r in records} == {200.0}  # the default replaced, not added to


def _minimal_argv(sub, tested) -> list[str]:
    """The required positionals and options of sub-command ``sub`` (``tested`` aside)."""
    argv = []
    for action in sub._actions:
        if action is tested:
            continue
        if not action.option_strings and action.nargs != "?":
            argv.append("x")
        elif action.option_strings and action.required:
            argv += [action.option_strings[-1], "1"]
    for group in sub._mutually_exclusive_groups:
        if group.required and tested not in group._group_actions:
            argv += [group._group_actions[0].option_strings[-1], "1"]
    return argv


def test_no_option_of_any_command_keeps_only_the_last_of_two():
    from sweep.cli.options import RepeatedOption
    refused, kept = set(), set()
    for name, sub in _subparsers(build_parser()).items():
        for action in sub._actions:
            if not action.option_strings or action.nargs == 0:
                continue
            flag = action.option_strings[-1]
            one, two = (action.choices[0], action.choices[-1]) if action.choices else ("1", "2")
            argv = [name, *_minimal_argv(sub, action), flag, one, flag, two]
            try:
                ns = build_parser().parse_args(argv)
            except RepeatedOption as err:
                assert flag in str(err) and "given twice" in str(err), (argv, err)
                refused.add((name, flag))
                continue
            convert = action.type or str
            assert getattr(ns, action.dest) == [convert(one), convert(two)], argv
            kept.add((name, flag))
    assert {("gaps", "--eta"), ("plot", "--dpi"), ("plot", "--output"), ("run", "--store"),
            ("export", "--max-points")} <= refused
    assert {("tc", "--eta"), ("tc", "--L"), ("gaps", "--T"), ("plot", "--g"),
            ("plot", "--select"), ("refine", "--threshold")} <= kept


def test_an_option_of_one_value_given_twice_is_refused_in_one_line(capsys):
    assert main(["gaps", "--eta", "1", "--g", "0.3333", "--T", "0", "--eta", "-0.9"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    _one_line_error(err, "fanodome gaps: error: --eta", "given twice", "-0.9")


@pytest.mark.parametrize("argv, words", [
    (["run", "--workers", "abc"], ("fanodome run: error: argument --workers", "run --help")),
    (["explore"], ("fanodome explore: error: the following arguments are required",)),
    (["bogus"], ("fanodome: error: argument COMMAND: invalid choice", "fanodome --help")),
])
def test_a_usage_error_is_one_line_pointing_to_help(argv, words, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    _one_line_error(err, *words)


# -------------------------------------------------------------------------------- help texts

def _subparsers(parser):
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return action.choices


def test_every_help_prints_its_defaults_plainly():
    parser = build_parser()
    for name, sub in _subparsers(parser).items():
        text = sub.format_help()
        assert not re.search(r"\[\[|\['|\[None\]|\[\]\]", text), (name, text)
    tc = _subparsers(parser)["tc"].format_help()
    assert "meV [230]" in tc and "Å [8.5]" in tc


def test_top_level_help_and_each_description_are_complete_and_true(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    assert "structure" in top.split("plot", 1)[1].split("export", 1)[0]  # plot's line
    parsers = _subparsers(build_parser())
    for name, sub in parsers.items():
        assert sub.description, f"fanodome {name} --help has no description"
    refine = " ".join(parsers["refine"].format_help().split())
    assert "CONFIG" not in refine and "config's [cluster]" not in refine
    assert "config's, else local" not in refine


# --------------------------------------------------------------------- run, refine again

def test_refine_of_a_refined_store_says_nothing_to_do(design, capsys):
    store, _ = design
    assert main(["refine", str(store)]) == 0
    out = capsys.readouterr().out
    assert "nothing to do" in out and "refined 0 curves" not in out
    assert main(["refine", str(store), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["nothing_to_do"] is True and doc["evaluations"] == 0


# ------------------------------------------------------------------------- dome selections

def test_dome_takes_g_and_select_on_the_grid(design, capsys):
    store, _ = design
    assert main(["dome", str(store), "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)["structures"]
    assert main(["dome", str(store), "--select", "L=8.5", "--g", "0.25", "0.35", "--json"]) == 0
    (one,) = json.loads(capsys.readouterr().out)["structures"]
    assert one["L"] == 8.5 and [r["g"] for r in one["per_g"]] == [0.25, 0.35]
    full = next(s for s in everything if s["L"] == 8.5)
    assert one["top"] == full["top"]  # the top over every g, whatever rows are shown
    assert main(["dome", str(store), "--select", "L=8.5000000001"]) == 0  # to 1e-6
    assert "L = 8.5 Å" in capsys.readouterr().out
    assert main(["dome", str(store), "--select", "L=8"]) == 2
    _one_line_error(capsys.readouterr().err, "--select L", "nearest: 7.5, 8.5")
    assert main(["dome", str(store), "--g", "0.26"]) == 2
    _one_line_error(capsys.readouterr().err, "--g", "nearest: 0.25, 0.3")
    assert main(["dome", str(store), "--select", "g=0.25"]) == 2
    _one_line_error(capsys.readouterr().err, "--select", "L, W, V, omega0")


# ---------------------------------------------------------------------------------- export

def test_export_refuses_an_existing_file_unless_overwrite(design, tmp_path, capsys):
    store, _ = design
    for flag in ("--netcdf", "--csv"):
        out = tmp_path / f"mine{flag[2:]}"
        out.write_text("a collaborator's file")
        assert main(["export", str(store), flag, str(out)]) == 2
        _one_line_error(capsys.readouterr().err, str(out), "exists", "--overwrite")
        assert out.read_text() == "a collaborator's file"
        assert main(["export", str(store), flag, str(out), "--overwrite"]) == 0
        assert out.read_bytes() != b"a collaborator's file"
    capsys.readouterr()


@pytest.mark.slow
@pytest.mark.ci
def test_netcdf_export_of_a_refined_store_is_cf_1_8_clean(design, tmp_path, capsys):
    import xarray as xr
    store, _ = design
    nc = tmp_path / "refined.nc"
    assert main(["export", str(store), "--netcdf", str(nc)]) == 0
    with xr.open_dataset(nc, engine="h5netcdf") as back:
        flagged = [v for v in back.data_vars if "flag_masks" in back[v].attrs]
        assert {"refine_status", "window_status", "top_status"} <= set(flagged)
        for v in flagged:
            assert back[v].attrs["flag_masks"].dtype == back[v].dtype, v
    assert cf_problems(nc) == {"high_priorities": [], "medium_priorities": []}


# ------------------------------------------------------------ labels that name the right g

def test_a_one_g_store_is_labelled_by_its_own_g(one_g, capsys):
    store, config = one_g
    assert main(["run", str(config), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "1/4" not in out and "g = 1/3 (nearest grid g = 0.333333)" in out
    assert main(["dome", str(store)]) == 0
    out = capsys.readouterr().out
    assert "edge of the g range" not in out and "the store's only g" in out
    assert main(["dome", str(store), "--json"]) == 0
    (s,) = json.loads(capsys.readouterr().out)["structures"]
    assert s["top"]["at_g_edge"] is False and s["top"]["searched_in_g"] is False


def test_a_store_without_the_papers_g_names_the_g_it_shows(tmp_path, capsys):
    doc = {"grid": {"eta": {"start": 0.5, "stop": 1.5, "step": 0.1}, "g": [0.15]}}
    store = tmp_path / "g015.zarr"
    run_sweep(parse_config(doc), store=str(store), executor=InProcessExecutor())
    config = tmp_path / "g015.toml"
    config.write_text(_toml(doc))
    assert main(["run", str(config), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "1/4" not in out and "1/3" not in out and "  g = 0.15: max Tc over eta" in out


def test_flags_say_why_a_number_is_a_bound_or_missing(one_g, design, capsys):
    store, _ = one_g
    assert main(["dome", str(store), "--json"]) == 0
    (r,) = json.loads(capsys.readouterr().out)["structures"][0]["per_g"]
    assert r["dome"] == "at_bound" and r["refined"]
    by_t = {w["threshold_K"]: w for w in r["windows"]}
    assert by_t[273.15]["eta_lo"] is None and by_t[273.15]["flags"] == ["below_threshold"]
    assert f"{r['tc_max_K']:.5g} K" in by_t[273.15]["why"]
    assert main(["dome", str(store)]) == 0
    out = capsys.readouterr().out
    assert "still growing: Tc_max is a lower bound" in out
    assert "Tc >= 273.15 K: none (the curve's maximum is" in out
    store, config = design
    assert main(["run", str(config), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    # the README's first command: no window at g = 1/4, and the summary says why
    assert re.search(r"Tc >= 200, 293.15 K: none \(the curve's maximum is 193.9\d K\)", out), out


# -------------------------------------------------------------------------------- Fano fits

def _quality(f, eta):
    import numpy as np

    from sweep.analysis import FANO_PARAMS, fano_quality
    fit = {**f.params, **{p + "_err": getattr(f, p + "_err") for p in FANO_PARAMS},
           "rms": f.rms, "y_range": getattr(f, "y_range", np.nan),
           "cond": getattr(f, "cond", np.nan)}
    return fano_quality(fit, eta_lo=float(eta.min()), eta_hi=float(eta.max()))


def test_fano_fit_refuses_error_bars_of_an_ill_conditioned_covariance():
    """L = 7, W = 4 at g = 1/4: Tc(eta) fitted by a Lorentzian, q -> 6e5, whose covariance
    curve_fit truncates (q +- 1e-11 before): no error bars, and the flag says why."""
    import numpy as np

    import solver
    from sweep.analysis import FANO_PARAMS, fit_fano
    eta = np.round(np.arange(-0.5, 3.0001, 0.1), 10)
    r = solver.tc_grid(eta=eta, g=[0.25], L=7.0, W=4.0)
    tc = np.where(r.status[0, 0] == solver.STATUS_OK, r.tc_K[0, 0], np.nan)
    f = fit_fano(eta=eta, tc=tc)
    assert f.converged and abs(f.q) > 1e4
    assert all(np.isnan(getattr(f, p + "_err")) for p in FANO_PARAMS), f
    flag, why = _quality(f, eta)
    assert flag == "ill_conditioned" and "condition number" in why
    from sweep.analysis import FANO_COND_MAX
    assert f.cond > FANO_COND_MAX


def test_fano_quality_follows_the_residual_against_the_curve():
    import numpy as np

    import solver
    from sweep.analysis import fano_line, fit_fano
    eta = np.linspace(-0.5, 3.0, 71)
    exact = fano_line(eta, eta_res=0.9, width=0.8, q=2.5, amplitude=30.0, offset=2.0)
    f = fit_fano(eta=eta, tc=exact)
    assert _quality(f, eta)[0] == "good"
    # the paper's curve at g = 1/4: a Fano line only roughly (rms 12 K on a 194 K dome)
    tc = solver.tc_grid(eta=eta, g=[0.25]).tc_K[0, 0]
    f = fit_fano(eta=eta, tc=tc)
    flag, why = _quality(f, eta)
    assert flag == "poor_fit" and re.search(r"\d % of the curve's range", why)
    from sweep.analysis import FANO_RMS_MAX
    assert f.rms > FANO_RMS_MAX * f.y_range and np.isfinite(f.q_err)


# ------------------------------------------------------------------- computed small results

def test_small_results_come_back_computed(design):
    import sweep
    store, _ = design
    ds = sweep.open_dataset(str(store))
    d = sweep.dome(ds)
    m = d["tc_max"]
    best = m.where(m == m.max(), drop=True)  # dask refuses this on a lazy array
    assert best.size == 1 and best.item() == float(m.max())
    top = sweep.dome_top(d)
    assert top["top_tc"].chunks is None and float(top["top_tc"].max()) == float(m.max())
    assert sweep.fano_fit(ds, g=[0.25])["q"].chunks is None


# ---------------------------------------------------------------------------------- figures

def _legend_labels(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def _drawn_labels(fig) -> set[str]:
    """Labels of the lines that hold at least one finite point inside their axes' limits."""
    import numpy as np
    out = set()
    for ax in fig.axes:
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        for line in ax.lines:
            x, y = (np.asarray(v, dtype=float) for v in line.get_data())
            if x.size and y.size:
                x, y = np.broadcast_arrays(x, y)
                inside = np.isfinite(x) & np.isfinite(y) & (x >= x0 - 1e-9) & (x <= x1 + 1e-9) & \
                    (y >= y0 - 1e-9) & (y <= y1 + 1e-9)
                if inside.any():
                    out.add(line.get_label())
    return out


def test_plot_dome_draws_the_best_structure_over_the_stores_g_range(design, tmp_path, capsys):
    store, _ = design
    png = tmp_path / "dome.png"
    assert main(["plot", str(store), "-o", str(png), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["structure"]["L"] == 8.5  # the higher dome (L = 7.5 Å tops at 220 K)
    from sweep.analysis.plots import dome_figure
    ds = store_mod.open_dataset(str(store))
    fig = dome_figure(ds.sel(L=8.5))  # W, V, omega0 have one value each: squeezed
    ax = fig.axes[0]
    g, eta = ds["g"].values, ds["eta"].values
    assert g.min() <= min(ax.get_ylim()) and max(ax.get_ylim()) <= g.max()
    assert eta.min() <= min(ax.get_xlim()) and max(ax.get_xlim()) <= eta.max()
    labels = _legend_labels(fig)
    assert labels and set(labels) <= _drawn_labels(fig), (labels, _drawn_labels(fig))
    assert not any("dots" in t for t in labels)
    assert "8.5" in ax.get_title()


@pytest.mark.parametrize("kind", ["dome", "cuts"])
def test_plot_names_the_dome_it_picked_in_the_title(design, kind):
    from sweep.cli.analysis_commands import plot_figure
    store, _ = design
    a = build_parser().parse_args(["plot", str(store), "-o", "x.png", "--kind", kind])
    fig, structure = plot_figure(a, store_mod.open_dataset(str(store)))
    title = fig.axes[0].get_title() if kind == "dome" else fig._suptitle.get_text()
    assert structure["L"] == 8.5 and "$L$ = 8.5" in title
    assert "the highest top $T_c$ of 2 domes" in title
    a = build_parser().parse_args(["plot", str(store), "-o", "x.png", "--kind", kind,
                                   "--select", "L=7.5"])
    fig, structure = plot_figure(a, store_mod.open_dataset(str(store)))
    title = fig.axes[0].get_title() if kind == "dome" else fig._suptitle.get_text()
    assert structure["L"] == 7.5 and "highest" not in title  # asked for, not picked


def test_the_dome_legend_stays_within_the_figure_with_a_bound_noted(design):
    from sweep.analysis.plots import dome_figure
    store, _ = design
    ds = store_mod.open_dataset(str(store)).isel(L=0, W=0, V=0, omega0=0)
    fig = dome_figure(ds)
    fig.canvas.draw()
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert any("a lower bound" in t for t in texts), texts  # the top on the g range's edge
    box, inside = legend.get_window_extent(), fig.bbox
    assert inside.x0 <= box.x0 and box.x1 <= inside.x1, (box, inside)


def test_plot_dome_with_fewer_than_three_g_is_refused_towards_cuts(one_g, tmp_path, capsys):
    store, _ = one_g
    png = tmp_path / "dome.png"
    assert main(["plot", str(store), "-o", str(png)]) == 2
    _one_line_error(capsys.readouterr().err, "at least 3 values of g", "--kind cuts")
    assert not png.exists()
    assert main(["plot", str(store), "-o", str(png), "--kind", "cuts"]) == 0
    from sweep.analysis.plots import dome_figure
    with pytest.raises(ValueError, match="cuts_figure"):
        dome_figure(store_mod.open_dataset(str(store)))


def test_plot_functions_take_one_dome_with_length_one_dimensions(design):
    from sweep.analysis.plots import cuts_figure, dome_figure
    ds = store_mod.open_dataset(str(design[0]))
    for make in (dome_figure, cuts_figure):
        assert make(ds.sel(L=7.5)).axes
        with pytest.raises(ValueError, match="L has 2 values"):
            make(ds)


def test_structures_figure_is_readable_at_a_column_width(design, one_g):
    from sweep.analysis.plots import structures_figure
    fig = structures_figure(store_mod.open_dataset(str(design[0])))
    assert fig.get_size_inches()[0] == pytest.approx(3.4)  # a journal column, 8.6 cm
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [t for ax in fig.axes for t in (ax.title, *ax.texts) if t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in texts]
    for i, a in enumerate(boxes):  # no label over another
        assert not any(a.overlaps(b) for b in boxes[i + 1:]), [t.get_text() for t in texts]
    panel = fig.axes[0]
    assert "best: 320.6 K" in panel.get_title()  # L = 8.5 Å, W = 5.5 Å: a closed maximum
    labels = _legend_labels(fig)
    assert labels == ["best structure"]  # no lower bound, no missing structure: not listed
    # eta up to 0.7: the maximum is past the grid's edge, a lower bound, marked as such
    fig = structures_figure(store_mod.open_dataset(str(one_g[0])))
    assert "≥" in fig.axes[0].get_title()
    assert any("lower bound" in t for t in _legend_labels(fig))
    assert any(line.get_marker() == "^" for line in fig.axes[0].lines)
    from sweep.analysis.plots import COLUMN_WIDTH
    assert fig.get_size_inches()[0] == COLUMN_WIDTH


@pytest.mark.parametrize("call, words", [
    (lambda s, c: sweep.run_sweep({"grid": {}}, store=s), "config: a SweepConfig"),
    (lambda s, c: sweep.run_sweep(c, store=None), "store: a path or URL of a zarr store"),
    (lambda s, c: sweep.explore(c, store=3), "store: a path or URL"),
    (lambda s, c: sweep.refine_store(s, settings={"thresholds": [200.0]}),
     "settings: a RefineSettings"),
    (lambda s, c: sweep.open_dataset(5), "store: a path or URL"),
    (lambda s, c: sweep.dome(s), "ds: an xarray Dataset"),
    (lambda s, c: sweep.fano_fit(s), "ds: an xarray Dataset"),
    (lambda s, c: sweep.to_netcdf(s, path="a.nc"), "ds: an xarray Dataset"),
    (lambda s, c: sweep.RefineSettings(thresholds=300), "thresholds: a list of temperatures"),
])
def test_the_front_door_names_a_wrong_argument(design, call, words):
    store, config = design
    with pytest.raises(TypeError, match=words):
        call(str(store), sweep.load_config(config))


def test_fano_fit_refuses_a_g_off_the_grid_as_the_command_line_does(design):
    ds = sweep.open_dataset(str(design[0]))
    with pytest.raises(ValueError, match="g = 0.26 is not on the store's grid"):
        sweep.fano_fit(ds, g=[0.26])
    assert sweep.fano_fit(ds, g=0.3).sizes["g"] == 1  # one number is one g


def test_sweep_explore_stays_callable_once_its_package_is_imported():
    # importing sweep.explore's modules sets the package as sweep's attribute `explore`; in a
    # fresh interpreter, where nothing has used the front door's `sweep.explore` before
    code = """
import sys
import pytest
import sweep
import sweep.explore.learners
assert sweep.explore is sys.modules["sweep.explore"]
with pytest.raises(TypeError, match="store: a path or URL"):
    sweep.explore(sweep.paper_config(), store=3)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
