"""Tables the benchmark chapters show, written once.

Used by chapters 4 (benchmark), 5 (50 % forget set), 8 (class unlearning) and 9 (large
scale): the formatted summary of our runs, the ranking of the methods by Avg Gap, the
published tables beside ours, the rank comparison with the paper, and committed GPU records.

The compact views (:func:`score_table`, :func:`divergence_table`, :func:`paper_comparison`) keep
a table inside the book's text column: ``"0.64±0.01"`` cells, few columns per table.
:func:`gap_figure` shows at a glance how far each method ends from the gold model on each of
the four scores behind Avg Gap; :func:`ranking_verdict` words the comparison with the paper
from the numbers, for the chapters' prose.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from .. import paper, plots
from ..experiment import PSEUDO_METHODS
from ..results import ResultsStore, format_summary, summarize
from ..utils import LotusError

__all__ = [
    "labelled",
    "compact",
    "score_table",
    "divergence_table",
    "gap_figure",
    "seed_avg_gaps",
    "paper_comparison",
    "ranking_verdict",
    "key_numbers",
    "method_table",
    "ranking",
    "avg_gap_bars",
    "time_comparison",
    "published_overview",
    "published_accuracy_overview",
    "rank_comparison",
    "gpu_records",
    "GpuBenchmark",
]

#: JSD and RF-JSD in 1e-3 nats, their authors' formulas x1e4 (the paper's unit), time in
#: seconds: the units of our CPU-sized tables
_SCALE = {"jsd": 1e3, "rf_jsd": 1e3, "jsd_legacy": 1e4, "rf_jsd_legacy": 1e4, "unlearn_seconds": 1.0}
_TITLES = {"jsd": "JSD ×1e3", "rf_jsd": "RF-JSD ×1e3", "jsd_legacy": "JSD ×1e4 (authors)",
           "rf_jsd_legacy": "RF-JSD ×1e4 (authors)", "unlearn_seconds": "Time (s)"}


def labelled(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its method-key index replaced by the paper's method names."""
    out = df.copy()
    out.index = [paper.method_label(m) for m in out.index]
    return out


def method_table(table: pd.DataFrame, metrics: Iterable[str] | None = None, *, decimals: int = 3) -> pd.DataFrame:
    """A display of a per-method :func:`lotus.results.summarize` table: ``"mean ± std"``
    strings (JSD and RF-JSD ×1e3, time in seconds), Avg Gap, the paper's method names.
    ``metrics`` keeps only those metrics (e.g. the four behind Avg Gap)."""
    if metrics is not None:
        keep = [c for m in metrics for c in (f"{m}_mean", f"{m}_std")]
        table = table[[*keep, *[c for c in ("avg_gap", "n_seeds") if c in table.columns]]]
    return labelled(format_summary(table, decimals=decimals, scale=_SCALE, rename=_TITLES))


#: the four scores behind Avg Gap, in the order the compact tables and the gap figure show them
GAP_SCORES = (("acc_forget", "Forget"), ("acc_retain", "Retain"), ("acc_test", "Test"), ("mia", "MIA"))


