"""The ``fanodome`` command line.

Each sub-command is a thin layer: parse, validate, call the library, print. Human-readable output
by default; ``--json`` prints exactly one JSON document on stdout. Every failure a user can
cause is one line on stderr and an exit code (:data:`EXIT_CODES`), never a traceback.

The commands live in one module per group (:mod:`~sweep.cli.solver_commands`,
:mod:`~sweep.cli.run_commands`, :mod:`~sweep.cli.refine_commands`,
:mod:`~sweep.cli.explore_commands`,
:mod:`~sweep.cli.analysis_commands`,
:mod:`~sweep.cli.deploy_commands`); what they share is in :mod:`~sweep.cli.options`.
"""
from __future__ import annotations

import argparse
import atexit
import functools
import gc
import logging
import os
import re
import shlex
import sys

from ..execution.runner import Stalled
from . import (analysis_commands, deploy_commands, explore_commands, refine_commands,
               run_commands, solver_commands)
from .options import (EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_CODES, EXIT_INTERRUPTED,
                      EXIT_STALLED, BadInput, Interrupted, Parser, RepeatedOption, emit, say)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="fanodome",
        description="Superconducting Tc domes of superlattices of quantum wires "
                    "(BPV multigap BCS at a Fano resonance). Energies in meV, lengths in Å, "
                    "masses in m_e, temperatures in K.",
        epilog="exit codes: " + "; ".join(f"{c} {what}" for c, what in EXIT_CODES.items()),
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order ``fanodome --help`` lists them in.
    solver_commands.add_commands(sub)
    run_commands.add_commands(sub)
    refine_commands.add_commands(sub)
    explore_commands.add_commands(sub)
    deploy_commands.add_commands(sub)
    analysis_commands.add_commands(sub)
    solver_commands.add_gaps_command(sub)
    return p


_NEGATIVE_VALUE = re.compile(r"^-(\.?\d|inf|nan)", re.IGNORECASE)


@functools.cache
def _skip_final_collections() -> None:
    """At the interpreter's exit, leave the garbage collector's last passes out: every object
    of a command is garbage then, and the collections over what numba, xarray, zarr and
    distributed hold (0.4-0.9 s measured on the 2-core development machine, 2026-12) free
    nothing that the process's end does not. Registered once (cached), before anything a
    command imports registers its own: it runs after every other exit handler (they run
    last-in, first-out)."""
    atexit.register(gc.freeze)


def main(argv: list[str] | None = None) -> int:
    _skip_final_collections()
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    # argparse takes "-0.5:3:0.05" for an option; a leading space keeps it a value, and
    # float(" -0.5") still parses.
    argv = [" " + t if _NEGATIVE_VALUE.match(t) else t for t in argv]
    try:
        args = parser.parse_args(argv)
    except RepeatedOption as err:
        print(_error_line(err.command, str(err)), file=sys.stderr)
        return EXIT_BAD_INPUT
    args.argv = argv  # as given (``fanodome run`` repeats it in its resume hint)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.application").addFilter(_closed_connection_noise)
    try:
        result = args.func(args)
        if result is None or isinstance(result, int):
            return result or 0
        emit(args, result)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``fanodome dome STORE | head``): stop quietly, as a shell tool
        # killed by SIGPIPE does; stdout is pointed at devnull so that the interpreter's own
        # flush at exit does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (ValueError, BadInput) as err:
        print(_error_line(args.command, str(err)), file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:  # a file that cannot be written, a server that does not answer
        print(_error_line(args.command, _os_error_text(err)), file=sys.stderr)
        return EXIT_BAD_INPUT
    except Stalled as err:  # stalled, or the scheduler lost, where the command has no line
        say(f"fanodome {args.command}: {err}; {_way_on(args)}")
        return EXIT_STALLED
    except (KeyboardInterrupt, Interrupted) as err:
        print(f"fanodome {args.command}: interrupted", file=sys.stderr)
        return getattr(err, "exit_code", EXIT_INTERRUPTED)
    return 0


ERROR_LINE_CHARS = (300, 200)
"""Characters of an error kept from its start and from its end (where the key it names and the
way on are); a long value in between, such as a 100 kB string in a config, is cut."""


def _closed_connection_noise(record: logging.LogRecord) -> bool:
    """False for a traceback that a callback of distributed logs through tornado when the
    scheduler's connection closes under it (``CommClosedError``, e.g. while gathering
    results): the command says in one line that it lost the scheduler
    (:class:`sweep.execution.runner.SchedulerLost`); every other record passes."""
    exc = record.exc_info[1] if record.exc_info else None
    return exc is None or not type(exc).__module__.startswith("distributed.comm")


def _error_line(command: str, text: str) -> str:
    """The one line of an error: no line breaks, a long middle cut (:data:`ERROR_LINE_CHARS`)."""
    text = " ".join(text.split())
    head, tail = ERROR_LINE_CHARS
    if len(text) > head + tail:
        text = f"{text[:head]} ... [{len(text) - head - tail} characters cut] ... {text[-tail:]}"
    return f"fanodome {command}: error: {text}"


def _way_on(args: argparse.Namespace) -> str:
    """What is kept of a command that could not go on, and the command line that goes on with
    it: ``refine`` again (it goes on from what is refined), or the command with ``--resume``."""
    if args.command == "refine":
        again = shlex.join(["fanodome", *(t.strip() for t in args.argv)])
        return f"what is refined is kept; go on with: {again}"
    return f"what finished is kept; resume with: {run_commands.resume_command(args)}"


def _os_error_text(err: OSError) -> str:
    """One line for an OSError: the file or address it is about, and why."""
    if err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return " ".join(str(err).split()) or type(err).__name__


__all__ = ["build_parser", "main"]
