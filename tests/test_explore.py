"""fanodome explore: the learner, the polish and the store on closed-form objectives with a known
maximum, then the real solver against SciPy, a killed explore resumed, two explores on one
store, bad [explore] tables. Real stores on disk; the solver and a real local cluster where it
matters."""
from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from sweep_support import cf_problems, cli, cli_background, kill_group, wait_for, write_toml

from sweep import flags
from sweep import store as store_mod
from sweep.config import parse_config
from sweep.execution.runner import InProcessExecutor
from sweep.explore import SampleOutcome, Value, explore
from sweep.explore import polish as polish_mod
from sweep.store import explored

# --------------------------------------------------------------- closed-form objectives


def interior(L, W):  # a smooth top at (9.1234, 6.3456), 310 K
    return 310.0 - 5.0 * (L - 9.1234) ** 2 - 3.0 * (W - 6.3456) ** 2 - 2.0 * (L - 9.1234) * (
        W - 6.3456), 0


def edge(L, W):  # rising towards W = 10 at every L, top at L = 8.3217 on that edge
    return 300.0 + 2.0 * W - (L - 8.3217) ** 2, 0


def kink(L, W):  # the maximum of two branches: a kink line through the top (9.2137, 7.5123)
    a = 320.0 - 30.0 * (L - 9.2137) - 0.5 * (W - 7.5123) ** 2
    b = 320.0 + 12.0 * (L - 9.2137) - 0.5 * (W - 7.5123) ** 2
    return min(a, b), (0 if a < b else 2)  # the lower branch holds: a ridge along the kink


TOPS = {interior: ((9.1234, 6.3456), 310.0), edge: ((8.3217, 10.0), 320.0),
        kink: ((9.2137, 7.5123), 320.0)}

BOX_TOML = """
[grid]
g = 0.3333333333333333
eta = { start = -0.5, stop = 3.0, step = 0.25 }
[explore]
axes = { L = [7.0, 11.0], W = [3.0, 10.0] }
budget = %(budget)d
polish_points = %(polish)d
"""


class ClosedForm:
    """A sample task's function: the closed-form objective at the task's point (picklable)."""

    def __init__(self, f):
        self.f = f
        self.points: list[tuple[float, ...]] = []

    def __call__(self, task) -> SampleOutcome:
        self.points.append(task.point)
        tc, branch = self.f(*task.point)
        return SampleOutcome(task.index, task.point, task.polish,
                             Value(tc, 1.0, 0, 1, 3000.0, 20.0, branch), 0.0)


def _config(budget=30, polish=200, **extra):
    doc = tomllib.loads(BOX_TOML % {"budget": budget, "polish": polish})
    doc["explore"].update(extra)
    return parse_config(doc)


@pytest.mark.parametrize("f", [interior, edge, kink], ids=lambda f: f.__name__)
def test_polished_best_is_the_known_maximum_and_the_budget_is_honoured(f, tmp_path):
    store = str(tmp_path / "x.zarr")
    compute = ClosedForm(f)
    cfg = _config()
    r = explore(cfg, store=store, executor=InProcessExecutor(), compute=compute)
    (L0, W0), top = TOPS[f]
    assert r.samples == cfg.explore.budget and 0 < r.polish <= cfg.explore.polish_points
    assert r.computed == r.samples + r.polish == len(compute.points)
    assert len(set(compute.points)) == len(compute.points)  # no point computed twice
    b = r.best
    assert r.polish_converged and b["polish"]
    # to the polish's tolerance: 1e-3 in each axis, 1e-6 relative in Tc
    assert abs(b["L"] - L0) <= polish_mod.XTOL and abs(b["W"] - W0) <= polish_mod.XTOL
    assert 0 <= top - b["tc_K"] <= polish_mod.RTOL * top
    assert b["at_edge"] == (["W"] if f is edge else [])
    ds = store_mod.open_dataset(store).load()
    assert b["tc_K"] == float(ds["tc_max"].max())  # at least as high as every sample
    assert json.loads(ds.attrs[explored.ATTR_EXPLORE_BEST])["tc_K"] == b["tc_K"]


def test_the_store_is_cf_and_written_as_samples_finish(tmp_path):
    store = str(tmp_path / "x.zarr")
    rows_seen = []

    class Watching(ClosedForm):
        def __call__(self, task):
            status = np.asarray(explored.read_samples(store)[explored.VAR_SAMPLE_STATUS])
            rows_seen.append(int(np.count_nonzero(status)))
            return super().__call__(task)

    r = explore(_config(budget=12, polish=5), store=store, executor=InProcessExecutor(),
                compute=Watching(interior))
    # each sample is in the store before any sample submitted after it finished runs (the
    # executor runs a task at submission, two in flight)
    assert all(seen >= k - 1 for k, seen in enumerate(rows_seen)) and rows_seen[-1] > 10
    ds = store_mod.open_dataset(store)  # consolidated: opens as a sweep store opens
    assert ds.sizes["sample"] == 12 + 5
    for name in ("tc_max", "eta_max", "E_L", "dE", "evaluations", "branch",
                 explored.VAR_SAMPLE_STATUS, "L", "W"):
        assert ds[name].attrs["units"] and ds[name].attrs["long_name"], name
    assert ds["tc_max"].attrs["units"] == "K" and ds["L"].attrs["units"] == "Å"
    assert ds[explored.VAR_SAMPLE_STATUS].attrs["flag_meanings"].split() == list(
        flags.SAMPLE_FLAGS)
    assert ds["branch"].attrs["flag_meanings"].split() == list(flags.BRANCHES)
    settings = json.loads(ds.attrs[explored.ATTR_EXPLORE_SETTINGS])
    assert settings["learner"].startswith("Learner2D") and "kink" in settings["loss"]
    assert ds.attrs["fanodome_version"] and ds.attrs["created"] and ds.attrs["config_toml"]
    assert not store_mod.is_sweep(ds.attrs)  # the sweep commands refuse it
    status = ds[explored.VAR_SAMPLE_STATUS].values.astype(int)
    assert (flags.has(status, flags.SAMPLE_DONE)).sum() == r.samples + r.polish
    assert (flags.has(status, flags.SAMPLE_POLISH)).sum() == r.polish


