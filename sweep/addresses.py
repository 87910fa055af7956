"""Where things are: store paths and URLs, scheduler addresses (strings only, no I/O)."""
from __future__ import annotations

import ipaddress
import urllib.parse

READ_ONLY_SCHEMES = ("http", "https")
"""URL schemes of stores that can only be read (a static web server)."""


def is_url(store: str) -> bool:
    """Whether ``store`` is a URL (``s3://``, ``http://``, ``file://``...) rather than a path."""
    return "://" in str(store)


def url_scheme(store: str) -> str:
    """The scheme of a store URL, lower case; ``""`` for a local path."""
    return urllib.parse.urlsplit(str(store)).scheme.lower() if is_url(store) else ""


def is_read_only_url(store: str) -> bool:
    """Whether ``store`` is a URL that can only be read (``http://``, ``https://``)."""
    return url_scheme(store) in READ_ONLY_SCHEMES


def local_path(store: str) -> str | None:
    """The path of a store on this machine's file system: ``store`` itself, or the path of a
    ``file://`` URL (as fsspec reads it: ``file:///abs`` is ``/abs``, ``file://rel`` is ``rel``);
    None for a store elsewhere (``s3://``, ``http://``, ...)."""
    store = str(store)
    if not is_url(store):
        return store
    if url_scheme(store) == "file":
        return store.split("://", 1)[1]
    return None


def on_loopback(address: str) -> bool:
    """Whether a scheduler ``address`` (``tcp://host:port``, ``host:port``) is this machine's
    loopback."""
    host = urllib.parse.urlsplit(address if "://" in address else f"tcp://{address}").hostname
    if host in (None, "localhost"):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def on_this_machine(*, cluster_kind: str, scheduler: str | None) -> bool:
    """Whether the workers of a cluster run on this machine: a local cluster (no
    ``scheduler``), or a scheduler on loopback. They then share this process's numba cache."""
    return bool((scheduler is None and cluster_kind == "local")
                or (scheduler and on_loopback(scheduler)))
