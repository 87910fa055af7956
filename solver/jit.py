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
"""
import importlib
import logging
import os
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
    "tc": ("solver.bands", "solver.dos", "solver.overlaps", "solver.tc"),
    "gaps": ("solver.bands", "solver.dos", "solver.overlaps", "solver.tc", "solver.gaps"),
}
"""The modules whose kernels a job compiles: ``tc`` (:func:`solver.tc.compile_tc_kernels`,
every kernel of these modules) and ``gaps`` (:func:`solver.warmup` with the gap kernels)."""

COMPILE_SECONDS = {"tc": 20.0, "gaps": 25.0}
"""About how long compiling each job's kernels takes on one core, s: ``fanodome tc`` and
``fanodome gaps`` with an empty cache on the 2-core development machine (2026-12, load 1.6:
21.0 s and 24.3 s, against 1.1 s with the cache warm). What a user is told before the wait."""


def cold_kernels(job: str) -> list[str]:
    """The kernels of ``job`` (a key of :data:`KERNEL_MODULES`) that numba's on-disk cache holds
    no compiled version of for these sources and this numba: what the first call will compile.

    Reads each kernel's cache index as numba does when it loads it (numba's version and the
    source file's stamp must match, else numba compiles again): a few small files, a
    millisecond. Where the cache cannot be read so (another numba's internals), nothing is
    reported cold."""
    cold = []
    for name in KERNEL_MODULES[job]:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if not isinstance(value, numba.core.registry.CPUDispatcher) or \
                    value.__module__ != name:
                continue
            try:
                index = value._cache._cache_file._load_index()
            except (AttributeError, OSError, EOFError, ValueError) as err:
                log.debug("cannot read numba's cache index of %s.%s: %s", name, attr, err)
                return []
            if not index:
                cold.append(f"{name}.{attr}")
    return cold


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
