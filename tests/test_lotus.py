"""LoTUS pinned to the paper: dynamic temperature, Gumbel-Softmax targets, the unlearning loop."""

import copy
import math

import pytest
import torch

import lotus
from lotus.methods.lotus import default_alpha, dynamic_temperature, lotus_targets
from lotus.train import TrainRecipe, train_original_and_gold
from lotus.utils import LotusError

# ----------------------------------------------------------------------------- tau_d


def test_dynamic_temperature_values():
    assert dynamic_temperature(1.0, 0.9, 2.0) == pytest.approx(math.exp(0.2))
    assert dynamic_temperature(0.8, 0.8, 8.0) == pytest.approx(1.0)
    assert dynamic_temperature(0.7, 0.9, 8.0) == pytest.approx(math.exp(-1.6))  # over-unlearned: sharpen
    assert dynamic_temperature(0.0, 0.0, 32.0) == 1.0


@pytest.mark.parametrize("args", [(1.2, 0.9, 2.0), (0.5, -0.1, 2.0), (0.5, 0.4, 0.0), (0.5, 0.4, -1.0)])
def test_dynamic_temperature_rejects_bad_input(args):
    with pytest.raises(LotusError):
        dynamic_temperature(*args)


# ----------------------------------------------------------------------------- targets


def test_targets_rows_sum_to_one_and_retain_rows_are_one_hot():
    logits = torch.randn(64, 10, generator=torch.Generator().manual_seed(0)) * 3
    is_forget = torch.arange(64) % 2 == 0
    t = lotus_targets(logits, is_forget, 2.0, torch.Generator().manual_seed(1))
    assert torch.allclose(t.sum(1), torch.ones(64), atol=1e-6)
    retain = t[~is_forget]
    assert torch.equal(retain.max(1).values, torch.ones(32)) and torch.equal((retain > 0).sum(1), torch.ones(32, dtype=torch.long))
    assert (t[is_forget].max(1).values < 1).all()  # soft rows


def test_retain_targets_follow_the_gumbel_max_property():
    # argmax(logits + Gumbel) ~ Categorical(softmax(logits)): empirical class frequencies
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    n = 40000
    t = lotus_targets(logits.repeat(n, 1), torch.zeros(n, dtype=torch.bool), 1.0, torch.Generator().manual_seed(0))
    freq = t.mean(0)
    assert torch.allclose(freq, torch.softmax(logits, 0), atol=0.01)


def test_infinite_temperature_makes_forget_targets_uniform():
    logits = torch.randn(16, 5, generator=torch.Generator().manual_seed(2)) * 5
    t = lotus_targets(logits, torch.ones(16, dtype=torch.bool), 1e9, torch.Generator().manual_seed(3))
    assert torch.allclose(t, torch.full_like(t, 0.2), atol=1e-6)


def test_forget_targets_are_the_gumbel_softmax_at_tau():
    logits = torch.randn(8, 6, generator=torch.Generator().manual_seed(4))
    tau = 1.7
    g1 = torch.Generator().manual_seed(11)
    t = lotus_targets(logits, torch.ones(8, dtype=torch.bool), tau, g1)
    # recompute with the same noise stream: the soft noise is drawn first
    from lotus.methods.lotus import gumbel_noise

    g2 = torch.Generator().manual_seed(11)
    noise = gumbel_noise(logits.shape, generator=g2)
    assert torch.allclose(t, torch.softmax((logits + noise) / tau, 1), atol=1e-6)


def test_softmax_mode_is_deterministic_and_uses_the_argmax():
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 0.5, 2.0]])
    t = lotus_targets(logits, torch.tensor([True, False]), 2.0, mode="softmax")
    assert torch.allclose(t[0], torch.softmax(logits[0] / 2.0, 0))
    assert torch.equal(t[1], torch.tensor([0.0, 0.0, 1.0]))


