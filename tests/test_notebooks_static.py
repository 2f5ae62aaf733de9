"""Static checks of the chapters (no execution): one parameters cell whose defaults equal the
cpu profile, no stored outputs, a manifest of figures and glued values, valid nbformat."""

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))


def _sync_module():
    spec = importlib.util.spec_from_file_location("sync_nb", REPO / "scripts" / "sync_notebook_defaults.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_there_are_ten_chapters():
    assert [p.stem[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, 11)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), \
        "notebooks are committed without outputs"
    manifest = nb.metadata.get("lotus")
    assert manifest and manifest.get("title") and manifest.get("figures") and manifest.get("glue")
    assert "glue(" in "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for fig in manifest["figures"]:
        assert fig.endswith(".png")


def test_parameter_defaults_equal_the_cpu_profile():
    from lotus.experiment import load_profile

    sync = _sync_module()
    profile = dict(load_profile("cpu"))
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        _, changed = sync.sync_cell("".join(cell["source"]), sync.expected_values(profile, path.stem))
        assert not changed, f"{path.name}: defaults differ from lotus/profiles/cpu.yaml in {changed} (run scripts/sync_notebook_defaults.py)"


def test_sync_rewrites_values_and_keeps_comments():
    sync = _sync_module()
    src = 'a = 1  # keep me\nb = {"x": 1,\n     "y": 2}\nc = "z"'
    new, changed = sync.sync_cell(src, {"a": 2, "b": {"x": 3}, "c": "z"})
    assert changed == ["a", "b"]
    assert new.splitlines()[0] == "a = 2  # keep me" and "b = {'x': 3}" in new and new.endswith('c = "z"')
