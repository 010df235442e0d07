"""The package import graph has no cycle (docs/ARCHITECTURE.md draws it): walked with ``ast``, lazy imports
inside functions included, because a cycle through a function body still ties two packages together."""

from __future__ import annotations

import ast
from pathlib import Path

import finadvisor

ROOT = Path(finadvisor.__file__).resolve().parent


def node_of(module: str) -> str | None:
    """The graph node of an imported module: its package (``server``) or top-level module (``app``)."""
    parts = module.split(".")
    if parts[0] != "finadvisor" or len(parts) < 2:
        return None
    name = parts[1]
    return name if (ROOT / name).is_dir() or (ROOT / f"{name}.py").is_file() else None


def import_graph(*, modules: bool = True) -> dict[str, set[str]]:
    """node -> the nodes it imports. Nodes are the packages and, with ``modules``, the top-level modules too
    (``cli``, ``app``, ``settings`` ...): a cycle through one of them (server -> app -> advisor -> server) ties
    packages together just the same."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2:
            if not modules or rel.name == "__init__.py":
                continue
            source = rel.stem
        else:
            source = rel.parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                target = node_of(name)
                if target is None or target == source:
                    continue
                if modules or (ROOT / target).is_dir():
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
                return [*stack[stack.index(nxt) :], nxt]
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


def test_no_import_cycle_between_packages_and_top_level_modules() -> None:
    graph = import_graph()
    assert "advisor" in graph and "server" in graph and "app" in graph  # the walk found packages and modules
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_the_walk_sees_a_cycle_through_a_top_level_module() -> None:
    """The old knot (issue 26): server/cli.py imported finadvisor.app, which mounts the advisor, which imported
    server.auth. Packages alone show no cycle there; with the modules as nodes it is found."""
    knot = {"server": {"app"}, "app": {"advisor", "server"}, "advisor": {"server"}}
    assert find_cycle({k: {d for d in v if d != "app"} for k, v in knot.items() if k != "app"}) is None
    assert find_cycle(knot) == ["advisor", "server", "app", "advisor"]


def test_server_does_not_import_the_advisor_or_the_composition_root() -> None:
    server = import_graph().get("server", set())
    assert "advisor" not in server and "app" not in server and "cli" not in server


def test_shared_modules_import_no_package() -> None:
    """settings, errors, protocol, logs ... are the vocabulary every package shares: they import no package."""
    graph = import_graph()
    shared = {p.stem for p in ROOT.glob("*.py")} - {"__init__", "cli", "app"}
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    offenders = {m: sorted(graph.get(m, set()) & packages) for m in shared if graph.get(m, set()) & packages}
    assert offenders == {}


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
    actual = import_graph(modules=False)
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert set(documented) == packages, "docs/ARCHITECTURE.md's package table must list every package"
    for package, deps in actual.items():
        assert deps <= documented[package], (
            f"{package}/ imports {sorted(deps - documented[package])} but docs/ARCHITECTURE.md does not say so"
        )


def test_engine_names_are_switched_on_only_inside_engines() -> None:
    """Which engine needs a local model, runs in its own server ... is asked of ``engines/`` (issue 26)."""
    import re

    switch = re.compile(r"""\.engine\s*(==|!=|\bin\b|\bnot in\b)\s*[("'\[{]""")
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in ROOT.rglob("*.py")
        if p.relative_to(ROOT).parts[0] != "engines"
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if switch.search(line)
    ]
    assert offenders == []


def test_engine_questions() -> None:
    from finadvisor.engines import loads_local_model, runs_in_own_server, uses_packaged_model
    from finadvisor.settings import Settings

    assert uses_packaged_model(Settings(engine="llamacpp")) and not uses_packaged_model(
        Settings(model="/m.gguf")
    )
    assert loads_local_model(Settings(engine="transformers")) and not loads_local_model(
        Settings(engine="vllm")
    )
    assert runs_in_own_server(Settings(engine="vllm")) and runs_in_own_server(
        Settings(upstream_url="http://u/v1")
    )
    assert not runs_in_own_server(Settings(engine="fake"))


def test_no_twin_functions_for_the_names_issue_26_found() -> None:
    """Two ``build_advisor`` and two ``fold`` meant different things; each name now has one definition."""
    counts: dict[str, list[str]] = {"build_advisor": [], "fold": []}
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in counts:
                counts[node.name].append(str(path.relative_to(ROOT)))
    assert {name: len(where) for name, where in counts.items()} == {"build_advisor": 1, "fold": 1}, counts


def module_graph() -> dict[str, set[str]]:
    """module -> the finadvisor modules it imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        module = ".".join(("finadvisor", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(
            ".__init__"
        )
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                parts = name.split(".")
                if module.startswith(name + "."):
                    continue  # ``from finadvisor.catalog import store`` inside catalog/ reaches a sibling
                if (
                    parts[0] == "finadvisor"
                    and name != module
                    and (
                        ROOT.joinpath(*parts[1:]).with_suffix(".py").is_file()
                        or (ROOT.joinpath(*parts[1:]) / "__init__.py").is_file()
                    )
                ):
                    graph.setdefault(module, set()).add(name)
    return graph


# Empty since the OpenAI routers' helpers moved to server/generation.py (issue 29): no router imports another.
KNOWN_MODULE_CYCLES: set[str] = set()


def test_no_module_cycle_inside_a_package() -> None:
    """``dataset/sources.py`` and the sources it registers no longer import each other (issue 26)."""
    graph = {
        m: {d for d in deps if d not in KNOWN_MODULE_CYCLES}
        for m, deps in module_graph().items()
        if m not in KNOWN_MODULE_CYCLES
    }
    assert "finadvisor.dataset.document" in graph.get("finadvisor.dataset.nextjs", set())
    assert find_cycle(graph) is None, f"module cycle: {' -> '.join(find_cycle(graph) or [])}"
