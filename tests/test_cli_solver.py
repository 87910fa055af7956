"""`fanodome bands`, `fanodome tc` and `fanodome gaps`: JSON shape, values, and exit code 2 on bad
input."""
import json
import math
import subprocess
import sys

import pytest

from solver import band_structure, tc_grid
from sweep.config import ConfigError, parse_outputs


def run(*args):
    p = subprocess.run([sys.executable, "-m", "sweep.cli", *args], capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_bands_json():
    code, out, err = run("bands", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"bands", "E_L_meV", "dE_meV"}
    assert [b["n"] for b in doc["bands"]] == [1, 2, 3]
    assert set(doc["bands"][0]) == {"n", "E_min_meV", "E_max_meV"}
    assert doc["dE_meV"] == pytest.approx(142.2, abs=0.1)
    assert doc["E_L_meV"] == pytest.approx(doc["bands"][2]["E_min_meV"])


def test_bands_options_and_text_output():
    code, out, _ = run("bands", "--W", "2", "--V", "1000", "--nbands", "4", "--ben-daniel-duke")
    assert code == 0
    bs = band_structure(W=2.0, V=1000.0, nbands=4, ben_daniel_duke=True)
    assert float(out.split("dE = ")[1].split()[0]) == pytest.approx(bs.dE, rel=1e-6)
    assert out.count("\n") == 6


def test_bands_text_keeps_the_digits_of_a_narrow_band():
    code, out, err = run("bands", "--L", "1e4", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert 0 < doc["dE_meV"] < 1e-6  # a wide well: a narrow resonant subband
    code, out, err = run("bands", "--L", "1e4")
    assert code == 0, err
    assert float(out.split("dE = ")[1].split()[0]) == pytest.approx(doc["dE_meV"], rel=1e-6)
    rows = [line.split() for line in out.splitlines()[1:-1]]
    for row, b in zip(rows, doc["bands"]):
        assert float(row[3]) == pytest.approx(b["E_max_meV"] - b["E_min_meV"], rel=1e-6)


def test_tc_json_grid_order_and_values():
    code, out, err = run("tc", "--eta", "-0.5:0.5:0.5", "1", "--g", "0.25", "0.3", "--json")
    assert code == 0, err
    records = json.loads(out)
    assert len(records) == 8
    assert set(records[0]) == {"L", "W", "V", "m_well", "m_barrier", "m_x", "nbands", "omega0",
                               "eta", "g", "tc_K", "status", "eta_up", "outside_model"}
    assert [(r["g"], r["eta"]) for r in records[:4]] == [(0.25, -0.5), (0.25, 0.0), (0.25, 0.5),
                                                        (0.25, 1.0)]
    ref = tc_grid(eta=[-0.5, 0.0, 0.5, 1.0], g=[0.25, 0.3]).tc_K[0]
    for r, want in zip(records, ref.ravel()):
        assert r["status"] == "ok" and r["tc_K"] == pytest.approx(want, rel=1e-12)
        assert r["L"] == 8.5 and r["W"] == 5.5 and r["V"] == 4160.0 and r["omega0"] == 230.0


def test_a_point_above_eta_up_is_computed_and_marked_outside_the_model():
    # L = 7, W = 3 Å: the fourth subband's bottom lies close above the third; eta_up is where
    # mu + omega0 sqrt(1 - 2g) meets it (the bands of four subbands, computed on their own)
    g, omega0 = 0.25, 230.0
    three, four = band_structure(L=7.0, W=3.0), band_structure(L=7.0, W=3.0, nbands=4)
    up = (four.E_min[-1] - omega0 * math.sqrt(1 - 2 * g) - three.E_L) / three.dE
    assert 1.0 < up < 3.0
    below, above = f"{up - 0.01:.3f}", f"{up + 0.01:.3f}"
    code, out, err = run("tc", "--L", "7", "--W", "3", "--eta", "1", below, above, "--g", "0.25",
                         "--json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["outside_model"] for r in records] == [False, False, True]
    assert all(r["eta_up"] == pytest.approx(up, rel=1e-9) for r in records)
    assert all(r["status"] == "ok" for r in records)  # computed all the same
    code, out, err = run("tc", "--L", "7", "--W", "3", "--eta", below, above, "--g", "0.25")
    assert code == 0, err
    lines = out.splitlines()
    assert "outside the model" not in lines[1]
    assert "outside the model: above eta_up" in lines[2] and f"(eta_up = {up:.6g})" in lines[2]
    code, out, err = run("gaps", "--L", "7", "--W", "3", "--eta", above, "--g", "0.25",
                         "--T-over-tc", "0.5")
    assert code == 0, err
    assert "outside the model" in out.splitlines()[0]


@pytest.mark.parametrize("value", ["1", "1.5", "-0.1"])
def test_gaps_refuses_a_fraction_of_tc_the_config_refuses(value):
    """At and above Tc the gaps vanish: --T-over-tc takes what [outputs] gap_T_over_tc takes."""
    with pytest.raises(ConfigError, match=r"must be in \[0, 1\)"):
        parse_outputs({"gaps": True, "gap_T_over_tc": [float(value)]})
    code, out, err = run("gaps", "--eta", "1", "--g", "0.25", "--T-over-tc", "0", value)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"fanodome gaps: error: --T-over-tc: must be in [0, 1) (the "
                                f"gaps vanish at Tc), got {float(value)!r}"]


def test_gaps_above_tc_say_so_in_the_text_and_the_json():
    code, out, err = run("gaps", "--eta", "1", "--g", "0.25", "--T", "0", "500", "--json")
    assert code == 0, err
    cold, hot = json.loads(out)
    assert cold["tc_K"] == pytest.approx(193.37, abs=0.01)
    assert (cold["above_tc"], hot["above_tc"]) == (False, True)
    assert all(s["delta_meV"] == 0.0 for s in hot["subbands"])
    code, out, err = run("gaps", "--eta", "1", "--g", "0.25", "--T", "500")
    assert code == 0, err
    assert out.splitlines()[-1] == (f"T = 500 K is above Tc = {hot['tc_K']:.6g} K: the normal "
                                    f"state, the gaps are zero")
    code, out, err = run("gaps", "--eta", "-0.5", "--g", "0.25", "--t-floor", "1", "--T", "500",
                         "--json")
    assert code == 0, err
    assert json.loads(out)[0]["above_tc"] is None  # no Tc above the floor to compare with


def test_tc_below_floor_is_null():
    code, out, _ = run("tc", "--eta", "-0.5", "--g", "0.25", "--t-floor", "1", "--json")
    assert code == 0
    (r,) = json.loads(out)
    assert r["status"] == "below_floor" and r["tc_K"] is None


@pytest.mark.parametrize("args, word", [
    (["tc", "--eta", "1", "--g", "0.5"], "g must be < 1/2"),
    (["tc", "--eta", "1", "--g", "0.3", "--L", "-1"], "L must be >= 0.1"),
    (["tc", "--eta", "1", "--g", "0.3", "--W", "0"], "W must be >= 0.1"),
    (["tc", "--eta", "1", "--g", "0.3", "--m-x", "0"], "m_x must be >= 0.001"),
    (["tc", "--eta", "nan", "--g", "0.3"], "--eta"),
    (["tc", "--eta", "1", "--g", "0.3", "--V", "inf"], "--V: 'inf' is not finite"),
    (["tc", "--eta", "1", "--g", "0.3", "--nbands", "0"], "nbands must be >= 1"),
    (["tc", "--eta", "1", "--g", "0.3", "--omega0", "-5"], "omega0 must be positive"),
    (["tc", "--eta", "1:0:0.1", "--g", "0.3"], "--eta"),
    (["bands", "--V", "-3"], "V must be >= 0"),
])
def test_bad_input_exits_2_with_a_message(args, word):
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert word in err and "Traceback" not in err
