"""A newcomer's first hour: one-line errors with documented exit codes, no silent
snapping to grid values, fit quality, honest summaries and plots, a CF-clean netCDF export.

Real components only: stores on disk, ``python -m http.server`` on 127.0.0.1, CLI processes.
"""
from __future__ import annotations

import json
import os
import pty
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xarray as xr
from matplotlib.colors import LogNorm
from sweep_support import (REPO, SMALL_TOML, cf_problems, cli, roundtrip, small_config,
                           write_toml)

from sweep import store as store_mod
from sweep.analysis import dome, dome_summary, dome_top, fano_quality
from sweep.cli import main
from sweep.cli.run_commands import _print_run
from sweep.analysis.plots import cuts_figure, dome_figure, structures_figure


@pytest.fixture(scope="module")
def small_store(tmp_path_factory) -> Path:
    """A finished small sweep: 2 L x 2 omega0 = 4 domes over 4 g x 8 eta."""
    path = tmp_path_factory.mktemp("first-hour") / "small.zarr"
    roundtrip(small_config(), path)
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_line_error(err: str, *words: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])


# ------------------------------------------------------------------------- errors, exit codes

def test_binary_config_names_the_file(tmp_path, capsys):
    cfg = tmp_path / "sweep.toml"
    cfg.write_bytes(b"\x00\x01\xff\xfe binary")
    assert main(["config", str(cfg)]) == 2
    _one_line_error(capsys.readouterr().err, str(cfg), "not a text file")


@pytest.mark.parametrize("value", ["-inf", "-Infinity", "-nan"])
def test_minus_inf_is_named_not_taken_for_an_option(value, capsys):
    assert main(["tc", "--eta", value, "--g", "0.25"]) == 2
    _one_line_error(capsys.readouterr().err, "--eta", "not finite")


