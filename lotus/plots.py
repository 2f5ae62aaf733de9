"""Plotting helpers for the book's chapters.

Every function takes plain data (NumPy arrays, tensors, dicts of them, per-epoch history
lists) and an optional Matplotlib ``Axes``; it draws labelled axes with a title and returns
the ``Axes`` (or the ``Figure`` for multi-panel plots). Nothing here trains or evaluates a
model: the notebooks compute with :mod:`lotus` and hand the numbers to these functions.

Entropies are in nats unless a function says otherwise; ``log`` options use the natural
logarithm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from .utils import LotusError

__all__ = [
    "set_style",
    "save_figure",
    "log_entropy",
    "entropy_histogram",
    "entropy_panels",
    "learning_curves",
    "temperature_curves",
    "delta_acc_curve",
    "target_distributions",
    "fano_min_error",
    "fano_plot",
    "grouped_bars",
]

#: fixed colours so that a split has the same colour in every chapter
SPLIT_COLORS = {
    "retain": "#4C72B0",
    "forget": "#DD8452",
    "test": "#55A868",
    "val": "#8172B3",
    "unseen": "#8172B3",
    "train": "#937860",
}


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize=(6.0, 4.0)):
    """``(fig, ax)``: the given Axes and its figure, or a new figure with one Axes."""
    if ax is None:
        fig, ax = _plt().subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _array(x, name: str) -> np.ndarray:
    """A 1-D float64 NumPy array from a list / array / tensor; empty or non-finite is an error."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size == 0:
        raise LotusError(f"{name} is empty")
    if not np.all(np.isfinite(a)):
        raise LotusError(f"{name} contains non-finite values")
    return a


def set_style() -> None:
    """The book's Matplotlib / seaborn look: white grid, readable font sizes."""
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=1.0)
    _plt().rcParams.update({"figure.dpi": 100, "savefig.dpi": 130, "axes.titleweight": "bold"})


