"""Write tests/data/gaps_reference.json: the reference gap solver (tests/reference_gaps.py) on
points spread over the paper's grid, a wide-band structure and T/Tc up to 0.99.

    python tests/make_gaps_reference.py        (about two minutes on one core)

Deterministic: the points are fixed below and the reference has no randomness, so re-running it
reproduces the file (tests/test_gaps_fast.py::test_fixture_reproducible checks a few points).
"""
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import reference_gaps  # noqa: E402
from solver import prepare_structure  # noqa: E402

FIXTURE = Path(__file__).parent / "data" / "gaps_reference.json"
T_OVER_TC = [0.0, 0.5, 0.9, 0.99]
PAPER = {}
WIDE = dict(L=7.0, W=6.0, V=3000.0)
WIDE_OMEGA0 = 200.0


def cases() -> list[dict]:
    """The points: 28 over the paper grid (eta in [-0.5, 3], g in [0.1, 0.49], a Latin-square
    spread plus the deep antiresonance eta = -0.3, g = 0.3) and 6 on the wide-band structure."""
    out = []
    n = 27
    for i in range(n):
        eta = -0.5 + 3.5 * ((7 * i) % n) / (n - 1)
        g = 0.1 + 0.39 * i / (n - 1)
        out.append(dict(structure=PAPER, eta=round(eta, 4), g=round(g, 4), omega0=230.0))
    out.append(dict(structure=PAPER, eta=-0.3, g=0.3, omega0=230.0))
    for eta, g in [(-0.2, 0.4), (0.4, 0.15), (1.0, 0.3), (1.5, 0.45), (2.2, 0.25), (2.8, 0.35)]:
        out.append(dict(structure=WIDE, eta=eta, g=g, omega0=WIDE_OMEGA0))
    return out


def _list(a):
    return np.where(np.isnan(a), None, a).tolist() if np.ndim(a) else (
        None if math.isnan(a) else float(a))


def run_case(case: dict, structures: dict) -> dict:
    key = tuple(sorted(case["structure"].items()))
    st = structures.get(key)
    if st is None:
        st = structures[key] = prepare_structure(**case["structure"])
    rec = dict(case)
    try:
        r = reference_gaps.gaps_on_structure(st, eta=case["eta"], g=case["g"],
                                             omega0=case["omega0"], T_over_tc=T_OVER_TC)
    except ValueError as err:  # Tc below the floor: no T_over_tc
        rec["skipped"] = str(err)
        return rec
    rec.update(T_over_tc=T_OVER_TC, tc_K=r.tc_K, delta_nodes=_list(r.delta_nodes),
               delta_fermi=_list(r.delta_fermi), delta_crossing=_list(r.delta_crossing),
               delta_avg=_list(r.delta_avg), mu_shift_meV=_list(r.mu_shift_meV),
               density=_list(r.density), density_target=_list(r.density_target))
    return rec


def main() -> None:
    structures = {}
    records = []
    for case in cases():
        records.append(run_case(case, structures))
        print(case["eta"], case["g"], records[-1].get("tc_K"), flush=True)
    FIXTURE.write_text(json.dumps({"T_over_tc": T_OVER_TC, "cases": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
