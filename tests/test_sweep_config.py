"""Sweep configs: parsing, defaults, the paper config, and every class of bad input."""
import tomllib

import numpy as np
import pytest

from solver.parameters import PARAMETERS, ParameterError, check, check_g
from sweep.cli import main
from sweep.config import ConfigError, load_config, paper_config, parse_config
from sweep_support import write_toml


def test_paper_config_is_fig4():
    c = paper_config()
    assert c.shape == {"L": 1, "W": 1, "V": 1, "omega0": 1, "g": 40, "eta": 71}
    assert c.axes["eta"][0] == -0.5 and c.axes["eta"][-1] == 3.0
    assert c.axes["g"][0] == 0.1 and c.axes["g"][-1] == 0.49
    for a in ("L", "W", "V", "omega0"):
        assert c.axes[a] == (PARAMETERS[a].default,)
    assert dict(c.model) == {k: PARAMETERS[k].default for k in c.model}


def test_config_paper_command_prints_a_config_that_parses_back(capsys):
    assert main(["config", "paper"]) == 0
    text = capsys.readouterr().out
    assert parse_config(tomllib.loads(text)).identity() == paper_config().identity()


def test_config_command_checks_a_file(tmp_path, capsys):
    cfg = write_toml(tmp_path / "c.toml", "[grid]\ng = [0.2]\n")
    assert main(["config", str(cfg)]) == 0
    assert "g = [0.2]" in capsys.readouterr().out


def test_axis_forms_and_defaults():
    c = parse_config(tomllib.loads("""
        [grid]
        eta = { start = 0, stop = 1, num = 5 }
        g = { start = 0.1, stop = 0.3, step = 0.1 }
        L = 9
        W = [5.0, 6.0]
        [model]
        nbands = 2
        softening = false
        [run]
        chunk_eta = 100
    """))
    np.testing.assert_allclose(c.axes["eta"], [0, 0.25, 0.5, 0.75, 1])
    assert c.axes["g"] == (0.1, 0.2, 0.3)
    assert c.axes["L"] == (9.0,) and c.axes["W"] == (5.0, 6.0)
    assert c.axes["V"] == (PARAMETERS["V"].default,)
    assert c.model["nbands"] == 2 and c.model["softening"] is False
    assert c.chunk["eta"] == 5  # clamped to the axis length
    assert c.retries == 2 and c.batch_size is None


def test_g_above_half_is_fine_without_softening():
    c = parse_config({"grid": {"g": [0.6]}, "model": {"softening": False}})
    assert c.axes["g"] == (0.6,)


def test_zero_barrier_is_accepted_as_by_the_solver():
    c = parse_config({"grid": {"V": [0, 100.0]}})
    assert c.axes["V"] == (0.0, 100.0)


@pytest.mark.parametrize("table, name, value", [
    ("model", "m_well", -1),
    ("model", "nbands", 0),
    ("model", "softening", 1),
    ("grid", "V", -1.0),
    ("grid", "g", 0.5),  # softening is on by default
])
def test_a_bad_value_is_refused_by_the_parameter_table_naming_the_key(table, name, value):
    with pytest.raises(ParameterError) as why:
        check_g(value, softening=True) if name == "g" else check(name, value)
    with pytest.raises(ConfigError) as err:
        parse_config({table: {name: [value] if table == "grid" else value}})
    assert str(err.value) == f"{table}.{name}: {why.value.reason}"


def test_identity_ignores_how_it_runs_but_not_what():
    a = parse_config({"grid": {"g": [0.2, 0.3]}})
    retried = parse_config({"grid": {"g": [0.2, 0.3]}, "run": {"retries": 5}})
    assert a.identity() == retried.identity()
    assert a.identity() != parse_config({"grid": {"g": [0.2, 0.31]}}).identity()
    assert a.identity() != parse_config({"grid": {"g": [0.2, 0.3]},
                                         "model": {"t_floor": 1e-3}}).identity()


