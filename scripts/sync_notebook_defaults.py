"""Keep every notebook's ``parameters`` cell equal to a profile (the ``cpu`` profile by default).

The book's convention: a chapter opened in Jupyter runs the ``cpu`` profile, and ``lotus
book --profile P`` overrides the parameters with profile P. This script rewrites the values
in the parameters cells (keeping names, order and trailing comments) so they cannot drift
from ``lotus/profiles/cpu.yaml``:

    .venv/bin/python scripts/sync_notebook_defaults.py           # rewrite
    .venv/bin/python scripts/sync_notebook_defaults.py --check   # exit 1 if anything differs

``output_dir`` and parameters the profile does not set keep the notebook's own value.
"""

from __future__ import annotations

import argparse
import ast
import json
import pprint
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = {"output_dir"}


def expected_values(profile: dict, stem: str) -> dict:
    values = {"profile": profile["name"]}
    values.update(profile.get("defaults") or {})
    values.update((profile.get("notebooks") or {}).get(stem) or {})
    return values


def _format(name: str, value) -> str:
    text = pprint.pformat(value, width=110 - len(name) - 3, sort_dicts=False, compact=True)
    return text.replace("\n", "\n" + " " * (len(name) + 3))


def sync_cell(source: str, values: dict) -> tuple[str, list[str]]:
    """Return the rewritten cell source and the names whose value changed."""
    lines = source.split("\n")
    tree = ast.parse(source)
    changed = []
    # replace from the bottom up so earlier line numbers stay valid
    for node in sorted((n for n in tree.body if isinstance(n, ast.Assign)), key=lambda n: -n.lineno):
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        name = node.targets[0].id
        if name in SKIP or name not in values:
            continue
        try:
            current = ast.literal_eval(node.value)
        except ValueError:
            continue
        if current == values[name]:
            continue
        last = lines[node.end_lineno - 1]
        comment = last[node.end_col_offset:] if node.end_col_offset < len(last) else ""
        new = f"{name} = {_format(name, values[name])}{comment}".split("\n")
        lines[node.lineno - 1: node.end_lineno] = new
        changed.append(name)
    return "\n".join(lines), sorted(changed)


def sync_notebook(path: Path, profile: dict, write: bool) -> list[str]:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"])
            new, changed = sync_cell(src, expected_values(profile, path.stem))
            if changed and write:
                cell["source"] = [ln + "\n" for ln in new.split("\n")[:-1]] + [new.split("\n")[-1]]
                path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            return changed
    raise SystemExit(f"{path}: no cell tagged 'parameters'")


def main(argv=None) -> int:
    sys.path.insert(0, str(REPO))
    from lotus.experiment import load_profile

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--check", action="store_true", help="report differences, change nothing")
    a = ap.parse_args(argv)
    profile = dict(load_profile(a.profile))
    profile.setdefault("name", a.profile)
    bad = 0
    for path in sorted((REPO / "notebooks").glob("[0-9]*.ipynb")):
        changed = sync_notebook(path, profile, write=not a.check)
        if changed:
            bad += 1
            print(f"{path.name}: {'differs in' if a.check else 'updated'} {', '.join(changed)}")
    return 1 if (a.check and bad) else 0


if __name__ == "__main__":
    sys.exit(main())
