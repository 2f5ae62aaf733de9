"""Static checks of the chapters (no execution): the three papermill parameters, no stored
outputs, a manifest of figures and glued values, valid nbformat, settings read from the
profile through lotus.book.chapter, no helper pasted into two chapters, public names only."""

import ast
import importlib
import importlib.util
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))


def _code(nb) -> list[ast.Module]:
    return [ast.parse(c.source) for c in nb.cells if c.cell_type == "code"]


def test_the_chapters_are_numbered_01_to_12():
    """Chapters 01-12 exist (11: your own model, 12: performance), each number once."""
    numbers = [int(p.stem[:2]) for p in NOTEBOOKS]
    assert numbers == sorted(set(numbers)), "two chapters share a number"
    assert numbers == list(range(1, 13)), f"chapters 01..12 expected: {numbers}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assigned = [t.id for node in ast.parse(params[0].source).body for t in node.targets]
    assert assigned == ["profile", "overrides", "output_dir"], "the parameters cell holds only what papermill overrides"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), \
        "notebooks are committed without outputs"
    manifest = nb.metadata.get("lotus")
    assert manifest and manifest.get("title") and manifest.get("figures") and manifest.get("glue")
    assert "glue(" in "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for fig in manifest["figures"]:
        assert fig.endswith(".png")
    # the settings come from the profile, through the chapter helper, under the chapter's own name
    calls = [n for tree in _code(nb) for n in ast.walk(tree) if isinstance(n, ast.Call)
             and ast.unparse(n.func) == "lotus.book.chapter"]
    assert len(calls) == 1 and ast.literal_eval(calls[0].args[1]) == path.stem


def test_no_function_is_defined_in_two_chapters():
    """A helper a second chapter needs lives in the package (lotus.book.report, ...)."""
    seen: dict[str, str] = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for tree in _code(nb):
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef):
                    assert node.name not in seen, f"{node.name} is defined in {seen[node.name]} and {path.stem}"
                    seen[node.name] = path.stem


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapters_import_only_public_names(path):
    nb = nbformat.read(path, as_version=4)
    for tree in _code(nb):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lotus"):
                mod = importlib.import_module(node.module)
                public = getattr(mod, "__all__", None)
                for alias in node.names:
                    name = alias.name
                    assert not name.startswith("_"), f"{path.stem} imports the private {node.module}.{name}"
                    is_submodule = importlib.util.find_spec(f"{node.module}.{name}") is not None \
                        if hasattr(mod, "__path__") else False
                    if public is not None and not is_submodule:
                        assert name in public, f"{path.stem} imports {node.module}.{name}, not in its __all__"
