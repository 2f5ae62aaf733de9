"""The book's plotting helpers draw what they claim, on small synthetic inputs."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lotus import plots  # noqa: E402
from lotus.utils import LotusError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _entropies(seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    return {
        "retain": rng.gamma(1.0, 0.05, 300),
        "forget": rng.gamma(1.0, 0.05, 40) + shift,
        "test": rng.gamma(2.0, 0.2, 80),
    }


def _saved(fig, tmp_path, name):
    path = plots.save_figure(fig, tmp_path / "figs", name)
    assert path == tmp_path / "figs" / f"{name}.png"
    assert path.stat().st_size > 1000
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    return path


def test_log_entropy_floor_and_validation():
    h = np.array([0.0, 1e-12, 1.0, np.e])
    out = plots.log_entropy(h, floor=1e-8)
    np.testing.assert_allclose(out, [np.log(1e-8), np.log(1e-8), 0.0, 1.0])
    assert np.isfinite(plots.log_entropy(torch.zeros(3))).all()
    with pytest.raises(LotusError):
        plots.log_entropy(h, floor=0)
    with pytest.raises(LotusError):
        plots.log_entropy([np.nan, 1.0])
    with pytest.raises(LotusError):
        plots.log_entropy([])


def test_entropy_histogram_draws_one_histogram_per_split(tmp_path):
    ax = plots.entropy_histogram(_entropies(), log=True, title="splits")
    assert ax.get_title() == "splits"
    assert "log-entropy" in ax.get_xlabel()
    assert ax.get_ylabel() == "density"
    # element="step" draws one filled polygon per split; the legend names the splits
    assert len(ax.collections) == 3
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["retain", "forget", "test"]
    _saved(ax.figure, tmp_path, "hist")


def test_entropy_histogram_linear_scale_label():
    ax = plots.entropy_histogram({"forget": [0.1, 0.2, 0.3]}, log=False)
    assert ax.get_xlabel() == "entropy H(p) [nats]"
    with pytest.raises(LotusError):
        plots.entropy_histogram({})
    with pytest.raises(LotusError):
        plots.entropy_histogram({"forget": [0.1]}, normalise="minmax")


def test_entropy_panels_share_one_scale(tmp_path):
    per_model = {"original": _entropies(0), "gold": _entropies(1, shift=0.5), "lotus": _entropies(2, shift=1.0)}
    fig = plots.entropy_panels(per_model, log=True, suptitle="common scale")
    axes = fig.axes
    assert [a.get_title() for a in axes] == ["original", "gold", "lotus"]
    lims = {tuple(np.round(a.get_xlim(), 6)) for a in axes}
    assert len(lims) == 1  # one common x-range
    # the shifted forget set of the last model reaches the right end of the common range
    hi = max(plots.log_entropy(v).max() for e in per_model.values() for v in e.values())
    assert axes[0].get_xlim()[1] >= hi
    assert all("log-entropy" in a.get_xlabel() for a in axes)
    assert axes[0].get_legend() is not None and axes[1].get_legend() is None
    _saved(fig, tmp_path, "panels")


def test_entropy_panels_zscore_hides_location_shift():
    a = {"m": {"forget": np.linspace(0.1, 0.2, 50)}}
    b = {"m": {"forget": np.linspace(0.1, 0.2, 50) * 100}}
    fa = plots.entropy_panels(a, log=False, normalise="zscore")
    fb = plots.entropy_panels(b, log=False, normalise="zscore")
    # after per-split standardisation a factor-100 shift leaves the same x-range
    np.testing.assert_allclose(fa.axes[0].get_xlim(), fb.axes[0].get_xlim())
    assert "z-score" in fa.axes[0].get_xlabel()
    fc = plots.entropy_panels(b, log=False)
    assert fc.axes[0].get_xlim()[1] > 10


def test_entropy_panels_grid_removes_unused_axes():
    per_model = {f"m{i}": _entropies(i) for i in range(5)}
    fig = plots.entropy_panels(per_model, ncols=3)
    assert len(fig.axes) == 5


def test_learning_curves_lines_and_labels(tmp_path):
    hist = [{"epoch": e, "train_loss": 2.0 / (e + 1), "val_loss": 2.2 / (e + 1), "val_acc": 0.5 + 0.1 * e}
            for e in range(4)]
    fig = plots.learning_curves({"original": hist, "gold": hist[:3]}, title="curves")
    ax_loss, ax_acc = fig.axes
    assert len(ax_loss.lines) == 4 and len(ax_acc.lines) == 2
    assert ax_loss.get_xlabel() == "epoch" and "loss" in ax_loss.get_ylabel()
    assert "accuracy" in ax_acc.get_ylabel()
    np.testing.assert_allclose(ax_acc.lines[0].get_xdata(), [1, 2, 3, 4])  # 1-based epochs
    np.testing.assert_allclose(ax_acc.lines[0].get_ydata(), [0.5, 0.6, 0.7, 0.8])
    _saved(fig, tmp_path, "curves")
    # a single history without validation entries
    fig2 = plots.learning_curves([{"epoch": 0, "train_loss": 1.0}])
    assert len(fig2.axes[0].lines) == 1 and len(fig2.axes[1].lines) == 0
    with pytest.raises(LotusError):
        plots.learning_curves({"x": [{"loss": 1.0}]})
    with pytest.raises(LotusError):
        plots.learning_curves({"x": []})


def test_temperature_curves(tmp_path):
    d = np.linspace(-0.2, 0.5, 30)
    taus = {a: np.exp(a * d) for a in (2, 4, 8, 16)}
    ax = plots.temperature_curves(d, taus)
    curves = [ln for ln in ax.lines if ln.get_label().startswith("α")]
    assert [ln.get_label() for ln in curves] == ["α = 2", "α = 4", "α = 8", "α = 16"]
    np.testing.assert_allclose(curves[2].get_ydata(), np.exp(8 * d))
    assert ax.get_yscale() == "log"
    assert "∆Acc" in ax.get_xlabel() and "τ" in ax.get_ylabel()
    _saved(ax.figure, tmp_path, "tau")
    with pytest.raises(LotusError):
        plots.temperature_curves(d, {2: np.ones(3)})


def test_delta_acc_curve_with_tau_axis(tmp_path):
    hist = [{"epoch": e, "delta_acc": d, "tau": float(np.exp(2 * d)), "acc_forget": 0.9}
            for e, d in enumerate([0.4, 0.2, 0.05, 0.0])]
    ax = plots.delta_acc_curve(hist)
    fig = ax.figure
    assert len(fig.axes) == 2  # ∆Acc axis and its τ twin
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.4, 0.2, 0.05, 0.0])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3, 4])
    assert fig.axes[1].get_ylabel() == "temperature τ_d"
    assert ax.get_xlabel() == "unlearning epoch"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["∆Acc", "τ_d"]
    _saved(fig, tmp_path, "delta")
    # the final entry of a LoTUS history has no temperature: a gap in the τ line, not an error
    hist2 = hist + [{"epoch": 4, "delta_acc": -0.01, "tau": None}]
    ax3 = plots.delta_acc_curve(hist2)
    tau_line = ax3.figure.axes[1].lines[0]
    assert len(tau_line.get_ydata()) == 5 and np.isnan(tau_line.get_ydata()[-1])
    assert len(ax3.lines[0].get_ydata()) == 5
    ax2 = plots.delta_acc_curve([{"epoch": 0, "delta_acc": 0.1}])
    assert len(ax2.figure.axes) == 1
    with pytest.raises(LotusError):
        plots.delta_acc_curve([])
    with pytest.raises(LotusError):
        plots.delta_acc_curve([{"epoch": 0, "tau": 1.0}])


def test_target_distributions(tmp_path):
    p = torch.softmax(torch.tensor([3.0, 1.0, 0.0, -1.0]), 0)
    targets = {"teacher": p, "τ=4": torch.softmax(torch.log(p) / 4, 0), "one-hot": torch.eye(4)[0]}
    ax = plots.target_distributions(targets, class_names=["cat", "dog", "car", "ship"], label=1)
    assert len(ax.patches) == 12  # 3 settings x 4 classes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog*", "car", "ship"]
    assert ax.get_ylabel() == "target probability"
    np.testing.assert_allclose([r.get_height() for r in ax.patches[:4]], p.numpy(), rtol=1e-6)
    _saved(ax.figure, tmp_path, "targets")
    with pytest.raises(LotusError):
        plots.target_distributions({"a": [0.5, 0.5], "b": [1.0, 0.0, 0.0]})


def test_fano_min_error_inverts_the_bound():
    k = 10
    pe = np.array([0.0, 0.1, 0.3, 0.6, 0.9])
    hb = -(np.where(pe > 0, pe * np.log2(np.where(pe > 0, pe, 1)), 0) + (1 - pe) * np.log2(1 - pe))
    h = hb + pe * np.log2(k - 1)
    np.testing.assert_allclose(plots.fano_min_error(h, k), pe, atol=1e-3)
    # zero uncertainty allows zero error; maximal uncertainty forces chance-level error
    assert plots.fano_min_error([0.0], k)[0] == 0.0
    assert plots.fano_min_error([np.log2(k) + 1], k)[0] == pytest.approx(1 - 1 / k)
    # the exact bound is never below the paper's linear relaxation
    hs = np.linspace(0, np.log2(k), 50)
    assert np.all(plots.fano_min_error(hs, k) >= (hs - 1) / np.log2(k) - 1e-9)
    with pytest.raises(LotusError):
        plots.fano_min_error([1.0], 1)
    with pytest.raises(LotusError):
        plots.fano_min_error([-0.5], 10)


def test_fano_plot(tmp_path):
    ax = plots.fano_plot([2, 10], points={"forget": (0.2, 0.01), "val": (0.9, 0.12)})
    assert len(ax.lines) == 4  # exact + weak bound for each k
    assert len(ax.collections) == 2  # one marker set per point
    assert "bits" in ax.get_xlabel() and ax.get_ylabel() == "error probability P_e"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Fano bound, k = 10" in labels and "forget" in labels
    _saved(ax.figure, tmp_path, "fano")
    ax2 = plots.fano_plot([10], weak=False)
    assert len(ax2.lines) == 1
    with pytest.raises(LotusError):
        plots.fano_plot([])


def test_grouped_bars(tmp_path):
    vals = {"forget": {"H(mean)": 2.3, "mean H": 0.1, "I": 2.2}, "val": {"H(mean)": 2.3, "mean H": 0.5, "I": 1.8}}
    ax = plots.grouped_bars(vals, ylabel="nats", title="MI")
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["forget", "val"]
    assert ax.get_ylabel() == "nats" and ax.get_title() == "MI"
    heights = sorted(round(r.get_height(), 6) for r in ax.patches)
    assert heights == sorted([2.3, 0.1, 2.2, 2.3, 0.5, 1.8])
    # headroom above the tallest bar for the legend, and value labels on every bar
    assert ax.get_ylim()[1] > 2.3 * 1.2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["H(mean)", "mean H", "I"]
    assert sum(len(c.get_children()) if hasattr(c, "get_children") else 0 for c in ax.containers) == 6
    assert {t.get_text() for t in ax.texts} >= {"2.30", "0.10", "1.80"}
    _saved(ax.figure, tmp_path, "bars")
    # negative values keep room below zero
    ax2 = plots.grouped_bars({"a": {"x": -0.5, "y": 0.2}})
    assert ax2.get_ylim()[0] < -0.5


def test_save_figure_validates(tmp_path):
    fig, _ = plt.subplots()
    p = plots.save_figure(fig, tmp_path / "a" / "b", "x.png")
    assert p.name == "x.png" and p.exists()
    with pytest.raises(LotusError):
        plots.save_figure(fig, tmp_path, "")
    with pytest.raises(LotusError):
        plots.save_figure(None, tmp_path, "y")


def test_draw_into_given_axes():
    fig, axes = plt.subplots(1, 3)
    ax = plots.entropy_histogram(_entropies(), ax=axes[0])
    assert ax is axes[0]
    ax = plots.temperature_curves([0.0, 0.1], {2: [1.0, 1.2]}, ax=axes[1])
    assert ax is axes[1]
    assert plots.fano_plot([10], ax=axes[2]) is axes[2]
    assert len(fig.axes) == 3
