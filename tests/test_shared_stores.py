"""Stores at URLs and for collaborators: a real HTTP server and a real S3 server (moto) on
127.0.0.1, figures as real PNG files, netCDF and CSV exports read back."""
import json
import logging
import subprocess
import sys
import tomllib

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image

from sweep import store as store_mod
from sweep.cli import main
from sweep.config import parse_config
from sweep.store.export import csv_header
from sweep.analysis.plots import CUTS_FIGSIZE, DOME_FIGSIZE, cuts_figure, dome_figure
from sweep_support import REPO, assert_same_sweep, cli, json_out, roundtrip, write_toml

TOML = """
[grid]
eta = { start = -1.2, stop = 2.4, step = 0.2 }
g = [0.2, 0.25, 0.3333333333333333]
L = [8.5, 9.0]
[run]
chunk_eta = 10
"""


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    """A finished sweep on disk (the reference every URL must reproduce)."""
    root = tmp_path_factory.mktemp("shared")
    path = root / "published.zarr"
    roundtrip(parse_config(tomllib.loads(TOML)), path)
    return path


def _dome_json(capsys, *argv) -> dict:
    assert main(["dome", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------------------------ HTTP

@pytest.fixture(scope="module")
def http_root(local_store):
    """``python -m http.server`` on 127.0.0.1 (a free port it picks) serving the store's
    folder; stopped at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", str(local_store.parent)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N (http://...) ..."
        port = int(line.split(" port ")[1].split()[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_dome_over_http_equals_local(local_store, http_root, capsys):
    local = _dome_json(capsys, str(local_store))
    assert _dome_json(capsys, f"{http_root}/{local_store.name}") == local
    assert _dome_json(capsys, local_store.as_uri()) == local  # file:// URL
    # and from a fresh process through the installed entry point's module
    out = cli("dome", f"{http_root}/{local_store.name}", "--json")
    assert out.returncode == 0, out.stderr
    assert json_out(out) == local


def test_missing_http_store_is_bad_input(http_root, capsys):
    assert main(["dome", f"{http_root}/nothing.zarr"]) == 2
    assert "no such store" in capsys.readouterr().err


def test_http_store_reads_back_identical(local_store, http_root):
    remote = store_mod.open_dataset(f"{http_root}/{local_store.name}").load()
    xr.testing.assert_identical(remote, store_mod.open_dataset(str(local_store)).load())


# -------------------------------------------------------------------------------------- S3

@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1 with a bucket ``sweeps``; the endpoint URL."""
    from moto.server import ThreadedMotoServer
    import s3fs
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="x", secret="x")
        fs.mkdir("sweeps")
        yield endpoint
    finally:
        server.stop()


def _s3_options(endpoint: str) -> list[str]:
    return ["--storage-option", f"endpoint_url={endpoint}", "--storage-option", "key=x",
            "--storage-option", "secret=x"]


def test_run_into_s3_reads_back_identical(local_store, s3_endpoint, tmp_path, capsys):
    import s3fs
    cfg = write_toml(tmp_path / "shared.toml", TOML)
    url = "s3://sweeps/run.zarr"
    out = cli("run", str(cfg), "--store", url, "--workers", "1", "--json",
              *_s3_options(s3_endpoint), timeout=240)
    assert out.returncode == 0, out.stderr
    doc = json_out(out)
    assert doc["store"] == url and doc["pending"] == 0 and doc["failed"] == 0
    # the bucket holds a complete, consolidated zarr store: copy it down and compare
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, key="x", secret="x")
    fs.get("sweeps/run.zarr", str(tmp_path / "copy.zarr"), recursive=True)
    assert_same_sweep(tmp_path / "copy.zarr", local_store)
    # and read in place through fsspec, with the same answers as the local store
    assert _dome_json(capsys, url, *_s3_options(s3_endpoint)) == \
        _dome_json(capsys, str(local_store))
    # anonymous access is refused by the server: a one-line error, exit 2
    assert main(["dome", url, "--storage-option", f"endpoint_url={s3_endpoint}",
                 "--storage-option", "anon=true"]) == 2
    assert "access refused" in capsys.readouterr().err


