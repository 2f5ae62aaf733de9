"""The paper's metrics pinned to their definitions (closed forms and hand-derived examples)."""

import math

import numpy as np
import pytest
import torch

from lotus import metrics
from lotus.utils import LotusError

LN2 = math.log(2.0)


def random_probs(n, k, seed=0, sharp=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(sharp * torch.randn(n, k, generator=g), dim=1)


# ----------------------------------------------------------------------------- entropy


def test_entropy_uniform_is_log_k_and_one_hot_is_zero():
    k = 7
    uniform = torch.full((3, k), 1.0 / k)
    assert torch.allclose(metrics.entropy(uniform), torch.full((3,), math.log(k)), atol=1e-6)
    one_hot = torch.eye(k)
    # 0 log 0 = 0: exactly zero, no NaN
    assert torch.equal(metrics.entropy(one_hot), torch.zeros(k))


def test_entropy_matches_hand_computation():
    p = torch.tensor([[0.5, 0.25, 0.25]])
    expected = -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))
    assert metrics.entropy(p).item() == pytest.approx(expected, abs=1e-6)


def test_entropy_rejects_non_probabilities():
    with pytest.raises(LotusError, match="sum to 1"):
        metrics.entropy(torch.tensor([[2.0, 3.0]]))


# ----------------------------------------------------------------------------- JSD


def test_js_of_identical_distributions_is_zero():
    p = random_probs(50, 10)
    assert metrics.js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)


def test_js_of_disjoint_one_hots_is_ln2():
    p = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    q = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert metrics.js_divergence(p, q) == pytest.approx(LN2, abs=1e-12)


def test_js_is_symmetric_and_bounded():
    p, q = random_probs(200, 5, seed=1, sharp=4), random_probs(200, 5, seed=2, sharp=4)
    a, b = metrics.js_divergence(p, q), metrics.js_divergence(q, p)
    assert a == pytest.approx(b, abs=1e-12)
    assert 0.0 < a < LN2


def test_js_is_the_row_mean_of_the_textbook_formula():
    p = torch.tensor([[0.75, 0.25], [0.5, 0.5]])
    q = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    # row 0: m = (0.5, 0.5); KL(p||m) = KL(q||m) = 0.75 ln 1.5 + 0.25 ln 0.5; row 1: 0
    row0 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert metrics.js_divergence(p, q) == pytest.approx(row0 / 2, abs=1e-12)


def _probability_rows(rng, n, k, zeros):
    """``[n, k]`` float64 rows summing to 1, half of them sharply peaked (entries near 1e-20);
    ``zeros``: also some exact zeros and some entries of 1e-12."""
    logits = rng.normal(size=(n, k)) * np.where(np.arange(n) % 2 == 0, 1.0, 40.0)[:, None]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    if zeros and k > 2:
        p[rng.random((n, k)) < 0.2] = 0.0
        p[rng.random((n, k)) < 0.1] = 1e-12
        p[:, 0] += 1e-3  # no all-zero row
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("n,k", [(2, 2), (7, 3), (64, 10), (300, 100)])
@pytest.mark.parametrize("zeros", [False, True])
def test_js_matches_scipy_as_an_independent_oracle(n, k, zeros):
    """SciPy's Jensen-Shannon distance (natural log) squared, averaged over rows, is the textbook
    JSD that ``js_divergence`` returns by default."""
    from scipy.spatial.distance import jensenshannon

    rng = np.random.default_rng(1000 * n + k + zeros)
    p, q = _probability_rows(rng, n, k, zeros), _probability_rows(rng, n, k, zeros)
    expected = float(np.mean(jensenshannon(p, q, axis=1) ** 2))  # base=None: nats
    assert metrics.js_divergence(torch.from_numpy(p), torch.from_numpy(q)) == pytest.approx(expected, abs=1e-6)
    assert metrics.js_divergence(p.astype(np.float32), q.astype(np.float32)) == pytest.approx(expected, abs=1e-6)


def test_legacy_js_worked_example():
    # P rows (0.75, 0.25), Q rows (0.25, 0.75), N = 2. The authors' formula normalises by the
    # grand total (2): p = (0.375, 0.125) per row, q = (0.125, 0.375), m = (0.25, 0.25).
    # KL(m||p) summed over all entries = 2 * [0.25 ln(0.25/0.375) + 0.25 ln(0.25/0.125)]
    #                                  = 0.5 ln(4/3);  batchmean divides by N = 2 -> 0.25 ln(4/3).
    # Same for KL(m||q); the average of both is 0.25 ln(4/3) = 0.0719...
    p = torch.tensor([[0.75, 0.25], [0.75, 0.25]])
    q = torch.tensor([[0.25, 0.75], [0.25, 0.75]])
    assert metrics.js_divergence(p, q, legacy=True) == pytest.approx(0.25 * math.log(4 / 3), abs=1e-9)
    # the textbook value differs: 0.75 ln 1.5 + 0.25 ln 0.5
    assert metrics.js_divergence(p, q) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-9)


