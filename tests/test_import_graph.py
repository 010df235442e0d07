"""The package import graph has no cycle (docs/ARCHITECTURE.md draws it): walked with ``ast``, lazy imports
inside functions included, because a cycle through a function body still ties two packages together."""

from __future__ import annotations

import ast
from pathlib import Path

import finadvisor

ROOT = Path(finadvisor.__file__).resolve().parent


def package_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "finadvisor" or len(parts) < 2:
        return None
    return parts[1]


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2:  # top-level modules (cli, app, settings ...) are roots or leaves, not packages
            continue
        source = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                target = package_of(name)
                if target and target != source and (ROOT / target).is_dir():
                    graph.setdefault(source, set()).add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_detects_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) is None


def test_no_import_cycle_between_packages() -> None:
    graph = import_graph()
    assert "advisor" in graph and "server" in graph  # the walk found the packages
    assert find_cycle(graph) is None, f"import cycle between packages: {' -> '.join(find_cycle(graph) or [])}"


def test_server_does_not_import_the_advisor() -> None:
    assert "advisor" not in import_graph().get("server", set())


def documented_dependencies() -> dict[str, set[str]]:
    """The 'depends on' column of docs/ARCHITECTURE.md's package table (finadvisor packages only)."""
    doc = (ROOT.parent / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table: dict[str, set[str]] = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        packages = [p.strip("`/ ") for p in cells[0].split(",")]
        deps = {w.strip("`/,;() ") for w in cells[2].replace(",", " ").split()}
        for package in packages:
            if (ROOT / package).is_dir():
                table[package] = {d for d in deps if (ROOT / d).is_dir()}
    return table


def test_architecture_doc_names_every_package_and_its_real_dependencies() -> None:
    documented = documented_dependencies()
    actual = import_graph()
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert set(documented) == packages, "docs/ARCHITECTURE.md's package table must list every package"
    for package, deps in actual.items():
        assert deps <= documented[package], (
            f"{package}/ imports {sorted(deps - documented[package])} but docs/ARCHITECTURE.md does not say so")