def compact(mean: float, std: float | None = None, decimals: int = 2) -> str:
    """``"0.64±0.01"``: a mean and its standard deviation in a narrow cell (``"—"`` for a
    missing mean, the mean alone when the std is missing, e.g. with one seed)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{decimals}f}"
    return f"{mean:.{decimals}f}±{std:.{decimals}f}"


def seed_avg_gaps(records: pd.DataFrame) -> pd.DataFrame:
    """Per method, the mean and standard deviation over seeds of the *per-run* Avg Gap (each
    run against the gold model of its seed): columns ``mean``, ``std``, ``n``. The paper's Avg
    Gap is the gap of the seed means (:func:`lotus.results.summarize`); this spread says how
    much it moves from seed to seed."""
    g = records.assign(avg_gap=pd.to_numeric(records["avg_gap"], errors="coerce")).groupby("method", sort=False)
    return pd.DataFrame({"mean": g["avg_gap"].mean(), "std": g["avg_gap"].std(ddof=1), "n": g.size()})


def score_table(table: pd.DataFrame, records: pd.DataFrame | None = None, *, decimals: int = 2) -> pd.DataFrame:
    """The four scores behind Avg Gap (mean ± std over seeds), Avg Gap (the paper's gap of seed
    means; with ``records``, ± the spread of the per-seed Avg Gaps) and the unlearning time in
    seconds, one compact row per method of a :func:`lotus.results.summarize` table."""
    out = pd.DataFrame(index=table.index)
    for key, title in GAP_SCORES:
        out[title] = [compact(m, s, decimals) for m, s in zip(table[f"{key}_mean"], table[f"{key}_std"])]
    spread = seed_avg_gaps(records)["std"] if records is not None else pd.Series(dtype=float)
    out["Avg Gap"] = [compact(g, spread.get(m, math.nan), 3) for m, g in zip(table.index, table["avg_gap"])]
    t_mean, t_std = table["unlearn_seconds_mean"], table["unlearn_seconds_std"]
    out["Time (s)"] = [compact(m, s, 0 if m >= 100 else 1) for m, s in zip(t_mean, t_std)]
    return labelled(out)


def divergence_table(table: pd.DataFrame, *, decimals: int = 2) -> pd.DataFrame:
    """JSD to the gold model and RF-JSD (×1e3, nats, textbook formula), the authors' JSD
    (×1e4) and the accuracy on the unseen set D_u, compact, one row per method."""
    cols = {"jsd": "JSD ×1e3", "rf_jsd": "RF-JSD ×1e3", "jsd_legacy": "JSD ×1e4 (authors)", "acc_val": "Unseen acc"}
    out = pd.DataFrame(index=table.index)
    for key, title in cols.items():
        if f"{key}_mean" in table.columns:
            f = _SCALE.get(key, 1.0)
            out[title] = [compact(m * f, s * f, decimals) for m, s in zip(table[f"{key}_mean"], table[f"{key}_std"])]
    return labelled(out)


def gap_figure(records: pd.DataFrame, *, methods: Iterable[str] | None = None, gold: str = "gold",
               title: str = "Distance to the gold model, per score"):
    """One panel per score behind Avg Gap (forget, retain, test accuracy, MIA): for every
    method, the signed gap to the gold model (method − gold, per seed, then mean ± std over
    seeds) as a horizontal bar on a common scale; the gold model is the zero line and the
    original model's bar is drawn hatched in grey, so that a method's bar reads against "did
    nothing" and "retrained". Returns the ``Figure``."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    data = records.copy()
    keys = [k for k, _ in GAP_SCORES]
    data[keys] = data[keys].apply(pd.to_numeric, errors="coerce")
    gold_rows = data[data["method"] == gold].set_index("seed")[keys]
    order = list(dict.fromkeys(data["method"])) if methods is None else list(methods)
    order = [m for m in order if m != gold]
    diffs = {}
    for m in order:
        rows = data[data["method"] == m].set_index("seed")[keys]
        common = rows.index.intersection(gold_rows.index)
        diffs[m] = rows.loc[common] - gold_rows.loc[common]
    means = {k: np.array([diffs[m][k].mean() for m in order]) for k in keys}
    stds = {k: np.array([diffs[m][k].std(ddof=1) if len(diffs[m]) > 1 else 0.0 for m in order]) for k in keys}
    lim = max(0.05, max(float(np.nanmax(np.abs(means[k]) + np.nan_to_num(stds[k]))) for k in keys) * 1.08)
    fig, axes = plt.subplots(1, len(keys), figsize=(12, 0.36 * len(order) + 1.9), sharey=True)
    pos = np.arange(len(order))[::-1]
    method_color = plots.SPLIT_COLORS.get("forget", "C1")
    for ax, (key, name) in zip(axes, GAP_SCORES):
        colors = ["0.65" if m == "original" else method_color for m in order]
        bars = ax.barh(pos, means[key], xerr=np.nan_to_num(stds[key]), color=colors, edgecolor="0.3", linewidth=0.5,
                       capsize=2, error_kw={"elinewidth": 0.8})
        for m, bar in zip(order, bars):
            if m == "original":
                bar.set_hatch("//")
        ax.axvline(0.0, color="k", lw=1.4)
        ax.set_xlim(-lim, lim)
        ax.set_title(name)
        ax.set_xlabel("method − gold")
        ax.tick_params(axis="x", labelsize="small")
    axes[0].set_yticks(pos)
    axes[0].set_yticklabels([paper.method_label(m) for m in order])
    handles = [Patch(facecolor="0.65", hatch="//", edgecolor="0.3", label="original model (nothing unlearned)"),
               Patch(facecolor=method_color, edgecolor="0.3", label="unlearning method (mean ± std over seeds)"),
               plt.Line2D([], [], color="k", lw=1.4, label="gold model (0)")]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize="small", frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def paper_comparison(ours: pd.DataFrame, records: pd.DataFrame | None, published: pd.Series) -> pd.DataFrame:
    """Our Avg Gap (± the per-seed spread) and rank beside the published Avg Gap and rank, for
    the unlearning methods both hold (rank 1 = closest to the gold model; ranks among the
    common methods), then the methods only one side has (rank blank). Flat columns, compact."""
    ranked = ranking(ours)
    cmp, _, common = rank_comparison(ranked, published)
    spread = seed_avg_gaps(records)["std"] if records is not None else pd.Series(dtype=float)
    rows = list(ranked.index) + [m for m in published.index if m not in ranked.index and m not in PSEUDO_METHODS]
    ours_rank = ranked.reindex(common).rank(method="min")
    pub_rank = published.reindex(common).rank(method="min")
    out = pd.DataFrame({
        "Avg Gap (ours)": [compact(ranked.get(m, math.nan), spread.get(m, math.nan), 3) for m in rows],
        "rank (ours)": [f"{int(ours_rank[m])}" if m in common else "" for m in rows],
        "Avg Gap (paper)": [f"{published[m]:.4f}" if m in published.index and not math.isnan(published[m]) else "—"
                            for m in rows],
        "rank (paper)": [f"{int(pub_rank[m])}" if m in common else "" for m in rows],
    }, index=rows)
    return labelled(out)