def test_storage_option_must_be_key_value(local_store, capsys):
    assert main(["dome", str(local_store), "--storage-option", "novalue"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


# --------------------------------------------------------------------------------- figures

def _assert_real_png(path, size):
    with Image.open(path) as im:
        assert im.format == "PNG"
        assert im.size == size
        pixels = np.asarray(im.convert("L"), dtype=float)
    assert pixels.std() > 10, "blank image"
    assert len(np.unique(pixels)) > 50


@pytest.mark.parametrize("kind, figsize", [("dome", DOME_FIGSIZE), ("cuts", CUTS_FIGSIZE)])
def test_plot_command_writes_a_real_png(local_store, tmp_path, capsys, kind, figsize):
    png = tmp_path / f"{kind}.png"
    assert main(["plot", str(local_store), "-o", str(png), "--kind", kind, "--g", "0.25",
                 "0.3333333333", "--select", "L=9", "--dpi", "80", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    size = (round(figsize[0] * 80), round(figsize[1] * 80))
    assert (doc["width_px"], doc["height_px"]) == size and doc["structure"]["L"] == 9.0
    _assert_real_png(png, size)


def test_figures_label_axes_with_store_units(local_store):
    one = store_mod.open_dataset(str(local_store)).isel(L=0, W=0, V=0, omega0=0)
    fig = dome_figure(one, g_cuts=[0.25])
    ax = fig.axes[0]
    # dimensionless: no "[1]"; symbols in mathtext
    assert ax.get_xlabel().endswith(r"$\eta$") and "Lifshitz" in ax.get_xlabel()
    assert "coupling" in ax.get_ylabel()
    assert fig.axes[1].get_ylabel() == "critical temperature, $T_c$ [K]"  # colour bar
    fig = cuts_figure(one, g_cuts=[0.25, 1 / 3])
    lin, log = fig.axes[:2]
    assert lin.get_ylabel() == "critical temperature, $T_c$ [K]"
    assert log.get_yscale() == "log" and "[K]" in log.get_ylabel()
    assert len(lin.get_lines()) >= 4  # two curves, their maxima and antiresonances


def test_plot_bad_select_is_bad_input(local_store, tmp_path):
    assert main(["plot", str(local_store), "-o", str(tmp_path / "x.png"),
                 "--select", "eta=1"]) == 2


# ---------------------------------------------------------------------------------- export

def test_export_netcdf_and_csv_round_trip(local_store, http_root, tmp_path, capsys):
    nc, csv = tmp_path / "sweep.nc", tmp_path / "sweep.csv"
    url = f"{http_root}/{local_store.name}"
    assert main(["export", url, "--netcdf", str(nc), "--csv", str(csv), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    ref = store_mod.open_dataset(str(local_store)).load()
    assert doc["points"] == ref["tc"].size
    with xr.open_dataset(nc, engine="h5netcdf") as back:
        back = back.load()
    for name in ref.variables:
        np.testing.assert_array_equal(back[name].values, ref[name].values, err_msg=name)
        assert back[name].attrs["units"] == ref[name].attrs["units"]
    assert back.attrs["config_json"] == ref.attrs["config_json"]
    table = pd.read_csv(csv)
    assert len(table) == ref["tc"].size
    tc = ref["tc"].values.ravel()  # C order = the CSV's row order (eta fastest)
    np.testing.assert_array_equal(table[csv_header(ref, "tc")].values, tc)
    np.testing.assert_array_equal(table[csv_header(ref, "eta")].values,
                                  np.tile(ref["eta"].values, tc.size // ref.sizes["eta"]))
    assert csv_header(ref, "L") == "L [Å]"


def test_export_csv_refuses_large_stores(local_store, tmp_path, capsys):
    out = tmp_path / "big.csv"
    assert main(["export", str(local_store), "--csv", str(out), "--max-points", "10"]) == 2
    assert "too many for CSV" in capsys.readouterr().err and not out.exists()
    assert main(["export", str(local_store)]) == 2


def test_repo_has_no_committed_notebook_outputs():
    import nbformat
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name
