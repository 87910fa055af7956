"""The project's numba decorator and its flags, in one place (as stumpy's ``config.py``).

``cache=True`` writes compiled kernels next to the sources (or to NUMBA_CACHE_DIR), so a process
pays the compile cost once per machine, not once per task. ``fastmath`` stays off: the band edges
and the Tc root rely on IEEE semantics (comparisons with 1, expm1, cancellations). ``nogil``
lets threads of one worker run kernels side by side.
"""
import numba

NJIT_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}


def njit(func):
    """The project's numba decorator: ``numba.njit(**NJIT_OPTIONS)``."""
    return numba.njit(**NJIT_OPTIONS)(func)