def save_figure(fig, output_dir: str | Path, name: str) -> Path:
    """Save ``fig`` as ``<output_dir>/<name>`` (``.png`` appended when missing), creating the
    folder. Returns the path."""
    if not name:
        raise LotusError("figure name must be non-empty")
    if fig is None or not hasattr(fig, "savefig"):
        raise LotusError(f"expected a Matplotlib Figure, got {type(fig).__name__}")
    name = name if name.endswith(".png") else f"{name}.png"
    path = Path(output_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def log_entropy(h, floor: float = 1e-8) -> np.ndarray:
    """``ln(max(h, floor))`` of entropies ``h`` (``[N]``, nats). A confident float32 softmax
    can have entropy exactly 0; ``floor`` keeps its logarithm finite."""
    if floor <= 0:
        raise LotusError(f"floor must be > 0, got {floor}")
    return np.log(np.maximum(_array(h, "entropies"), floor))


def _zscore(a: np.ndarray) -> np.ndarray:
    sd = a.std()
    return (a - a.mean()) / (sd if sd > 0 else 1.0)


def _entropy_frame(entropies: Mapping[str, object], *, log: bool, floor: float, normalise: str | None):
    import pandas as pd

    if not isinstance(entropies, Mapping) or not entropies:
        raise LotusError("entropies must be a non-empty dict {split name: entropies [N]}")
    if normalise not in (None, "zscore"):
        raise LotusError(f"normalise must be None or 'zscore', got {normalise!r}")
    parts = []
    for split, h in entropies.items():
        v = log_entropy(h, floor) if log else _array(h, f"entropies[{split!r}]")
        if normalise == "zscore":
            v = _zscore(v)
        parts.append(pd.DataFrame({"value": v, "split": split}))
    return pd.concat(parts, ignore_index=True)


def _value_label(log: bool, normalise: str | None) -> str:
    base = "log-entropy ln H(p)" if log else "entropy H(p) [nats]"
    return f"z-score of {base}" if normalise == "zscore" else base


def _common_range(values: Sequence[np.ndarray]) -> tuple[float, float]:
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def entropy_histogram(
    entropies: Mapping[str, object],
    *,
    ax=None,
    log: bool = True,
    floor: float = 1e-8,
    bins: int = 40,
    binrange: tuple[float, float] | None = None,
    stat: str = "density",
    multiple: str = "layer",
    element: str = "step",
    normalise: str | None = None,
    title: str | None = None,
    legend: bool = True,
):
    """Histogram of per-sample output entropies, one colour per split.

    ``entropies``: ``{split name: entropies [N] in nats}`` (e.g. from
    :func:`lotus.metrics.entropy`). ``log=True`` plots ``ln H`` (see :func:`log_entropy`).
    ``binrange``: fix the x-range (share it between panels to compare locations);
    ``normalise="zscore"`` standardises each split separately, which removes location
    shifts (shown only to explain that pitfall). ``stat``/``multiple``/``element`` are passed
    to :func:`seaborn.histplot` (``multiple="stack"`` stacks the splits); every split is
    normalised on its own (``common_norm=False``), so a small forget set is as visible as a
    large retain set. Returns the Axes.
    """
    import seaborn as sns

    if bins < 1:
        raise LotusError(f"bins must be >= 1, got {bins}")
    df = _entropy_frame(entropies, log=log, floor=floor, normalise=normalise)
    if binrange is None:
        binrange = _common_range([df["value"].to_numpy()])
    fig, ax = _axes(ax)
    order = list(entropies)
    palette = {s: SPLIT_COLORS.get(s, None) for s in order}
    if any(c is None for c in palette.values()):
        palette = dict(zip(order, sns.color_palette(n_colors=len(order))))
    sns.histplot(data=df, x="value", hue="split", hue_order=order, bins=bins, binrange=binrange, stat=stat,
                 multiple=multiple, element=element, common_norm=False,
                 palette=palette, ax=ax, legend=legend)
    ax.set_xlabel(_value_label(log, normalise))
    ax.set_ylabel(stat)
    ax.set_title(title or "Output entropy per split")
    return ax


def entropy_panels(
    per_model: Mapping[str, Mapping[str, object]],
    *,
    log: bool = True,
    floor: float = 1e-8,
    bins: int = 40,
    normalise: str | None = None,
    multiple: str = "stack",
    stat: str = "density",
    ncols: int | None = None,
    panel_size: tuple[float, float] = (4.2, 3.4),
    suptitle: str | None = None,
):
    """One entropy histogram per model on a **common** x-range and bins.

    ``per_model``: ``{model name: {split name: entropies [N]}}``. Without ``normalise`` every
    panel uses the same bin edges, so a shift of a split's entropies between models is
    visible; ``normalise="zscore"`` standardises each split of each panel separately (the
    authors' presentation, which hides such shifts). Returns the Figure (one Axes per model,
    x shared).
    """
    if not isinstance(per_model, Mapping) or not per_model:
        raise LotusError("per_model must be a non-empty dict {model: {split: entropies}}")
    frames = {m: _entropy_frame(e, log=log, floor=floor, normalise=normalise) for m, e in per_model.items()}
    binrange = _common_range([f["value"].to_numpy() for f in frames.values()])
    n = len(per_model)
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = _plt().subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                                sharex=True, squeeze=False)
    flat = axes.ravel()
    for i, (name, ent) in enumerate(per_model.items()):
        entropy_histogram(ent, ax=flat[i], log=log, floor=floor, bins=bins, binrange=binrange, stat=stat,
                          multiple=multiple, normalise=normalise, title=name, legend=(i == 0))
        flat[i].tick_params(labelbottom=True)
    for ax in flat[n:]:
        ax.remove()
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def learning_curves(histories: Mapping[str, Sequence[Mapping]] | Sequence[Mapping], *, axes=None,
                    title: str | None = None):
    """Training curves from :func:`lotus.train.train_model` histories.

    ``histories``: one history (a list of per-epoch dicts with ``epoch``, ``train_loss`` and
    optionally ``val_loss``, ``val_acc``) or ``{model name: history}``. Draws losses (train
    solid, val dashed) on the left Axes and validation accuracy on the right. ``axes``: two
    Axes to draw into. Returns the Figure.
    """
    if isinstance(histories, Mapping):
        named = dict(histories)
    else:
        named = {"model": list(histories)}
    if not named:
        raise LotusError("no history to plot")
    if axes is None:
        fig, axes = _plt().subplots(1, 2, figsize=(11, 4))
    else:
        if len(axes) != 2:
            raise LotusError(f"axes must hold two Axes (loss, accuracy), got {len(axes)}")
        fig = axes[0].figure
    ax_loss, ax_acc = axes
    colors = _plt().rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, hist) in enumerate(named.items()):
        hist = list(hist)
        if not hist:
            raise LotusError(f"history of {name!r} is empty")
        missing = [k for k in ("epoch", "train_loss") if k not in hist[0]]
        if missing:
            raise LotusError(f"history of {name!r} lacks {missing}; keys: {sorted(hist[0])}")
        ep = np.array([h["epoch"] for h in hist], dtype=float) + 1
        c = colors[i % len(colors)]
        ax_loss.plot(ep, [h["train_loss"] for h in hist], "-", color=c, marker="o", ms=3, label=f"{name}: train")
        if "val_loss" in hist[0]:
            ax_loss.plot(ep, [h["val_loss"] for h in hist], "--", color=c, marker="s", ms=3, label=f"{name}: val")
        if "val_acc" in hist[0]:
            ax_acc.plot(ep, [h["val_acc"] for h in hist], "-", color=c, marker="o", ms=3, label=name)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy loss [nats]")
    ax_loss.set_title("Loss")
    ax_loss.legend(fontsize="small")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("validation accuracy")
    ax_acc.set_title("Validation (unseen) accuracy")
    if ax_acc.lines:
        ax_acc.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def temperature_curves(delta_acc, taus: Mapping[object, object], *, ax=None, logy: bool = True,
                       title: str | None = None):
    """The dynamic temperature ``tau_d`` against ``∆Acc`` for several ``alpha``.

    ``delta_acc``: ``[M]`` grid of accuracy gaps; ``taus``: ``{alpha: tau values [M]}`` (e.g.
    from :func:`lotus.methods.lotus.dynamic_temperature`). Marks ``tau = 1`` (targets left
    unchanged) and ``∆Acc = 0``. Returns the Axes.
    """
    x = _array(delta_acc, "delta_acc")
    if not taus:
        raise LotusError("taus must be a non-empty dict {alpha: tau values}")
    fig, ax = _axes(ax)
    for alpha, t in taus.items():
        t = _array(t, f"taus[{alpha!r}]")
        if t.shape != x.shape:
            raise LotusError(f"taus[{alpha!r}] has {t.size} values, delta_acc has {x.size}")
        ax.plot(x, t, lw=2, label=f"α = {alpha:g}" if isinstance(alpha, (int, float)) else str(alpha))
    ax.axhline(1.0, color="0.3", ls=":", lw=1)
    ax.axvline(0.0, color="0.3", ls=":", lw=1)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("∆Acc = Acc(f_un, D_f) − Acc(f_orig, D_u)")
    ax.set_ylabel("temperature τ_d" + (" (log scale)" if logy else ""))
    ax.set_title(title or "Dynamic temperature τ_d = exp(α·∆Acc)")
    ax.legend(title="scale", fontsize="small")
    return ax


