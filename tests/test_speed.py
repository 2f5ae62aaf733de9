"""Speed options of the unlearning methods and of evaluation (channels-last, reuse of the
teacher's outputs), the streamed class means of RF-JSD, and the speed fields of a record."""

import copy
import dataclasses

import pytest
import torch
import torch.nn as nn

import lotus
from lotus import metrics
from lotus.data import concat_splits
from lotus.methods import get_method
from lotus.methods.base import reuse_teacher, teacher_logits
from lotus.utils import LotusError, make_generator

DISTILLATION = {
    "lotus": {"epochs": 2},
    "salun_lotus": {"epochs": 2},
    "bad_teacher": {"epochs": 2},
    "scrub": {"epochs": 3, "msteps": 2},
}


@pytest.fixture(scope="module")
def small(digits_splits):
    """D_f (116 images), 200 retain, 100 val and 100 test images of the digits split."""
    s = digits_splits
    g = make_generator(0, "small")
    retain = s.retain.subset(torch.randperm(len(s.retain), generator=g)[:200])
    nf, nr = len(s.forget), len(retain)
    return dataclasses.replace(
        s, train=concat_splits([s.forget, retain]), retain=retain, val=s.val.subset(torch.arange(100)),
        test=s.test.subset(torch.arange(100)), forget_indices=torch.arange(nf), retain_indices=torch.arange(nf, nf + nr))


@pytest.fixture(scope="module")
def original(trained_digits):
    return trained_digits[0]


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("method", sorted(DISTILLATION))
def test_reused_teacher_outputs_give_the_same_model_bit_for_bit(small, original, method):
    hp = dict(DISTILLATION[method], augment=False)
    fresh, rep_fresh = lotus.unlearn(original, small, method, device="cpu", seed=3, teacher_cache=False, **hp)
    cached, rep_cached = lotus.unlearn(original, small, method, device="cpu", seed=3, teacher_cache=True, **hp)
    assert rep_cached.extra["speed"]["teacher_cache"] is True
    assert rep_fresh.extra["speed"]["teacher_cache"] is False
    a, b = _state(fresh), _state(cached)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{method}: {k} differs between the cached and the recomputing path"
    assert rep_fresh.history == rep_cached.history
    # and the method did something (so equality is not that of two no-ops)
    ref = _state(original)
    assert any(not torch.equal(a[k], ref[k]) for k in a if a[k].is_floating_point())


def test_teacher_cache_is_automatic_without_augmentation_only(small, original):
    _, with_aug = lotus.unlearn(original, small, "lotus", device="cpu", seed=0, epochs=1, augment=True)
    _, without = lotus.unlearn(original, small, "lotus", device="cpu", seed=0, epochs=1, augment=False)
    assert with_aug.extra["speed"]["teacher_cache"] is False
    assert without.extra["speed"]["teacher_cache"] is True
    assert reuse_teacher({"augment": False, "teacher_cache": False}, "lotus") is False


@pytest.mark.parametrize("method", sorted(DISTILLATION))
def test_teacher_cache_with_augmentation_is_an_error_before_training(small, original, method):
    with pytest.raises(LotusError, match="teacher_cache=True needs augment=False"):
        lotus.unlearn(original, small, method, device="cpu", seed=0, augment=True, teacher_cache=True,
                      **DISTILLATION[method])


def test_teacher_logits_are_the_per_batch_logits_in_split_order(small, original):
    cached = teacher_logits(original, small.forget, device=torch.device("cpu"), batch_size=37)
    assert cached.shape == (len(small.forget), small.num_classes) and cached.dtype == torch.float32
    original.eval()
    with torch.no_grad():
        for x, _, idx in small.forget.batches(16, shuffle=True, generator=make_generator(1, "t"), with_index=True):
            assert torch.equal(original(x), cached[idx])


def test_channels_last_is_auto_for_registered_cnns_and_keeps_the_results(small, original):
    hp = dict(epochs=1, augment=False)
    nhwc, rep = lotus.unlearn(original, small, "finetune", device="cpu", seed=1, **hp)
    plain, rep_plain = lotus.unlearn(original, small, "finetune", device="cpu", seed=1, channels_last=False, **hp)
    assert rep.extra["speed"]["channels_last"] is True and rep.hparams["channels_last"] is True
    assert rep_plain.extra["speed"]["channels_last"] is False
    # the returned model is back in the default memory format, with the same weights up to rounding
    conv = next(m for m in nhwc.modules() if isinstance(m, nn.Conv2d))
    assert conv.weight.is_contiguous()
    a, b = _state(nhwc), _state(plain)
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    assert any(not torch.equal(a[k], _state(original)[k]) for k in a if a[k].is_floating_point())


