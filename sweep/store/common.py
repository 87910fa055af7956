"""What every store of the service shares: opening, root attributes, failure records, and the
checks that decide whether a run may start on a store.

The root attributes are named here and nowhere else (:data:`ATTR_CONFIG_JSON` ...); other
modules read them through the functions below. ``store`` arguments are local paths or URLs;
URLs are passed through to xarray/zarr (``storage_options`` for fsspec), so remote stores need
no change here.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import zarr
from zarr.core.sync import sync as zarr_sync

from ..addresses import is_read_only_url, local_path

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger(__name__)

ATTR_CONFIG_TOML = "config_toml"
"""The config as TOML (``[grid]``, ``[model]``, ``[run]``, ``[outputs]``, ``[refine]``)."""
ATTR_CONFIG_JSON = "config_json"
"""The config's identity (:meth:`sweep.config.SweepConfig.identity`): what ``--resume``
compares."""
ATTR_MODEL_DEFAULTS = "model_defaults"
ATTR_VERSION = "fanodome_version"
ATTR_CREATED = "created"
ATTR_FAILURES = "failures"
"""Failure records of the sweep's tasks (JSON list)."""
ATTR_REFINE_SETTINGS = "refine_settings"
ATTR_REFINE_METHOD = "refine_method"
ATTR_REFINE_FAILURES = "refine_failures"
"""Failure records of the refine tasks (JSON list)."""

ATTR_EXPLORE_JSON = "explore_json"
"""The explore's identity (:meth:`sweep.config.SweepConfig.explore_identity`): what
``--resume`` compares, and what marks an explore store (:mod:`sweep.store.explored`)."""
ATTR_EXPLORE_FAILURES = "explore_failures"
"""Failure records of an explore's sample tasks (JSON list)."""

FAILURE_LOGS = {"sweep": ATTR_FAILURES, "refine": ATTR_REFINE_FAILURES,
                "explore": ATTR_EXPLORE_FAILURES}
"""The failure records a store keeps, by the work they are about: the root attribute of each."""

MAX_FAILURE_RECORDS = 1000
"""Failure records kept in the root attributes; beyond that only the status arrays tell (a
config where every structure fails must not grow the metadata without bound)."""
MAX_TRACEBACK_CHARS = 8000
"""Tail of each traceback kept: the frames nearest the error."""

_CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"