def test_broken_pipe_is_quiet_with_its_exit_code():
    # ~170 kB of output: more than a pipe holds, so the writer meets the closed pipe.
    proc = subprocess.Popen([sys.executable, "-m", "sweep.cli", "tc", "--eta", "-0.5:3:0.001",
                             "--g", "0.25"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO)
    assert proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    rc = proc.wait(timeout=120)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert rc == 141, err
    assert err == ""


def test_plot_into_a_missing_folder(small_store, capsys):
    assert main(["plot", str(small_store), "-o", "/missing/dir/x.png"]) == 2
    _one_line_error(capsys.readouterr().err, "/missing/dir", "does not exist")


@pytest.mark.parametrize("name", ["fig", ".", ".png", "fig.", "fig.xyz"])
def test_plot_refuses_a_name_without_an_image_suffix(small_store, tmp_path, capsys, name):
    out = tmp_path / "figs"
    out.mkdir()
    assert main(["plot", str(small_store), "-o", str(out / name)]) == 2
    _one_line_error(capsys.readouterr().err, "-o", "image suffix", ".png", ".pdf")
    assert list(out.iterdir()) == []  # not fig.png, not ./.png: nothing


def test_plot_writes_the_file_it_names(small_store, tmp_path, capsys):
    out = tmp_path / "Fig.PDF"
    assert main(["plot", str(small_store), "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["file"] == str(out)
    assert out.read_bytes().startswith(b"%PDF")
    assert [p.name for p in tmp_path.iterdir()] == ["Fig.PDF"]


@pytest.mark.parametrize("dpi", ["100000", "nan", "inf", "5", "0", "-100"])
def test_plot_dpi_outside_its_range_is_refused_naming_it(small_store, tmp_path, capsys, dpi):
    png = tmp_path / "x.png"
    assert main(["plot", str(small_store), "-o", str(png), "--dpi", dpi]) == 2
    _one_line_error(capsys.readouterr().err, "--dpi", "[10, 1200]")
    assert not png.exists()


def test_plot_select_keeps_every_value_given_as_dome_does(small_store, tmp_path, capsys):
    s = str(small_store)
    tops = store_mod.open_dataset(s)["tc"].sel(omega0=230.0).max(["W", "V", "g", "eta"])
    best = float(tops.idxmax("L"))
    other = next(float(x) for x in tops["L"].values if x != best)
    assert main(["dome", s, "--select", f"L={best:g}", "--select", f"L={other:g}",
                 "--select", "omega0=230", "--json"]) == 0
    assert sorted(d["L"] for d in json.loads(capsys.readouterr().out)["structures"]) == \
        sorted([best, other])
    png = str(tmp_path / "x.png")
    # the better dome first: a plot that kept only the last value would draw the other
    assert main(["plot", s, "-o", png, "--kind", "cuts", "--select", f"L={best:g}",
                 "--select", f"L={other:g}", "--select", "omega0=230", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["structure"]["L"] == best
    from sweep.cli import build_parser
    from sweep.cli.analysis_commands import plot_figure
    a = build_parser().parse_args(["plot", s, "-o", png, "--kind", "cuts", "--select",
                                   f"L={best:g}", "--select", f"L={other:g}", "--select",
                                   "omega0=230"])
    fig, _ = plot_figure(a, store_mod.open_dataset(s))
    assert "of 2 domes" in fig._suptitle.get_text()


@pytest.mark.parametrize("command", [["run", "--store"], ["refine"]])
def test_writing_into_an_http_store_is_refused_before_anything(command, capsys):
    t0 = time.monotonic()
    assert main([*command, f"http://127.0.0.1:{_closed_port()}/x.zarr"]) == 2
    assert time.monotonic() - t0 < 5
    _one_line_error(capsys.readouterr().err, "read-only")


def test_refine_refuses_an_explore_store_in_one_line(tmp_path, capsys):
    from sweep.config import parse_config
    from sweep.execution.runner import InProcessExecutor
    from sweep.explore import SampleOutcome, Value, explore

    def compute(task):
        return SampleOutcome(task.index, task.point, task.polish,
                             Value(300.0 - (task.point[0] - 9.0) ** 2, 1.0, 0, 1, 3000.0,
                                   20.0, 1), 0.0)

    store = str(tmp_path / "e.zarr")
    explore(parse_config({"grid": {"g": 0.3}, "explore": {"axes": {"L": [7.0, 11.0]},
                                                          "budget": 3, "polish_points": 0}}),
            store=store, executor=InProcessExecutor(), compute=compute)
    assert main(["refine", store]) == 2
    _one_line_error(capsys.readouterr().err, "an explore store (fanodome explore), not a sweep")


def test_status_and_dome_of_a_url_whose_server_is_down(capsys):
    url = f"http://127.0.0.1:{_closed_port()}/x.zarr"
    for cmd in ("status", "dome"):
        assert main([cmd, url]) == 2
        _one_line_error(capsys.readouterr().err, url, "cannot be reached")


def test_scheduler_at_a_closed_port_fails_fast_naming_it():
    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    out = cli("run", "--store", "x.zarr", "--scheduler", address, timeout=60)
    assert time.monotonic() - t0 < 10
    assert out.returncode == 2
    _one_line_error(out.stderr, address, "cannot reach")


def test_scheduler_that_is_not_an_address(capsys):
    assert main(["run", "--store", "x.zarr", "--scheduler", "notaurl"]) == 2
    _one_line_error(capsys.readouterr().err, "--scheduler", "tcp://HOST:PORT", "notaurl")


def test_exit_codes_are_documented(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for code in ("0 done", "1 a run, a refinement or an explore finished", "2 bad input",
                 "130 interrupted",
                 "141 the reader", "143 terminated"):
        assert code in out


# ----------------------------------------------------------------------------- run and status

def test_resume_of_a_complete_store_does_nothing(small_store, tmp_path, capfd):
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    t0 = time.monotonic()
    assert main(["run", str(cfg), "--store", str(small_store), "--resume"]) == 0
    assert time.monotonic() - t0 < 10  # no cluster started
    err = capfd.readouterr().err
    assert "nothing to do" in err and "dashboard" not in err and "warm" not in err


@pytest.fixture(scope="module")
def http_url(small_store):
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", str(small_store.parent)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(proc.stdout.readline().split(" port ")[1].split()[0])
        yield f"http://127.0.0.1:{port}/{small_store.name}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_status_takes_storage_options(small_store, http_url, capsys):
    assert main(["status", http_url, "--storage-option", "simple_links=false", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == store_mod.status_counts(str(small_store))
    assert main(["status", http_url, "--storage-option", "nokeyvalue"]) == 2


def test_run_summary_says_how_many_domes_sorted_by_top_tc(small_store, capsys):
    ds = store_mod.open_dataset(str(small_store))
    rows = dome_summary(ds, max_rows=3)
    tops = [r["tc_max_K"] for r in rows]
    assert len(rows) == 3 and tops == sorted(tops, reverse=True)
    everything = dome_summary(ds, max_rows=100)
    assert len(everything) == 4 and everything[0]["tc_max_K"] == float(ds["tc"].max())
    assert {r["refined"] for r in everything} == {False}  # no [refine] in this config
    doc = {"store": str(small_store), **store_mod.status_counts(str(small_store)),
           "computed_points": 0, "wall_s": 1.0, "n_domes": 4, "dome": rows}
    _print_run(doc)
    out = capsys.readouterr().out
    assert "3 of 4 domes, highest Tc first" in out
    assert f"fanodome dome {small_store}" in out and "(grid values)" in out


# -------------------------------------------------------------------- no silent snapping

def test_values_off_the_grid_are_refused_naming_the_nearest(small_store, tmp_path, capsys):
    s = str(small_store)
    assert main(["fano", s, "--g", "0.9"]) == 2
    _one_line_error(capsys.readouterr().err, "--g", "nearest: 0.25, 0.3")
    assert main(["plot", s, "-o", str(tmp_path / "x.png"), "--select", "L=100"]) == 2
    _one_line_error(capsys.readouterr().err, "--select L", "nearest: 8.5, 9")
    # on the grid (to the stated tolerance): accepted
    assert main(["plot", s, "-o", str(tmp_path / "x.png"), "--select", "L=9.0000000001",
                 "--kind", "cuts", "--g", "0.25", "0.3"]) == 0


# ------------------------------------------------------------------------------ Fano quality

def test_fano_quality_flags_degenerate_and_misplaced_fits():
    good = {"eta_res": 0.9, "width": 1.1, "q": 7.5, "amplitude": 3.0, "offset": 0.1,
            "eta_res_err": 0.02, "width_err": 0.06, "q_err": 1.1, "amplitude_err": 0.1,
            "offset_err": 0.1, "rms": 0.5, "y_range": 200.0, "cond": 2e3}
    assert fano_quality(good, eta_lo=-0.5, eta_hi=3)[0] == "good"
    bad = {**good, "q": 6.3e5, "q_err": 9e-12, "amplitude": 1e-10}
    flag, reason = fano_quality(bad, eta_lo=-0.5, eta_hi=3)
    assert flag == "degenerate" and "q" in reason
    assert fano_quality({**good, "eta_res": 5.0}, eta_lo=-0.5, eta_hi=3)[0] == \
        "resonance_outside_data"
    assert fano_quality({**good, "q_err": 20.0}, eta_lo=-0.5, eta_hi=3)[0] == "undetermined"
    assert fano_quality({**good, "q": float("nan")}, eta_lo=-0.5, eta_hi=3)[0] == \
        "not_converged"


def test_fano_command_reports_quality_and_the_unit_of_rms(small_store, capsys):
    assert main(["fano", str(small_store), "--g", "0.25", "--json"]) == 0
    fits = json.loads(capsys.readouterr().out)["fits"]
    assert fits and all(f["quality"] and f["quality_reason"] for f in fits)
    assert {f["rms_units"] for f in fits} == {"K"}
    assert main(["fano", str(small_store), "--g", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "fit quality:" in out and re.search(r"rms [-\d.e]+ K", out)


def test_fano_names_each_dome_with_units_as_dome_does(small_store, capsys):
    s = str(small_store)
    assert main(["dome", s, "--select", "L=9", "--select", "omega0=200"]) == 0
    name = "L = 9 Å, W = 5.5 Å, V = 4160 meV, omega0 = 200 meV"
    assert capsys.readouterr().out.startswith(name + ": top Tc")
    assert main(["fano", s, "--g", "0.25"]) == 0
    assert f"{name}, g = 0.25: eta_res" in capsys.readouterr().out


def test_fano_of_too_few_points_says_so_with_the_count(tmp_path, capsys):
    from sweep.analysis.fano import FANO_MIN_POINTS
    from sweep.config import parse_config
    path = tmp_path / "two.zarr"
    roundtrip(parse_config({"grid": {"eta": [0.5, 1.0], "g": [0.25]}}), path)
    assert main(["fano", str(path), "--g", "0.25", "--json"]) == 0
    (fit,) = json.loads(capsys.readouterr().out)["fits"]
    assert fit["n_points"] == 2 and fit["quality"] == "too_few_points"
    assert fit["quality_reason"].startswith(f"too few points (2, need {FANO_MIN_POINTS})")
    assert main(["fano", str(path), "--g", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "(2 points)" in out and "fit quality: too_few_points: too few points (2" in out
    assert "rms -" not in out and "not_converged" not in out


def test_fano_quality_counts_the_points_first():
    from sweep.analysis.fano import FANO_MIN_POINTS
    good = {"eta_res": 0.9, "width": 1.1, "q": 7.5, "amplitude": 3.0, "offset": 0.1,
            "eta_res_err": 0.02, "width_err": 0.06, "q_err": 1.1, "amplitude_err": 0.1,
            "offset_err": 0.1, "rms": 0.5, "y_range": 200.0, "cond": 2e3}
    assert fano_quality({**good, "n_points": FANO_MIN_POINTS}, eta_lo=-0.5, eta_hi=3)[0] == \
        "good"
    flag, reason = fano_quality({**good, "q": float("nan"), "n_points": 3}, eta_lo=-0.5,
                                eta_hi=3)
    assert flag == "too_few_points"
    assert reason.startswith(f"too few points (3, need {FANO_MIN_POINTS})")


# ------------------------------------------------------------------------------------ plots

def test_plot_of_a_pending_dome_is_refused_and_a_partial_one_warned(tmp_path, capsys):
    cfg = small_config()
    path = str(tmp_path / "pending.zarr")
    plan = cfg.plan()
    store_mod.layout(store=path, axes=cfg.axes, plan=plan, config_toml=cfg.to_toml(),
                     config_json=cfg.identity())
    png = str(tmp_path / "p.png")
    assert main(["plot", path, "-o", png]) == 2
    _one_line_error(capsys.readouterr().err, "no computed point", "--resume")
    assert not Path(png).exists()
    from sweep.run.tasks import compute_chunk
    from sweep_support import tasks_for
    first = next(iter(tasks_for(store=path, plan=plan, axes=cfg.axes, model=cfg.model,
                                chunks=[next(iter(plan.chunks()))])))
    compute_chunk(first)
    assert main(["plot", path, "-o", png, "--kind", "cuts"]) == 0
    assert "warning:" in capsys.readouterr().err and Path(png).exists()
    # the title counts the domes it picked from among those with a value: 1 of the 4
    from sweep.cli import build_parser
    from sweep.cli.analysis_commands import plot_figure
    a = build_parser().parse_args(["plot", path, "-o", png, "--kind", "cuts"])
    fig, _ = plot_figure(a, store_mod.open_dataset(path))
    assert "the highest top $T_c$ of the 1 of 4 domes computed so far" in \
        fig._suptitle.get_text()
    # an export of it says what has no value yet
    assert main(["export", path, "--csv", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "points pending and 0 failed" in err


def test_dome_top_of_a_lazy_dome(small_store):
    ds = store_mod.open_dataset(str(small_store))
    lazy = dome_top(dome(ds, max_computed=0))  # as a large store's stays
    assert lazy["top_tc"].chunks is not None
    xr.testing.assert_allclose(lazy.compute(), dome_top(dome(ds.load())))


def _texts(fig):
    """Every label, title, annotation and legend text of a drawn figure."""
    out = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        out += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        out += [t.get_text() for t in ax.texts]
    for leg in fig.legends:
        out += [t.get_text() for t in leg.get_texts()]
    return [t for t in out if t]


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("make", [dome_figure, cuts_figure])
def test_plot_labels_are_mathtext_and_never_collide(small_store, make):
    one = store_mod.open_dataset(str(small_store)).isel(L=0, W=0, V=0, omega0=0)
    fig = make(one, g_cuts=[0.25, 0.3])
    fig.canvas.draw()
    texts = _texts(fig)
    joined = " ".join(texts)
    assert "[1]" not in joined
    assert not re.search(r"\b(omega0|mu|E_L|Tc|eta)\b(?![^$]*\$)", joined.replace("$", " $ ")
                         .replace("T_c", "")), texts
    assert r"$\eta$" in joined and "$" in fig.axes[0].get_ylabel() + fig.axes[0].get_xlabel()
    renderer = fig.canvas.get_renderer()
    annotations = [t.get_window_extent(renderer) for ax in fig.axes for t in ax.texts]
    for leg in fig.legends:
        box = leg.get_window_extent(renderer)
        assert not any(_boxes_overlap(box, a) for a in annotations)
        for ax in fig.axes:  # outside every axes
            assert not _boxes_overlap(box, ax.get_window_extent(renderer))
    for i, a in enumerate(annotations):
        assert not any(_boxes_overlap(a, b) for b in annotations[i + 1:])


def test_dome_plot_offers_a_log_colour_scale(small_store, tmp_path, capsys):
    one = store_mod.open_dataset(str(small_store)).isel(L=0, W=0, V=0, omega0=0)
    fig = dome_figure(one, g_cuts=[0.25], log_color=True)
    assert isinstance(fig.axes[0].collections[0].norm, LogNorm)
    assert main(["plot", str(small_store), "-o", str(tmp_path / "d.png"), "--log-color"]) == 0


def test_structures_figure_top_tc_over_L_W_with_facets(small_store, tmp_path, capsys):
    ds = store_mod.open_dataset(str(small_store))
    fig = structures_figure(ds)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == ds.sizes["V"] * ds.sizes["omega0"] == 2
    assert "$L$" in panels[0].get_ylabel() and "$W$" in panels[-1].get_xlabel()
    assert r"$\omega_0$" in panels[0].get_title()
    out = tmp_path / "s.png"
    assert main(["plot", str(small_store), "-o", str(out), "--kind", "structures",
                 "--json"]) == 0
    assert out.stat().st_size > 0
    assert json.loads(capsys.readouterr().out)["structure"]["L"] == [8.5, 9.0]


@pytest.mark.parametrize("n", ["0", "-1"])
def test_export_refuses_max_points_below_one(small_store, tmp_path, capsys, n):
    csv = tmp_path / "z.csv"
    assert main(["export", str(small_store), "--csv", str(csv), "--max-points", n]) == 2
    _one_line_error(capsys.readouterr().err, "--max-points", ">= 1", f"got {n}")
    assert not csv.exists()


# ----------------------------------------------------------------------------- CF compliance

def test_netcdf_export_is_cf_1_8_without_errors_or_warnings(small_store, tmp_path, capsys):
    nc = tmp_path / "sweep.nc"
    assert main(["export", str(small_store), "--netcdf", str(nc)]) == 0
    assert cf_problems(nc) == {"high_priorities": [], "medium_priorities": []}
    with xr.open_dataset(nc, engine="h5netcdf") as back:
        assert "CF-1.8" in back.attrs["Conventions"] and back.attrs["history"]


# ----------------------------------------------------------------------- progress on a TTY

@pytest.mark.slow
def test_progress_is_a_live_bar_on_a_terminal_and_lines_otherwise(tmp_path):
    cfg = write_toml(tmp_path / "small.toml", SMALL_TOML)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm", "COLUMNS": "120"}
    cmd = [sys.executable, "-m", "sweep.cli", "run", str(cfg), "--store",
           str(tmp_path / "s.zarr"), "--workers", "1"]
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=slave, cwd=tmp_path, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=300) == 0
    tty = b"".join(chunks).decode(errors="replace")
    assert "━" in tty and "points" in tty and "ETA" in tty, tty
    assert "points (" not in tty  # not the plain lines
    plain = subprocess.run(cmd + ["--overwrite"], capture_output=True, text=True, cwd=tmp_path,
                           env=env, timeout=300)
    assert plain.returncode == 0, plain.stderr
    assert "━" not in plain.stderr and re.search(r"\d+/\d+ points \(", plain.stderr)
    # the dashboard link only where the dashboard works: bokeh>=3.1 (the [dashboard] extra; bokeh
    # is not a dependency), as sweep's dashboard_link decides; else no dead link
    from importlib.metadata import PackageNotFoundError, version
    from urllib.parse import urlsplit
    try:
        works = tuple(int(x) for x in version("bokeh").split(".")[:2]) >= (3, 1)
    except (PackageNotFoundError, ValueError):
        works = False
    for err in (tty, plain.stderr):
        links = re.findall(r"dashboard: (\S+)", err)
        if works:
            assert len(links) == 1, err
            url = urlsplit(links[0])
            assert url.scheme == "http" and url.hostname == "127.0.0.1" and url.port, err
        else:
            assert "dashboard:" not in err, err