@pytest.mark.parametrize("method", ["finetune", "random_labeling", "salun", "lotus", "scrub", "bad_teacher", "neggrad_plus"])
def test_training_batches_come_in_the_models_memory_format(small, original, method):
    """With channels-last on, every training batch reaches the model already NHWC (no
    conversion inside each convolution); off, every batch is NCHW."""
    for on in (True, False):
        seen = []
        model = copy.deepcopy(original)
        model.register_forward_pre_hook(
            lambda mod, inp: seen.append((mod.training, inp[0].is_contiguous(memory_format=torch.channels_last))))
        lotus.unlearn(model, small, method, device="cpu", seed=1, epochs=1, channels_last=on)
        training = [nhwc for is_training, nhwc in seen if is_training]
        assert training and all(nhwc is on for nhwc in training), (method, on)


def test_models_of_ones_own_are_not_switched_to_channels_last(small):
    class Flat(nn.Module):  # views its input: channels-last batches would break it
        def __init__(self):
            super().__init__()
            c, h, w = small.test.image_shape
            self.fc = nn.Linear(c * h * w, 10)

        def forward(self, x):
            return self.fc(x.view(x.shape[0], -1))

    model = Flat()
    assert metrics.uses_channels_last(model) is False
    _, rep = lotus.unlearn(model, small, "finetune", device="cpu", seed=0, epochs=1, augment=False)
    assert rep.extra["speed"]["channels_last"] is False
    probs, _ = metrics.predict(model, small.test)
    assert probs.shape == (len(small.test), 10)


def test_evaluate_gives_the_same_values_in_both_memory_formats(small, trained_digits):
    original, gold = trained_digits
    a = lotus.evaluate(original, small, original=original, gold=gold, device="cpu", channels_last=True)
    b = lotus.evaluate(original, small, original=original, gold=gold, device="cpu", channels_last=False)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-6), k


def test_channels_last_is_a_hyper_parameter_of_every_method_that_trains():
    for name in lotus.list_methods():
        hp = get_method(name).default_hparams("small_cnn", "digits")
        if name != "ssd":  # SSD is one-shot; retrain's comes from the training recipe
            assert "channels_last" in hp, name


# ---------------------------------------------------------------------------------------
# Streamed class means
# ---------------------------------------------------------------------------------------


def _random_probs(n, k, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n, k, generator=g) * 3, dim=1), torch.randint(0, k, (n,), generator=g)


def test_class_means_streamed_in_batches_equal_the_one_shot_means():
    p, y = _random_probs(1000, 7, 0)
    acc = metrics.ClassMeans(7)
    for i in range(0, 1000, 93):
        acc.update(p[i:i + 93], y[i:i + 93])
    means, counts = acc.means()
    ref_means, ref_counts = metrics.class_mean_probs(p, y, 7)
    assert torch.equal(counts, ref_counts)
    torch.testing.assert_close(means, ref_means, rtol=1e-12, atol=1e-14)
    # the straightforward definition: per-class average, then L1 normalisation
    for c in range(7):
        m = p[y == c].double().mean(0)
        torch.testing.assert_close(means[c], m / m.sum(), rtol=1e-9, atol=1e-12)


def test_rf_jsd_streamed_equals_rf_jsd():
    fp, fy = _random_probs(600, 5, 1)
    rp, ry = _random_probs(400, 5, 2)
    for legacy in (False, True):
        batches = lambda p, y: ((p[i:i + 64], y[i:i + 64]) for i in range(0, len(y), 64))  # noqa: E731
        streamed = metrics.rf_jsd_streamed(batches(fp, fy), batches(rp, ry), 5, legacy=legacy)
        assert streamed == pytest.approx(metrics.rf_jsd(fp, fy, rp, ry, legacy=legacy), rel=1e-10)


def test_class_means_reject_bad_batches():
    acc = metrics.ClassMeans(3)
    with pytest.raises(LotusError, match="labels must lie"):
        acc.update(torch.full((2, 3), 1 / 3), torch.tensor([0, 3]))
    acc.update(torch.full((2, 3), 1 / 3), torch.tensor([0, 1]))
    with pytest.raises(LotusError, match="columns"):
        acc.update(torch.full((2, 4), 1 / 4), torch.tensor([0, 1]))
    with pytest.raises(LotusError, match="no predictions"):
        metrics.ClassMeans(3).means()
