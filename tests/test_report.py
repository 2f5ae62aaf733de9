"""The tables, figure and numbers the benchmark chapters share (lotus.book.report), on
synthetic records whose answers are known."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lotus.book import report  # noqa: E402
from lotus.results import summarize  # noqa: E402

#: (forget, retain, test, MIA, seconds) per method; seeds add +-0.01 around them
BASE = {"original": (1.00, 1.00, 0.63, 0.75, 0.0), "gold": (0.62, 0.99, 0.62, 0.39, 100.0),
        "lotus": (0.80, 0.93, 0.58, 0.40, 10.0), "finetune": (0.92, 0.98, 0.60, 0.63, 20.0),
        "ssd": (0.10, 0.10, 0.10, 0.00, 5.0)}
KEYS = ["acc_forget", "acc_retain", "acc_test", "mia"]


@pytest.fixture(scope="module")
def records():
    rows = []
    for seed, shift in zip((0, 1, 2), (-0.01, 0.0, 0.01)):
        for m, (f, r, t, mia, sec) in BASE.items():
            rows.append(dict(dataset="cifar10", model="small_cnn", forget="0.1", method=m, seed=seed,
                             acc_forget=f + shift, acc_retain=r, acc_test=t, mia=mia, acc_val=t, jsd=0.002,
                             rf_jsd=0.004, jsd_legacy=0.0, rf_jsd_legacy=0.0, unlearn_seconds=sec))
    rec = pd.DataFrame(rows)
    gold = rec[rec["method"] == "gold"].set_index("seed")
    rec["avg_gap"] = [float(np.mean([abs(r[k] - gold.loc[r["seed"], k]) for k in KEYS])) for _, r in rec.iterrows()]
    return rec


@pytest.fixture(scope="module")
def ours(records):
    table = summarize(records)
    return table.droplevel([n for n in table.index.names if n != "method"])


def test_compact_cells_fit_a_narrow_column():
    assert report.compact(0.6423, 0.0061) == "0.64±0.01"
    assert report.compact(0.6423, float("nan")) == "0.64" and report.compact(float("nan")) == "—"


def test_score_table_holds_the_four_scores_avg_gap_and_time(records, ours):
    t = report.score_table(ours, records)
    assert list(t.columns) == ["Forget", "Retain", "Test", "MIA", "Avg Gap", "Time (s)"]
    assert t.loc["LoTUS", "Forget"] == "0.80±0.01" and t.loc["LoTUS", "Time (s)"] == "10.0±0.0"
    # Avg Gap: the gap of seed means, with the spread of the per-seed Avg Gaps
    expected = np.mean([0.80 - 0.62, 0.99 - 0.93, 0.62 - 0.58, 0.40 - 0.39])
    assert t.loc["LoTUS", "Avg Gap"] == f"{expected:.3f}±0.000"
    assert max(len(c) for c in t.to_numpy().ravel()) <= 11


def test_gap_figure_draws_method_minus_gold_with_the_original_hatched(records):
    fig = report.gap_figure(records, methods=["original", "lotus", "finetune"])
    forget_ax = fig.axes[0]
    widths = [p.get_width() for p in forget_ax.patches][:3]
    assert widths == pytest.approx([1.00 - 0.62, 0.80 - 0.62, 0.92 - 0.62])
    assert forget_ax.patches[0].get_hatch() == "//" and not forget_ax.patches[1].get_hatch()
    mia_ax = fig.axes[3]
    assert [p.get_width() for p in mia_ax.patches][:3] == pytest.approx([0.36, 0.01, 0.24])
    assert len(fig.axes) == 4 and fig.axes[0].get_xlim() == fig.axes[3].get_xlim()  # one scale


def test_paper_comparison_ranks_the_common_methods(records, ours):
    published = pd.Series({"gold": 0.0, "lotus": 0.2, "finetune": 0.1, "ssd": 0.05, "scrub": 0.07})
    t = report.paper_comparison(ours, records, published)
    assert t.loc["LoTUS", "rank (ours)"] == "1" and t.loc["LoTUS", "rank (paper)"] == "3"
    assert t.loc["SSD", "rank (ours)"] == "3" and t.loc["SSD", "rank (paper)"] == "1"
    assert t.loc["SCRUB", "Avg Gap (ours)"] == "—" and t.loc["SCRUB", "rank (paper)"] == ""


def test_the_verdict_says_who_wins_from_the_numbers(records, ours):
    ranked = report.ranking(ours)
    paper_lotus_last = pd.Series({"lotus": 0.3, "finetune": 0.1, "ssd": 0.2})
    v = report.ranking_verdict(ranked, paper_lotus_last)
    assert v["rank"] == 1 and v["published_rank"] == 3 and not v["same_best"]
    assert v["sentence"].startswith("In this run LoTUS has the lowest Avg Gap") and "ranks 3" in v["sentence"]
    # a run where LoTUS is not the best never says it wins
    worse = ranked.copy()
    worse["lotus"] = 1.0
    v = report.ranking_verdict(worse.sort_values(), paper_lotus_last)
    assert "lowest" not in v["sentence"].split(";")[0] and "ranks 3 of 3" in v["sentence"]


def test_key_numbers_state_the_setting_and_flag_collapse(records, ours):
    k = report.key_numbers(ours, records, pd.Series({"lotus": 0.03, "finetune": 0.1, "ssd": 0.08}))
    assert k["forget_gap"] == pytest.approx(0.38) and k["mia_gap"] == pytest.approx(0.36)
    assert k["best_method"] == "LoTUS" and k["lotus_rank"] == 1 and k["n_methods"] == 3
    assert k["lotus_acc_test"] == pytest.approx(0.58) and k["lotus_test_drop"] == pytest.approx(0.05)
    assert k["lotus_forget_closed"] == pytest.approx(1 - 0.18 / 0.38)  # |0.80 - 0.62| of |1.00 - 0.62|
    assert k["collapsed"] == "SSD"  # test accuracy 0.53 below the original's
    assert k["max_test_drop"] == 0.10  # the threshold the prose states, glued from here
    loose = report.key_numbers(ours, records, max_test_drop=0.6)
    assert loose["collapsed"] == "none" and loose["max_test_drop"] == 0.6
    assert k["lotus_speedup"] == pytest.approx(10.0) and k["fastest_method"] == "SSD"
    assert k["n_seeds"] == 3 and k["paper_lotus_rank"] == 1
