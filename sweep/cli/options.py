"""What the ``fanodome`` commands share: bad input, the model's options, storage and cluster
options, and output.

The structure and model options are generated from the parameter table
(:data:`solver.parameters.PARAMETERS`): flag ``--name-with-dashes``, type and default from the
table, help = long name, unit and default. A boolean that is off by default is switched on by
``--name``; one that is on by default is switched off by ``--no-name``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import sys

from solver.parameters import MODEL, PARAMETERS, STRUCTURE

from ..config import (CLUSTER_KEYS, CLUSTER_KINDS, LOCAL_MODES, ClusterConfig,
                      with_cluster_overrides)

EXIT_FAILED_POINTS = 1
EXIT_BAD_INPUT = 2
EXIT_STALLED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_HANGUP = 129  # 128 + SIGHUP: the terminal or SSH session closed
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (``| head``)
EXIT_CODES = {
    0: "done",
    EXIT_FAILED_POINTS: "a run, a refinement or an explore finished with failed points, "
                        "tasks or samples (fanodome run, refine, explore)",
    EXIT_BAD_INPUT: "bad input, or a store, file, server or scheduler that cannot be used "
                    "(one line on stderr)",
    EXIT_STALLED: "a run, a refinement or an explore could not go on: no running worker "
                  "for --stall-timeout seconds, nothing finished for an hour, or the "
                  "connection to the scheduler lost (fanodome run, refine, explore; what was "
                  "written is kept, the line says how to go on)",
    EXIT_INTERRUPTED: "interrupted by Ctrl-C (SIGINT)",
    EXIT_BROKEN_PIPE: "the reader of stdout went away (e.g. `| head`)",
    EXIT_TERMINATED: "terminated (SIGTERM)",
    EXIT_HANGUP: "the terminal hung up (SIGHUP: a closed terminal or SSH session)",
}
"""Every exit code of ``fanodome``, documented in ``fanodome --help``."""


class BadInput(Exception):
    """Raised for input errors that the CLI reports with exit code 2."""


class RepeatedOption(BadInput):
    """An option of one value given twice (``--eta 1 --eta -0.9``): raised while the command
    line is parsed, so it carries the ``command`` its one-line error names."""

    def __init__(self, command: str, message: str):
        super().__init__(message)
        self.command = command


_GIVEN = "_options_given"
"""The namespace attribute holding the destinations of the options given so far."""


def _given(namespace: argparse.Namespace) -> set[str]:
    """The destinations of the options given so far on this command line."""
    return vars(namespace).setdefault(_GIVEN, set())


class _StoreOnce(argparse._StoreAction):
    """A value option: given twice it is bad input (:class:`RepeatedOption`), not the last
    value kept silently."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = _given(namespace)
        if self.dest in given:
            first = getattr(namespace, self.dest)
            raise RepeatedOption(parser.prog.split()[-1],
                                 f"{option_string}: given twice ({str(first).strip()} and "
                                 f"{str(values).strip()}); it takes one value")
        given.add(self.dest)
        super().__call__(parser, namespace, values, option_string)


class _Extend(argparse.Action):
    """A list option (``nargs="+"``): each time it is given adds its values (``--L 8 --L 9``
    is ``--L 8 9``); the first time replaces the default."""

    def __call__(self, parser, namespace, values, option_string=None):
        given = _given(namespace)
        items = list(getattr(namespace, self.dest) or []) if self.dest in given else []
        given.add(self.dest)
        setattr(namespace, self.dest, items + list(values))


