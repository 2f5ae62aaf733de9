"""Every chapter reads as a lesson (issue 11), checked without executing anything: it ends
with a summary and exercises whose solutions are folded, its display equations are labelled
once in the book and every equation reference resolves, glossary terms link to glossary
entries, every figure has a caption and a label, and the set-up cell is folded away."""

import ast
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9]*.ipynb"))
FOLDED = ("hide-input", "remove-input", "hide-cell", "remove-cell")


def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _markdown(path) -> str:
    return "\n".join(c.source for c in _cells(path) if c.cell_type == "markdown")


def glossary_terms() -> set[str]:
    """The terms of book/glossary.md (every unindented line of its glossary block), lower case."""
    text = (REPO / "book" / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    return {line.strip().lower() for line in block.splitlines() if line.strip() and not line[0].isspace()}


def term_targets(text: str) -> list[str]:
    """The glossary entries ``{term}`text``` and ``{term}`text <entry>``` point to, lower case."""
    out = []
    for inner in re.findall(r"\{term\}`([^`]*)`", text):
        target = re.search(r"<([^>]*)>\s*$", inner)
        out.append((target.group(1) if target else inner).strip().lower())
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_chapter_ends_with_a_summary_and_exercises_with_folded_solutions(path):
    markdown = _markdown(path)
    heads = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert heads[-2:] == ["## Summary", "## Exercises"], f"{path.stem} ends with {heads[-2:]}"
    exercises = markdown.split("## Exercises", 1)[1]
    n_ex = len(re.findall(r"^\d+\. ", exercises, flags=re.M))
    n_sol = len(re.findall(r"^[ \t]*```\{admonition\} Solution[^\n]*\n[ \t]*:class: dropdown", exercises, flags=re.M))
    assert n_ex >= 2 and n_sol == n_ex, f"{path.stem}: {n_ex} exercises, {n_sol} folded solutions"


def test_display_equations_are_labelled_once_and_every_reference_resolves():
    labels: dict[str, str] = {}
    refs = []
    for path in NOTEBOOKS:
        markdown = _markdown(path)
        for m in re.finditer(r"\$\$[ \t]*\((eq-[\w-]+)\)", markdown):
            assert m.group(1) not in labels, f"{m.group(1)} is defined in {labels[m.group(1)]} and {path.stem}"
            labels[m.group(1)] = path.stem
        refs += [(path.stem, r) for r in re.findall(r"\{eq\}`([^`]+)`", markdown)]
    missing = sorted({r for _, r in refs if r not in labels})
    assert not missing, f"references to undefined equation labels: {missing}"
    across = {(stem, labels[r]) for stem, r in refs if labels[r] != stem}
    assert across, "no chapter refers to an equation of another chapter"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_glossary_terms_link_to_the_glossary(path):
    used = term_targets(_markdown(path))
    assert used, f"{path.stem}: no glossary link"
    unknown = set(used) - glossary_terms()
    assert not unknown, f"{path.stem}: links to terms the glossary lacks: {unknown}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_a_label(path):
    """A figure is shown either by a code cell with myst-nb figure metadata or by a
    ``{glue:figure}`` directive; both need a caption and a ``fig-`` name."""
    for i, c in enumerate(_cells(path)):
        if c.cell_type == "code" and "plt.show()" in c.source:
            fig = c.metadata.get("mystnb", {}).get("figure", {})
            assert fig.get("caption") and str(fig.get("name", "")).startswith("fig-"), \
                f"{path.stem} cell {i}: a figure without caption or label"
            # myst-nb wraps every output of the cell in the figure: a table shown by the same
            # cell would repeat the label (a broken -W build)
            last = ast.parse(c.source).body[-1]
            shows_more = isinstance(last, ast.Expr) and not (
                isinstance(last.value, ast.Call)
                and getattr(last.value.func, "attr", getattr(last.value.func, "id", "")) in ("show", "glue", "print"))
            assert not shows_more, f"{path.stem} cell {i}: a captioned cell shows something besides its figure"
        if c.cell_type == "markdown":
            for body in re.findall(r"```\{glue:figure\}[^\n]*\n(.*?)```", c.source, flags=re.S):
                name = re.search(r"^:name:\s*(\S+)", body, flags=re.M)
                caption = re.sub(r"^:\w+:.*$", "", body, flags=re.M).strip()
                assert name and name.group(1).startswith("fig-") and caption, \
                    f"{path.stem} cell {i}: a glued figure without caption or label"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_set_up_cell_is_folded(path):
    setup = [c for c in _cells(path) if c.cell_type == "code" and "lotus.book.chapter(" in c.source]
    assert setup and any(t in setup[0].metadata.get("tags", []) for t in FOLDED), \
        f"{path.stem}: the set-up cell (lotus.book.chapter) is not folded"


@pytest.mark.parametrize("page", ["intro.md", "glossary.md"])
def test_the_book_pages_link_only_to_glossary_entries(page):
    used = set(term_targets((REPO / "book" / page).read_text(encoding="utf-8")))
    assert used and used <= glossary_terms(), f"{page}: unknown terms {used - glossary_terms()}"