class StoreError(ValueError):
    """The store cannot be used as asked (exists, differs, is not a sweep store)."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Filter the one harmless zarr v3 warning about consolidated metadata."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CONSOLIDATED_WARNING)
        yield


def consolidate(g: zarr.Group) -> None:
    """Rewrite the consolidated metadata index of the store of group ``g``."""
    with quiet():
        zarr.consolidate_metadata(g.store, zarr_format=3)


def check_storage_options(store: str, storage_options: Mapping | None) -> None:
    """Refuse storage options for a store on this machine (a path or a ``file://`` URL): they
    are fsspec's options for stores at URLs, and a local store takes none."""
    if storage_options and local_path(store) is not None:
        raise StoreError(f"--storage-option: {store} is a store on this machine; storage "
                         f"options are for stores at URLs (s3://..., gs://...)")


def exists(store: str, *, storage_options: Mapping | None = None) -> bool:
    """Whether anything is at ``store``; a local path (or ``file://`` URL) that is not a zarr
    group is an error, as are storage options for it."""
    check_storage_options(store, storage_options)
    local = local_path(store)
    if local is not None:
        p = Path(local)
        if not p.exists() or (p.is_dir() and not any(p.iterdir())):
            return False  # an empty folder holds nothing (a layout cut short at its start)
        if not (p / "zarr.json").is_file():
            raise StoreError(f"{store}: exists and is not a zarr store; not touching it")
        return True
    try:
        zarr.open_group(store, mode="r", storage_options=storage_options)
    except (FileNotFoundError, zarr.errors.GroupNotFoundError):
        return False
    return True


IN_MEMORY_POINTS = 1 << 23
"""Largest variable (values) of a store that :func:`open_dataset` with ``dask=None`` opens
without dask: such a store's tc and status (72 MiB) can be read whole, and sparing dask's graphs
and scheduler (whose first use imports distributed) saves more than reading it costs:
``fanodome dome`` on the paper store took 1.0 s in-process this way against 2.8 s dask-backed
(2-core development machine, 2026-12)."""


def open_dataset(store: str, *, storage_options: Mapping | None = None,
                 dask: bool | None = True) -> xr.Dataset:
    """The store as a lazy xarray Dataset (path or URL).

    ``dask``: True, dask-backed (chunk by chunk, whatever the size); False, lazily indexed
    NumPy (what is selected is read when used); None, NumPy up to :data:`IN_MEMORY_POINTS`
    values a variable and dask above (what the command line's analysis commands use)."""
    import xarray as xr  # on first use: counting and writing points need zarr only

    kw = {"zarr_format": 3, "consolidated": True, "storage_options": storage_options}
    try:
        if dask is not True:
            ds = xr.open_zarr(store, chunks=None, **kw)
            if dask is False or max((v.size for v in ds.data_vars.values()),
                                    default=0) <= IN_MEMORY_POINTS:
                return ds
        return xr.open_zarr(store, **kw)
    except (ValueError, KeyError, zarr.errors.GroupNotFoundError) as err:
        raise unusable(store, err) from None


class IndexMissing(StoreError):
    """The store's metadata index (its consolidated metadata) is not there."""


ERROR_DETAIL_CHARS = 200
"""Most characters of a library's error message quoted in a line about a store."""


def cut_short(store: str, why: str) -> StoreError:
    """The refusal of a store whose layout was cut short (``why``): it holds no results, so
    starting again loses nothing. The same words wherever it is found."""
    return StoreError(f"{store}: its layout was cut short ({why}); it holds no results: free "
                      f"any space it needs and start it again with --overwrite")


def damaged(store: str, what: str, *, otherwise: str = "") -> StoreError:
    """The refusal of a damaged store: ``what`` is damaged; restore it from a copy, or
    ``otherwise`` (a way that loses less); ``--overwrite`` would discard it."""
    alternative = f", or {otherwise}" if otherwise else ""
    return StoreError(f"{store}: damaged: {what}; restore it from a copy{alternative} "
                      f"(--overwrite would discard it and start again)")


def unusable(store: str, err: BaseException) -> StoreError:
    """Why zarr could not open ``store`` (``err``), as one line with the way on: metadata that
    is not JSON and a codec zarr cannot decode are damage; a missing metadata index is a layout
    cut short when the store holds no results, else an index that a refinement cut short was
    rewriting (``fanodome refine`` restores it)."""
    detail = " ".join(str(err).split())[:ERROR_DETAIL_CHARS]
    if isinstance(err, json.JSONDecodeError):
        return damaged(store, f"its metadata is not valid JSON ({detail})")
    if isinstance(err, (zarr.errors.UnknownCodecError, zarr.errors.MetadataValidationError)):
        return damaged(store, f"its metadata declares what zarr cannot decode ({detail})")
    if isinstance(err, ValueError) and "onsolidated metadata" in str(err):
        local = local_path(store)
        if local is not None and not any((Path(local) / name / "c").is_dir()
                                         for name in _RESULT_ARRAYS):
            return IndexMissing(str(cut_short(store, "no metadata index")))
        return IndexMissing(f"{store}: its metadata index (consolidated metadata) is missing "
                            f"while it holds results (a refinement was cut short while "
                            f"rewriting it?): fanodome refine {store} restores it")
    return cut_short(store, detail)


_RESULT_ARRAYS = ("status", "tc")
"""Arrays whose chunk files hold a sweep's results (a layout writes none)."""


TEMPLATE_CHUNKS_IN_MEMORY = 256
"""Most chunks a layout writes from a NumPy template: zarr looks at each of its chunks (all fill
values, so none is written) at about 0.5 ms each; beyond this many, a dask template (metadata
only, nothing looked at) is faster than that, import of dask.array included."""


def template(shape: tuple[int, ...], fill_value, dtype, *, lazy: bool):
    """Data of a layout's template: every value ``fill_value``. ``lazy``: a dask array (written
    with ``compute=False``: metadata only); else a zero-copy NumPy view whose chunks, all fill
    values, zarr does not write."""
    if lazy:
        import dask.array as da

        return da.full(shape, fill_value, dtype=dtype, chunks=-1)
    return np.broadcast_to(np.asarray(fill_value, dtype=dtype), shape)


def group(store: str, *, mode: str, storage_options: Mapping | None = None) -> zarr.Group:
    """The store's root group, through its consolidated metadata."""
    try:
        return zarr.open_group(store, mode=mode, zarr_format=3, use_consolidated=True,
                               storage_options=storage_options)
    except (ValueError, KeyError, zarr.errors.GroupNotFoundError) as err:
        raise unusable(store, err) from None


def written_chunks(array: zarr.Array) -> np.ndarray | None:
    """Which chunks of ``array`` have a file in its store: a bool array over its chunk grid
    (zarr's ``cdata_shape``), from one listing of its prefix; None where the store cannot list
    (HTTP: a static server lists nothing, not even what it serves) or keys its chunks other
    than zarr v3's default way."""
    store = array.store
    encoding = array.metadata.chunk_key_encoding
    protocols = getattr(getattr(store, "fs", None), "protocol", ())
    protocols = (protocols,) if isinstance(protocols, str) else protocols
    if (not store.supports_listing or {"http", "https"} & set(protocols)
            or getattr(encoding, "name", None) != "default"):
        return None
    prefix = f"{array.path}/c{encoding.separator}" if array.path else f"c{encoding.separator}"

    async def keys() -> list[str]:  # the store API is async; zarr_sync is zarr's own bridge
        return [k async for k in store.list_prefix(prefix)]

    grid = np.zeros(array.cdata_shape, dtype=bool)
    for key in zarr_sync(keys()):
        parts = key[len(prefix):].split(encoding.separator)
        if len(parts) == grid.ndim and all(x.isdigit() for x in parts):
            index = tuple(int(x) for x in parts)
            if all(i < n for i, n in zip(index, grid.shape)):
                grid[index] = True
    return grid


Region = tuple[str, tuple, object]
"""One array's region of a store: (array name, selection, values to write or None)."""


def access(store: str, *, write: Sequence[Region] = (), then: Sequence[Region] = (),
           last: Sequence[Region] = (), read: Sequence[Region] = (),
           storage_options: Mapping | None = None) -> list:
    """Read and write regions of a store's arrays concurrently: one open of its metadata index
    and a round trip to zarr's I/O loop for each of ``read`` (returns the arrays, in order),
    ``write``, ``then`` (written after every region of ``write``: statuses last) and ``last``
    (after ``then``: the status that makes everything before it count), whatever the number
    of arrays; a write that fails writes nothing after it; a chunk that cannot be decoded is
    :func:`damaged` (a full disk or a lost mount stays the OSError it is). Every chunk of a
    region written is written, those of fill values only too, so a listing of the chunk files
    shows what was written (:func:`written_chunks`). A task of a refinement reads 4 regions and
    writes 13: 4-8 ms and 9-11 ms this way, 7-13 ms and 35-52 ms one by one (the 81-structure
    store of ``benchmarks/bench_refine.py``, 2-core development machine, 2026-12, load 4-6)."""
    from zarr.api.asynchronous import open_group

    async def run() -> list:
        try:
            g = await open_group(store=store, mode="r+" if write or then or last else "r",
                                 zarr_format=3, use_consolidated=True,
                                 storage_options=storage_options)
        except (ValueError, KeyError, zarr.errors.GroupNotFoundError) as err:
            raise unusable(store, err) from None
        names = {name for name, _, _ in (*read, *write, *then, *last)}
        try:
            found = await asyncio.gather(*(g.getitem(n) for n in names))
            arrays = {n: a.with_config({"write_empty_chunks": True})
                      for n, a in zip(names, found)}
        except KeyError as err:
            raise cut_short(store, f"no array {err}") from None
        try:
            out = await asyncio.gather(*(arrays[n].getitem(sel) for n, sel, _ in read))
        except (ValueError, TypeError, RuntimeError) as err:  # a chunk zarr cannot decode
            detail = " ".join(str(err).split())[:ERROR_DETAIL_CHARS]
            raise damaged(store, f"a chunk of {', '.join(sorted({n for n, _, _ in read}))} "
                                 f"cannot be decoded ({type(err).__name__}: {detail})") from None
        for regions in (write, then, last):
            await asyncio.gather(*(arrays[n].setitem(sel, np.asarray(v, dtype=arrays[n].dtype))
                                   for n, sel, v in regions))
        return list(out)

    return zarr_sync(run())


def read_attrs(store: str, *, storage_options: Mapping | None = None) -> dict:
    """The store's root attributes (also while its metadata index is missing: they are the
    root's own)."""
    try:
        return dict(group(store, mode="r", storage_options=storage_options).attrs)
    except IndexMissing:
        return dict(zarr.open_group(store, mode="r", zarr_format=3, use_consolidated=False,
                                    storage_options=storage_options).attrs)


def provenance(*, config_toml: str, config_json: str, model_defaults: Mapping,
               version: str) -> dict:
    """The root attributes a new store is laid out with: the config, the model's defaults, the
    code's version, the creation time (UTC) and no failure records."""
    return {ATTR_CONFIG_TOML: config_toml, ATTR_CONFIG_JSON: config_json,
            ATTR_MODEL_DEFAULTS: json.dumps(dict(model_defaults), sort_keys=True),
            ATTR_VERSION: version,
            ATTR_CREATED: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            ATTR_FAILURES: "[]"}


def created(attrs: Mapping) -> str:
    """When the store was laid out (ISO 8601, UTC; ``?`` if unknown)."""
    return str(attrs.get(ATTR_CREATED, "?"))


def is_sweep(attrs: Mapping) -> bool:
    """Whether root attributes ``attrs`` are a fanodome sweep store's."""
    return ATTR_CONFIG_JSON in attrs and ATTR_CONFIG_TOML in attrs


def is_explore(attrs: Mapping) -> bool:
    """Whether root attributes ``attrs`` are an explore store's."""
    return ATTR_EXPLORE_JSON in attrs


def config_toml(attrs: Mapping, *, store: str = "store") -> str:
    """The config a sweep ran with, as TOML (:class:`StoreError` if not a sweep store)."""
    if ATTR_CONFIG_TOML not in attrs:
        raise StoreError(f"{store}: not a fanodome sweep store")
    return str(attrs[ATTR_CONFIG_TOML])


def model_options(attrs: Mapping) -> dict:
    """The ``[model]`` options a sweep ran with (t_floor in K, masses in m_e, ...), from the root
    attributes of its store (``ds.attrs``)."""
    if ATTR_CONFIG_JSON not in attrs:
        raise StoreError("not a fanodome sweep store (no config_json attribute)")
    return dict(json.loads(attrs[ATTR_CONFIG_JSON])["model"])


# ------------------------------------------------------------------------ failure records

def read_failures(store: str, *, log: str = "sweep",
                  storage_options: Mapping | None = None) -> list[dict]:
    """The failure records of ``log`` (a key of :data:`FAILURE_LOGS`)."""
    attrs = read_attrs(store, storage_options=storage_options)
    return json.loads(attrs.get(FAILURE_LOGS[log], "[]"))


def write_failures(store: str, records: list[dict], *, log: str = "sweep",
                   storage_options: Mapping | None = None) -> None:
    """Replace the failure records of ``log`` (a root attribute) and re-consolidate the
    metadata: at most :data:`MAX_FAILURE_RECORDS`, each traceback's last
    :data:`MAX_TRACEBACK_CHARS`. Only the process that runs the work calls this; workers
    never touch root metadata."""
    kept = [dict(r, traceback=r.get("traceback", "")[-MAX_TRACEBACK_CHARS:])
            for r in records[:MAX_FAILURE_RECORDS]]
    g = group(store, mode="r+", storage_options=storage_options)
    g.attrs[FAILURE_LOGS[log]] = json.dumps(kept)
    if len(records) > len(kept):
        g.attrs[FAILURE_LOGS[log] + "_not_recorded"] = len(records) - len(kept)
    consolidate(g)


# ----------------------------------------------------------------- starting work on a store

STORE_KINDS = {"sweep": "fanodome run", "explore": "fanodome explore"}
"""The kinds of store the service makes, and the command that makes each."""


def kind_of(attrs: Mapping) -> str | None:
    """The kind (a key of :data:`STORE_KINDS`) of the store whose root attributes are
    ``attrs``; None for a store of neither kind."""
    if is_explore(attrs):
        return "explore"
    return "sweep" if is_sweep(attrs) else None


def check_can_start(store: str, *, kind: str, identity: str, resume: bool, overwrite: bool,
                    check_resumable: Callable[..., None],
                    check_replaceable: Callable[[str], None],
                    storage_options: Mapping | None = None) -> None:
    """Refuse a store conflict early: before any cluster starts, without writing anything.

    ``kind``: the kind of store the work fills (a key of :data:`STORE_KINDS`); a store of the
    other kind is refused whatever the mode, since neither ``--resume`` nor ``--overwrite``
    can use it. ``identity``: what the store must hold to be resumed (compared by
    ``check_resumable(store, identity=..., storage_options=...)``);
    ``check_replaceable(store)`` refuses to overwrite what is not ours.
    """
    if resume and overwrite:
        raise StoreError("--resume and --overwrite exclude each other")
    if is_read_only_url(store):
        raise read_only(store)
    present = exists(store, storage_options=storage_options)
    if present:
        _refuse_another_kind(store, kind=kind, storage_options=storage_options)
    if present and resume:
        check_resumable(store, identity=identity, storage_options=storage_options)
    elif resume and local_path(store) is not None and Path(local_path(store)).is_dir():
        raise StoreError(f"--resume: {store} is an empty folder; nothing to resume: start it "
                         f"with --overwrite")
    elif resume:
        raise StoreError(f"--resume: {store} does not exist; nothing to resume "
                         f"(run without --resume to start it)")
    elif present and not overwrite:
        raise StoreError(f"{store}: store exists; pass --resume to finish it or --overwrite to "
                         f"start again")
    elif present:
        check_replaceable(store)


def _refuse_another_kind(store: str, *, kind: str, storage_options: Mapping | None) -> None:
    """Refuse an existing ``store`` of another kind than ``kind``, saying what it is and
    what to do; a store whose root cannot be read is left to the checks that name why."""
    try:
        attrs = read_attrs(store, storage_options=storage_options)
    except (ValueError, KeyError, zarr.errors.GroupNotFoundError):
        return  # damaged or cut short: check_resumable and check_replaceable say so
    have = kind_of(attrs)
    if have is not None and have != kind:
        raise StoreError(f"{store} is {_article(have)} {have} store ({STORE_KINDS[have]}), not "
                         f"{_article(kind)} {kind} store: choose another --store; --overwrite "
                         f"replaces only {kind} stores")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def identity_mismatch(store: str, *, have: str, want: str) -> StoreError:
    """The refusal of ``--resume`` on a store made with another config (JSON identities
    ``have`` and ``want``), naming the keys that differ."""
    return StoreError(f"--resume: {store} was made with a different config "
                      f"(differs in {', '.join(identity_diffs(have, want)) or 'layout'}); "
                      f"store left untouched")


def read_only(store: str) -> StoreError:
    """The refusal to write a store at an http(s):// URL."""
    return StoreError(f"{store}: http(s):// stores are read-only; write into a local path or "
                      f"an s3:// URL and publish that folder over HTTP")


def another_config(store: str, *, have: str, want: str, kind: str) -> StoreError:
    """The refusal of a store that holds another ``kind`` (``sweep``, ``explore``) than the
    one a command without ``--resume`` or ``--overwrite`` would go on with (JSON identities
    ``have`` and ``want``), naming the keys that differ."""
    return StoreError(f"{store}: store exists and holds another {kind} (its config differs in "
                      f"{', '.join(identity_diffs(have, want)) or 'layout'}); pass --overwrite "
                      f"to replace it, or --store another path")


def identity_diffs(have: str, want: str) -> list[str]:
    """The keys (``table.key``, or ``key`` for a value outside a table, as an explore's fixed
    axes are) in which two configs' JSON identities differ."""
    old, new = json.loads(have), json.loads(want)
    diffs = []
    for t in sorted(set(old) | set(new)):
        a, b = old.get(t), new.get(t)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [f"{t}.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diffs.append(t)
    return diffs


def identity_of(attrs: Mapping) -> str | None:
    """The config identity a sweep store was made with (``--resume`` compares it), from its
    root attributes; None when they are not a sweep store's."""
    value = attrs.get(ATTR_CONFIG_JSON)
    return None if value is None else str(value)


ZARR_PARTIAL = re.compile(r"[^/]*\.[0-9a-f]{32}\.partial")
"""The name of a temporary file of zarr's local store (``_atomic_write``: the file's name with
``.<uuid hex>.partial`` for its suffix, renamed when written): one is left where a process was
killed while zarr wrote, and it is the store's own."""


def check_only_own_files(store: str, *, attr: str, kind: str, names: set[str]) -> None:
    """Refuse to replace a local ``store`` (``--overwrite``) unless it is a store of ``kind``
    (its root has attribute ``attr``) holding nothing but its own zarr nodes: overwriting
    deletes the directory's contents, and a file someone put there is not ours to delete.
    ``names``: the nodes a layout cut short may have left. Stores elsewhere (``s3://``, ...)
    are not checked."""
    local = local_path(store)
    if local is None:
        return
    root = Path(local)
    try:
        doc = json.loads((root / "zarr.json").read_text())
    except (OSError, ValueError) as err:
        raise StoreError(f"{store}: unreadable zarr.json ({err}); not a {kind} store, not "
                         f"touching it") from None
    attrs = doc.get("attributes", {}) if isinstance(doc, dict) else {}
    # A layout cut short before it wrote the root's attributes: a bare group of its names.
    def own(name: str) -> bool:
        return name == "zarr.json" or ZARR_PARTIAL.fullmatch(name) is not None

    bare = isinstance(doc, dict) and not attrs and not doc.get("consolidated_metadata") and \
        all(p.name in names or own(p.name) for p in root.iterdir())
    if attr not in attrs and not bare:
        raise StoreError(f"{store}: not a fanodome {kind} store (no {attr} attribute); "
                         f"--overwrite only replaces {kind} stores")
    # The store's own entries: its nodes (as the consolidated metadata lists them, or, for a
    # layout cut short, folders that are zarr nodes or bear the layout's names), the root's
    # zarr.json and zarr's temporary files.
    nodes = (doc.get("consolidated_metadata") or {}).get("metadata") or {}
    ours = {name.split("/")[0] for name in nodes}
    if not nodes:
        ours |= {p.name for p in root.iterdir() if (p / "zarr.json").is_file()} | set(names)
    foreign = sorted(p.name for p in root.iterdir() if p.name not in ours and not own(p.name))
    if foreign:
        raise StoreError(f"{store}: holds files that are not the {kind}'s "
                         f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); "
                         f"move them out before --overwrite")