def ranking_verdict(ours: pd.Series, published: pd.Series, *, method: str = "lotus") -> dict:
    """The comparison of our ranking (Avg Gap, best first, as from :func:`ranking`) with the
    published one, as numbers and words for a chapter's glue.

    Returns ``{"best", "best_label", "rank", "n", "published_best_label", "published_rank",
    "n_common", "spearman", "same_best", "sentence"}``: ``rank`` is ``method``'s rank among our
    unlearning methods, ``published_rank`` among the common methods in the paper; ``sentence``
    says in plain words whether ``method`` is closest to the gold model in our run and in the
    paper (so that no page says it wins unless the run shows it)."""
    _, rho, common = rank_comparison(ours, published)
    rank = int(list(ours.index).index(method) + 1) if method in ours.index else 0
    pub_common = published.reindex(common).sort_values(kind="stable")
    pub_rank = int(list(pub_common.index).index(method) + 1) if method in pub_common.index else 0
    label = paper.method_label(method)
    best, pub_best = ours.index[0], (pub_common.index[0] if len(pub_common) else None)
    if rank == 1:
        ours_words = f"In this run {label} has the lowest Avg Gap of the {len(ours)} unlearning methods"
    else:
        ours_words = (f"In this run {label} ranks {rank} of {len(ours)} by Avg Gap; "
                      f"{paper.method_label(best)} is closest to the gold model")
    if pub_best is None:
        pub_words = "the paper has no comparable ranking"
    elif pub_rank == 1:
        pub_words = f"in the paper {label} has the lowest Avg Gap of these {len(common)} methods"
    else:
        pub_words = (f"in the paper {label} ranks {pub_rank} of these {len(common)} methods, behind "
                     f"{paper.method_label(pub_best)}")
    return {"best": best, "best_label": paper.method_label(best), "rank": rank, "n": len(ours),
            "published_best_label": paper.method_label(pub_best) if pub_best else "—",
            "published_rank": pub_rank, "n_common": len(common), "spearman": rho,
            "same_best": bool(pub_best == best), "sentence": f"{ours_words}; {pub_words}."}


