"""The package layout is the architecture (docs/architecture.md), and this test keeps it so.

Every import in engine/ and cli/ is read from the source, function-local ones
included, and checked against the layers: the core pipeline builds on nothing
else of merit; the panel, the cycle lifecycle and rendering build on the core;
the use cases build on everything; the CLI calls only the use cases.  Import
cycles between modules are refused, however well a function-local import
hides them.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"engine": "merit", "cli": "merit.cli"}

# package -> the packages its modules may import (besides its own and the top-level ``merit``)
# merit.i18n (the reader's language) imports no other merit package: every layer may use it.
ALLOWED = {
    "merit.i18n": set(),
    "merit.core": {"merit.i18n"},
    "merit.panel": {"merit.core", "merit.i18n"},
    "merit.cycles": {"merit.core", "merit.i18n"},
    "merit.render": {"merit.core", "merit.panel", "merit.cycles", "merit.i18n"},
    "merit.demo": {"merit.core", "merit.i18n"},
    "merit.catalog": {"merit.core", "merit.i18n"},
    "merit.usecases": {"merit.core", "merit.panel", "merit.cycles", "merit.render", "merit.demo", "merit.catalog",
                       "merit.i18n"},
    "merit.cli": {"merit.usecases", "merit.core.errors", "merit.i18n"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in SOURCES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _imports(name: str, path: Path) -> set[str]:
    """The merit modules *name* imports, anywhere in its source."""
    found = set()
    base = name if _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                anchor = base.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                module = ".".join(anchor + ([module] if module else []))
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in MODULES else module)
    return {m for m in found if m == "merit" or m.startswith("merit.")}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str | None:
    matches = [p for p in ALLOWED if module == p or module.startswith(p + ".")]
    return max(matches, key=len) if matches else None


def _allowed(importer: str, imported: str) -> bool:
    if imported == "merit":
        return True
    layer = _layer(importer)
    return any(imported == p or imported.startswith(p + ".") for p in ALLOWED[layer] | {layer})


def test_every_module_belongs_to_a_layer():
    assert [m for m in MODULES if m != "merit" and _layer(m) is None] == []


def test_imports_follow_the_layers():
    wrong = sorted(f"{a} imports {b}" for a, deps in GRAPH.items() if a != "merit"
                   for b in deps if not _allowed(a, b))
    assert wrong == []


def test_nothing_imports_the_repository_folders_by_their_own_names():
    # only the installed name ``merit``: ``engine``, ``cli``, ``templates``, ``rulesets`` are not packages
    stray = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                stray += [f"{name}: {n}" for n in names
                          if n.split(".")[0] in ("engine", "cli", "templates", "rulesets")]
    assert stray == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH.get(v, ())):
            if w not in GRAPH:
                continue
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
            if len(component) > 1 or v in GRAPH.get(v, ()):
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert _cycles() == []


def test_the_checker_sees_function_local_imports_and_cycles():
    # the test above would pass on an empty graph: show it reads what it must
    assert "merit.core.errors" in GRAPH["merit.core.workspace"]
    saved = dict(GRAPH)
    try:
        GRAPH["merit.core.errors"] = GRAPH["merit.core.errors"] | {"merit.core.workspace"}
        assert any({"merit.core.errors", "merit.core.workspace"} <= set(c) for c in _cycles())
        assert not _allowed("merit.core.errors", "merit.render.pdf")
        assert not _allowed("merit.cli.main", "merit.core.pipeline")
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