def test_legacy_js_disjoint_one_hots_uses_clamping_and_reversed_kl():
    # N = 1, p = (1, 0), q = (0, 1): clamped to 1e-8, m ~ (0.5, 0.5);
    # KL(m||p) = 0.5 ln 0.5 + 0.5 ln(0.5 / 1e-8) -> not bounded by ln 2
    p = torch.tensor([[1.0, 0.0]])
    q = torch.tensor([[0.0, 1.0]])
    s = 1.0 + 1e-8
    pp = torch.tensor([1.0 / s, 1e-8 / s], dtype=torch.float64)
    m = torch.full((2,), 0.5, dtype=torch.float64)
    kl = float((m * (m.log() - pp.log())).sum())
    assert metrics.js_divergence(p, q, legacy=True) == pytest.approx(kl, rel=1e-9)
    assert metrics.js_divergence(p, q, legacy=True) > 8.0


def test_legacy_js_scales_with_one_over_n():
    p1, q1 = random_probs(1, 6, seed=3, sharp=3), random_probs(1, 6, seed=4, sharp=3)
    one = metrics.js_divergence(p1, q1, legacy=True)
    many = metrics.js_divergence(p1.repeat(10, 1), q1.repeat(10, 1), legacy=True)
    assert many == pytest.approx(one / 10, rel=1e-9)
    # the textbook value does not depend on N
    assert metrics.js_divergence(p1.repeat(10, 1), q1.repeat(10, 1)) == pytest.approx(metrics.js_divergence(p1, q1), rel=1e-9)


def test_js_shape_mismatch_is_an_error():
    with pytest.raises(LotusError, match="same shape"):
        metrics.js_divergence(random_probs(3, 4), random_probs(4, 4))


# ----------------------------------------------------------------------------- RF-JSD


def naive_class_means(probs, labels, k):
    out = {}
    for c in range(k):
        rows = [probs[i] for i in range(len(labels)) if labels[i] == c]
        if rows:
            m = torch.stack(rows).double().mean(0)
            out[c] = m / m.sum()
    return out


def test_rf_jsd_equals_js_of_class_means_over_forget_classes():
    k = 6
    fp, rp = random_probs(300, k, seed=5, sharp=2), random_probs(400, k, seed=6, sharp=2)
    g = torch.Generator().manual_seed(0)
    fl = torch.randint(0, 4, (300,), generator=g)  # forget set covers classes 0..3 only
    rl = torch.randint(0, k, (400,), generator=g)
    fm, rm = naive_class_means(fp, fl, k), naive_class_means(rp, rl, k)
    expected = np.mean([metrics.js_divergence(fm[c][None], rm[c][None]) for c in sorted(fm)])
    assert metrics.rf_jsd(fp, fl, rp, rl) == pytest.approx(expected, abs=1e-9)
    legacy_expected = metrics.js_divergence(torch.stack([fm[c] for c in sorted(fm)]),
                                            torch.stack([rm[c] for c in sorted(fm)]), legacy=True)
    assert metrics.rf_jsd(fp, fl, rp, rl, legacy=True) == pytest.approx(legacy_expected, rel=1e-9)


def test_rf_jsd_is_zero_for_identical_class_means():
    k = 3
    base = random_probs(k, k, seed=7)
    labels = torch.arange(k)
    assert metrics.rf_jsd(base.repeat(5, 1), labels.repeat(5), base, labels) == pytest.approx(0.0, abs=1e-12)


def test_rf_jsd_class_without_reference_is_an_error():
    fp = random_probs(4, 3)
    with pytest.raises(LotusError, match="no reference sample"):
        metrics.rf_jsd(fp, torch.tensor([0, 1, 2, 2]), random_probs(2, 3), torch.tensor([0, 1]))


# ----------------------------------------------------------------------------- MIA


def test_mia_is_one_when_forget_looks_like_members_and_zero_when_unseen():
    members = torch.softmax(torch.randn(300, 10, generator=torch.Generator().manual_seed(1)) * 0.1 + 12 * torch.eye(10).repeat(30, 1), 1)
    nonmembers = random_probs(300, 10, seed=2, sharp=0.3)
    assert metrics.entropy(members).mean() < 0.05 < metrics.entropy(nonmembers).mean()
    assert metrics.mia_entropy(members, nonmembers, members[:50]) == pytest.approx(1.0)
    assert metrics.mia_entropy(members, nonmembers, nonmembers[:50]) == pytest.approx(0.0, abs=0.05)


