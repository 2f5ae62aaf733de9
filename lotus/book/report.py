"""Tables the benchmark chapters show, written once.

Used by chapters 4 (benchmark), 5 (50 % forget set), 8 (class unlearning) and 9 (large
scale): the formatted summary of our runs, the ranking of the methods by Avg Gap, the
published tables beside ours, the rank comparison with the paper, and committed GPU records.
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

__all__ = [
    "labelled",
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
        "JSD ×1e4 (authors' formula)": [paper.format_pm(m, s) for m, s in zip(pub["jsd"], pub["jsd_std"])],
        "Time (min)": [paper.format_pm(m, s) for m, s in zip(pub["time_min"], pub["time_min_std"])],
        "source": pub["table"],
    }, index=pub.index))


def published_accuracy_overview(benchmark: str) -> pd.DataFrame:
    """The published accuracies behind Avg Gap (mean ± std, the gap to the gold model in
    parentheses) of ``benchmark``."""
    pacc = paper.published_accuracies(benchmark)
    out = pd.DataFrame({
        name: [paper.format_pm(m, s) + ("" if np.isnan(g) else f" ({g:.2f})")
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
