"""Package helpers of chapters 7-12: the Streisand demonstration (lotus.book.streisand) and the settings it
reads, and the class-unlearning coverage of chapter 8 (lotus.book.report)."""

import math

import numpy as np
import pytest

from lotus.book import streisand
from lotus.experiment import method_hparams
from lotus.profiles import resolve
from lotus.utils import LotusError


def test_demo_hparams_differ_only_in_the_target():
    runs = streisand.demo_hparams({"alpha": 4, "lr": 0.001, "epochs": 3}, {"lr": 0.003})
    assert set(runs) == set(streisand.DEMO_RUNS)
    aimed, zero = runs["aimed at D_u"], runs["aimed at 0"]
    assert aimed["lr"] == zero["lr"] == 0.003 and aimed["alpha"] == 4 and aimed["epochs"] == 3
    assert zero.pop("class_unlearning") is True and "class_unlearning" not in aimed
    assert aimed == zero
    with pytest.raises(LotusError, match="class_unlearning"):
        streisand.demo_hparams({}, {"class_unlearning": False})


def test_level_check_uses_the_binomial_margin():
    # target 0.75 on 100 samples: one standard error is sqrt(0.75 * 0.25 / 100) = 0.0433
    se = math.sqrt(0.75 * 0.25 / 100)
    assert streisand.level_check(0.75 - 2.1 * se, 0.75, 100)["verdict"] == "below"
    assert streisand.level_check(0.75 - 1.9 * se, 0.75, 100)["verdict"] == "at"
    assert streisand.level_check(0.75 + 2.1 * se, 0.75, 100)["verdict"] == "above"
    out = streisand.level_check(0.5, 0.75, 100, z=3)
    assert out["margin"] == pytest.approx(3 * se) and out["gap"] == pytest.approx(-0.25)
    assert streisand.level_check(0.0, 0.0, 50)["margin"] == pytest.approx(2 / 50)   # a target of 0 keeps a margin
    for bad in ({"acc": 1.5, "target": 0.5, "n": 10}, {"acc": 0.5, "target": 0.5, "n": 0},
                {"acc": 0.5, "target": 0.5, "n": 10, "z": 0}):
        with pytest.raises(LotusError):
            streisand.level_check(**bad)


def test_confidence_auc_reads_both_directions():
    rng = np.random.default_rng(0)
    low, high = rng.uniform(0.0, 0.5, 200), rng.uniform(1.0, 2.0, 300)
    assert streisand.confidence_auc(low, high) == 1.0      # forget answered more confidently: looks like training data
    assert streisand.confidence_auc(high, low) == 0.0      # less confidently than unseen data: the Streisand effect
    same = rng.uniform(0, 1, 400)
    assert streisand.confidence_auc(same[:200], same[200:]) == pytest.approx(0.5, abs=0.08)
    assert streisand.confidence_auc([0.3, 0.3], [0.3]) == 0.5   # ties count one half
    with pytest.raises(LotusError):
        streisand.confidence_auc([], [1.0])


@pytest.mark.parametrize("profile", ["tiny", "cpu", "paper"])
def test_every_profile_gives_the_demo_a_larger_step_than_the_chapter(profile):
    settings = resolve(profile, "07_streisand")
    base = method_hparams("lotus", settings)
    runs = streisand.demo_hparams(base, settings["overshoot_hparams"])
    changed = {k for k, v in settings["overshoot_hparams"].items() if base.get(k) != v}
    assert changed, f"{profile}: overshoot_hparams repeat the chapter's LoTUS settings"
    assert runs["aimed at 0"]["class_unlearning"] is True
    assert settings["overshoot_z"] > 0


def test_class_unlearning_coverage_matches_the_published_data():
    from lotus import paper
    from lotus.book import report

    cov = report.class_unlearning_coverage()
    pub = paper.published_class_unlearning()
    assert set(cov.loc[cov["published"], "forget_class"]) == set(pub["forget_class"])
    assert cov["in_scripts"].all(), "a published class that the authors' scripts do not set up"
    assert len(cov) == sum(len(v) for v in report.AUTHORS_CLASS_RUNS.values())
    # chapter 8's slip (issue 11, E13): the scripts also run bison, and horse / bison have no published results
    assert {"horse", "bison"} == set(cov.loc[~cov["published"], "forget_class"])


# -- the teaching conventions of chapters 7-12 (issue 11); the lead's static guard covers the whole book -----------

import ast  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MY_CHAPTERS = ["07_streisand", "08_class_unlearning", "09_large_scale", "10_reproduction_notes", "11_own_model",
               "12_performance"]


def _cells(name):
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]


def _glossary_terms():
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return {line.strip().lower() for line in block.splitlines() if line and not line.startswith(" ")}


def _term_targets(text):
    for m in re.finditer(r"\{term\}`([^`]*)`", text):
        inner = m.group(1)
        target = re.search(r"<([^>]*)>\s*$", inner)
        yield (target.group(1) if target else inner).strip().lower()


@pytest.mark.parametrize("name", MY_CHAPTERS)
def test_chapter_links_the_glossary_and_ends_with_summary_and_exercises(name):
    cells = _cells(name)
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    terms = _glossary_terms()
    used = list(_term_targets(markdown))
    assert used, f"{name}: no glossary link"
    assert set(used) <= terms, f"{name}: links to terms the glossary lacks: {set(used) - terms}"
    heads = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert heads[-2:] == ["## Summary", "## Exercises"], f"{name}: ends with {heads[-2:]}"
    exercises = markdown.split("## Exercises", 1)[1]
    n_ex = len(re.findall(r"^\d+\. ", exercises, flags=re.M))
    n_sol = exercises.count("```{admonition} Solution\n:class: dropdown")
    assert n_ex >= 2 and n_sol == n_ex, f"{name}: {n_ex} exercises, {n_sol} folded solutions"


@pytest.mark.parametrize("name", MY_CHAPTERS)
def test_every_figure_cell_has_a_caption_and_a_label(name):
    for i, c in enumerate(_cells(name)):
        src = "".join(c["source"])
        if c["cell_type"] != "code" or not re.search(r"plt\.show\(\)", src):
            continue
        fig = c["metadata"].get("mystnb", {}).get("figure", {})
        assert fig.get("caption") and str(fig.get("name", "")).startswith("fig-"), f"{name} cell {i}: no caption/label"
        # myst-nb wraps every output of the cell in the figure: a table shown by the same cell duplicates the label
        last = ast.parse(src).body[-1]
        shows_more = isinstance(last, ast.Expr) and not (
            isinstance(last.value, ast.Call) and getattr(last.value.func, "attr", getattr(last.value.func, "id", ""))
            in ("show", "glue", "print"))
        assert not shows_more, f"{name} cell {i}: a captioned cell must not display anything besides its figure"


def test_intro_and_glossary_links_resolve():
    terms = _glossary_terms()
    for page in ("intro.md", "glossary.md"):
        used = set(_term_targets((ROOT / "book" / page).read_text(encoding="utf-8")))
        assert used <= terms, f"{page}: unknown terms {used - terms}"