def test_targets_are_reproducible_with_a_seeded_generator():
    logits = torch.randn(10, 4)
    flags = torch.rand(10) > 0.5
    a = lotus_targets(logits, flags, 1.3, torch.Generator().manual_seed(5))
    b = lotus_targets(logits, flags, 1.3, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_targets_validate_inputs():
    with pytest.raises(LotusError, match="temperature"):
        lotus_targets(torch.zeros(2, 3), torch.ones(2, dtype=torch.bool), 0.0)
    with pytest.raises(LotusError, match="is_forget"):
        lotus_targets(torch.zeros(2, 3), torch.ones(3, dtype=torch.bool), 1.0)


# ----------------------------------------------------------------------------- the unlearning loop


@pytest.fixture(scope="module")
def noisy_setup():
    """A small digits benchmark with a real memorisation gap: noisy digits, 40 images per
    class, 30 % forgotten, a small CNN trained briefly (forget acc > val acc)."""
    splits = lotus.load_splits("digits", forget=0.3, seed=0, max_train_per_class=40, noise_std=0.3, image_size=16)
    recipe = TrainRecipe(epochs=6, batch_size=32, lr=0.05, scheduler="cosine", warmup_epochs=0, patience=None, augment=False)
    original, gold = train_original_and_gold(splits, "small_cnn", recipe, seed=0, device="cpu",
                                             model_kwargs={"width": 8}, progress=False)
    return splits, original, gold


STRONG = dict(lr=2e-3, batch_size=16, augment=False, alpha=16.0)


def test_lotus_end_to_end_moves_forget_accuracy_toward_val(noisy_setup):
    splits, original, gold = noisy_setup
    before = lotus.evaluate(original, splits, gold=gold)
    assert before["acc_forget"] - before["acc_val"] > 0.05  # the memorisation gap exists
    snapshot = copy.deepcopy(original.state_dict())
    model, report = lotus.unlearn(original, splits, "lotus", seed=0, **dict(STRONG, lr=5e-4, alpha=8.0))
    after = lotus.evaluate(model, splits, original=original, gold=gold)
    # the caller's model is untouched
    assert all(torch.equal(snapshot[k], v) for k, v in original.state_dict().items())
    gap_before = abs(before["acc_forget"] - before["acc_val"])
    gap_after = abs(after["acc_forget"] - before["acc_val"])
    assert gap_after < gap_before
    assert after["acc_test"] > before["acc_test"] - 0.06
    assert after["jsd"] < before["jsd"]  # closer to the gold model on the forget set
    assert report.method == "lotus" and report.seconds > 0 and report.epochs == 10
    # history: tau_d recomputed every epoch from the forget accuracy at its start
    target = report.extra["acc_unseen_target"]
    assert target == pytest.approx(lotus.metrics.accuracy(original, splits.val))
    for h in report.history[:-1]:
        assert h["tau"] == pytest.approx(dynamic_temperature(h["acc_forget"], target, 8.0))
    assert report.history[0]["acc_forget"] == pytest.approx(before["acc_forget"])
    assert report.history[-1]["tau"] is None
    assert report.history[-1]["acc_forget"] == pytest.approx(after["acc_forget"])
    assert report.extra["retain_subset_size"] == int(0.3 * len(splits.retain))


def test_paper_rule_sharpens_after_over_unlearning_and_authors_rule_stops(noisy_setup):
    splits, original, _ = noisy_setup
    _, paper = lotus.unlearn(original, splits, "lotus", seed=0, **STRONG)
    deltas = [h["delta_acc"] for h in paper.history[:-1]]
    assert min(deltas) < -0.01, "the strong setting over-unlearns at some epoch"
    assert paper.epochs == 10 and not paper.extra["stopped_early"]
    assert all(h["tau"] < 1 for h in paper.history[:-1] if h["delta_acc"] < 0)

    _, authors = lotus.unlearn(original, splits, "lotus", seed=0, stop_rule="authors", round_acc=2, **STRONG)
    hist = authors.history
    assert authors.extra["stopped_early"] and authors.epochs < 10
    assert hist[-1]["delta_acc"] <= -0.01 and hist[-1]["tau"] is None
    assert all(h["delta_acc"] > -0.01 for h in hist[:-1])
    assert all(round(h["acc_forget"], 2) == h["acc_forget"] for h in hist)  # 2-dp accuracies


def test_best_rule_returns_the_state_closest_to_the_target(noisy_setup):
    splits, original, _ = noisy_setup
    model, rep = lotus.unlearn(original, splits, "lotus", seed=0, stop_rule="best", **STRONG)
    after = [h for h in rep.history if h["epoch"] >= 1]
    best = min(after, key=lambda h: abs(h["delta_acc"]))
    assert rep.extra["best_epoch"] == best["epoch"]
    assert lotus.metrics.accuracy(model, splits.forget) == pytest.approx(best["acc_forget"])


def test_same_seed_same_model_different_seed_differs(noisy_setup):
    splits, original, _ = noisy_setup
    kw = dict(STRONG, epochs=2)
    a, _ = lotus.unlearn(original, splits, "lotus", seed=3, **kw)
    b, _ = lotus.unlearn(original, splits, "lotus", seed=3, **kw)
    c, _ = lotus.unlearn(original, splits, "lotus", seed=4, **kw)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point())


def test_class_unlearning_targets_zero_accuracy(noisy_setup):
    splits, original, _ = noisy_setup
    cls = lotus.load_splits("digits", forget="class:3", seed=0, max_train_per_class=40, noise_std=0.3, image_size=16)
    assert default_alpha("small_cnn", cls) == 32.0 and default_alpha("resnet18", splits) == 2.0
    model, rep = lotus.unlearn(original, cls, "lotus", seed=0, epochs=5, lr=1e-3, batch_size=16, augment=False)
    assert rep.extra["class_unlearning"] and rep.extra["acc_unseen_target"] == 0.0 and rep.extra["alpha_used"] == 32.0
    before = lotus.metrics.accuracy(original, cls.forget)
    after = lotus.metrics.accuracy(model, cls.forget)
    assert after < before - 0.3


def test_unlearn_rejects_unknown_method_and_hparams(digits_splits):
    model = lotus.create_model("small_cnn", 10, width=8)
    with pytest.raises(LotusError, match="unknown unlearning method 'nope'.*lotus"):
        lotus.unlearn(model, digits_splits, "nope")
    with pytest.raises(LotusError, match="unknown hyper-parameter.*alpah"):
        lotus.unlearn(model, digits_splits, "lotus", alpah=2)
    with pytest.raises(LotusError, match="stop_rule"):
        lotus.unlearn(model, digits_splits, "lotus", stop_rule="never", epochs=1)
