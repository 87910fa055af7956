"""The front door's machinery, for ``sweep`` and its rooms: public names loaded on first use
(PEP 562), so that importing a package loads none of the modules behind them (``import sweep``
and the command line stay light); and the arguments of the front door's functions checked where
a notebook passes them (a value of the wrong type is a TypeError naming the argument and what it
takes, not an AttributeError deep inside)."""
from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping


def lazy_names(package: str, names: Mapping[str, str]) -> tuple[Callable, Callable]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` (its ``__name__``), whose public
    ``names`` map to the module that defines each (an absolute name): a name is imported on
    its first use and then kept in the package's namespace."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str):
        try:
            module = names[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # loaded once
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__


ARGUMENT_CHARS = 80
"""Most characters of a wrong argument's repr quoted in the error."""


def expect(value, types: type | tuple[type, ...], *, name: str, takes: str) -> None:
    """Raise TypeError unless ``value`` is one of ``types``: ``name: takes, got TYPE VALUE``."""
    if not isinstance(value, types):
        shown = repr(value)
        if len(shown) > ARGUMENT_CHARS:
            shown = shown[:ARGUMENT_CHARS] + "..."
        raise TypeError(f"{name}: {takes}, got {type(value).__name__} {shown}")


def store_path(store, *, name: str = "store") -> str:
    """A store given as a path (str or os.PathLike) or URL, as a string."""
    expect(store, (str, os.PathLike), name=name, takes="a path or URL of a zarr store")
    return os.fspath(store)


def dataset(ds, *, name: str = "ds") -> None:
    """Refuse anything but an xarray Dataset (what :func:`sweep.open_dataset` returns)."""
    import xarray as xr
    expect(ds, xr.Dataset, name=name, takes="an xarray Dataset (sweep.open_dataset(store))")