class Parser(argparse.ArgumentParser):
    """The ``fanodome`` parser and, through ``add_subparsers``, its commands': an option of
    one value given twice is refused (:class:`RepeatedOption`, exit 2); ``action="extend"``
    adds the values of each repeat of a list option to the list; a usage error is one line
    (exit 2) that points to ``--help``, not argparse's usage block."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in (None, "store"):
            self.register("action", name, _StoreOnce)
        self.register("action", "extend", _Extend)

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived; ``exit_code`` is 130, 143 or 129. A BaseException,
    as KeyboardInterrupt is, so that no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int):
        import signal
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = {signal.SIGTERM: EXIT_TERMINATED,
                          signal.SIGHUP: EXIT_HANGUP}.get(signum, EXIT_INTERRUPTED)


STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
"""The signals that stop a command cleanly (:func:`interruptible`): Ctrl-C, ``kill``, and a
terminal or SSH session that closes (the common end of a run started on a login node)."""


@contextlib.contextmanager
def interruptible():
    """:data:`STOP_SIGNALS` raise :class:`Interrupted` in the main thread, so that every
    ``with`` on the way out runs: the cluster closes, the store lock is released. The first
    signal also quiets distributed's logging (its shutdown chatter) and makes further signals
    wait for that shutdown, which takes seconds. The handlers that were there come back on exit."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # signals are the main's
        yield
        return
    signals = [getattr(signal, name) for name in STOP_SIGNALS]

    def handler(signum, frame):
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        quiet = ("distributed", "tornado", "asyncio")
        # Children too: distributed's logging config sets some (tornado.application) itself.
        for name in [*quiet, *logging.root.manager.loggerDict]:
            if name.split(".")[0] in quiet:
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def say(line: str) -> None:
    """Print ``line`` on stderr where it may be gone (after SIGHUP the terminal is): the line
    is lost then, not the exit code."""
    with contextlib.suppress(OSError):
        print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ the model's parameters

def plain(value) -> str:
    """A default as ``--help`` prints it: ``230``, ``0.86``, ``1e-06``, ``3``."""
    return format(value, "g") if isinstance(value, float) else str(value)


def add_parameter_option(group, name: str, *, many: bool = False) -> None:
    """Add the option of parameter ``name`` to ``group``. ``many``: the option takes numbers
    and inclusive ranges START:STOP:STEP (strings, parsed by :func:`sweep.grid.parse_values`),
    each repeat adding its own, its default the table's value as the one string."""
    p = PARAMETERS[name]
    flag = "--" + name.replace("_", "-")
    if p.kind is bool:
        if p.default:
            group.add_argument(f"--no-{flag[2:]}", dest=name, action="store_false",
                               help=f"switch off: {p.long_name} [on]")
        else:
            group.add_argument(flag, dest=name, action="store_true",
                               help=f"{p.long_name} [off]")
        return
    if many:
        group.add_argument(flag, dest=name, nargs="+", action="extend",
                           default=[plain(p.default)],
                           metavar=name.upper(), help=f"{p.description} [{plain(p.default)}]")
        return
    group.add_argument(flag, dest=name, type=p.kind, default=p.default,
                       help=f"{p.description} [{plain(p.default)}]")


def add_structure_options(p: argparse.ArgumentParser, *, many: bool = False) -> None:
    """The structure's parameters (:data:`solver.parameters.STRUCTURE`), paper defaults;
    ``many``: each numeric one takes lists and ranges (:func:`add_parameter_option`)."""
    g = p.add_argument_group("structure (paper defaults)" + (
        "; each number may be a list or a range START:STOP:STEP" if many else ""))
    for name in STRUCTURE:
        add_parameter_option(g, name, many=many)


