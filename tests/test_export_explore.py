"""An explore store's export says which structure it is: the axes not explored, from its
config's [grid], are columns of the CSV and scalar coordinates of the netCDF, with units."""
from __future__ import annotations

import csv
import tomllib

import pytest
import xarray as xr

from sweep.cli import main
from sweep.config import parse_config
from sweep.execution.runner import InProcessExecutor
from sweep.explore import SampleOutcome, Value, explore
from sweep.store import explored

CONFIG = """
[grid]
L = 9.25
V = 3000.0
omega0 = 180.0
g = 0.3
eta = { start = -0.5, stop = 3.0, step = 0.25 }
[explore]
axes = { W = [4.0, 7.0] }
budget = 5
polish_points = 0
"""
FIXED = {"L": (9.25, "Å"), "V": (3000.0, "meV"), "omega0": (180.0, "meV"), "g": (0.3, "1")}


def _sample(task) -> SampleOutcome:
    """A closed-form objective (no solver): a smooth top at W = 5.5 Å."""
    (w,) = task.point
    return SampleOutcome(task.index, task.point, task.polish,
                         Value(300.0 - (w - 5.5) ** 2, 1.0, 0, 1, 3000.0, 20.0, 0), 0.0)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("explore") / "x.zarr")
    explore(parse_config(tomllib.loads(CONFIG)), store=path, executor=InProcessExecutor(),
            compute=_sample)
    return path


def test_fixed_axes_are_the_grid_values_not_explored(store):
    ds = explored.read_samples(store)
    assert explored.fixed_axes(ds.attrs) == {a: v for a, (v, _) in FIXED.items()}
    with_fixed = explored.with_fixed_axes(ds)
    for a, (v, unit) in FIXED.items():
        assert with_fixed[a].ndim == 0 and float(with_fixed[a]) == v
        assert with_fixed[a].attrs["units"] == unit and with_fixed[a].attrs["long_name"]


def test_explore_csv_and_netcdf_carry_the_axes_not_explored(store, tmp_path, capsys):
    table, nc = tmp_path / "x.csv", tmp_path / "x.nc"
    assert main(["export", store, "--csv", str(table), "--netcdf", str(nc)]) == 0
    with table.open() as f:
        header, *body = list(csv.reader(f))
    assert len(body) == 5
    assert header[:6] == ["sample [1]", "W [Å]", "L [Å]", "V [meV]", "omega0 [meV]", "g [1]"]
    assert not any(h.startswith("eta ") for h in header)  # searched, never fixed
    for a, (v, unit) in FIXED.items():
        column = header.index(f"{a} [{unit}]")
        assert {float(row[column]) for row in body} == {v}
    with xr.open_dataset(nc, engine="h5netcdf") as back:
        for a, (v, unit) in FIXED.items():
            assert back[a].ndim == 0 and float(back[a]) == v
            assert back[a].attrs["units"] == unit