def test_loss_goal_stops_before_the_budget_and_a_second_call_computes_nothing(tmp_path):
    store = str(tmp_path / "x.zarr")
    cfg = _config(budget=200, polish=10, loss_goal=1e-2)
    first = explore(cfg, store=store, executor=InProcessExecutor(), compute=ClosedForm(edge))
    assert 4 < first.samples < 200
    again = explore(cfg, store=store, resume=True, compute=ClosedForm(edge))
    assert again.computed == 0 and again.nothing_to_do  # no cluster was started
    assert again.best == {**first.best, "polish_converged": again.best["polish_converged"]}


def test_one_axis_and_four_axes(tmp_path):
    one = parse_config(tomllib.loads("""
[grid]
g = 0.3333333333333333
W = 6.0
[explore]
axes = { L = [7.0, 11.0] }
budget = 20
polish_points = 40
"""))
    r = explore(one, store=str(tmp_path / "one.zarr"), executor=InProcessExecutor(),
                compute=ClosedForm(lambda L: interior(L, 6.3456)))
    assert abs(r.best["L"] - 9.1234) <= polish_mod.XTOL and r.best["W"] == 6.0
    four = parse_config(tomllib.loads("""
[explore]
axes = { L = [8.0, 10.0], W = [5.0, 7.0], g = [0.2, 0.45], eta = [0.5, 1.5] }
budget = 30
polish_points = 10
"""))

    def f(L, W, g, eta):
        return 300.0 - (L - 9) ** 2 - (W - 6) ** 2 - 100 * (g - 0.4) ** 2 - (eta - 1) ** 2, 0

    r = explore(four, store=str(tmp_path / "four.zarr"), executor=InProcessExecutor(),
                compute=ClosedForm(f))
    assert r.samples == 30 and r.polish <= 10 and r.best["tc_K"] > 299.0
    ds = explored.read_samples(str(tmp_path / "four.zarr"))
    assert ds["tc_max"].attrs["long_name"].startswith("critical temperature at the point")


# ------------------------------------------------------- no point computed twice, one axis

ONE_AXIS_TOML = """
[grid]
g = 0.3333333333333333
W = 6.0
[explore]
axes = { L = [7.0, 11.0] }
budget = %(budget)d
polish_points = %(polish)d
"""


def _one_axis(budget, polish):
    return parse_config(tomllib.loads(ONE_AXIS_TOML % {"budget": budget, "polish": polish}))


def one_axis_top(L):  # a smooth top at L = 9.1234, between the learner's first samples
    return interior(L, 6.3456)


def _done_points(store) -> list[tuple[float, ...]]:
    ds = explored.read_samples(store)
    status = ds[explored.VAR_SAMPLE_STATUS].values.astype(int)
    return [(float(ds["L"].values[i]),) for i in np.flatnonzero(
        flags.has(status, flags.SAMPLE_DONE))]


@pytest.mark.parametrize("budget, polish", [(4, 3), (8, 20), (20, 40)])
def test_the_polish_reuses_the_learners_samples_and_computes_no_point_twice(budget, polish,
                                                                             tmp_path):
    """The polish's simplex starts on the learner's sample spacing, so on one axis it lands
    on the learner's samples: it reads them from the store, free, and computes only new
    points."""
    store = str(tmp_path / "one.zarr")
    compute = ClosedForm(one_axis_top)
    r = explore(_one_axis(budget, polish), store=store, executor=InProcessExecutor(),
                compute=compute)
    assert r.samples == budget and 0 < r.polish <= polish
    assert len(set(compute.points)) == len(compute.points) == r.computed
    done = _done_points(store)
    assert len(done) == r.samples + r.polish and len(set(done)) == len(done)


class FailingPolish(ClosedForm):
    """The closed form, failing at the polish's ``fail_at``-th new point (every try)."""

    def __init__(self, f, fail_at):
        super().__init__(f)
        self.fail_at, self.polish_points = fail_at, []

    def __call__(self, task):
        if task.polish and task.point not in self.polish_points:
            self.polish_points.append(task.point)
        if task.polish and self.polish_points.index(task.point) == self.fail_at - 1:
            raise RuntimeError("a point that fails")
        return super().__call__(task)


def test_a_resumed_polish_reuses_every_stored_sample(tmp_path):
    store = str(tmp_path / "one.zarr")
    cfg = _one_axis(8, 40)  # converges in 30 polish points uninterrupted
    first = explore(cfg, store=store, executor=InProcessExecutor(),
                    compute=FailingPolish(one_axis_top, fail_at=3))
    assert first.failed == 1 and first.polish_stopped == "failed" and first.polish == 3
    before = set(_done_points(store))
    compute = ClosedForm(one_axis_top)
    again = explore(cfg, store=store, resume=True, executor=InProcessExecutor(),
                    compute=compute)
    # the failed point is tried again; no point done before is computed again
    assert not before & set(compute.points) and len(set(compute.points)) == len(compute.points)
    assert again.polish_stopped == "converged" and again.computed == len(compute.points) > 1
    done = _done_points(store)  # the failed point computed again into its own row
    assert len(set(done)) == len(done) == again.samples + again.polish
    assert again.failed == 0 and again.complete
    assert abs(again.best["L"] - 9.1234) <= polish_mod.XTOL


class FailingSample(ClosedForm):
    """The closed form, failing at the learner's ``fail_at``-th sample (every try)."""

    def __init__(self, f, fail_at):
        super().__init__(f)
        self.fail_at, self.learner_points = fail_at, []

    def __call__(self, task):
        if not task.polish and task.point not in self.learner_points:
            self.learner_points.append(task.point)
        if not task.polish and self.learner_points.index(task.point) == self.fail_at - 1:
            raise RuntimeError("a sample that fails")
        return super().__call__(task)