def delta_acc_curve(history: Sequence[Mapping], *, ax=None, show_tau: bool = True, title: str | None = None):
    """∆Acc per unlearning epoch (the paper's convergence figure) from a LoTUS report history.

    ``history``: ``UnlearnReport.history``, dicts with ``epoch`` and ``delta_acc`` (and
    ``tau`` for the right-hand axis when ``show_tau``). ``epoch`` is 0-based and is plotted
    1-based; a ``tau`` of ``None`` (an epoch that did not train, e.g. the state after the last
    epoch or an early stop) leaves a gap. Returns the ∆Acc Axes; the τ axis is its twin
    (``ax.figure.axes``).
    """
    hist = list(history)
    if not hist:
        raise LotusError("history is empty: did the unlearning run any epoch?")
    missing = [k for k in ("epoch", "delta_acc") if k not in hist[0]]
    if missing:
        raise LotusError(f"history lacks {missing}; keys: {sorted(hist[0])}")
    ep = np.array([h["epoch"] for h in hist], dtype=float) + 1
    d = _array([h["delta_acc"] for h in hist], "delta_acc")
    fig, ax = _axes(ax, figsize=(6.5, 4.0))
    ax.plot(ep, d, "-o", color="#C44E52", lw=2, label="∆Acc")
    ax.axhline(0.0, color="0.3", ls=":", lw=1)
    ax.set_xlabel("unlearning epoch")
    ax.set_ylabel("∆Acc = Acc(f_un, D_f) − Acc(f_orig, D_u)")
    ax.set_title(title or "Convergence of ∆Acc under the dynamic temperature")
    handles, labels = ax.get_legend_handles_labels()
    if show_tau and "tau" in hist[0]:
        ax2 = ax.twinx()
        taus = [np.nan if h.get("tau") is None else float(h["tau"]) for h in hist]  # None: no training that epoch
        ax2.plot(ep, taus, "--s", color="#4C72B0", lw=1.5, ms=4, label="τ_d")
        ax2.set_ylabel("temperature τ_d")
        ax2.grid(False)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.set_xticks(ep)
    ax.legend(handles, labels, loc="upper right", fontsize="small")
    return ax