def key_numbers(ours: pd.DataFrame, records: pd.DataFrame, published: pd.Series | None = None, *,
                max_test_drop: float = 0.10, drop_reference: str = "original") -> dict:
    """The numbers a benchmark chapter's prose states, computed from its run (for ``glue``).

    ``ours``: the per-method :func:`lotus.results.summarize` table; ``records``: the runs;
    ``published``: the published Avg Gap per method of the nearest benchmark (optional).
    Keys: ``n_seeds``, ``n_methods``; the setting (``orig_acc_forget``, ``orig_acc_test``,
    ``orig_mia``, ``gold_acc_forget``, ``gold_acc_test``, ``gold_mia``, ``forget_gap`` and
    ``mia_gap``, original minus gold); the ranking (``best_method``, ``best_avg_gap``,
    ``best_spread``, ``n_within_spread``: methods whose Avg Gap is within the best method's
    per-seed spread of it, the best included); LoTUS (``lotus_avg_gap``, ``lotus_rank``,
    ``lotus_acc_forget``, ``lotus_mia``, ``lotus_acc_test``, ``lotus_test_drop``, ``lotus_forget_closed``: the fraction of the
    original's forget-accuracy distance to the gold model that LoTUS closes, 1 = all of it); ``collapsed`` (the methods whose
    test accuracy ends more than ``max_test_drop`` below that of ``drop_reference``, the original
    model or, for class unlearning, the gold model; in words, or "none") and ``max_test_drop`` itself;
    time (``lotus_seconds``, ``retrain_seconds``, ``lotus_speedup``, ``fastest_method``); with
    ``published``, the :func:`ranking_verdict` entries as ``verdict``, ``rank_spearman``,
    ``n_common``, ``paper_best_method``, ``paper_lotus_rank``.
    """
    ranked = ranking(ours)
    spread = seed_avg_gaps(records)["std"]
    get = lambda m, k: float(ours.loc[m, f"{k}_mean"])  # noqa: E731
    best = ranked.index[0]
    best_spread = float(spread.get(best, math.nan))
    tol = 0.0 if math.isnan(best_spread) else best_spread
    drops = {m: get("original", "acc_test") - get(m, "acc_test") for m in ranked.index}
    collapsed = [paper.method_label(m) for m in ranked.index
                 if get(drop_reference, "acc_test") - get(m, "acc_test") > max_test_drop]
    times = ours.loc[list(ranked.index), "unlearn_seconds_mean"].astype(float)
    out = {
        "n_seeds": int(ours["n_seeds"].max()),
        "n_methods": len(ranked),
        "orig_acc_forget": get("original", "acc_forget"), "orig_acc_test": get("original", "acc_test"),
        "orig_mia": get("original", "mia"),
        "gold_acc_forget": get("gold", "acc_forget"), "gold_acc_test": get("gold", "acc_test"),
        "gold_mia": get("gold", "mia"),
        "forget_gap": get("original", "acc_forget") - get("gold", "acc_forget"),
        "mia_gap": get("original", "mia") - get("gold", "mia"),
        "best_method": paper.method_label(best), "best_avg_gap": float(ranked.iloc[0]), "best_spread": best_spread,
        "n_within_spread": int((ranked <= ranked.iloc[0] + tol + 1e-12).sum()),
        "collapsed": ", ".join(collapsed) if collapsed else "none",
        "max_test_drop": float(max_test_drop),
        "fastest_method": paper.method_label(str(times.idxmin())),
    }
    if "lotus" in ranked.index:
        out.update({
            "lotus_avg_gap": float(ranked["lotus"]), "lotus_rank": int(list(ranked.index).index("lotus") + 1),
            "lotus_acc_forget": get("lotus", "acc_forget"), "lotus_mia": get("lotus", "mia"),
            "lotus_acc_test": get("lotus", "acc_test"), "lotus_test_drop": drops["lotus"],
            "lotus_forget_closed": 1.0 - abs(get("lotus", "acc_forget") - get("gold", "acc_forget"))
            / max(abs(get("original", "acc_forget") - get("gold", "acc_forget")), 1e-12),
            "lotus_seconds": get("lotus", "unlearn_seconds"),
            "retrain_seconds": get("gold", "unlearn_seconds"),
            "lotus_speedup": get("gold", "unlearn_seconds") / get("lotus", "unlearn_seconds"),
        })
    if published is not None:
        v = ranking_verdict(ranked, published)
        out.update({"verdict": v["sentence"], "rank_spearman": v["spearman"], "n_common": v["n_common"],
                    "paper_best_method": v["published_best_label"], "paper_lotus_rank": v["published_rank"]})
    return out