def add_model_options(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The couplings, softening and temperature floor (:data:`solver.parameters.MODEL`, paper
    defaults); returns the group."""
    m = p.add_argument_group("model (paper defaults)")
    for name in MODEL:
        add_parameter_option(m, name)
    return m


def structure_kwargs(a: argparse.Namespace) -> dict:
    """The structure's parameters as given, by name."""
    return {name: getattr(a, name) for name in STRUCTURE}


def model_kwargs(a: argparse.Namespace) -> dict:
    """The model's options as given, by name."""
    return {name: getattr(a, name) for name in MODEL}


# ------------------------------------------------------------------------- storage options

STORAGE_OPTION_HELP = ("fsspec storage option for a URL store, KEY=VALUE (VALUE read as JSON "
                       "when it parses, else as text), e.g. endpoint_url=http://host:9000; "
                       "repeatable")


def add_storage_option(p: argparse.ArgumentParser) -> None:
    """Add ``--storage-option KEY=VALUE`` (repeatable) to a sub-command."""
    p.add_argument("--storage-option", action="append", default=[], metavar="KEY=VALUE",
                   help=STORAGE_OPTION_HELP)


def storage_options(a: argparse.Namespace) -> dict | None:
    """The ``--storage-option`` values as a dict (None when there are none)."""
    out = {}
    for item in getattr(a, "storage_option", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--storage-option: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out or None


def store_exists(store: str, storage_options: dict | None) -> bool:
    """Whether ``store`` exists; a store at a URL whose server does not answer is bad input
    that names the store (ValueError), not a traceback."""
    from .. import store as store_mod
    try:
        return store_mod.exists(store, storage_options=storage_options)
    except PermissionError:
        raise
    except OSError as err:  # aiohttp's connection errors are OSErrors
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ValueError(f"{store}: cannot be reached ({reason})") from None


# ------------------------------------------------------------------------- cluster options

# option dest -> [cluster] key
_OVERRIDES = {
    "cluster": "kind", "workers": "workers", "jobs": "jobs", "cores": "cores",
    "processes": "processes", "memory": "memory", "walltime": "walltime", "queue": "queue",
    "account": "account", "interface": "interface", "adaptive_minimum": "adaptive_minimum",
    "adaptive_maximum": "adaptive_maximum", "image": "image", "namespace": "namespace",
    "local_mode": "local_mode",
}


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """Where a command's tasks run: ``--scheduler`` (an existing cluster) or ``--workers``."""
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="use an existing Dask cluster (tcp://host:port)")
    where.add_argument("--workers", type=int, metavar="N",
                       help="N single-threaded workers (local cluster, threads or processes: "
                            "see --local-mode; one per core) or pods (kubernetes)")


def check_executor_options(a: argparse.Namespace) -> None:
    """The checks of :func:`add_executor_options`' options and ``--cluster``, first in a
    command: a wrong ``--scheduler`` address is told before the seconds of imports after."""
    if a.scheduler:
        check_scheduler(a.scheduler)
    if a.workers is not None and a.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {a.workers}")
    if a.scheduler and a.cluster:
        raise ValueError("--cluster and --scheduler exclude each other")


def add_cluster_options(p: argparse.ArgumentParser, *, config: bool = True) -> None:
    """Options that override the config's ``[cluster]`` keys (``--workers`` is each command's
    own: its help differs). ``config``: False for a command that takes no config (its help
    then names no config)."""
    g = p.add_argument_group("cluster (each overrides the same key of the config's [cluster])"
                             if config else "cluster (where the workers run)")
    g.add_argument("--cluster", choices=CLUSTER_KINDS, metavar="KIND",
                   help=f"where workers run: {', '.join(CLUSTER_KINDS)} "
                        f"[{'config' + chr(39) + 's, else ' if config else ''}local]")
    g.add_argument("--local-mode", choices=LOCAL_MODES, metavar="MODE",
                   help=f"how a local cluster runs its workers ({', '.join(LOCAL_MODES)}): "
                        f"threads of this process (start at once), one process each, or "
                        f"whichever the work's size favours "
                        f"[{'config' + chr(39) + 's, else ' if config else ''}auto]")
    g.add_argument("--jobs", type=int, metavar="N", help="batch jobs to submit (slurm, pbs)")
    g.add_argument("--cores", type=int, metavar="N",
                   help="CPU cores per job (slurm, pbs) or per pod (kubernetes)")
    g.add_argument("--processes", type=int, metavar="N",
                   help="worker processes per job, a divisor of --cores, each with cores / "
                        "processes threads [cores: single-threaded]")
    g.add_argument("--memory", metavar="SIZE",
                   help="memory per job or pod, or per local worker, e.g. 4GiB")
    g.add_argument("--walltime", metavar="HH:MM:SS", help="walltime per job")
    g.add_argument("--queue", metavar="NAME", help="SLURM partition or PBS queue")
    g.add_argument("--account", metavar="NAME", help="SLURM account or PBS project")
    g.add_argument("--interface", metavar="NAME",
                   help="network interface of scheduler and workers, e.g. ib0")
    g.add_argument("--adaptive-minimum", type=int, metavar="N",
                   help="scale adaptively from N jobs (slurm, pbs) or workers ...")
    g.add_argument("--adaptive-maximum", type=int, metavar="N", help="... up to N")
    g.add_argument("--image", metavar="IMAGE", help="container image of the pods (kubernetes)")
    g.add_argument("--namespace", metavar="NAME", help="Kubernetes namespace")
    g.add_argument("--shared-fs", action="store_true",
                   help="the store path is on a file system that every node mounts at the "
                        "same path (else a non-local cluster needs an s3://... URL)")


SCHEDULER_CONNECT_S = 5.0
"""Seconds ``--scheduler`` may take to accept a TCP connection before the run is refused: a
scheduler answers in milliseconds; waiting longer only delays the error."""


def check_scheduler(address: str, *, timeout_s: float = SCHEDULER_CONNECT_S) -> None:
    """Refuse a ``--scheduler`` that is not ``tcp://HOST:PORT`` (or ``tls://``, or
    ``HOST:PORT``), or that accepts no connection within ``timeout_s`` seconds."""
    import socket
    import urllib.parse

    parts = urllib.parse.urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        raise BadInput(f"--scheduler: expected an address like tcp://HOST:PORT "
                       f"(e.g. tcp://10.0.0.5:8786), got {address!r}")
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout_s).close()
    except OSError as err:
        reason = (f"no answer within {timeout_s:g} s" if isinstance(err, TimeoutError)
                  else err.strerror or str(err))
        raise BadInput(f"--scheduler: cannot reach a scheduler at {address} ({reason})"
                       ) from None


