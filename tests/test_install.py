"""The README's two install commands, in order, in a throwaway venv.

``pip install .`` then a command that compiles kernels, then ``pip install -e .``, then
``pip uninstall``: every step must leave a working (or a clean) environment. The bug this
guards against: numba's cache written into ``site-packages/solver/__pycache__`` survived the
uninstall and shadowed the editable package as an empty namespace package ``solver``.

The throwaway venv holds what the venv of the README's second command holds beside fanodome,
so the test passes where that command put it: ``--system-site-packages`` shows the base
Python's packages (CI, where the system Python has the dependencies), and when pytest itself
runs in a venv (a newcomer's), that venv's packages are linked in (:func:`_link_dependencies`).
fanodome is installed with ``--no-deps``, so nothing is downloaded but the build backend (from
the configured index).
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.ci]


def _clone(dest: Path) -> Path:
    """The project's files as a fresh clone has them (no caches, no stores)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dest / name)
    for pkg in ("solver", "sweep"):
        shutil.copytree(REPO / pkg, dest / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    return dest


OWN = ("solver", "sweep", "fanodome")
"""Names of the project's packages and metadata (``fanodome-0.1.0.dist-info``, its editable
finder): what the test installs itself, never linked."""
INSTALLER = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "wheel")
"""The throwaway venv's own installer, which it keeps."""


def _link_dependencies(site_packages: Path) -> int:
    """Link into the throwaway venv's ``site_packages`` every package of the venv this test
    runs in (as its ``pip install -e ".[test]"`` put them there), but fanodome's own and the
    installer; returns how many. Nothing when the test runs in no venv: then
    ``--system-site-packages`` shows the packages. ``.pth`` files stay out (the running venv's
    editable fanodome is one)."""
    if sys.prefix == sys.base_prefix:
        return 0
    linked = 0
    for folder in map(Path, site.getsitepackages()):
        for entry in sorted(folder.iterdir()) if folder.is_dir() else ():
            name = entry.name
            stem = name.split("-")[0].removeprefix("__editable___").lower()
            if name.endswith(".pth") or name == "__pycache__" or \
                    any(stem == own or stem.startswith(own + "_") for own in OWN) or \
                    stem in INSTALLER:
                continue
            target = site_packages / name
            if not (target.exists() or target.is_symlink()):
                target.symlink_to(entry)
                linked += 1
    return linked


def _run(*args, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_readme_install_commands_in_order_then_uninstall(tmp_path):
    clone = _clone(tmp_path / "fanodome")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    py, fanodome = venv / "bin" / "python", venv / "bin" / "fanodome"
    purelib = Path(subprocess.check_output(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip())
    _link_dependencies(purelib)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    elsewhere = tmp_path / "elsewhere"  # not the clone: nothing imported from the cwd
    elsewhere.mkdir()
    pip = (py, "-m", "pip", "install", "-q", "--no-deps")

    # Command 1: a regular install, then a command that compiles kernels into numba's cache.
    _run(*pip, clone, cwd=elsewhere, env=env)
    _run(fanodome, "bands", "--json", cwd=elsewhere, env=env)
    assert not list((purelib / "solver").rglob("*.nbi")), "numba cache inside site-packages"
    assert list((tmp_path / "cache" / "fanodome" / "numba").rglob("*.nbi"))

    # Command 2: the editable install replaces it; the package and the CLI still import.
    _run(*pip, "-e", clone, cwd=clone, env=env)
    assert not (purelib / "solver").exists(), "leftover site-packages/solver shadows the package"
    _run(fanodome, "--help", cwd=elsewhere, env=env)
    _run(py, "-c", "from solver import STATUS_BELOW_FLOOR; import solver, sweep.cli; "
         f"assert solver.__file__.startswith({str(clone)!r}), solver.__file__",
         cwd=elsewhere, env=env)
    _run(fanodome, "bands", "--json", cwd=elsewhere, env=env)

    # Back to a regular install, then uninstall: nothing of the package stays behind.
    _run(*pip, clone, cwd=elsewhere, env=env)
    _run(fanodome, "bands", "--json", cwd=elsewhere, env=env)
    _run(py, "-m", "pip", "uninstall", "-q", "-y", "fanodome", cwd=elsewhere, env=env)
    assert not (purelib / "solver").exists() and not (purelib / "sweep").exists()
