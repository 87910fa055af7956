"""The project's numba decorator and its flags, in one place (as stumpy's ``config.py``).

``cache=True`` keeps compiled kernels on disk, so a process pays the compile cost once per
machine, not once per task. ``fastmath`` stays off: the band edges and the Tc root rely on IEEE
semantics (comparisons with 1, expm1, cancellations). ``nogil`` lets threads of one worker run
kernels side by side.

Where the cache goes: ``NUMBA_CACHE_DIR`` when the user sets it (the Docker image does), else
:func:`default_cache_dir`, a per-user folder outside the installed package. numba's own default
is ``__pycache__`` beside the sources, i.e. inside ``site-packages/solver/`` for a regular
install: ``pip uninstall`` leaves that folder behind, and Python then imports it as an empty
namespace package ``solver`` that shadows a later editable install. The folder is chosen before
any kernel is decorated: numba picks a function's cache locator when the decorator runs.

Compile time (an empty cache: a machine's first run): :func:`njit_inlined` for small kernels
with one caller; :func:`in_cache` and :func:`compile_in_child` let :func:`solver.warmup` compile
two independent groups of kernels in two processes at once.
"""
import atexit
import os
import subprocess
import sys
from pathlib import Path

import numba

NJIT_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/fanodome/numba`` (``~/.cache/fanodome/numba`` without it): one folder
    per user, never inside site-packages, shared by every install of this user."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fanodome" / "numba"


if not numba.config.CACHE_DIR:  # NUMBA_CACHE_DIR unset: not next to the sources
    numba.config.CACHE_DIR = str(default_cache_dir())


def njit(func):
    """The project's numba decorator: ``numba.njit(**NJIT_OPTIONS)``."""
    return numba.njit(**NJIT_OPTIONS)(func)


def njit_inlined(func):
    """:func:`njit` for a kernel that other kernels call, inlined into each caller's numba IR.

    numba compiles every kernel a kernel calls as a module of its own and then again inside
    each caller's module (with everything below it): a deep call tree compiles its leaves once
    per level. Inlined, a kernel with a single caller is compiled once, as part of it. For
    kernels with a small body over calls to larger ones (LLVM's time grows faster than the
    size of a function, so inlining everything costs more than it saves).
    """
    return numba.njit(inline="always", **NJIT_OPTIONS)(func)


def in_cache(kernel) -> bool:
    """Whether the on-disk cache holds an index for ``kernel`` (a :func:`njit` function): numba
    names it after the module and the function (``overlaps.exchange_integrals-72.py311.nbi``).
    An index of an older version of the source counts too (numba then recompiles): a hint for
    planning the warm-up, not a promise."""
    name = f"{kernel.py_func.__module__.rsplit('.', 1)[-1]}.{kernel.py_func.__qualname__}-"
    folder = Path(kernel.stats.cache_path)
    return folder.is_dir() and any(folder.glob(f"{name}*.nbi"))


def compile_in_child(module: str, function: str) -> subprocess.Popen:
    """A Python process that runs ``module.function()`` (a warm-up: it fills the cache) with
    this process's ``solver`` package and cache folder; stderr captured, killed at this
    process's exit if still running."""
    root = str(Path(__file__).resolve().parent.parent)
    code = f"import sys; sys.path.insert(0, {root!r}); import {module} as m; m.{function}()"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(numba.config.CACHE_DIR))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    atexit.register(proc.kill)  # this process stopped first (a signal): no compile left behind
    return proc