def cluster_config(base: ClusterConfig, a: argparse.Namespace) -> ClusterConfig:
    """``base`` (a config's ``[cluster]``) with the options given on the command line."""
    overrides = {key: getattr(a, dest) for dest, key in _OVERRIDES.items()
                 if getattr(a, dest, None) is not None}
    if getattr(a, "shared_fs", False):
        overrides["shared_filesystem"] = True
    spec = with_cluster_overrides(base, overrides)
    for dest, key in _OVERRIDES.items():
        if key in overrides and spec.kind not in CLUSTER_KEYS[key][1]:
            flag = "--" + dest.replace("_", "-")
            raise ValueError(f"{flag}: not used by a {spec.kind} cluster (used by "
                             f"{', '.join(CLUSTER_KEYS[key][1])})")
    return spec


# ---------------------------------------------------------------------------------- output

def show_progress_logs(a: argparse.Namespace) -> None:
    """Progress lines (INFO) always show; distributed's own INFO chatter only with -v.
    distributed sets its loggers' levels when it is imported: it is imported first here."""
    import distributed  # noqa: F401 - its logging set up before ours is
    logging.getLogger("sweep").setLevel(min(logging.INFO, logging.getLogger().level))
    if a.verbose == 0:
        logging.getLogger("distributed").setLevel(logging.WARNING)


def print_dashboard(client) -> None:
    """Print the dashboard's address of a cluster a command started, where it works."""
    from ..execution.clusters import dashboard_link

    link = dashboard_link(client)
    if link:
        print(f"dashboard: {link}", file=sys.stderr)