BAD = {
    "unknown table": ("[grids]\ng = [0.2]\n", "grids"),
    "unknown axis": ("[grid]\nmu = [1.0]\n", "grid.mu"),
    "unknown model key": ("[model]\nm_wel = 0.9\n", "model.m_wel"),
    "unknown run key": ("[run]\nchunks = 3\n", "run.chunks"),
    "wrong type value": ('[grid]\ng = ["a"]\n', "grid.g[0]"),
    "wrong type axis": ('[grid]\ng = "0.2"\n', "grid.g"),
    "bool for number": ("[grid]\nL = [true]\n", "grid.L[0]"),
    "wrong type bool": ("[model]\nsoftening = 1\n", "model.softening"),
    "float nbands": ("[model]\nnbands = 2.5\n", "model.nbands"),
    "empty axis": ("[grid]\neta = []\n", "grid.eta"),
    "g at 1/2 with softening": ("[grid]\ng = [0.3, 0.5]\n", "grid.g"),
    "negative g": ("[grid]\ng = [-0.1]\n", "grid.g"),
    "zero width": ("[grid]\nW = [0.0]\n", "grid.W"),
    "negative well": ("[grid]\nL = [8.5, -1.0]\n", "grid.L"),
    "negative barrier": ("[grid]\nV = [0, -1]\n", "grid.V"),
    "non-positive mass": ("[model]\nm_well = 0.0\n", "model.m_well"),
    "non-positive t_floor": ("[model]\nt_floor = -1e-6\n", "model.t_floor"),
    "non-finite": ("[grid]\neta = [nan]\n", "grid.eta[0]"),
    "bad range keys": ("[grid]\neta = { start = 0, stop = 1 }\n", "grid.eta"),
    "reversed range": ("[grid]\neta = { start = 1, stop = 0, step = 0.1 }\n", "grid.eta"),
    "zero step": ("[grid]\neta = { start = 0, stop = 1, step = 0 }\n", "grid.eta"),
    "repeated values": ("[grid]\neta = [1.0, 1.0]\n", "grid.eta"),
    "bad chunk": ("[run]\nchunk_g = 0\n", "run.chunk_g"),
    "bad retries": ("[run]\nretries = -1\n", "run.retries"),
    "explored axis in the grid": ("[grid]\nL = [8.0]\n[explore]\naxes = { L = [7.0, 9.0] }\n"
                                  "budget = 5\n", "grid.L"),
    "memory below a worker's": ('[cluster]\nmemory = "1KiB"\n', "cluster.memory"),
    "memory below a job's workers'": ('[cluster]\nkind = "slurm"\ncores = 4\n'
                                      'memory = "1GiB"\n', "cluster.memory"),
    "refine on one eta": ("[grid]\neta = 1.0\ng = 0.3\n[refine]\n", "grid.eta"),
    "not toml": ("[grid\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_is_exit_2_naming_the_key_and_writes_nothing(case, tmp_path, capsys):
    text, key = BAD[case]
    cfg = write_toml(tmp_path / "bad.toml", text)
    store = tmp_path / "out.zarr"
    assert main(["run", str(cfg), "--store", str(store), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert key in err and err.startswith("fanodome run: error:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(cfg)


def test_missing_config_file_is_exit_2(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml"), "--store", str(tmp_path / "s.zarr")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_printed_explore_config_reads_back_the_same():
    # explored axes are left out of the printed [grid], which refuses them
    text = ("[grid]\ng = 0.3333333333333333\n[explore]\naxes = { L = [7.0, 11.0], "
            "W = [3.0, 10.0] }\nbudget = 20\n")
    cfg = parse_config(tomllib.loads(text))
    again = parse_config(tomllib.loads(cfg.to_toml()))
    assert again.explore_identity() == cfg.explore_identity()
    assert again.to_toml() == cfg.to_toml() and "\nL = " not in cfg.to_toml()


def test_a_run_of_an_explore_config_is_refused(tmp_path, capsys):
    # its [grid] holds the axes not explored, one value each: a sweep would drop the exploring
    from sweep.run.service import run_sweep
    cfg = write_toml(tmp_path / "e.toml", "[grid]\ng = 0.3\n[explore]\naxes = { L = [7.0, 9.0] }"
                                          "\nbudget = 5\n")
    assert main(["run", str(cfg), "--store", str(tmp_path / "x.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "an [explore] table: explore it with fanodome explore" in err
    with pytest.raises(ConfigError, match=r"\[explore\] table"):
        run_sweep(load_config(cfg), store=str(tmp_path / "x.zarr"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.toml"]