def ranking(table: pd.DataFrame) -> pd.Series:
    """Avg Gap of the unlearning methods of a per-method summary (the original and gold rows
    left out), best first; ties keep the table's order."""
    methods = [m for m in table.index if m not in PSEUDO_METHODS]
    return table.loc[methods, "avg_gap"].sort_values(kind="stable")


def avg_gap_bars(ours: pd.Series, benchmark: str, *, title: str = "Avg Gap to the gold standard"):
    """Bar chart of our Avg Gap per method beside the published one of ``benchmark``
    (NaN where the paper has no row); returns the ``Axes``."""
    pub = paper.published_table(benchmark)["avg_gap"]
    label = f"paper ({paper.benchmark_info(benchmark)['label']})"
    bars = {paper.method_label(m): {"ours": float(ours[m]), label: float(pub[m]) if m in pub.index else math.nan}
            for m in ours.index}
    ax = plots.grouped_bars(bars, ylabel="Avg Gap (lower is better)", xlabel="method", title=title, fmt="{:.3f}")
    for t in ax.get_xticklabels():
        t.set_rotation(30)
        t.set_ha("right")
    return ax


def time_comparison(ours: pd.Series, published: pd.Series, *, paper_title: str = "Paper (GPU)",
                    title: str = "Time to unlearn (gold standard: time to retrain)"):
    """Two log-scale bar panels: our seconds per method (``ours``) and the paper's minutes
    (``published``, NaN rows dropped). Returns the ``Figure``."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    plots.grouped_bars({paper.method_label(m): {"ours (s)": float(v)} for m, v in ours.items()}, ax=axes[0],
                       ylabel="seconds (log scale)", title="Our run", fmt="{:.1f}")
    plots.grouped_bars({paper.method_label(m): {"paper (min)": float(v)} for m, v in published.dropna().items()},
                       ax=axes[1], ylabel="minutes (log scale)", title=paper_title, fmt="{:.2f}")
    for a in axes:
        a.set_yscale("log")
        a.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        a.yaxis.set_minor_formatter(NullFormatter())
        plt.setp(a.get_xticklabels(), rotation=35, ha="right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def published_overview(benchmark: str) -> pd.DataFrame:
    """The published summary of ``benchmark``: Avg Gap, JSD ×1e4 (the authors' formula) and
    minutes on the authors' GPU, with the table each row comes from."""
    pub = paper.published_table(benchmark)
    return labelled(pd.DataFrame({
        "Avg Gap": pub["avg_gap"].map("{:.4f}".format),
        "JSD ×1e4 (authors' formula)": [compact(m, s) for m, s in zip(pub["jsd"], pub["jsd_std"])],
        "Time (min)": [compact(m, s) for m, s in zip(pub["time_min"], pub["time_min_std"])],
        "source": pub["table"],
    }, index=pub.index))


def published_accuracy_overview(benchmark: str) -> pd.DataFrame:
    """The published accuracies behind Avg Gap (mean ± std, the gap to the gold model in
    parentheses) of ``benchmark``."""
    pacc = paper.published_accuracies(benchmark)
    out = pd.DataFrame({
        name: [compact(m, s) + ("" if np.isnan(g) else f" ({g:.2f})")
               for m, s, g in zip(pacc[k], pacc[f"{k}_std"], pacc[f"{k}_gap"])]
        for k, name in (("mia", "MIA"), ("acc_forget", "Forget acc"), ("acc_retain", "Retain acc"),
                        ("acc_test", "Test acc"))
    }, index=pacc.index)
    out["Avg Gap"] = ["—" if np.isnan(v) else f"{v:.4f}" for v in pacc["avg_gap"]]
    return labelled(out)


def rank_comparison(ours: pd.Series, published: pd.Series) -> tuple[pd.DataFrame, float, list[str]]:
    """Our Avg Gaps beside the published ones, each with its rank among the unlearning
    methods both contain (1 = closest to the gold model).

    Returns ``(table, spearman_rho, common_methods)``; rho is NaN with fewer than 3 common
    methods."""
    common = [m for m in ours.index if m in published.index and m not in PSEUDO_METHODS]

    def with_rank(gap: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"avg_gap": gap, "rank": gap.reindex(common).rank(method="min").reindex(gap.index)})

    table = paper.side_by_side(with_rank(ours), with_rank(published), ["avg_gap", "rank"])
    rho = float(spearmanr(ours[common], published[common]).statistic) if len(common) >= 3 else math.nan
    return labelled(table), rho, common


