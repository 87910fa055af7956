"""The project's layout: no import cycles, rooms whose imports run one way, a front door whose
names resolve, and one set of defaults everywhere.

The defaults of the model are written once, in :data:`solver.parameters.PARAMETERS`; the public
solver functions, the command line and the paper's sweep config must agree with that table.
"""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("solver", "sweep")


# ------------------------------------------------------------------------------ import graph

def _modules() -> dict[str, Path]:
    """Every module of the project's packages by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:`` (never executed at run time)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every Import/ImportFrom, inside functions and classes too, except under TYPE_CHECKING."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that module ``name`` imports, by dotted name.

    ``import a.b`` and ``from a.b import c`` depend on ``a.b`` (and on ``a.b.c`` when that is a
    module); ``from a import b`` on ``a.b`` when it is a module, else on the package ``a`` itself.
    Parent packages, which Python initialises first, are not counted: a package's ``__init__``
    importing its submodules is not a cycle, a submodule importing names from its package's
    ``__init__`` (``from solver import X`` inside solver/) is.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    deps = set()
    for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            deps.update(a.name for a in node.names if a.name in modules)
            continue
        if node.level:
            base = package.split(".")
            if node.level > 1:
                base = base[:-(node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
        deps.update(subs)
        if len(subs) < len(node.names) and target in modules:
            deps.add(target)  # names defined in the module (or package __init__) itself
    deps.discard(name)
    return deps


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the DFS stack, 2: done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_import_rules(tmp_path):
    # what counts: a package __init__ importing its submodules and siblings importing each other
    # is fine; a submodule importing from its own package's __init__ that imports it back is not
    (tmp_path / "p").mkdir()
    files = {"p/__init__.py": "from .a import f\n", "p/a.py": "from . import b\n",
             "p/b.py": "def g():\n    from p.a import f\n",
             "p/c.py": "import p.b\nfrom p import f\n"}
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    mods = {"p": tmp_path / "p/__init__.py", "p.a": tmp_path / "p/a.py",
            "p.b": tmp_path / "p/b.py", "p.c": tmp_path / "p/c.py"}
    graph = {n: _imports(n, path, mods) for n, path in mods.items()}
    assert graph == {"p": {"p.a"}, "p.a": {"p.b"}, "p.b": {"p.a"}, "p.c": {"p.b", "p"}}
    assert _find_cycle(graph) == ["p.a", "p.b", "p.a"]  # the function-level import counts
    assert _find_cycle({"p": {"p.a"}, "p.a": {"p.b"}, "p.b": set(), "p.c": {"p"}}) is None
    assert _find_cycle({"p": {"p.a"}, "p.a": {"p"}}) == ["p", "p.a", "p"]


def test_no_import_cycle():
    modules = _modules()
    assert "solver" in modules and "sweep" in modules
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert any(graph.values()), "no intra-project import found: the parser is broken"
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# ------------------------------------------------------------------------------ the rooms

ROOMS = {
    "solver": 0,
    "sweep.base": 1,  # sweep.grid, sweep.flags, sweep.addresses: facts, no I/O
    "sweep.config": 2,
    "sweep.store": 3, "sweep.execution": 3,
    "sweep.worker": 4, "sweep.analysis": 4,
    "sweep.refine": 5,
    "sweep.run": 6, "sweep.explore": 6,
    "sweep": 7, "sweep.cli": 7,  # the front door (lazy, no static import) and the command line
}
"""Each room and its floor: a module imports only from its own room and from lower floors, so
the imports run one way (the store never knows the cluster, the runner never the solver)."""

TOP_LEVEL_MAX = 6
"""Modules directly in sweep/ (``__init__.py`` included): the rest lives in rooms."""

ONLY_IN = {"zarr": {"sweep.store"},
           "distributed": {"sweep.execution", "sweep.worker", "sweep.run", "sweep.cli"},
           "matplotlib": {"sweep.analysis"}}
"""Libraries that only some rooms may import: zarr is the store's (xarray's backends rule),
Dask's scheduler the rooms that run work (and the command line, which sets its logging),
matplotlib the figures'."""


