"""``fanodome bands | tc | gaps``: the solver at given parameters, no store.

Each ``_cmd_x`` returns a JSON-able result (printed by its ``show``); ValueError exits 2. Only
the solver is imported, and only by the command that runs, so that no other command pays for
numba.
"""
from __future__ import annotations

import argparse
import itertools
import math

from solver.parameters import PARAMETERS, STATUS_NAMES, STATUS_OK, STRUCTURE

from ..config import check_fraction_of_tc
from ..flags import OUTSIDE_MODEL
from ..grid import parse_values
from .options import (add_model_options, add_parameter_option, add_structure_options,
                      announce_compile, fmt,
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


BANDS_DIGITS = ".7g"
"""How ``fanodome bands`` writes an energy: 7 significant digits, so that a band edge of
thousands of meV keeps its 1e-3 meV and a width of 1e-8 meV (a wide well, --L 1e4) is not
written as zero."""


def _print_bands(doc: dict) -> None:
    print(f"{'n':>3} {'E_min (meV)':>14} {'E_max (meV)':>14} {'width (meV)':>12}")
    for b in doc["bands"]:
        print(f"{b['n']:>3} {b['E_min_meV']:14{BANDS_DIGITS}} "
              f"{b['E_max_meV']:14{BANDS_DIGITS}} "
              f"{b['E_max_meV'] - b['E_min_meV']:12{BANDS_DIGITS}}")
    print(f"E_L = {doc['E_L_meV']:{BANDS_DIGITS}} meV, dE = {doc['dE_meV']:{BANDS_DIGITS}} meV")


TC_MAX_POINTS = 100_000
"""Most points ``fanodome tc`` computes (structures x omega0 x g x eta): it runs in one
process, on one core, and prints when all are done (25560 points of 9 structures took 8.0 s,
1065 of 15 structures 2.4 s, on the 2-core development machine, 2026-12), so 10^5 points are
about half a minute; a larger grid is a sweep (``fanodome run``: progress, a store, resume)."""

_STRUCTURE_NUMBERS = tuple(n for n in STRUCTURE if PARAMETERS[n].kind is not bool)
"""The structure's parameters that ``fanodome tc`` takes as lists and ranges."""


def _structure_values(a: argparse.Namespace) -> dict[str, list]:
    """Each numeric structure parameter's values as given (numbers and ranges), integers
    where the parameter is one."""
    out = {}
    for name in _STRUCTURE_NUMBERS:
        flag = "--" + name.replace("_", "-")
        values = [float(v) for v in parse_values(getattr(a, name), name=flag)]
        if PARAMETERS[name].kind is int:
            if any(not v.is_integer() for v in values):
                raise ValueError(f"{flag}: values must be integers, got "
                                 f"{', '.join(format(v, 'g') for v in values)}")
            values = [int(v) for v in values]
        out[name] = values
    return out


def _cmd_tc(a: argparse.Namespace) -> list[dict]:
    from solver import tc_grid

    eta = parse_values(a.eta, name="--eta")
    g = parse_values(a.g, name="--g")
    omega0 = parse_values(a.omega0, name="--omega0")
    structures = _structure_values(a)
    n_structures = math.prod(len(v) for v in structures.values())
    n = n_structures * eta.size * g.size * omega0.size
    if n > TC_MAX_POINTS:
        raise ValueError(f"{n} points ({n_structures} structure{'s' * (n_structures > 1)} x "
                         f"{omega0.size} omega0 x "
                         f"{g.size} g x {eta.size} eta) is more than fanodome tc computes in "
                         f"one process ({TC_MAX_POINTS}); sweep them with fanodome run")
    announce_compile(a, job="tc")
    records = []
    for values in itertools.product(*structures.values()):
        structure = dict(zip(structures, values))
        res = tc_grid(eta=eta, g=g, omega0=omega0, **model_kwargs(a), **structure,
                      ben_daniel_duke=a.ben_daniel_duke)
        for i, w in enumerate(omega0):
            for j, gg in enumerate(g):
                up = float(res.eta_up[i, j])
                for k, e in enumerate(eta):
                    ok = res.status[i, j, k] == STATUS_OK
                    records.append({
                        **structure, "omega0": float(w), "eta": float(e), "g": float(gg),
                        "tc_K": float(res.tc_K[i, j, k]) if ok else None,
                        "status": res.status_name(int(res.status[i, j, k])),
                        "eta_up": up if math.isfinite(up) else None,
                        "outside_model": bool(e > up),
                    })
    return records


def _print_tc(records: list[dict]) -> None:
    varied = [n for n in _STRUCTURE_NUMBERS if len({r[n] for r in records}) > 1]
    units = {n: PARAMETERS[n].unit for n in varied}
    heads = [f"{n} ({units[n]})" if units[n] != "1" else n for n in varied]
    width = {n: max(8, len(h)) for n, h in zip(varied, heads)}
    lead = "".join(f"{h:>{width[n]}} " for n, h in zip(varied, heads))
    print(f"{lead}{'omega0 (meV)':>12} {'g':>8} {'eta':>8} {'Tc (K)':>14}  status")
    for r in records:
        tc = f"{r['tc_K']:14.6g}" if r["tc_K"] is not None else f"{'-':>14}"
        cols = "".join(f"{r[n]:>{width[n]}g} " for n in varied)
        print(f"{cols}{r['omega0']:12g} {r['g']:8g} {r['eta']:8g} {tc}  {r['status']:11}"
              f"{_outside_note(r)}".rstrip())


def _outside_note(record: dict) -> str:
    """The text of a point whose eta lies above eta_up (its ``outside_model``), else ''."""
    if not record["outside_model"]:
        return ""
    return f"  {OUTSIDE_MODEL} (eta_up = {record['eta_up']:.6g})"


GAPS_MAX_TEMPERATURES = 1000
"""Most temperatures ``fanodome gaps`` solves: one non-linear gap solve each, in this process
(11.5 ms at the median of the paper's points, 23 ms at the worst, docs/performance.md; 0.1 s
with --nbands 6: 100 temperatures took 13.8 s and one 3.8 s on the 2-core development machine,
2026-12), so 1000 take seconds to about two minutes."""


def _cmd_gaps(a: argparse.Namespace) -> list[dict]:
    flag = "--T" if a.T is not None else "--T-over-tc"
    temps = parse_values(a.T if a.T is not None else a.T_over_tc, name=flag)
    if temps.size > GAPS_MAX_TEMPERATURES:
        raise ValueError(f"{flag}: {temps.size} temperatures, more than fanodome gaps solves "
                         f"in one process ({GAPS_MAX_TEMPERATURES}, one non-linear solve "
                         f"each); give fewer or a coarser step")
    if a.T_over_tc is not None:  # what [outputs] gap_T_over_tc refuses
        for t in temps:
            check_fraction_of_tc(float(t), name=flag)

    from solver import prepare_structure
    from solver.gaps import gaps_on_structure
    from solver.relations import eta_up

    announce_compile(a, job="gaps")
    st = prepare_structure(**structure_kwargs(a))
    r = gaps_on_structure(st, eta=a.eta, g=a.g, omega0=a.omega0, **model_kwargs(a),
                          fixed_mu=a.fixed_mu,
                          **({"T": temps} if a.T is not None else {"T_over_tc": temps}))
    up = eta_up(E_L=st.E_L, dE=st.dE, E_left_out=st.E_left_out, omega0=a.omega0, g=a.g,
                softening=model_kwargs(a)["softening"])
    tc = json_number(r.tc_K)  # None where Tc is below the floor
    records = []
    for i, t in enumerate(r.T_K):
        records.append({
            "L": a.L, "W": a.W, "V": a.V, "omega0": a.omega0, "eta": a.eta, "g": a.g,
            "eta_up": json_number(up), "outside_model": bool(a.eta > up),
            "T_K": float(t), "tc_K": tc, "above_tc": None if tc is None else bool(t > tc),
            "tc_status": STATUS_NAMES[int(r.tc_status)], "mu_meV": float(r.mu_meV[i]),
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
    tc = (f"Tc = {r0['tc_K']:.6g} K" if r0["tc_K"] is not None else
          f"Tc: none ({r0['tc_status']})")
    print(f"eta = {r0['eta']:g}, g = {r0['g']:g}, omega0 = {r0['omega0']:g} meV: {tc}"
          f"{_outside_note(r0)}")
    print(f"{'T (K)':>10} {'mu shift (meV)':>15} {'n':>3} {'Delta_FS (meV)':>15} "
          f"{'Delta_avg (meV)':>16} {'2Delta/kTc':>11} {'n_n (1/Å^2)':>13}")
    for r in records:
        for k, s in enumerate(r["subbands"]):
            head = (f"{r['T_K']:10.4g} {r['mu_shift_meV']:15.6g}" if k == 0 else " " * 26)
            print(f"{head} {s['n']:>3} {fmt(s['delta_meV'], '15.6g')} "
                  f"{s['delta_avg_meV']:16.6g} {fmt(s['ratio_2delta_kTc'], '11.5g')} "
                  f"{s['density_per_A2']:13.6g}")
    above = sorted(r["T_K"] for r in records if r["above_tc"])
    if above:
        which = (f"T = {above[0]:g} K is" if len(above) == 1 else
                 f"{len(above)} temperatures ({above[0]:g} K to {above[-1]:g} K) are")
        print(f"{which} above Tc = {r0['tc_K']:.6g} K: the normal state, the gaps are zero")


def add_commands(sub) -> None:
    """Add ``bands`` and ``tc`` to the ``fanodome`` sub-parsers ``sub``."""
    b = sub.add_parser("bands", help="subband edges, Lifshitz energy E_L and width dE",
                       description="Kronig-Penney subbands of the superlattice: exact edges "
                                   "(root finding), E_L (bottom of the resonant subband) and "
                                   "dE (its transverse width).")
    add_structure_options(b)
    b.add_argument("--json", action="store_true", help="one JSON document on stdout")
    b.set_defaults(func=_cmd_bands, show=_print_bands)

    t = sub.add_parser("tc", help="critical temperature over a grid of (eta, g, omega0) and "
                                  "structures",
                       description="Tc of the linearised multigap gap equation. Each number "
                                   "may be a list or an inclusive range START:STOP:STEP "
                                   "(--L 8:10:1 --W 5 6; a repeat adds: --L 8 --L 9), also "
                                   "of the structure; at most "
                                   f"{TC_MAX_POINTS} points, computed in this process. "
                                   "A point above eta_up, where mu + omega~ reaches the "
                                   "bottom of the first subband the model leaves out, is "
                                   "computed and marked outside the model (JSON: "
                                   "outside_model, eta_up).")
    t.add_argument("--eta", nargs="+", action="extend", required=True,
                   help="Lifshitz parameter (mu - E_L)/dE, dimensionless")
    t.add_argument("--g", nargs="+", action="extend", required=True,
                   help="coupling g of the resonant subband")
    add_parameter_option(t, "omega0", many=True)
    add_structure_options(t, many=True)
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
                    "numbers or inclusive ranges START:STOP:STEP, at most "
                    f"{GAPS_MAX_TEMPERATURES}.")
    p.add_argument("--eta", type=float, required=True,
                   help="Lifshitz parameter (mu - E_L)/dE of the normal state, dimensionless")
    p.add_argument("--g", type=float, required=True, help="coupling g of the resonant subband")
    temps = p.add_mutually_exclusive_group(required=True)
    temps.add_argument("--T", nargs="+", action="extend", help="temperature(s), K")
    temps.add_argument("--T-over-tc", nargs="+", action="extend",
                       help="temperature(s) as fractions of Tc")
    add_parameter_option(p, "omega0")
    add_structure_options(p)
    m = add_model_options(p)
    m.add_argument("--fixed-mu", action="store_true",
                   help="keep mu = E_L + eta dE instead of solving the density equation")
    p.add_argument("--json", action="store_true", help="one JSON document (a list) on stdout")
    p.set_defaults(func=_cmd_gaps, show=_print_gaps)
