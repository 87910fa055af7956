"""The ``fanodome`` command line.

Each sub-command is a thin layer: parse, validate, call the library, print. Human-readable output
by default; ``--json`` prints exactly one JSON document on stdout. Bad input exits with code 2
and a one-line message on stderr.

The commands live in one module per group (:mod:`~sweep.cli.solver_commands`,
:mod:`~sweep.cli.run_commands`, :mod:`~sweep.cli.refine_commands`,
:mod:`~sweep.cli.analysis_commands`,
:mod:`~sweep.cli.deploy_commands`); what they share is in :mod:`~sweep.cli.options`.
"""
from __future__ import annotations

import argparse
import logging
import re
import sys

from . import (analysis_commands, deploy_commands, refine_commands, run_commands,
               solver_commands)
from .options import EXIT_BAD_INPUT, BadInput, emit


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fanodome",
        description="Superconducting Tc domes of superlattices of quantum wires "
                    "(BPV multigap BCS at a Fano resonance). Energies in meV, lengths in Å, "
                    "masses in m_e, temperatures in K.",
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order ``fanodome --help`` lists them in.
    solver_commands.add_commands(sub)
    run_commands.add_commands(sub)
    refine_commands.add_commands(sub)
    deploy_commands.add_commands(sub)
    analysis_commands.add_commands(sub)
    solver_commands.add_gaps_command(sub)
    return p


_NEGATIVE_VALUE = re.compile(r"^-\.?\d")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    # argparse takes "-0.5:3:0.05" for an option; a leading space keeps it a value, and
    # float(" -0.5") still parses.
    argv = [" " + t if _NEGATIVE_VALUE.match(t) else t for t in argv]
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        result = args.func(args)
    except (ValueError, BadInput) as err:
        print(f"fanodome {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if result is None:
        return 0
    if isinstance(result, int):
        return result
    emit(args, result)
    return 0


__all__ = ["build_parser", "main"]
