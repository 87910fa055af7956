"""``fanodome gaps``: the gaps below Tc at one (eta, g), for one or more temperatures.

Same conventions as :mod:`sweep.cli`: ``_cmd_gaps`` returns a JSON-able list of records (printed by
``_print_gaps``), ValueError exits 2. The structure and model options are those of ``tc``.
"""
from __future__ import annotations

import argparse
import math


def _num(x) -> float | None:
    """A float for JSON, None for NaN."""
    x = float(x)
    return None if math.isnan(x) else x


def _cmd_gaps(a: argparse.Namespace) -> list[dict]:
    from solver import prepare_structure
    from solver.gaps import gaps_on_structure

    from .cli import _structure_kwargs
    from .grid import parse_values

    temps = parse_values(a.T if a.T is not None else a.T_over_tc,
                         name="--T" if a.T is not None else "--T-over-tc")
    st = prepare_structure(**_structure_kwargs(a))
    r = gaps_on_structure(st, eta=a.eta, g=a.g, omega0=a.omega0, g_lower=a.g_lower,
                          g_inter=a.g_inter, softening=not a.no_softening, t_floor=a.t_floor,
                          fixed_mu=a.fixed_mu,
                          **({"T": temps} if a.T is not None else {"T_over_tc": temps}))
    records = []
    for i, t in enumerate(r.T_K):
        records.append({
            "L": a.L, "W": a.W, "V": a.V, "omega0": a.omega0, "eta": a.eta, "g": a.g,
            "T_K": float(t), "tc_K": _num(r.tc_K), "mu_meV": float(r.mu_meV[i]),
            "mu_shift_meV": float(r.mu_shift_meV[i]),
            "condensation_meV_per_A2": float(r.condensation_energy[i]),
            "subbands": [{
                "n": n + 1,
                "delta_meV": _num(r.delta_fermi[i, n]),
                "delta_crossing_meV": _num(r.delta_crossing[i, n]),
                "delta_avg_meV": float(r.delta_avg[i, n]),
                "density_per_A2": float(r.density[i, n]),
                "ratio_2delta_kTc": _num(r.ratio_2delta_kTc[i, n]),
            } for n in range(r.delta_fermi.shape[1])],
        })
    return records


def _f(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _print_gaps(records: list[dict]) -> None:
    r0 = records[0]
    print(f"eta = {r0['eta']:g}, g = {r0['g']:g}, omega0 = {r0['omega0']:g} meV: "
          f"Tc = {_f(r0['tc_K'], '.6g')} K")
    print(f"{'T (K)':>10} {'mu shift (meV)':>15} {'n':>3} {'Delta_FS (meV)':>15} "
          f"{'Delta_avg (meV)':>16} {'2Delta/kTc':>11} {'n_n (1/Å^2)':>13}")
    for r in records:
        for k, s in enumerate(r["subbands"]):
            head = (f"{r['T_K']:10.4g} {r['mu_shift_meV']:15.6g}" if k == 0 else " " * 26)
            print(f"{head} {s['n']:>3} {_f(s['delta_meV'], '15.6g')} "
                  f"{s['delta_avg_meV']:16.6g} {_f(s['ratio_2delta_kTc'], '11.5g')} "
                  f"{s['density_per_A2']:13.6g}")


def add_commands(sub) -> None:
    """Add ``gaps`` to the ``fanodome`` sub-parsers ``sub``."""
    from solver import defaults

    from .cli import _add_model_options, _add_structure_options

    d = defaults.PAPER
    p = sub.add_parser(
        "gaps", help="the gaps Delta_n below Tc at one (eta, g), with the density equation",
        description="Solve the non-linear multigap gap equation below Tc with mu fixed by the "
                    "density of the normal state at the same eta and T (MODEL.md section 5). "
                    "Per temperature: the shift of mu and, per subband, the Fermi-surface "
                    "average of Delta (delta_meV), Delta at the Fermi crossing in q, its q "
                    "average, the partial density and 2 Delta / k_B Tc. Temperatures may be "
                    "numbers or inclusive ranges START:STOP:STEP.")
    p.add_argument("--eta", type=float, required=True,
                   help="Lifshitz parameter (mu - E_L)/dE of the normal state, dimensionless")
    p.add_argument("--g", type=float, required=True, help="coupling g of the resonant subband")
    temps = p.add_mutually_exclusive_group(required=True)
    temps.add_argument("--T", nargs="+", help="temperature(s), K")
    temps.add_argument("--T-over-tc", nargs="+", help="temperature(s) as fractions of Tc")
    p.add_argument("--omega0", type=float, default=d["omega0"],
                   help="pairing cut-off before softening, meV [%(default)s]")
    _add_structure_options(p)
    m = _add_model_options(p)
    m.add_argument("--fixed-mu", action="store_true",
                   help="keep mu = E_L + eta dE instead of solving the density equation")
    p.add_argument("--json", action="store_true", help="one JSON document (a list) on stdout")
    p.set_defaults(func=_cmd_gaps, show=_print_gaps)