@dataclass
class GpuBenchmark:
    """Committed GPU records of one benchmark: a title, the record count, our formatted
    summary and the nearest published benchmark."""

    title: str
    n_records: int
    table: pd.DataFrame
    benchmark: str | None


def gpu_records(folders: Iterable[str | os.PathLike], forget) -> list[GpuBenchmark]:
    """Committed records of GPU runs (e.g. ``results/gpu``) whose forget set is ``forget``,
    one :class:`GpuBenchmark` per (data set, model, forget set)."""
    frames = [ResultsStore(d).records() for d in folders]
    gpu = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(gpu) == 0:
        return []
    gpu = gpu[gpu["forget"].astype(str) == str(forget)]
    out = []
    for (ds, mdl, fg), part in gpu.groupby(["dataset", "model", "forget"], sort=True):
        devices = ", ".join(sorted(set(part["device_name"].dropna().astype(str))))
        table = summarize(part)
        table = table.droplevel([n for n in table.index.names if n != "method"])
        out.append(GpuBenchmark(f"{ds} / {mdl} / forget {fg}, on {devices}", len(part), method_table(table),
                                paper.closest_benchmark(ds, mdl, fg)))
    return out


# ---------------------------------------------------------------------------------------
# Teaching notes on the published tables (chapters 4 and 5)
# ---------------------------------------------------------------------------------------


def avg_gap_sources(benchmark: str) -> pd.DataFrame:
    """The two published Avg Gaps of every method of ``benchmark``, side by side.

    ``final``: the final paper's table (:func:`lotus.paper.published_table`); ``review``: the
    value printed with the accuracies of the review supplement's Table 4
    (:func:`lotus.paper.published_accuracies`, the authors' review-era notebook runs);
    ``difference`` = final - review (``NaN`` where one source lacks the method) and ``differs``
    (``True`` where both exist and differ by more than rounding, 1e-9). Index: method key, in
    the final table's order; the original model (no Avg Gap) is left out.
    """
    final = paper.published_table(benchmark)["avg_gap"]
    review = paper.published_accuracies(benchmark)["avg_gap"].drop(index="original", errors="ignore")
    methods = list(final.index) + [m for m in review.index if m not in final.index]
    df = pd.DataFrame({"final": final.reindex(methods), "review": review.reindex(methods)})
    df["difference"] = df["final"] - df["review"]
    df["differs"] = df["difference"].abs() > 1e-9
    df.insert(0, "label", [paper.method_label(m) for m in df.index])
    return df