def target_distributions(targets: Mapping[str, object], *, class_names: Sequence[str] | None = None, ax=None,
                         label: int | None = None, title: str | None = None):
    """Grouped bars of several target distributions over the ``K`` classes of one sample.

    ``targets``: ``{setting name: probabilities [K]}``, e.g. the teacher's softmax and its
    Gumbel-Softmax targets at several temperatures. ``label``: the sample's true class (its
    tick is marked with ``*``). Returns the Axes.
    """
    if not targets:
        raise LotusError("targets must be a non-empty dict {setting: probabilities [K]}")
    rows = {k: _array(v, f"targets[{k!r}]") for k, v in targets.items()}
    sizes = {v.size for v in rows.values()}
    if len(sizes) != 1:
        raise LotusError(f"all target vectors must have the same length, got sizes {sorted(sizes)}")
    k = sizes.pop()
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise LotusError(f"{len(names)} class names for {k} classes")
    if label is not None:
        names = [f"{n}*" if i == label else n for i, n in enumerate(names)]
    fig, ax = _axes(ax, figsize=(7.5, 3.6))
    width = 0.8 / len(rows)
    pos = np.arange(k)
    for i, (name, p) in enumerate(rows.items()):
        ax.bar(pos - 0.4 + width * (i + 0.5), p, width=width, label=name)
    ax.set_xticks(pos)
    ax.set_xticklabels(names, rotation=45 if max(len(n) for n in names) > 3 else 0, ha="right" if max(len(n) for n in names) > 3 else "center")
    ax.set_xlabel("class" + (" (* = true label)" if label is not None else ""))
    ax.set_ylabel("target probability")
    ax.set_ylim(0, 1.02)
    ax.set_title(title or "Target distributions")
    ax.legend(fontsize="small", ncol=2)
    return ax


def _binary_entropy_bits(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log2(p), 0.0) + np.where(p < 1, (1 - p) * np.log2(1 - p), 0.0))
    return h


def _fano_curve(k: int, n: int = 2001) -> tuple[np.ndarray, np.ndarray]:
    """``(H_max, P_e)``: the largest conditional entropy (bits) compatible with error ``P_e``,
    ``H_b(P_e) + P_e log2(k - 1)``, for ``P_e`` in ``[0, 1 - 1/k]`` (increasing in ``P_e``)."""
    pe = np.linspace(0.0, 1.0 - 1.0 / k, n)
    return _binary_entropy_bits(pe) + pe * np.log2(k - 1), pe


def fano_min_error(h_bits, k: int) -> np.ndarray:
    """The smallest error probability Fano's inequality allows for conditional entropy
    ``h_bits`` (bits) over ``k`` outcomes: the inverse of ``H_b(P_e) + P_e log2(k-1)`` on
    ``[0, 1 - 1/k]``. ``h_bits`` beyond ``log2 k`` map to ``1 - 1/k``. Returns ``[N]``."""
    if int(k) != k or k < 2:
        raise LotusError(f"k (number of outcomes) must be an integer >= 2, got {k}")
    h = _array(h_bits, "h_bits")
    if (h < 0).any():
        raise LotusError("conditional entropies must be >= 0")
    hmax, pe = _fano_curve(int(k))
    return np.interp(h, hmax, pe)


