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
import os
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