def test_a_resumed_explore_computes_its_failed_samples_again_into_their_rows(tmp_path):
    store = str(tmp_path / "one.zarr")
    cfg = _one_axis(8, 0)
    failing = FailingSample(one_axis_top, fail_at=3)
    first = explore(cfg, store=store, executor=InProcessExecutor(), compute=failing)
    assert first.failed == 1 and not first.complete and first.samples == 8
    lost = failing.learner_points[2]
    compute = ClosedForm(one_axis_top)
    again = explore(cfg, store=store, resume=True, executor=InProcessExecutor(),
                    compute=compute)
    assert compute.points == [lost]  # that sample alone, and once
    assert again.failed == 0 and again.complete and again.samples == 8
    ds = explored.read_samples(store)
    status = ds[explored.VAR_SAMPLE_STATUS].values.astype(int)
    assert np.count_nonzero(status) == 8 and flags.has(status, flags.SAMPLE_DONE)[
        np.flatnonzero(status)].all()
    assert explored.explore_attrs(store_mod.read_attrs(store))["failures"] == []


# ------------------------------------------------------------ below the floor, the edge


class BelowFloor(ClosedForm):
    """Tc below the temperature floor everywhere: 0 K, flagged, as the objective gives it."""

    def __init__(self):
        super().__init__(lambda *x: (0.0, 0))

    def __call__(self, task):
        self.points.append(task.point)
        return SampleOutcome(task.index, task.point, task.polish,
                             Value(0.0, task.point[0], flags.SAMPLE_BELOW_FLOOR, 1, 3000.0,
                                   142.0), 0.0)


ZERO_TOML = """
[explore]
axes = { eta = [-100.0, -90.0], g = [0.1, 0.2] }
budget = 8
polish_points = 10
"""


def test_a_best_below_the_floor_is_an_upper_bound_and_not_polished(tmp_path, capsys):
    from sweep.cli.explore_commands import _print_explore, _warning, explore_document
    store = str(tmp_path / "z.zarr")
    cfg = parse_config(tomllib.loads(ZERO_TOML))
    compute = BelowFloor()
    r = explore(cfg, store=store, executor=InProcessExecutor(), compute=compute)
    assert r.samples == 8 and r.polish == 0 and len(compute.points) == 8  # nothing polished
    assert r.polish_stopped == "below_floor" and r.polish_converged is None
    assert r.best["tc_upper_bound_K"] == cfg.model["t_floor"] and "below_floor" in r.best["flags"]
    _print_explore(explore_document(r))
    out = capsys.readouterr().out
    assert "Tc < 1e-06 K (below the temperature floor: an upper bound) at eta = " in out
    assert "Tc = 0 K" not in out and "nothing to polish" in out
    warning = _warning(r.best)
    assert "below the temperature floor (1e-06 K) at every sample: nothing to polish" in warning
    assert "grow" not in warning and "edge" not in warning
    again = explore(cfg, store=store, resume=True, compute=BelowFloor())
    assert again.nothing_to_do and again.polish_stopped == "below_floor"
    assert explore_document(again)["polish_stopped"] == "below_floor"


def test_the_edge_warning_says_only_that_tc_may_be_higher_beyond_the_edge(tmp_path):
    from sweep.cli.explore_commands import _warning
    r = explore(_config(budget=1, polish=0), store=str(tmp_path / "e.zarr"),
                executor=InProcessExecutor(), compute=ClosedForm(edge))
    assert r.samples == 1 and r.best["at_edge"]  # one sample, on a corner of the box
    warning = _warning(r.best)
    assert warning.startswith("the best lies on the edge of the box at L = ")
    assert "may be higher beyond it" in warning and "grow" not in warning


# --------------------------------------------------------------- boxes too narrow to explore

@pytest.mark.parametrize("axes, name", [("{ L = [7.0, 7.000000000000004] }", "L"),
                                        ("{ eta = [0.0, 5e-324] }", "eta"),
                                        ("{ L = [7.0, 11.0], g = [0.3, 0.3009] }", "g")])
