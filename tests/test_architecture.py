"""The package's import graph: imports only run downward (from a higher layer to a lower one)
and form no cycle; imports inside the package sit at module level."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "lotus"

#: layer of each top-level part of the package, lowest first; a module may import from its own
#: layer's modules only where no cycle results, and from any lower layer
LAYERS = [
    {"utils", "distributed"},
    {"data", "models", "plots", "fixtures"},
    {"metrics"},
    {"train"},
    {"methods"},
    {"paper", "results"},
    {"profiles", "experiment", "tune"},
    {"book", "bench"},
    {"cli", "__init__", "__main__"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(["lotus", *parts])] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, int, bool]]:
    """(imported lotus module, line, at module level) for every import of the package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    is_pkg = path.name == "__init__.py"
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "lotus":
                continue
            targets = [mod]
            for alias in node.names:  # `from . import paper` imports a module
                if f"{mod}.{alias.name}" in MODULES:
                    targets = [f"{mod}.{alias.name}"] if targets == [mod] else [*targets, f"{mod}.{alias.name}"]
            out += [(t, node.lineno, id(node) in top) for t in targets]
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names if a.name.split(".")[0] == "lotus"]
    return out


MODULES = _modules()


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_layer():
    missing = sorted({_part(m) for m in MODULES} - set(LAYER))
    assert not missing, f"give these parts of the package a layer in this test: {missing}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_downward_and_sit_at_module_level(module):
    for target, line, top in _imports(module, MODULES[module]):
        if target == "lotus":
            target = "lotus.__init__"
        src, dst = _part(module), _part(target)
        if src != dst:
            assert LAYER[dst] <= LAYER[src], f"{module}:{line} imports {target}, a higher layer"
        assert top, f"{module}:{line} imports {target} inside a function; import at module level"


def test_no_import_cycle():
    graph = {m: {t for t, _, _ in _imports(m, p) if t in MODULES and t != m} for m, p in MODULES.items()}
    # a package's __init__ re-exports its submodules; importing the package from a submodule
    # goes through __init__, but a submodule importing its own package's __init__ is the cycle
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(t):], t]))
            if not state.get(t):
                visit(t, [*stack, t])
        state[m] = 2

    for m in sorted(graph):
        if not state.get(m):
            visit(m, [m])