def fano_plot(ks: Sequence[int], *, points: Mapping[str, tuple[float, float]] | None = None, ax=None,
              weak: bool = True, title: str | None = None):
    """Fano's lower bound on the error probability against the conditional entropy (bits).

    For each ``k`` in ``ks`` draws the exact bound (the inverse of
    ``H_b(P_e) + P_e log2(k-1)``) and, with ``weak``, the looser linear form
    ``P_e >= (H - 1) / log2 k`` used by the paper. ``points``: ``{name: (H bits, error)}``
    measured on real splits, drawn as markers (they must lie on or above their curve).
    Returns the Axes.
    """
    if not ks:
        raise LotusError("ks must list at least one number of classes")
    fig, ax = _axes(ax, figsize=(6.5, 4.2))
    colors = _plt().rcParams["axes.prop_cycle"].by_key()["color"]
    for i, k in enumerate(ks):
        if int(k) != k or k < 2:
            raise LotusError(f"number of classes must be an integer >= 2, got {k}")
        c = colors[i % len(colors)]
        hmax, pe = _fano_curve(int(k))
        ax.plot(hmax, pe, color=c, lw=2, label=f"Fano bound, k = {k}")
        if weak:
            h = np.linspace(0, np.log2(k), 200)
            ax.plot(h, np.maximum(0.0, (h - 1) / np.log2(k)), color=c, lw=1.2, ls="--",
                    label=f"(H − 1)/log₂k, k = {k}")
    if points:
        markers = "oDs^vP*X"
        for j, (name, (h, e)) in enumerate(points.items()):
            ax.scatter([h], [e], s=60, marker=markers[j % len(markers)], zorder=5, edgecolor="black", label=name)
    ax.set_xlabel("conditional entropy H(Y | f(X)) [bits]")
    ax.set_ylabel("error probability P_e")
    ax.set_ylim(-0.02, 1.0)
    ax.set_xlim(left=0)
    ax.set_title(title or "Fano's inequality: entropy bounds the error from below")
    ax.legend(fontsize="small")
    return ax


def grouped_bars(values: Mapping[str, Mapping[str, float]], *, ax=None, ylabel: str = "value",
                 xlabel: str = "", title: str | None = None, fmt: str | None = "{:.2f}"):
    """Grouped bar chart of ``{group: {series: value}}`` (groups on the x-axis, one colour per
    series), with value labels on the bars when ``fmt`` is given. With several series the
    y-range gets headroom for a one-row legend above the bars. Returns the Axes."""
    if not values:
        raise LotusError("values must be a non-empty dict {group: {series: value}}")
    groups = list(values)
    series = list(dict.fromkeys(s for g in groups for s in values[g]))
    fig, ax = _axes(ax, figsize=(7.0, 4.0))
    width = 0.8 / len(series)
    pos = np.arange(len(groups))
    for i, s in enumerate(series):
        v = np.array([float(values[g].get(s, np.nan)) for g in groups])
        bars = ax.bar(pos - 0.4 + width * (i + 0.5), v, width=width, label=s)
        if fmt:
            ax.bar_label(bars, labels=[fmt.format(x) if np.isfinite(x) else "" for x in v], fontsize="x-small", padding=2)
    ax.set_xticks(pos)
    ax.set_xticklabels(groups)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or "")
    ax.axhline(0.0, color="0.2", lw=0.8)
    if len(series) > 1:
        # headroom above the tallest bar for a one-row legend that hides no bar
        vals = np.array([float(values[g].get(s, np.nan)) for g in groups for s in series])
        lo, hi = np.nanmin(np.r_[vals, 0.0]), np.nanmax(np.r_[vals, 0.0])
        span = (hi - lo) or 1.0
        ax.set_ylim(lo - (0.05 * span if lo < 0 else 0.0), hi + 0.35 * span)
        ax.legend(fontsize="small", loc="upper center", ncol=min(len(series), 4))
    return ax