def room(module: str) -> str:
    """The room of a project module (``sweep.store.points`` -> ``sweep.store``)."""
    parts = module.split(".")
    if parts[0] == "solver":
        return "solver"
    if module == "sweep":
        return "sweep"
    if len(parts) == 2 and (ROOT / "sweep" / f"{parts[1]}.py").is_file():
        return "sweep.config" if parts[1] == "config" else "sweep.base"
    return ".".join(parts[:2])


def test_every_module_has_a_room():
    for name in _modules():
        assert room(name) in ROOMS, f"{name} is in no room of tests/test_layout.py ROOMS"


def test_imports_run_one_way():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for dep in _imports(name, path, modules):
            here, there = room(name), room(dep)
            if here != there and ROOMS[there] >= ROOMS[here]:
                wrong.append(f"{name} ({here}, floor {ROOMS[here]}) imports {dep} ({there}, "
                             f"floor {ROOMS[there]})")
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(wrong)


def test_one_way_rule_can_fail(tmp_path):
    # the rule as the test applies it: a store module importing the runner is refused
    assert ROOMS[room("sweep.execution.runner")] >= ROOMS[room("sweep.store.points")]
    assert ROOMS[room("sweep.store.points")] < ROOMS[room("sweep.run.service")]
    assert room("sweep.grid") == "sweep.base" and room("sweep.config") == "sweep.config"


def test_libraries_stay_in_their_rooms():
    wrong = []
    for name, path in _modules().items():
        for node in _import_nodes(ast.parse(path.read_text(), filename=str(path))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if not node.level else [])
            for mod in mods:
                lib = mod.split(".")[0]
                if lib in ONLY_IN and room(name) not in ONLY_IN[lib]:
                    wrong.append(f"{name} imports {mod}")
    assert not wrong, "\n".join(wrong)


def test_top_level_of_sweep_stays_small():
    top = sorted(p.name for p in (ROOT / "sweep").glob("*.py"))
    assert len(top) <= TOP_LEVEL_MAX, top


def test_the_front_door_names_resolve_with_a_one_line_docstring():
    import sweep

    for name in ("load_config", "paper_config", "run_sweep", "refine_store", "open_dataset",
                 "dome", "dome_top", "fano_fit"):
        assert name in sweep.__all__, name
    for name in sweep.__all__:
        obj = getattr(sweep, name)
        doc = (obj.__doc__ or "").strip()
        assert doc, f"sweep.{name} has no docstring"
        assert doc.splitlines()[0].strip(), f"sweep.{name}: empty first line"
    with pytest.raises(AttributeError):
        sweep.no_such_name  # noqa: B018


def test_import_sweep_loads_no_heavy_library():
    code = ("import sys, sweep, sweep.cli; heavy = [m for m in ('xarray', 'zarr', 'distributed',"
            " 'matplotlib', 'numba', 'scipy', 'dask') if m in sys.modules]; print(heavy)")
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


# ------------------------------------------------------------------------ one set of defaults

PUBLIC = ("band_structure", "prepare_structure", "tc_grid", "tc_on_structure", "tc_point",
          "gaps_on_structure", "gaps_point")


def _same(value, default) -> bool:
    """value equals the table's default, booleans staying booleans."""
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default) and value == default
    return value == default


@pytest.mark.parametrize("name", PUBLIC)
def test_public_function_defaults_are_the_table(name, monkeypatch):
    import solver
    from solver.parameters import PARAMETERS

    fn = getattr(solver, name)
    sig = inspect.signature(fn)
    checked = []
    for p in sig.parameters.values():
        if p.name not in PARAMETERS or p.default is inspect.Parameter.empty:
            continue  # not a model parameter, or one without a default (eta, g)
        want = PARAMETERS[p.name].default
        assert _same(p.default, want), f"{name}({p.name}={p.default!r}): the table says {want!r}"
        checked.append(p.name)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        # tc_point(eta, g, **kwargs) has no defaults of its own: it must hand every keyword to
        # tc_grid (whose defaults are checked above), and add none of its own
        seen = {}

        class Stop(Exception):
            pass

        def fake(**kw):
            seen.update(kw)
            raise Stop

        assert "tc_grid" in fn.__globals__, f"{name} no longer forwards to tc_grid: update me"
        monkeypatch.setitem(fn.__globals__, "tc_grid", fake)
        with pytest.raises(Stop):
            fn(eta=1.0, g=0.25, L=7.25, t_floor=1e-3)
        assert seen["L"] == 7.25 and seen["t_floor"] == 1e-3
        assert set(seen) - {"eta", "g"} == {"L", "t_floor"}, f"{name} adds keywords: {seen}"
        checked.append("**kwargs")
    assert checked, f"{name}: no parameter of the table checked"


