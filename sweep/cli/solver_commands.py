"""``fanodome bands | tc | gaps``: the solver at given parameters, no store.

Each ``_cmd_x`` returns a JSON-able result (printed by its ``show``); ValueError exits 2. Only
the solver is imported, and only by the command that runs, so that no other command pays for
numba.
"""
from __future__ import annotations

import argparse

from solver.parameters import PARAMETERS, STATUS_OK

from ..grid import parse_values
from .options import (add_model_options, add_parameter_option, add_structure_options, fmt,
                      json_number, model_kwargs, structure_kwargs)


def _cmd_bands(a: argparse.Namespace) -> dict:
    from solver import band_structure

    bs = band_structure(**structure_kwargs(a))
    return {
        "bands": [{"n": n + 1, "E_min_meV": float(lo), "E_max_meV": float(hi)}
                  for n, (lo, hi) in enumerate(zip(bs.E_min, bs.E_max))],
        "E_L_meV": float(bs.E_L),
        "dE_meV": float(bs.dE),
    }


def _print_bands(doc: dict) -> None:
    print(f"{'n':>3} {'E_min (meV)':>14} {'E_max (meV)':>14} {'width (meV)':>12}")
    for b in doc["bands"]:
        print(f"{b['n']:>3} {b['E_min_meV']:14.4f} {b['E_max_meV']:14.4f} "
              f"{b['E_max_meV'] - b['E_min_meV']:12.4f}")
    print(f"E_L = {doc['E_L_meV']:.4f} meV, dE = {doc['dE_meV']:.4f} meV")


def _cmd_tc(a: argparse.Namespace) -> list[dict]:
    from solver import tc_grid

    eta = parse_values(a.eta, name="--eta")
    g = parse_values(a.g, name="--g")
    omega0 = parse_values(a.omega0, name="--omega0")
    res = tc_grid(eta=eta, g=g, omega0=omega0, **model_kwargs(a), **structure_kwargs(a))
    records = []
    for i, w in enumerate(omega0):
        for j, gg in enumerate(g):
            for k, e in enumerate(eta):
                ok = res.status[i, j, k] == STATUS_OK
                records.append({
                    "L": a.L, "W": a.W, "V": a.V, "omega0": float(w),
                    "eta": float(e), "g": float(gg),
                    "tc_K": float(res.tc_K[i, j, k]) if ok else None,
                    "status": res.status_name(int(res.status[i, j, k])),
                })
    return records


def _print_tc(records: list[dict]) -> None:
    print(f"{'omega0 (meV)':>12} {'g':>8} {'eta':>8} {'Tc (K)':>14}  status")
    for r in records:
        tc = f"{r['tc_K']:14.6g}" if r["tc_K"] is not None else f"{'-':>14}"
        print(f"{r['omega0']:12g} {r['g']:8g} {r['eta']:8g} {tc}  {r['status']}")


def _cmd_gaps(a: argparse.Namespace) -> list[dict]:
    from solver import prepare_structure
    from solver.gaps import gaps_on_structure

    temps = parse_values(a.T if a.T is not None else a.T_over_tc,
                         name="--T" if a.T is not None else "--T-over-tc")
    st = prepare_structure(**structure_kwargs(a))
    r = gaps_on_structure(st, eta=a.eta, g=a.g, omega0=a.omega0, **model_kwargs(a),
                          fixed_mu=a.fixed_mu,
                          **({"T": temps} if a.T is not None else {"T_over_tc": temps}))
    records = []
    for i, t in enumerate(r.T_K):
        records.append({
            "L": a.L, "W": a.W, "V": a.V, "omega0": a.omega0, "eta": a.eta, "g": a.g,
            "T_K": float(t), "tc_K": json_number(r.tc_K), "mu_meV": float(r.mu_meV[i]),
            "mu_shift_meV": float(r.mu_shift_meV[i]),
            "condensation_meV_per_A2": float(r.condensation_energy[i]),
            "subbands": [{
                "n": n + 1,
                "delta_meV": json_number(r.delta_fermi[i, n]),
                "delta_crossing_meV": json_number(r.delta_crossing[i, n]),
                "delta_avg_meV": float(r.delta_avg[i, n]),
                "density_per_A2": float(r.density[i, n]),
                "ratio_2delta_kTc": json_number(r.ratio_2delta_kTc[i, n]),
            } for n in range(r.delta_fermi.shape[1])],
        })
    return records


def _print_gaps(records: list[dict]) -> None:
    r0 = records[0]
    print(f"eta = {r0['eta']:g}, g = {r0['g']:g}, omega0 = {r0['omega0']:g} meV: "
          f"Tc = {fmt(r0['tc_K'], '.6g')} K")
    print(f"{'T (K)':>10} {'mu shift (meV)':>15} {'n':>3} {'Delta_FS (meV)':>15} "
          f"{'Delta_avg (meV)':>16} {'2Delta/kTc':>11} {'n_n (1/Å^2)':>13}")
    for r in records:
        for k, s in enumerate(r["subbands"]):
            head = (f"{r['T_K']:10.4g} {r['mu_shift_meV']:15.6g}" if k == 0 else " " * 26)
            print(f"{head} {s['n']:>3} {fmt(s['delta_meV'], '15.6g')} "
                  f"{s['delta_avg_meV']:16.6g} {fmt(s['ratio_2delta_kTc'], '11.5g')} "
                  f"{s['density_per_A2']:13.6g}")


def add_commands(sub) -> None:
    """Add ``bands`` and ``tc`` to the ``fanodome`` sub-parsers ``sub``."""
    b = sub.add_parser("bands", help="subband edges, Lifshitz energy E_L and width dE",
                       description="Kronig-Penney subbands of the superlattice: exact edges "
                                   "(root finding), E_L (bottom of the resonant subband) and "
                                   "dE (its transverse width).")
    add_structure_options(b)
    b.add_argument("--json", action="store_true", help="one JSON document on stdout")
    b.set_defaults(func=_cmd_bands, show=_print_bands)

    t = sub.add_parser("tc", help="critical temperature over a grid of (eta, g, omega0)",
                       description="Tc of the linearised multigap gap equation. Each value may "
                                   "be a number or an inclusive range START:STOP:STEP.")
    t.add_argument("--eta", nargs="+", required=True,
                   help="Lifshitz parameter (mu - E_L)/dE, dimensionless")
    t.add_argument("--g", nargs="+", required=True, help="coupling g of the resonant subband")
    add_parameter_option(t, "omega0", nargs="+", type=str,
                         default=[str(PARAMETERS["omega0"].default)])
    add_structure_options(t)
    add_model_options(t)
    t.add_argument("--json", action="store_true", help="one JSON document (a list) on stdout")
    t.set_defaults(func=_cmd_tc, show=_print_tc)


def add_gaps_command(sub) -> None:
    """Add ``gaps`` to the ``fanodome`` sub-parsers ``sub`` (listed last by ``--help``)."""
    p = sub.add_parser(
        "gaps", help="the gaps Delta_n below Tc at one (eta, g), with the density equation",
        description="Solve the non-linear multigap gap equation below Tc with mu fixed by the "
                    "density of the normal state at the same eta and T (docs/model.md §5). "
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
    add_parameter_option(p, "omega0")
    add_structure_options(p)
    m = add_model_options(p)
    m.add_argument("--fixed-mu", action="store_true",
                   help="keep mu = E_L + eta dE instead of solving the density equation")
    p.add_argument("--json", action="store_true", help="one JSON document (a list) on stdout")
    p.set_defaults(func=_cmd_gaps, show=_print_gaps)
