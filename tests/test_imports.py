"""The package's shape: no import cycle between its modules, no module over 500 lines.

The import graph is read from the source with :mod:`ast` (nothing is imported): an edge ``a -> b`` for
every ``import``/``from ... import`` in module ``a`` that names module ``b`` of the package, at module level
AND inside functions (a function-level import is a cycle postponed, not removed: it still ties the two
modules together). ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to
``pkg``. The parent packages that Python initialises on the way (``avshooter/io/__init__.py`` for
``avshooter.io.story``) are not edges: they are where a module lives, not what it uses. Imports under
``if TYPE_CHECKING:`` are not edges either: they never run (annotations only).
"""
from __future__ import annotations

import ast
from pathlib import Path

import avshooter

PACKAGE = Path(avshooter.__file__).resolve().parent
MAX_LINES = 500

# Cycles that other work in flight removes (issue 16): each entry is the sorted set of a cycle's modules.
# The lead empties this list once those branches are merged; nothing may be added to it.
KNOWN_CYCLES: list[frozenset[str]] = []

# Modules over MAX_LINES that other work in flight splits (issue 16); emptied by the lead the same way.
KNOWN_LONG: set[str] = set()


def module_names() -> dict[str, Path]:
    """``{"avshooter.io.story": path, "avshooter.io": path/__init__.py, ...}`` of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(tree: ast.AST):
    """Every import statement of ``tree``, at any depth, but not under ``if TYPE_CHECKING:``."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


def import_graph() -> dict[str, set[str]]:
    """``{module: {modules of the package it imports}}`` (module-level and function-level imports)."""
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                           for alias in node.names]
            for target in targets:
                while target and target not in modules and "." in target:  # `import avshooter.a.b as x`
                    target = target.rpartition(".")[0]
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan), each a frozenset."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_module_and_function_level_imports():
    graph = import_graph()
    assert "avshooter.generation.timeline" in graph["avshooter.generation.pipeline"]  # module level
    assert "avshooter.generation.timeline" in graph["avshooter.generation.prompts"]  # inside write_prompts
    assert "avshooter.media.encode" in graph["avshooter.backends.captioner_common"]
    assert "avshooter.io.story" not in graph["avshooter.io.story_checks"]  # under `if TYPE_CHECKING:` only
    # the cycle finder finds a cycle when there is one
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]


def test_no_import_cycles():
    found = cycles(import_graph())
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert not new, f"import cycles: {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not gone, f"these cycles are gone: take them out of KNOWN_CYCLES: {gone}"


def test_no_module_over_500_lines():
    long = {path.relative_to(PACKAGE.parent).as_posix(): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    new = {k: n for k, n in long.items() if k not in KNOWN_LONG}
    assert not new, f"modules over {MAX_LINES} lines (split them by concern): {new}"
    gone = sorted(KNOWN_LONG - set(long))
    assert not gone, f"these modules are short now: take them out of KNOWN_LONG: {gone}"
