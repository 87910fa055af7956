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
from sweep_support import REPO

from sweep.cli import build_parser, main


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
                                  ("run", "--store", "{tmp}/x.zarr", "--workers", "1")])
def test_a_cold_kernel_cache_is_announced_before_the_heavy_imports(tmp_path, args):
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
    import solver.tc
    solver.tc.compile_tc_kernels()  # this process's cache is the command's: now warm
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
