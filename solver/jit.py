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
import importlib
import logging
import os
import subprocess
import sys
from pathlib import Path

import numba

log = logging.getLogger(__name__)

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


KERNEL_MODULES = {
    "tc": ("solver.bands", "solver.dos", "solver.eigen", "solver.overlaps", "solver.tc"),
    "gaps": ("solver.bands", "solver.dos", "solver.eigen", "solver.overlaps", "solver.tc",
             "solver.gaps"),
}
"""The modules whose kernels a job compiles: ``tc`` (:func:`solver.tc.compile_tc_kernels`,
every kernel of these modules) and ``gaps`` (:func:`solver.warmup` with the gap kernels)."""

COMPILE_SECONDS = {"tc": 20.0, "gaps": 22.0}
"""About how long compiling each job's kernels takes, s: ``fanodome tc --eta 1 --g 0.25`` and
``fanodome gaps --eta 1 --g 0.25 --T-over-tc 0 0.5`` with an empty cache took 17.6-20.5 s and
20.6-22.2 s (two runs each, against 1.0 s for ``tc`` with the cache warm) on the 2-core
development machine (2026-12, load average 0.6-0.8). What a user is told before the wait."""


def cold_kernels(job: str) -> list[str]:
    """The modules of ``job`` (a key of :data:`KERNEL_MODULES`) of which numba's on-disk cache
    holds no compiled kernel for these sources and this numba: what the first call will compile.

    numba keeps a cache per source file and discards all of a file's kernels when the file or
    numba changes, so one cached kernel vouches for its module; kernels only ever compiled
    inside their callers (:func:`njit_inlined` ones, and some that only other kernels call)
    have no cache entry of their own and vouch for nothing. Reads each kernel's cache index as
    numba does when it loads it: a few small files, a millisecond.
    Where the cache cannot be read so (another numba's internals), nothing is reported cold."""
    cold = []
    for name in KERNEL_MODULES[job]:
        module = importlib.import_module(name)
        kernels = [v for v in vars(module).values()
                   if isinstance(v, numba.core.registry.CPUDispatcher) and v.__module__ == name
                   and v.targetoptions.get("inline") != "always"]
        cached = [_cached(k) for k in kernels]
        if None in cached:
            return []
        if kernels and not any(cached):
            cold.append(name)
    return cold


def _cached(kernel) -> bool | None:
    """Whether numba's on-disk cache holds a compiled version of ``kernel`` (a :func:`njit`
    function) for its source as it is and this numba, read from its cache index as numba
    reads it; None where the index cannot be read so (another numba's internals)."""
    try:
        return bool(kernel._cache._cache_file._load_index())
    except (AttributeError, OSError, EOFError, ValueError) as err:
        log.debug("cannot read numba's cache index of %s: %s", kernel, err)
        return None


def compile_notice(job: str) -> str | None:
    """A line that tells a user the kernels of ``job`` are compiled once and about how long,
    when :func:`cold_kernels` finds some; None when the cache holds them all."""
    if not cold_kernels(job):
        return None
    home = os.path.expanduser("~")
    where = numba.config.CACHE_DIR
    where = "~" + where[len(home):] if where.startswith(home + os.sep) else where
    return (f"the solver's numba kernels are not compiled yet: the first computation compiles "
            f"them once, about {COMPILE_SECONDS[job]:g} s; later runs load them from {where}")


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
    """Whether the on-disk cache holds ``kernel`` (a :func:`njit` function) compiled for its
    source as it is (:func:`_cached`; False where that cannot be read)."""
    return bool(_cached(kernel))


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
