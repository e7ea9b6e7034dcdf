"""The package's layering: no import cycle, even through imports made inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import rota

ROOT = Path(rota.__file__).parent


def modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(tree: ast.AST, known: dict[str, Path]) -> set[str]:
    """Every rota module ``tree`` imports, at any depth, except under ``TYPE_CHECKING``
    (annotations only: they never run)."""
    out: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    walk(other)
                continue
            names: list[str] = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [
                    f"{child.module}.{a.name}"
                    if f"{child.module}.{a.name}" in known
                    else child.module
                    for a in child.names
                ]
            for name in names:
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name:
                    out.add(name)
            walk(child)

    walk(tree)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {
        name: imports(ast.parse(path.read_text()), known) - {name} for name, path in known.items()
    }


def test_no_module_imports_itself_back_through_others() -> None:
    graph = import_graph()
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_made_of_function_level_imports() -> None:
    code = {
        "rota.a": "def f():\n    from rota.b import g\n",
        "rota.b": "from rota.a import f\n",
        "rota.c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rota.a import f\n",
    }
    known = {name: Path(name) for name in code}
    graph = {name: imports(ast.parse(text), known) - {name} for name, text in code.items()}
    assert cycles(graph) == [["rota.a", "rota.b"]]


def test_the_config_schema_and_the_leaf_modules_import_no_component() -> None:
    graph = import_graph()
    leaves = ("rota.frequency", "rota.units", "rota.errors", "rota.process", "rota.redact")
    for leaf in leaves:
        assert graph[leaf] <= {"rota.errors", "rota.units"}, (leaf, graph[leaf])
    for part in ("rota.config.schema", "rota.config.load", "rota.config.problems"):
        assert all(m.startswith("rota.config") or m in leaves for m in graph[part]), graph[part]