def published_winners(table: str, *, method: str = "lotus") -> pd.DataFrame:
    """For every benchmark of one published summary table (e.g. ``"cvpr2025 Table 3"``): the
    lowest Avg Gap, the method(s) reaching it, and ``method``'s own Avg Gap.

    Columns: ``label`` (the benchmark), ``best_avg_gap``, ``best`` (display names of every method
    at the minimum, joined with " and "), ``<method>_avg_gap``, ``outcome`` (``"wins"``,
    ``"ties"`` or ``"loses"`` for ``method``). Read from ``lotus/published/summary.csv``; an
    unknown table is a :class:`~lotus.utils.LotusError` listing the valid ones.
    """
    summary = paper.read_published("summary")
    valid = sorted(set(summary["table"]))
    if table not in valid:
        raise LotusError(f"unknown published table {table!r}; valid: {', '.join(valid)}")
    rows = []
    for bench, part in summary[summary["table"] == table].groupby("benchmark", sort=False):
        gaps = part.set_index("method")["avg_gap"].dropna().drop(index="gold", errors="ignore")
        best = float(gaps.min())
        at_best = [m for m in gaps.index if abs(float(gaps[m]) - best) <= 1e-9]
        own = float(gaps[method]) if method in gaps.index else float("nan")
        outcome = ("wins" if at_best == [method] else "ties" if method in at_best else "loses")
        rows.append({"benchmark": bench, "label": paper.benchmark_info(bench)["label"], "best_avg_gap": best,
                     "best": " and ".join(paper.method_label(m) for m in at_best),
                     f"{method}_avg_gap": own, "outcome": outcome})
    return pd.DataFrame(rows).set_index("benchmark")


__all__ += ["avg_gap_sources", "published_winners", "AUTHORS_CLASS_RUNS", "class_unlearning_coverage"]


#: the classes the authors' class-unlearning scripts set up for ResNet-18 (spec 6.1), per data
#: set; :func:`lotus.paper.published_class_unlearning` holds results for only some of them
AUTHORS_CLASS_RUNS = {"cifar10": ("cat", "horse"), "cifar100": ("beaver", "rocket"), "tinyimagenet": ("bison", "pizza")}
_DATASET_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "tinyimagenet": "Tiny-ImageNet"}


def class_unlearning_coverage() -> pd.DataFrame:
    """Which class-unlearning runs of the authors have published results: one row per
    (``dataset``, ``forget_class``) of :data:`AUTHORS_CLASS_RUNS` or of the published results,
    with ``label`` (e.g. ``'"cat" (CIFAR-10)'``) and the booleans ``in_scripts`` and ``published``,
    in the scripts' order."""
    pub = paper.published_class_unlearning()
    published = set(zip(pub["dataset"], pub["forget_class"]))
    pairs = [(d, c) for d, classes in AUTHORS_CLASS_RUNS.items() for c in classes]
    pairs += [p for p in dict.fromkeys(zip(pub["dataset"], pub["forget_class"])) if p not in pairs]
    in_scripts = {(d, c) for d, classes in AUTHORS_CLASS_RUNS.items() for c in classes}
    return pd.DataFrame([{"dataset": d, "forget_class": c, "label": f'"{c}" ({_DATASET_LABELS.get(d, d)})',
                          "in_scripts": (d, c) in in_scripts,
                          "published": (d, c) in published} for d, c in pairs])
