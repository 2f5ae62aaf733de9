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