def _cli_value(ns, name: str):
    """The parsed default of table parameter ``name``; a one-element list (nargs) unwrapped and
    strings parsed as the table's kind."""
    from solver.parameters import PARAMETERS

    kind = PARAMETERS[name].kind
    if hasattr(ns, name):
        value = getattr(ns, name)
    elif kind is bool and hasattr(ns, "no_" + name):
        value = not getattr(ns, "no_" + name)
    else:
        raise AssertionError(f"no option for {name}")
    if isinstance(value, list):
        assert len(value) == 1, f"{name}: default {value!r}"
        value = value[0]
    if isinstance(value, str) and kind is not bool:
        value = kind(value)
    return value


@pytest.mark.parametrize("argv", [["tc", "--eta", "1", "--g", "0.25"], ["bands"]])
def test_cli_defaults_are_the_table(argv):
    from solver.parameters import MODEL, PARAMETERS, STRUCTURE
    from sweep.cli import build_parser

    ns = build_parser().parse_args(argv)
    names = STRUCTURE + (MODEL + ("omega0",) if argv[0] == "tc" else ())
    for name in names:
        want = PARAMETERS[name].default
        got = _cli_value(ns, name)
        assert _same(got, want), f"fanodome {argv[0]}: {name} = {got!r}, the table says {want!r}"


def test_paper_config_is_the_table():
    from solver.parameters import PARAMETERS
    from sweep.config import paper_config

    cfg = paper_config()
    assert cfg.model, "the paper config has no model options"
    for name, value in cfg.model.items():
        assert name in PARAMETERS, f"[model] {name} is not in the parameter table"
        want = PARAMETERS[name].default
        assert _same(value, want), f"[model] {name} = {value!r}, the table says {want!r}"
    for name in ("L", "W", "V", "omega0"):  # the paper's grid has one structure and cut-off
        assert [float(v) for v in cfg.axes[name]] == [PARAMETERS[name].default], name


def test_refine_settings_are_written_once():
    import dataclasses

    from sweep.config import REFINE_KEYS, RefineSettings, parse_refine
    fields = [f.name for f in dataclasses.fields(RefineSettings)]
    assert list(REFINE_KEYS) == fields + ["curves_per_task"]
    assert list(RefineSettings().to_dict()) == fields
    settings, _, _ = parse_refine({"eta_tol": 1e-5, "max_evaluations": 50})
    assert settings.eta_tol == 1e-5 and settings.max_evaluations == 50


def test_dashboard_extra_is_the_bokeh_the_link_needs():
    import tomllib

    from sweep.execution.clusters import DASHBOARD_BOKEH
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["dashboard"]
    assert extra == [f"bokeh>={'.'.join(map(str, DASHBOARD_BOKEH))}"]


@pytest.mark.parametrize("argv, constant", [
    (["run", "--help"], "sweep.execution.runner:STALL_S"),
    (["export", "--help"], "sweep.store.export:CSV_MAX_POINTS"),
])
def test_help_prints_the_constants(argv, constant, capsys):
    import importlib

    from sweep.cli import main
    module, name = constant.split(":")
    value = getattr(importlib.import_module(module), name)
    with pytest.raises(SystemExit):
        main(argv)
    out = " ".join(capsys.readouterr().out.split())
    assert f"[{value:g}]" in out or f"[{value}]" in out, out