def test_a_box_narrower_than_the_polish_tolerance_is_refused(axes, name, tmp_path, capsys):
    from sweep.cli import main
    from sweep.config import ConfigError
    cfg = write_toml(tmp_path / "narrow.toml", f"[grid]\ng = 0.3\neta = [0.0, 1.0]\n[explore]\n"
                                               f"axes = {axes}\nbudget = 40\n")
    store = tmp_path / "narrow.zarr"
    assert main(["explore", str(cfg), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: explore.axes.{name}: " in err, err
    assert f"at least {polish_mod.XTOL:g}" in err and not store.exists()
    with pytest.raises(ConfigError, match=f"explore.axes.{name}"):  # sweep.explore's callers too
        parse_config(tomllib.loads(cfg.read_text()))


def test_a_box_as_narrow_as_the_polish_tolerance_is_explored_without_a_point_twice(tmp_path):
    compute = ClosedForm(lambda L: one_axis_top(L + 2.0))
    doc = tomllib.loads(ONE_AXIS_TOML % {"budget": 200, "polish": 20})
    doc["explore"]["axes"] = {"L": [7.0, 7.0 + polish_mod.XTOL]}
    r = explore(parse_config(doc), store=str(tmp_path / "n.zarr"),
                executor=InProcessExecutor(), compute=compute)
    assert r.samples == 200 and len(set(compute.points)) == len(compute.points) == r.computed


def test_the_learner_is_asked_only_for_new_points_and_says_when_it_has_none():
    from sweep.explore import learners
    # a box resolved to floating-point precision (refused by explore): 6 floats in it, all
    # within the rounding tolerance of each other, so one point
    learner = learners.make_learner([(7.0, 7.000000000000004)])
    placed: set[tuple[float, ...]] = set()
    while (point := learners.ask_new(learner, placed=placed)) is not None:
        assert point not in placed and len(placed) < 10
        placed.add(point)
        learner.tell(point[0], (point[0] - 7.0, 0.0))
    assert len(placed) == 1 and all(7.0 <= p[0] <= 7.000000000000004 for p in placed)


# ------------------------------------------- no point computed twice, to rounding

def _twins(points) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
    """The pairs of points within the rounding tolerance of each other in every axis (all
    pairs compared: the obvious reference of polish.KnownPoints)."""
    P = np.array(points, dtype=float)
    close = np.all(np.abs(P[:, None, :] - P[None, :, :]) <= polish_mod.SAME_POINT, axis=-1)
    i, j = np.nonzero(np.triu(close, k=1))
    return [(tuple(P[a]), tuple(P[b])) for a, b in zip(i, j)]


@pytest.mark.parametrize("box, budget, polish, f", [("e2", 30, 60, "bent_kink"),
                                                    ("e2", 30, 200, "edge"),
                                                    ("L", 1, 60, "one_axis_top"),
                                                    ("L", 20, 40, "one_axis_top")])
def test_no_two_computed_points_differ_by_rounding_alone(box, budget, polish, f, tmp_path):
    """Nelder-Mead reaches a point it has been at, or a learner's sample, by other arithmetic,
    a few ulps away (8.999999999999998 for the sample at 9.0): that point is the sample, read,
    not computed again, and the best is a row of the store as it was computed. On the e2 box
    (L 7-11, W 3-10 Å) and on L alone."""
    store = str(tmp_path / "x.zarr")
    compute = ClosedForm(globals()[f])
    cfg = _config(budget=budget, polish=polish) if box == "e2" else _one_axis(budget, polish)
    r = explore(cfg, store=store, executor=InProcessExecutor(), compute=compute)
    assert r.polish > 0 and r.computed == len(compute.points)
    assert _twins(compute.points) == []
    ds = explored.read_samples(store)
    status = ds[explored.VAR_SAMPLE_STATUS].values.astype(int)
    rows = np.flatnonzero(flags.has(status, flags.SAMPLE_DONE))
    points = [tuple(float(ds[a].values[i]) for a in r.axes) for i in rows]
    assert _twins(points) == [] and len(points) == r.samples + r.polish
    best = tuple(r.best[a] for a in r.axes)
    assert best == points[list(rows).index(r.best["sample"])] and best in compute.points


def test_the_polish_takes_a_point_a_few_ulps_from_a_known_one_for_that_one():
    """Known points moved by a few ulps off the polish's path are its path still: it computes
    nothing new, and its best is one of them exactly."""
    def run(known):
        computed = []

        def evaluate(p):
            computed.append(p)
            return one_axis_top(*p)[0]
        x0 = (9.0,)
        res = polish_mod.polish(evaluate, x0, tc0=one_axis_top(9.0)[0], bounds=[(7.0, 11.0)],
                                steps=[0.5], max_points=200, known=known)
        return res, computed

    first, path = run({})
    assert first.converged and len(path) > 5 and _twins(path) == []
    moved = {(p[0] + (-1) ** k * 3 * float(np.spacing(p[0])),): one_axis_top(*p)[0]
             for k, p in enumerate(path)}  # 3 ulps off, either way
    assert not set(moved) & set(path)  # no point of the path is known exactly
    again, computed = run(moved)
    assert computed == [] and again.reused >= len(path) and again.x in moved
    assert again.tc == moved[again.x] and again.converged


def test_known_points_are_found_within_the_rounding_tolerance_and_no_further():
    tol = polish_mod.SAME_POINT
    known = polish_mod.KnownPoints({(9.0, 10.0): 1.0, (0.0, -3.0): 2.0})
    assert known.find((8.999999999999998, 10.0)) == (9.0, 10.0)
    assert known[(9.0 + 0.9 * tol, 10.0 - 0.9 * tol)] == 1.0
    assert (9.0 + 2 * tol, 10.0) not in known and (9.0, 10.0 + 2 * tol) not in known
    assert known.find((-1e-17, -3.0)) == (0.0, -3.0)  # across zero, where ulps vanish
    assert known.add((5e-324, -3.0), 3.0) == (0.0, -3.0) and len(known) == 2
    # every point within tol found, wherever it falls on the cells of the index
    rng = np.random.default_rng(1)
    for x in rng.uniform(-10.0, 10.0, 200):
        one = polish_mod.KnownPoints([(float(x),)])
        for d in rng.uniform(-tol, tol, 5):
            assert (float(x + d),) in one
        assert (float(x + 1.01 * tol),) not in one and (float(x - 1.01 * tol),) not in one


def test_the_learner_is_never_given_a_point_a_few_ulps_from_a_placed_one():
    from sweep.explore import learners
    placed = {(7.000000000000002,), (10.999999999999998,)}  # its bounds, as rounding moves them
    for kind in (set, polish_mod.KnownPoints):
        learner = learners.make_learner([(7.0, 11.0)])  # it asks for its bounds first
        point = learners.ask_new(learner, placed=kind(placed))
        assert point is not None and 7.1 < point[0] < 10.9


# ------------------------------------------------------------------ the text of eta alone

def test_an_eta_only_explore_names_the_grid_structure(tmp_path, capsys):
    from sweep.cli.explore_commands import _print_explore, explore_document
    doc = tomllib.loads(ONE_AXIS_TOML % {"budget": 6, "polish": 4})
    doc["explore"]["axes"] = {"eta": [0.5, 1.5]}
    r = explore(parse_config(doc), store=str(tmp_path / "eta.zarr"),
                executor=InProcessExecutor(), compute=ClosedForm(lambda eta: (300 - eta, 0)))
    _print_explore(explore_document(r))
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == ("structure (from [grid]; only eta explored): L = 8.5 Å, W = 6 Å, "
                        "V = 4160 meV, omega0 = 230 meV, g = 0.333333")
    assert lines[2].startswith("  Tc = 299.5 K at eta = ")


def test_plot_explore_maps_and_refuses_what_it_cannot_draw(tmp_path, capsys):
    from sweep.cli import main
    store = str(tmp_path / "x.zarr")
    explore(_config(budget=25, polish=10), store=store, executor=InProcessExecutor(),
            compute=ClosedForm(kink))
    png = tmp_path / "map.png"
    assert main(["plot", store, "--kind", "explore", "-o", str(png), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert png.stat().st_size > 10_000 and doc["best"]["tc_K"] > 319.0
    from sweep.analysis.plots import explore_figure
    fig = explore_figure(store_mod.open_dataset(store))
    ax, bar = fig.axes
    texts = [ax.get_title(), bar.get_ylabel()]
    assert all(r"$T_c$ over $\eta$" in t and " eta" not in t for t in texts), texts
    assert not any(line.get_clip_on() for line in ax.get_lines())  # whole on the box's edges
    assert main(["dome", store]) == 2  # an explore store is no sweep
    assert "--kind explore" in capsys.readouterr().err


class OutsideAbove(ClosedForm):
    """:class:`ClosedForm` whose samples with L above ``L_up`` are flagged outside the model."""

    def __init__(self, f, *, L_up: float):
        super().__init__(f)
        self.L_up = L_up

    def __call__(self, task) -> SampleOutcome:
        out = super().__call__(task)
        if task.point[0] <= self.L_up:
            return out
        v = out.value
        return SampleOutcome(out.index, out.point, out.polish,
                             Value(v.tc, v.eta, v.flags | flags.SAMPLE_OUTSIDE_MODEL,
                                   v.evaluations, v.E_L, v.dE, v.branch), out.seconds)


def test_the_explore_map_marks_the_samples_outside_the_model(tmp_path):
    from sweep.analysis.plots import OUTSIDE_LABEL, explore_figure
    store = str(tmp_path / "x.zarr")
    explore(_config(budget=12, polish=0), store=store, executor=InProcessExecutor(),
            compute=OutsideAbove(interior, L_up=9.0))
    ds = store_mod.open_dataset(store)
    status = ds[explored.VAR_SAMPLE_STATUS].values.astype(np.int64)
    outside = flags.has(status, flags.SAMPLE_OUTSIDE_MODEL)
    assert outside.any() and not outside.all()
    ax = explore_figure(ds).axes[0]
    (marks,) = [ln for ln in ax.get_lines() if ln.get_label() == OUTSIDE_LABEL]
    np.testing.assert_array_equal(np.sort(marks.get_xdata()), np.sort(ds["L"].values[outside]))


def test_an_explore_store_exports_to_cf_clean_netcdf_and_csv(tmp_path, capsys):
    """One row per sample, units in every CSV header; the netCDF passes the IOOS
    compliance-checker at CF-1.8 with no error and no warning; a file that exists is kept."""
    import csv

    import xarray as xr

    from sweep.cli import main
    store = str(tmp_path / "x.zarr")
    explore(_config(budget=12, polish=200), store=store, executor=InProcessExecutor(),
            compute=ClosedForm(interior))
    ds = explored.read_samples(store)
    rows = int(np.count_nonzero(ds[explored.VAR_SAMPLE_STATUS].values))  # rows with a sample
    assert rows < ds.sizes[explored.SAMPLE_DIM]  # the polish converged: rows left unused
    nc, table = tmp_path / "x.nc", tmp_path / "x.csv"
    assert main(["export", store, "--netcdf", str(nc), "--csv", str(table), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == rows
    with table.open() as f:
        header, *body = list(csv.reader(f))
    assert len(body) == rows and {"L [Å]", "W [Å]", "tc_max [K]", "sample_status [1]"} <= set(
        header)
    back = xr.open_dataset(nc, engine="h5netcdf")
    assert back["sample_status"].attrs["flag_masks"].dtype == back["sample_status"].dtype
    np.testing.assert_array_equal(back["tc_max"].values, ds["tc_max"].values)
    np.testing.assert_array_equal(back["L"].values, ds["L"].values)
    assert cf_problems(nc) == {"high_priorities": [], "medium_priorities": []}
    before = nc.read_bytes()
    assert main(["export", store, "--netcdf", str(nc)]) == 2 and nc.read_bytes() == before
    assert "--overwrite" in capsys.readouterr().err


def test_the_kink_learner_maps_a_kinked_ridge_better_than_the_default_learner():
    """Serial (deterministic) runs on a closed-form map whose maximum changes branch along a
    curve, a steep ramp meeting a gentle slope as the real objective's do: the learner that
    knows the branch misses the map by half as much at the same number of samples."""
    import adaptive
    from adaptive.learner.learner2D import default_loss
    from scipy.interpolate import LinearNDInterpolator

    from sweep.explore.learners import make_learner

    def f(x, y):
        c = 0.3 + 0.4 * x * x
        steep, gentle = 200 + 150 * (y - c), 200 + 20 * (y - c)
        return min(steep, gentle) - 30 * (x - 0.4) ** 2, (0 if steep < gentle else 2)

    grid = np.array([(x, y) for x in np.linspace(0, 1, 41) for y in np.linspace(0, 1, 41)])
    truth = np.array([f(*p)[0] for p in grid])
    default = adaptive.Learner2D(None, [(0, 1), (0, 1)], loss_per_triangle=lambda ip:
                                 default_loss(LinearNDInterpolator(ip.tri, ip.values[:, 0])))
    default.stack_size = 1
    errors = {}
    for name, learner in (("default", default), ("kink", make_learner([(0, 1), (0, 1)]))):
        while learner.npoints < 120:
            (p,), _ = learner.ask(1)
            learner.tell(p, f(*p))
        ip = LinearNDInterpolator(np.array(list(learner.data)),
                                  np.array([v[0] for v in learner.data.values()]))
        errors[name] = np.abs(ip(grid) - truth)
    assert errors["kink"].max() < 0.6 * errors["default"].max()
    assert np.percentile(errors["kink"], 90) <= 1.05 * np.percentile(errors["default"], 90)


def bent_kink(L, W):
    """Two curved branches whose maximum changes along a curve from (11, 3.7) to (7.1, 9.9) Å,
    with the real objective's scales: about 110 K at (7, 3) Å, 320 K at (9.2, 10) Å, a slope
    that jumps by 30 K/Å across the kink."""
    u = W - (3.7 + 1.2 * (11.0 - L) + 0.1 * (11.0 - L) ** 2)
    narrow = 320.0 - 6.0 * (L - 9.2) ** 2 - 5.0 * (10.0 - W) ** 2
    gain = -30.0 * u - 3.0 * u * u  # the wide subbands' branch above the narrow one's (u < 0)
    return narrow + max(gain, 0.0), (0 if gain > 0 else 2)


def test_the_map_meets_the_map_goal_on_a_kinked_closed_form_where_linear_misses_it(tmp_path):
    """150 samples of a kinked, curved closed form placed by the explore's learner (serial,
    deterministic), the map between them against the closed form itself on a 0.05 Å grid:
    within the goal for the map, at most 5 K anywhere and 1 K at the 90th percentile, which
    linear interpolation of the same samples misses. The map of a store interpolates its
    learner's samples, not the polish's points."""
    from scipy.interpolate import LinearNDInterpolator

    from sweep.analysis.maps import explore_map, map_samples, smooth_map
    from sweep.explore.learners import make_learner

    learner = make_learner([(7.0, 11.0), (3.0, 10.0)])
    while learner.npoints < 150:
        (p,), _ = learner.ask(1)
        learner.tell(p, bent_kink(*p))
    points = np.array(list(learner.data))
    values = np.array([v[0] for v in learner.data.values()])
    nodes = np.array([(L, W) for L in np.linspace(7, 11, 81) for W in np.linspace(3, 10, 141)])
    truth = np.array([bent_kink(*p)[0] for p in nodes])
    error = np.abs(smooth_map(points, values, nodes) - truth)
    linear = np.abs(LinearNDInterpolator(points, values)(nodes) - truth)
    assert error.max() <= 5.0 and np.percentile(error, 90) <= 1.0
    assert linear.max() > 5.0 and np.percentile(linear, 90) > 1.0

    store = str(tmp_path / "x.zarr")
    explore(_config(budget=30, polish=10), store=store, executor=InProcessExecutor(),
            compute=ClosedForm(bent_kink))
    ds = explored.read_samples(store)
    status = ds[explored.VAR_SAMPLE_STATUS].values.astype(int)
    assert flags.has(status, flags.SAMPLE_POLISH).any()
    points, values = map_samples(ds)
    assert len(values) == 30
    np.testing.assert_allclose(explore_map(ds, points), values, rtol=1e-12)



def test_an_explore_through_a_symlink_works_on_the_store_it_points_to(tmp_path):
    # replaced and locked where the link points, as a sweep is: an explore through the link
    # and one on the target exclude each other, and --overwrite keeps the link a link
    real, link = tmp_path / "real.zarr", tmp_path / "link.zarr"
    explore(_config(budget=8, polish=3), store=str(real), executor=InProcessExecutor(),
            compute=ClosedForm(interior))
    link.symlink_to(real)
    with store_mod.StoreLock(str(real)), pytest.raises(store_mod.LockedError):
        explore(_config(budget=8, polish=3), store=str(link), executor=InProcessExecutor(),
                compute=ClosedForm(edge), overwrite=True)
    r = explore(_config(budget=8, polish=3), store=str(link), executor=InProcessExecutor(),
                compute=ClosedForm(edge), overwrite=True)
    assert link.is_symlink() and r.store == os.path.realpath(real)
    assert r.best["W"] > 9.0  # the edge objective's samples, in the target
    assert explored.read_samples(str(real))[explored.VAR_SAMPLE_STATUS].size > 0
    assert not Path(str(link) + ".lock").exists() and not Path(str(real) + ".lock").exists()

# ---------------------------------------------------------------------- bad [explore]

@pytest.mark.parametrize("table, key", [
    ("axes = { L = [7.0, 11.0] }", "explore.budget"),
    ("budget = 10", "explore.axes"),
    ("axes = { Q = [1.0, 2.0] }\nbudget = 10", "explore.axes.Q"),
    ("axes = { L = [11.0, 7.0] }\nbudget = 10", "explore.axes.L"),
    ("axes = { L = [7.0] }\nbudget = 10", "explore.axes.L"),
    ("axes = { g = [0.1, 0.6] }\nbudget = 10", "explore.axes.g"),
    ("axes = { L = [7.0, 11.0] }\nbudget = 0", "explore.budget"),
    ("axes = { L = [7.0, 11.0] }\nbudget = 10\nloss_goal = -1.0", "explore.loss_goal"),
    ("axes = { L = [7.0, 11.0] }\nbudget = 10\npolish = 3", "explore.polish"),
    ("axes = { L = [7.0, 11.0], W = [1.0, 2.0], V = [1.0, 2.0], omega0 = [100.0, 200.0],"
     " g = [0.1, 0.2] }\nbudget = 10", "explore.axes"),
])
def test_bad_explore_tables_give_one_line_and_exit_2(table, key, tmp_path, capsys):
    from sweep.cli import main
    cfg = write_toml(tmp_path / "bad.toml", f"[grid]\ng = 0.3\n[explore]\n{table}\n")
    store = tmp_path / "bad.zarr"
    assert main(["explore", str(cfg), "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {key}" in err, err
    assert not store.exists()


def test_config_without_explore_and_an_axis_with_many_values(tmp_path, capsys):
    from sweep.cli import main
    cfg = write_toml(tmp_path / "plain.toml", "[grid]\ng = 0.3\n")
    assert main(["explore", str(cfg), "--store", str(tmp_path / "s.zarr")]) == 2
    assert "no [explore] table" in capsys.readouterr().err
    cfg = write_toml(tmp_path / "many.toml", "[explore]\naxes = { L = [7.0, 9.0] }\nbudget = 5\n")
    assert main(["explore", str(cfg), "--store", str(tmp_path / "s.zarr")]) == 2
    assert "grid.g: 40 values" in capsys.readouterr().err


def test_a_stall_timeout_that_is_not_positive_is_refused(tmp_path, capsys):
    from sweep.cli import main
    cfg = write_toml(tmp_path / "e.toml", "[grid]\ng = 0.3\n[explore]\naxes = { L = [7.0, 9.0] }\n"
                                          "budget = 5\n")
    store = tmp_path / "s.zarr"
    assert main(["explore", str(cfg), "--store", str(store), "--stall-timeout", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stall-timeout must be positive" in err, err
    assert not store.exists()


# ------------------------------------------------------------------------- the solver

SOLVER_TOML = """
[grid]
g = 0.3333333333333333
eta = { start = -0.5, stop = 3.0, step = 0.25 }
[explore]
axes = { L = [8.9, 9.4], W = [9.0, 10.0] }
budget = 10
polish_points = 40
"""


@pytest.mark.slow
@pytest.mark.ci
def test_on_the_solver_the_best_is_a_bounded_scipy_optimisation(tmp_path):
    """(L, W) at g = 1/3 on a small box: the explore's best is at least as high as every
    sample and equal, to 1e-5, to SciPy's bounded Nelder-Mead on the same objective."""
    import solver
    from scipy.optimize import minimize

    from sweep.config import RefineSettings
    from sweep.explore.objective import objective

    cfg = parse_config(tomllib.loads(SOLVER_TOML))
    store = str(tmp_path / "s.zarr")
    r = explore(cfg, store=store, executor=InProcessExecutor())
    ds = store_mod.open_dataset(store).load()
    assert r.best["tc_K"] >= float(ds["tc_max"].max()) and r.samples == 10
    model, eta = dict(cfg.model), cfg.axes["eta"]

    def F(x):
        st = solver.prepare_structure(L=float(x[0]), W=float(x[1]))
        return -objective(st, g=1 / 3, omega0=230.0, model=model, settings=RefineSettings(),
                          eta_grid=eta).tc

    ref = minimize(F, [9.15, 9.5], method="Nelder-Mead", bounds=[(8.9, 9.4), (9.0, 10.0)],
                   options={"xatol": 1e-4, "fatol": 1e-7})
    assert r.best["tc_K"] == pytest.approx(-ref.fun, rel=1e-5)
    assert abs(r.best["L"] - ref.x[0]) <= 0.05 and r.best["W"] == pytest.approx(ref.x[1], abs=1e-3)
    assert r.best["at_edge"] == ["W"] and r.best["eta"] > 3.0  # followed past the eta axis


KILL_TOML = """
[grid]
g = 0.3333333333333333
eta = { start = -0.5, stop = 3.0, step = 0.25 }
[explore]
axes = { L = [8.5, 9.5], W = [7.0, 10.0] }
budget = 60
polish_points = 6
"""


@pytest.mark.slow
@pytest.mark.ci
def test_killed_explore_resumes_without_recomputing_and_a_second_is_refused(tmp_path):
    cfg = write_toml(tmp_path / "k.toml", KILL_TOML)
    store = tmp_path / "k.zarr"
    args = ["explore", str(cfg), "--store", str(store), "--workers", "2"]
    # one worker: slow enough to be killed mid-run (about 10 s of samples) on an idle machine
    proc = cli_background(*args[:-1], "1", log=tmp_path / "first.log")

    def done_rows():
        if not (store / "zarr.json").exists():
            return 0
        try:
            status = explored.read_samples(str(store))[explored.VAR_SAMPLE_STATUS].values
        except (ValueError, KeyError, OSError):
            return 0  # being laid out
        return int(np.count_nonzero(flags.has(status.astype(int), flags.SAMPLE_DONE)))

    try:
        wait_for(lambda: done_rows() >= 3, timeout=300, what="three samples")
        second = cli(*args, "--resume", timeout=120)  # while the first holds the store
        assert second.returncode == 2, second.stderr
        assert "another run holds the store" in second.stderr
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert proc.poll() is None, "the first explore finished before it could be killed"
    finally:
        kill_group(proc)  # SIGKILL of the process group, workers included
    before = explored.read_samples(str(store))
    status = before[explored.VAR_SAMPLE_STATUS].values.astype(int)
    kept = np.flatnonzero(flags.has(status, flags.SAMPLE_DONE))
    assert 3 <= kept.size < 60
    resumed = cli(*args, "--resume", "--json", timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    doc = json.loads(resumed.stdout)
    assert {"best", "samples", "polish", "computed", "evaluations"} <= set(doc)
    assert set(doc["best"]) >= {"L", "W", "V", "omega0", "g", "eta", "tc_K", "at_edge"}
    after = explored.read_samples(str(store))
    # what the killed run stored is untouched, and nothing was computed twice
    for name in ("L", "W", "tc_max", "eta_max", explored.VAR_SAMPLE_STATUS):
        np.testing.assert_array_equal(after[name].values[kept], before[name].values[kept])
    n = int(np.count_nonzero(after[explored.VAR_SAMPLE_STATUS].values))
    assert doc["computed"] == n - kept.size and doc["samples"] == 60
    assert doc["samples"] + doc["polish"] == n
    points = {(float(a), float(b)) for a, b in zip(after["L"].values[:n], after["W"].values[:n])}
    assert len(points) == n
    assert not Path(f"{store}.lock").exists()
    again = cli(*args, "--resume", "--json", timeout=120)
    assert again.returncode == 0 and json.loads(again.stdout)["computed"] == 0


@pytest.mark.slow
def test_on_the_solver_tc_below_the_floor_everywhere_is_printed_as_a_bound(tmp_path):
    cfg = write_toml(tmp_path / "zero.toml", ZERO_TOML)
    store = tmp_path / "z.zarr"
    out = cli("explore", str(cfg), "--store", str(store), "--workers", "1", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "  Tc < 1e-06 K (below the temperature floor: an upper bound) at eta = -" in out.stdout
    assert "polish not run: the best is below the temperature floor, nothing to polish" in (
        out.stdout)
    warnings = [line for line in out.stderr.splitlines() if "warning" in line]
    assert warnings == ["fanodome explore: warning: Tc is below the temperature floor (1e-06 K) "
                        "at every sample: nothing to polish; move or widen the box"]
    status = explored.read_samples(str(store))[explored.VAR_SAMPLE_STATUS].values.astype(int)
    assert flags.has(status, flags.SAMPLE_BELOW_FLOOR).sum() == 8  # every sample, flagged
    assert not flags.has(status, flags.SAMPLE_POLISH).any()


def test_explore_help():
    out = cli("explore", "--help")
    assert out.returncode == 0 and "--resume" in out.stdout and "[explore]" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("L, W", [(7.0, 3.0), (9.0, 8.5), (11.0, 10.0)])
def test_a_coarse_eta_axis_finds_the_same_maximum(L, W):
    """The objective started on eta step 0.25 or the paper's 0.05: the same maximum over eta
    (a wide subband's van Hove peak, one followed past eta = 3, one at eta ~ 38), with fewer
    solver evaluations."""
    import solver

    from sweep.config import RefineSettings
    from sweep.explore.objective import objective
    from sweep.grid import inclusive_range
    model = {k: solver.PARAMETERS[k].default for k in solver.parameters.MODEL}
    values = [objective(solver.prepare_structure(L=L, W=W), g=1 / 3, omega0=230.0, model=model,
                        settings=RefineSettings(), eta_grid=inclusive_range(-0.5, 3.0, step))
              for step in (0.05, 0.25)]
    fine, coarse = values
    assert coarse.tc == pytest.approx(fine.tc, rel=1e-9) and coarse.branch == fine.branch
    assert abs(coarse.eta - fine.eta) <= 1e-4 * max(1.0, fine.eta)
    assert coarse.evaluations < 0.5 * fine.evaluations


def test_the_same_explore_twice_computes_once_and_another_is_refused(tmp_path):
    store = str(tmp_path / "twice.zarr")
    first = explore(_one_axis(6, 4), store=store, executor=InProcessExecutor(),
                    compute=ClosedForm(one_axis_top))
    compute = ClosedForm(one_axis_top)
    again = explore(_one_axis(6, 4), store=store, executor=InProcessExecutor(),
                    compute=compute)  # neither --resume nor --overwrite
    assert compute.points == [] and again.resumed and again.best == first.best
    with pytest.raises(store_mod.StoreError, match="holds another explore .* explore.budget"):
        explore(_one_axis(7, 4), store=store, executor=InProcessExecutor(), compute=compute)
    assert compute.points == []


def test_status_counts_an_explore_stores_samples(tmp_path, capsys):
    from sweep.cli import main
    store = str(tmp_path / "st.zarr")
    explore(_one_axis(6, 0), store=store, executor=InProcessExecutor(),
            compute=FailingSample(one_axis_top, fail_at=2))
    assert main(["status", store, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["samples"] == {"done": 5, "failed": 1, "of": 6}
    assert doc["polish"] == {"done": 0, "failed": 0, "of": 0}
    assert doc["finished"]["learner"] == "budget" and len(doc["failures"]) == 1
    assert main(["status", store]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"explore store {store}: 5 of 6 samples done, 1 failed;")
    assert "best as the last explore on it ended: Tc = " in out and "L = " in out
    assert "failed sample " in out and "a sample that fails" in out
    assert re.search(r"failed sample \d+ at L = [\d.]+ Å after \d+ tries", out), out


def test_status_says_when_the_best_is_on_the_edge_or_below_the_floor(tmp_path, capsys):
    from sweep.cli import main
    from sweep.cli.explore_commands import _warning
    store = str(tmp_path / "edge.zarr")  # Tc rising with L: the best on the box's L = 11 Å
    explore(_one_axis(4, 0), store=store, executor=InProcessExecutor(),
            compute=ClosedForm(lambda L: (200.0 + L, 0)))
    assert main(["status", store]) == 0
    assert "(on the edge of the box at L = 11 Å: Tc may be higher beyond it)" in \
        capsys.readouterr().out
    # Tc falling with V: the best on V = 0, which is no edge (V cannot go below 0), but V = 10
    # meV is one
    for lo, edge, limit in ((0.0, [], ["V"]), (10.0, ["V"], [])):
        doc = tomllib.loads(ONE_AXIS_TOML % {"budget": 4, "polish": 0})
        doc["explore"]["axes"] = {"V": [lo, 50.0]}
        at = str(tmp_path / f"v{lo:g}.zarr")
        r = explore(parse_config(doc), store=at, executor=InProcessExecutor(),
                    compute=ClosedForm(lambda V: (300.0 - V, 0)))
        assert (r.best["V"], r.best["at_edge"], r.best["at_limit"]) == (lo, edge, limit)
        said = _warning(r.best)
        assert ("the parameter's own limit" in said) == bool(limit), said
        assert ("widen the box" in said) == bool(edge), said
    assert main(["status", str(tmp_path / "v0.zarr")]) == 0
    assert "(at V = 0 meV, the parameter's own limit)" in capsys.readouterr().out
    zero = str(tmp_path / "zero.zarr")
    explore(parse_config(tomllib.loads(ZERO_TOML)), store=zero, executor=InProcessExecutor(),
            compute=BelowFloor())
    assert main(["status", zero]) == 0
    assert "Tc < 1e-06 K (below the temperature floor)" in capsys.readouterr().out
