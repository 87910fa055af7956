"""``fanodome plot``'s file, its cuts and its structures: a file that exists is refused as
``export`` refuses one, a cut with nothing to draw is left out of the curves and the legend and
named, and a structure with points pending has its top drawn as a lower bound."""
from __future__ import annotations

import tomllib

import numpy as np
import pytest

from solver import STATUS_BELOW_FLOOR, STATUS_OK
from sweep import store as store_mod
from sweep.analysis.plots import cuts_figure, structures_figure
from sweep.cli import main
from sweep.config import parse_config

TOML = """
[grid]
eta = { start = -1.5, stop = 3.0, step = 0.1 }
g = [0.1, 0.2, 0.3]
[run]
chunk_g = 1
"""
"""One dome, one chunk per g: g = 0.1 computed, 0.2 below the floor at every eta, 0.3 pending."""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("plot") / "s.zarr")
    _write_store(path, toml=TOML, peak=lambda L, g: 200.0,
                 status=lambda L, g: {0.1: STATUS_OK, 0.2: STATUS_BELOW_FLOOR}.get(g))
    return path


STRUCTURES_TOML = """
[grid]
eta = { start = -1.5, stop = 3.0, step = 0.1 }
g = [0.2, 0.3, 0.4]
L = [7.5, 8.0, 8.5]
[run]
chunk_g = 1
"""
"""Three structures, one chunk per (L, g): L = 7.5 Å without its g = 0.4 row (pending), 8.0 Å
complete, 8.5 Å pending."""


def _write_store(path: str, *, toml: str, peak, status) -> None:
    """A store of ``toml`` with each chunk (one per (L, g)) written: Tc(eta) peaking at
    eta = 1.03 at ``peak(L, g)`` K, with the status ``status(L, g)`` (NaN where not ok); left
    pending where that is None."""
    cfg = parse_config(tomllib.loads(toml))
    plan = cfg.plan()
    store_mod.layout(store=path, axes=cfg.axes, plan=plan, config_toml=cfg.to_toml(),
                     config_json=cfg.identity())
    eta = np.asarray(cfg.axes["eta"])
    for index in plan.chunks():
        region = plan.region(index)
        L, g = cfg.axes["L"][region["L"].start], cfg.axes["g"][region["g"].start]
        code = status(L, g)
        if code is None:
            continue
        tc = np.exp(np.log(peak(L, g)) - (eta - 1.03) ** 2)[None, None, :]
        store_mod.write_chunk(store=path, region=region,
                              tc=tc if code == STATUS_OK else np.full(tc.shape, np.nan),
                              status=np.full(tc.shape, code, np.int8), E_L=1.0, dE=1.0)


def _partial_store(path: str, *, toml: str, pending) -> None:
    """A store of ``toml`` whose Tc peaks at 100 K + 400 (9 - L/Å) g K, every chunk ok but
    those where ``pending(L, g)``."""
    _write_store(path, toml=toml, peak=lambda L, g: 100.0 + 400.0 * (9.0 - L) * g,
                 status=lambda L, g: None if pending(L, g) else STATUS_OK)


def _one_line(err: str, *words: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_plot_refuses_a_file_that_exists_unless_overwrite(store, tmp_path, capsys):
    png = tmp_path / "c.png"
    png.write_bytes(b"a figure someone kept")
    assert main(["plot", store, "-o", str(png), "--kind", "cuts"]) == 2
    _one_line(capsys.readouterr().err, str(png), "file exists", "--overwrite")
    assert png.read_bytes() == b"a figure someone kept"
    # refused before any work: the store is not even opened
    assert main(["plot", str(tmp_path / "no-such.zarr"), "-o", str(png)]) == 2
    _one_line(capsys.readouterr().err, "file exists", "--overwrite")
    assert main(["plot", store, "-o", str(png), "--kind", "cuts", "--overwrite"]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    # the one rule of export: no figure inside a store either
    assert main(["plot", store, "-o", f"{store}/tc/x.png", "--kind", "cuts"]) == 2
    assert "inside the zarr store" in capsys.readouterr().err


def test_plot_and_export_share_the_overwrite_option(capsys):
    from sweep.cli.analysis_commands import OVERWRITE_HELP
    for command in ("plot", "export"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert OVERWRITE_HELP in " ".join(capsys.readouterr().out.split())


def test_a_cut_without_data_is_not_in_the_legend_and_is_named(store, tmp_path, capsys):
    one = store_mod.open_dataset(store).isel(L=0, W=0, V=0, omega0=0)
    fig = cuts_figure(one, g_cuts=[0.1, 0.2, 0.3])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["$g$ = 0.1"]
    assert "nothing to draw at g = 0.2 (below_floor), g = 0.3 (pending)" in \
        fig._suptitle.get_text()
    assert len(fig.axes[0].get_lines()) == 3  # one curve, its maximum and antiresonance
    png = tmp_path / "cuts.png"
    assert main(["plot", store, "-o", str(png), "--kind", "cuts", "--g", "0.1", "0.2",
                 "0.3"]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "nothing to draw" in ln]
    assert lines == ["fanodome plot: warning: nothing to draw at g = 0.2 (below_floor), "
                     "g = 0.3 (pending): no Tc on the curve, left out"]
    # no cut with data: nothing drawn, no legend (and no warning of an empty one)
    fig = cuts_figure(one, g_cuts=[0.2])
    assert fig.legends == [] and fig.axes[0].get_lines() == []
    from sweep.analysis.plots import empty_cuts_note
    assert empty_cuts_note(one, g_cuts=[0.1]) is None


def test_structures_with_points_pending_have_lower_bound_tops(tmp_path, capsys):
    path = str(tmp_path / "part.zarr")
    _partial_store(path, toml=STRUCTURES_TOML,
                   pending=lambda L, g: L == 8.5 or (L == 7.5 and g == 0.4))
    # L = 7.5 Å tops at 280 K (g = 0.3) without its g = 0.4 row, 340 K with it; L = 8.0 Å at
    # 260 K: the facet's best is a lower bound
    fig = structures_figure(store_mod.open_dataset(path))
    title = fig.axes[0].get_title()
    assert "best: ≥ 280 K at $L$ = 7.5" in title, title
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "best structure", "lower bound: points pending or failed", "no computed point"]
    assert main(["plot", path, "--kind", "structures", "-o", str(tmp_path / "s.png")]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "fanodome plot: warning: 184 of 414 points, in 2 of the 3 structures shown, are "
        "pending or failed: a top found without them is a lower bound (marked △); 1 has no "
        "computed point (hatched)"], err


def test_structures_without_any_computed_point_are_refused(tmp_path, capsys):
    path = str(tmp_path / "empty.zarr")
    _partial_store(path, toml=STRUCTURES_TOML, pending=lambda L, g: True)
    png = tmp_path / "s.png"
    assert main(["plot", path, "--kind", "structures", "-o", str(png)]) == 2
    _one_line(capsys.readouterr().err, "none of the 3 structures shown has a computed point",
              "414 points pending or failed", "--resume")
    assert not png.exists()