def add_store_mode_options(p: argparse.ArgumentParser, *, resume: str) -> None:
    """``--resume`` (help: ``resume``) or ``--overwrite``, for the commands that write a
    store; without either, an existing store of the same config is gone on with (a command
    run twice computes once) and one of another config refused."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true",
                      help=f"{resume}; without --resume or --overwrite, a store of the same "
                           f"config is gone on with too, and one of another config refused")
    mode.add_argument("--overwrite", action="store_true", help="replace an existing store")


def add_stall_option(p: argparse.ArgumentParser) -> None:
    """``--stall-timeout`` (:func:`stall_seconds`), for the commands that run tasks."""
    from ..execution.runner import STALL_S

    p.add_argument("--stall-timeout", type=float, metavar="SECONDS",
                   help=f"give up (exit 3, store resumable) when tasks wait and no worker runs "
                        f"(none, or all paused at their memory limit) this long [{STALL_S:g}]")


def stall_seconds(a: argparse.Namespace) -> dict:
    """``{"stall_s": --stall-timeout}`` for the service call, ``{}`` when not given; a
    timeout that is not a positive finite number of seconds is bad input (an endless one would
    let a run without workers wait forever)."""
    if a.stall_timeout is None:
        return {}
    if not 0 < a.stall_timeout < math.inf:
        raise BadInput(f"--stall-timeout must be positive and finite (seconds), got "
                       f"{a.stall_timeout}")
    return {"stall_s": a.stall_timeout}


def announce_compile(a: argparse.Namespace, *, job: str) -> None:
    """One line on stderr, at once, when the solver's kernels of ``job`` (``tc`` or ``gaps``)
    are not in numba's cache yet: the wait that follows is that compile
    (:func:`solver.jit.compile_notice`)."""
    from solver.jit import compile_notice

    line = compile_notice(job)
    if line:
        print(f"fanodome {a.command}: {line}", file=sys.stderr, flush=True)


def window_lines(windows: list[dict], *, digits: int, sep: str = " for ") -> list[str]:
    """The windows Tc >= T* of one curve as lines: ``Tc >= T* K{sep}eta in [lo, hi]`` with
    why an edge is only a bound, ``Tc >= T* K: none (why)`` where there is no window (windows
    without one for the same reason share a line)."""
    lines, none = [], {}
    for w in windows:
        if w["eta_lo"] is None or w["eta_hi"] is None:
            none.setdefault(w.get("why") or "no value", []).append(f"{w['threshold_K']:g}")
            continue
        why = f" ({w['why']})" if w.get("why") else ""
        lines.append(f"Tc >= {w['threshold_K']:g} K{sep}eta in "
                     f"{window_interval(w, f'.{digits}f')}{why}")
    for why, ts in none.items():
        lines.append(f"Tc >= {', '.join(ts)} K: none ({why})")
    return lines


def named_values(values, names, *, spec: str = "g") -> str:
    """``L = 8.5 Å, W = 5.5 Å, g = 0.25``: each of ``names`` with its value in ``values`` (a
    mapping) and its unit from the parameter table (none for a dimensionless one)."""
    return ", ".join(f"{k} = {float(values[k]):{spec}}{PARAMETERS[k].unit_suffix}"
                     for k in names)


def count(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless n is 1: ``1 worker``, ``2 workers``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


_WIDTH = re.compile(r"^(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)")
"""The width of a format spec (Python's format-spec mini-language)."""


def fmt(x, spec: str = ".4g") -> str:
    """A number of a human-readable table, ``-`` where there is none (None), as wide as the
    width of ``spec`` makes a number (``fmt(None, '15.6g')`` is 14 spaces and ``-``)."""
    if x is not None:
        return format(x, spec)
    return format("-", f">{_WIDTH.match(spec).group(1)}")


EDGE_WORDS = {"g": "the g range", "eta": "the eta range searched"}
"""How the output names the edge a value lies on (``at_edge`` of the dome summary)."""


def edge_note(at_edge) -> str:
    """`` (on the edge of ...: a lower bound)`` for a highest value on the edge of the axes
    ``at_edge`` (names, or True for eta alone); empty when on none."""
    if at_edge is True:
        at_edge = ["eta"]
    if not at_edge:
        return ""
    where = " and ".join(EDGE_WORDS.get(a, a) for a in at_edge)
    return f" (on the edge of {where}: Tc may be higher beyond it, a lower bound)"


def window_interval(w: dict, spec: str = ".5f") -> str:
    """A window ``[eta_lo, eta_hi]``; an open edge (Tc >= T* up to the bound it was followed
    to) is written ``<= lo`` or ``>= hi``."""
    lo = ("<= " if "open_below" in w.get("flags", ()) else "") + format(w["eta_lo"], spec)
    hi = (">= " if "open_above" in w.get("flags", ()) else "") + format(w["eta_hi"], spec)
    return f"[{lo}, {hi}]"


def json_number(x) -> float | None:
    """A float for a JSON document: None where it is not finite (no value)."""
    x = float(x)
    return x if math.isfinite(x) else None


def emit(a: argparse.Namespace, doc) -> None:
    """Print a result: one JSON document with ``--json``, else through the command's ``show``."""
    if getattr(a, "json", False):
        json.dump(doc, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
    else:
        a.show(doc)