# ----------------------------------------------------------------------------- gaps, ZRF, Pearson


def test_avg_gap_is_the_mean_absolute_gap_over_four_metrics():
    gold = {"mia": 0.5, "acc_forget": 0.9, "acc_retain": 1.0, "acc_test": 0.9, "acc_val": 0.0}
    run = {"mia": 0.7, "acc_forget": 0.8, "acc_retain": 1.0, "acc_test": 0.95, "acc_val": 1.0}
    assert metrics.avg_gap(run, gold) == pytest.approx((0.2 + 0.1 + 0.0 + 0.05) / 4)
    with pytest.raises(LotusError, match="missing"):
        metrics.avg_gap({"mia": 0.1}, gold)


def test_zrf_and_pearson():
    p = random_probs(20, 4, seed=9)
    assert metrics.zrf(p, p) == pytest.approx(1.0)
    assert metrics.zrf(torch.eye(2), torch.eye(2).flip(1)) == pytest.approx(1 - LN2)
    r, pval = metrics.pearson([1, 2, 3, 4], [2, 4, 6, 8.5])
    assert r > 0.99 and pval < 0.05
    r, _ = metrics.pearson([1, 2, 3, 4], [4, 3, 2, 1])
    assert r == pytest.approx(-1.0)


# ----------------------------------------------------------------------------- model-level


class CountingModel(torch.nn.Module):
    def __init__(self, k):
        super().__init__()
        self.lin = torch.nn.Linear(3, k)
        self.calls = 0
        self.batch_sizes = []

    def forward(self, x):
        self.calls += 1
        self.batch_sizes.append(x.shape[0])
        assert not self.training, "evaluation must run in eval mode"
        assert torch.is_inference_mode_enabled()
        return self.lin(x.mean(dim=(2, 3)))


def test_predict_is_one_batched_inference_pass_and_restores_mode(digits_splits):
    m = CountingModel(10)
    m.train()
    probs, labels = metrics.predict(m, digits_splits.val, batch_size=128)
    n = len(digits_splits.val)
    assert m.calls == math.ceil(n / 128) and max(m.batch_sizes) == 128
    assert probs.shape == (n, 10) and torch.allclose(probs.sum(1), torch.ones(n), atol=1e-5)
    assert torch.equal(labels, digits_splits.val.labels)
    assert m.training  # previous mode restored


def test_evaluate_on_trained_models(digits_splits, trained_digits):
    original, gold = trained_digits
    res = metrics.evaluate(original, digits_splits, gold=gold)
    assert set(res) == {"acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "jsd", "rf_jsd", "jsd_legacy",
                        "rf_jsd_legacy"}
    assert all(type(v) is float for v in res.values())
    assert res["acc_retain"] > 0.9 and res["acc_test"] > 0.8
    probs, labels = metrics.predict(original, digits_splits.test)
    assert res["acc_test"] == pytest.approx(float((probs.argmax(1) == labels).float().mean()))
    # the gold model has zero JSD to itself; without gold there is no jsd key
    assert metrics.evaluate(gold, digits_splits, gold=gold)["jsd"] == pytest.approx(0.0, abs=1e-9)
    assert "jsd" not in metrics.evaluate(original, digits_splits)
    # the authors' formulas come from the same predictions: equal to the legacy=True values
    legacy = metrics.evaluate(original, digits_splits, gold=gold, legacy=True)
    assert res["jsd_legacy"] == legacy["jsd"] and res["rf_jsd_legacy"] == legacy["rf_jsd"] != res["rf_jsd"]
    # a reference cache: the original's and gold's predictions are computed once and reused
    cache = {}
    first = metrics.evaluate(original, digits_splits, original=gold, gold=gold, reference_cache=cache)
    assert len(cache) == 2
    cache_keys = {k: id(v) for k, v in cache.items()}
    again = metrics.evaluate(original, digits_splits, original=gold, gold=gold, reference_cache=cache)
    assert first == again and {k: id(v) for k, v in cache.items()} == cache_keys
    # RF-JSD reference: val (paper) and test (authors) differ but are both finite and small
    on_test = metrics.evaluate(original, digits_splits, rf_jsd_reference="test")["rf_jsd"]
    assert 0 <= on_test < LN2 and on_test != res["rf_jsd"]
