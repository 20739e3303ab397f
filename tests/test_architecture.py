"""The rooms depend one way, and no modules import each other in a circle.

migov's code lives in three folders that install as one package (``migov/`` → ``migov``,
``model/`` → ``migov.model``, ``experiments/`` → ``migov.experiments``). import-linter's graph
builder walks the root package's folder, which in an editable install holds only ``migov/``, so
the graph is read here from the source with ``ast``: every import, including those inside
functions (a lazy import is still a dependency), but not those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"migov": "migov", "model": "migov.model", "experiments": "migov.experiments"}

# A room may import its own modules and any room of a lower rank; rooms of one rank are siblings
# that must not import each other.
RANK = {
    "model": 0,
    "experiments": 1,  # the package's __init__: its version only
    "common": 2,
    "sweep": 3,
    "analysis": 4,
    "api": 4.5,  # migov/ and experiments/api.py: the Python API (run, evaluate, load_results)
    "claims": 5, "dashboard": 5, "ema": 5, "classroom": 5,  # ema: the EMA Workbench adapter, a client of the API
    "validation": 5,  # migov validate: the model beside published stylised facts
    "calibration": 5.5,  # migov calibrate: ABC-SMC against the facts, reported through validation
    "cli": 6,
    "main": 7,  # python -m migov
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    parts = [FOLDERS[rel.parts[0]], *rel.with_suffix("").parts[1:]]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def room(module: str) -> str:
    parts = module.split(".")
    if parts[:2] == ["migov", "model"]:
        return "model"
    if parts[:2] == ["migov", "experiments"]:
        return parts[2] if len(parts) > 2 else "experiments"
    return "main" if module == "migov.__main__" else "api"  # migov/ itself: the public API


def _type_checking_only(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The migov modules ``path`` imports (``from pkg import name`` counts as pkg.name when that
    is a module, else as pkg)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("migov")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if not target.startswith("migov"):
                continue
            for a in node.names:
                found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in known else target)
    return {m for m in found if m in known and m != me}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py")]
    known = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, known) for p in files}


def test_the_graph_is_read(graph):
    assert "migov.experiments.sweep.engine" in graph and "migov.model.model" in graph
    assert "migov.model.config" in graph["migov.experiments.sweep.experiment"]


def test_rooms_depend_one_way(graph):
    wrong = []
    for mod, deps in sorted(graph.items()):
        for dep in sorted(deps):
            a, b = room(mod), room(dep)
            if a != b and RANK[b] >= RANK[a]:
                wrong.append(f"{mod} ({a}) imports {dep} ({b})")
    assert not wrong, "imports against the rooms' order:\n" + "\n".join(wrong)


def test_no_import_cycles(graph):
    """Tarjan's strongly connected components over modules: any component of two or more is a
    circle (a package's ``__init__`` re-exporting its own modules is not counted)."""
    edges = {m: {d for d in deps if not m.startswith(d + ".") and not d.startswith(m + ".")}
             for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, "modules importing each other in a circle: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_the_model_does_no_file_io_beyond_its_config():
    """``migov.model`` reads a scenario file and nothing else: no writing, no Parquet, no figures."""
    banned = ("to_parquet", "to_csv", "savefig", "write_text", "write_bytes", "open(")
    hits = []
    for p in (ROOT / "model").glob("*.py"):
        text = p.read_text(encoding="utf-8")
        hits += [f"{p.name}: {b}" for b in banned if b in text and p.name != "config.py"]
    assert not hits, hits


def test_scripts_outside_the_package_import_what_exists():
    """benchmarks/ and docs/ scripts are not imported by the suite: their migov imports are checked
    here so a moved module or a renamed function breaks a test, not the next user."""
    import importlib

    missing = []
    for p in [*(ROOT / "benchmarks").rglob("*.py"), *(ROOT / "docs").rglob("*.py")]:
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("migov"):
                try:
                    module = importlib.import_module(node.module)
                except ImportError as err:
                    missing.append(f"{p.relative_to(ROOT)}: {err}")
                    continue
                missing += [f"{p.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                            if not hasattr(module, a.name) and not _is_submodule(f"{node.module}.{a.name}")]
    assert not missing, missing


def _is_submodule(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package
        return False
