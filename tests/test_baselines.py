"""Baseline unlearning methods (finetune ... salun_lotus) and the retrain gold standard.

Every test runs 1-2 epochs on a tiny digits split with the small CNN of ``trained_digits``;
each asserts the method's defining effect, so a no-op or broken method fails.
"""

import copy
import dataclasses

import pytest
import torch
import torch.nn.functional as F

import lotus
from lotus.data import ImageSplit, concat_splits
from lotus.methods import get_method
from lotus.methods.base import fresh_model_like
from lotus.metrics import accuracy, predict
from lotus.utils import LotusError, make_generator

BASELINES = ["finetune", "neggrad_plus", "random_labeling", "bad_teacher", "scrub", "ssd", "unsir", "salun",
             "salun_lotus", "retrain"]

# short settings so that every method runs in about a second on a CPU
FAST = {
    "ssd": {},
    "retrain": {"epochs": 1, "batch_size": 64, "lr": 0.05, "scheduler": "none", "warmup_epochs": 0,
                "patience": None, "augment": False},
    "scrub": {"epochs": 2, "msteps": 1},
}


def fast_hp(method):
    return dict(FAST.get(method, {"epochs": 1}))


@pytest.fixture(scope="module")
def tiny(digits_splits):
    """All of D_f (116 images), 256 retain, 100 val and 100 test images of the digits split;
    ``train`` = forget followed by retain."""
    s = digits_splits
    g = make_generator(0, "tiny")
    forget = s.forget
    retain = s.retain.subset(torch.randperm(len(s.retain), generator=g)[:256])
    nf, nr = len(forget), len(retain)
    return dataclasses.replace(
        s, train=concat_splits([forget, retain]), forget=forget, retain=retain,
        val=s.val.subset(torch.arange(100)), test=s.test.subset(torch.arange(100)),
        forget_indices=torch.arange(nf), retain_indices=torch.arange(nf, nf + nr),
    )


@pytest.fixture(scope="module")
def original(trained_digits):
    return trained_digits[0]


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def params_changed(a, b):
    pa, pb = dict(a.named_parameters()), dict(b.named_parameters())
    return [n for n in pa if not torch.equal(pa[n].detach().cpu(), pb[n].detach().cpu())]


# ---------------------------------------------------------------------------------------
# shared: every registered method through lotus.unlearn + lotus.evaluate
# ---------------------------------------------------------------------------------------


def test_all_baselines_registered():
    assert set(BASELINES) <= set(lotus.list_methods())
    assert get_method("retrain").needs_original is False
    assert get_method("scrub").needs_original and get_method("bad_teacher").needs_original


@pytest.mark.parametrize("method", sorted(set(BASELINES) | set(lotus.list_methods())))
def test_method_runs_and_reports(method, tiny, original, trained_digits):
    before = state(original)
    model, report = lotus.unlearn(original, tiny, method=method, device="cpu", seed=0, **fast_hp(method))
    # caller's model untouched, returned model is another object, in eval mode, with new weights
    after = state(original)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model is not original and not model.training
    assert params_changed(model, original), f"{method} left every parameter unchanged"
    # report fields and types
    assert report.method == method
    assert isinstance(report.seconds, float) and report.seconds > 0
    assert isinstance(report.epochs, int) and report.epochs >= 1
    assert isinstance(report.hparams, dict) and set(fast_hp(method)) <= set(report.hparams)
    assert isinstance(report.history, list) and report.history
    assert all(isinstance(h, dict) and "epoch" in h for h in report.history)
    assert isinstance(report.extra, dict)
    assert "model" not in report.extra
    res = lotus.evaluate(model, tiny, original=original, gold=trained_digits[1], device="cpu")
    assert set(res) >= {"acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "jsd", "rf_jsd"}
    assert all(isinstance(v, float) for v in res.values())
    assert all(0.0 <= res[k] <= 1.0 for k in ("acc_forget", "acc_retain", "acc_test", "mia"))
    if method != "retrain":  # retrain starts from scratch; the others must keep a working model
        assert res["acc_retain"] > 0.2, f"{method} destroyed the model (retain accuracy {res['acc_retain']})"


@pytest.mark.parametrize("method,hp", [("random_labeling", {}), ("unsir", {"samples_per_class": 10})])
def test_same_seed_same_result(method, hp, tiny, original):
    a, ra = lotus.unlearn(original, tiny, method=method, device="cpu", seed=3, epochs=1, **hp)
    b, rb = lotus.unlearn(original, tiny, method=method, device="cpu", seed=3, epochs=1, **hp)
    c, _ = lotus.unlearn(original, tiny, method=method, device="cpu", seed=4, epochs=1, **hp)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert ra.history == rb.history
    assert any(not torch.equal(sa[k], sc[k]) for k in sa), "the seed has no effect"


def test_unknown_hparam_is_an_error(tiny, original):
    with pytest.raises(LotusError, match="unknown hyper-parameter"):
        lotus.unlearn(original, tiny, method="ssd", device="cpu", epochs=3)


def test_defaults_follow_model_family():
    for m in ["finetune", "neggrad_plus", "random_labeling", "bad_teacher", "scrub", "unsir", "salun"]:
        cnn = get_method(m).default_hparams("resnet18", "cifar10")
        vit = get_method(m).default_hparams("vit_b16", "cifar10")
        assert (cnn["epochs"], cnn["batch_size"]) == (10, 128)
        assert (vit["epochs"], vit["batch_size"]) == (3, 32)
    ssd = get_method("ssd").default_hparams("resnet18", "cifar10")
    assert (ssd["alpha"], ssd["lam"]) == (10.0, 1.0)
    assert get_method("unsir").default_hparams("resnet18", "cifar10")["noise_steps"] == 5
    assert get_method("unsir").default_hparams("resnet18", "cifar100")["samples_per_class"] == 100
    assert get_method("retrain").default_hparams("resnet18", "cifar10")["epochs"] == 150


# ---------------------------------------------------------------------------------------
# per-method defining effects
# ---------------------------------------------------------------------------------------


def forget_ce(model, split):
    probs, labels = predict(model, split, device="cpu")
    return float(F.nll_loss(torch.log(probs.clamp_min(1e-12)), labels))


def test_neggrad_plus_really_ascends_on_forget(tiny, original):
    common = dict(device="cpu", seed=0, epochs=1, augment=False)
    descent_only, _ = lotus.unlearn(original, tiny, method="neggrad_plus", alpha=1.0, lr=0.01, **common)
    mixed, _ = lotus.unlearn(original, tiny, method="neggrad_plus", alpha=0.5, lr=0.01, **common)
    # same data order and seed: only the weight of the forget term differs
    assert forget_ce(mixed, tiny.forget) > forget_ce(descent_only, tiny.forget)
    # a strong setting (pure ascent, more steps) destroys the forget accuracy
    ascent, rep = lotus.unlearn(original, tiny, method="neggrad_plus", alpha=0.0, lr=0.05, batch_size=16, **common)
    assert accuracy(ascent, tiny.forget) < accuracy(original, tiny.forget) - 0.3
    assert rep.history[0]["loss_forget"] > 0.5
    with pytest.raises(LotusError, match="alpha"):
        lotus.unlearn(original, tiny, method="neggrad_plus", alpha=1.5, **common)


def test_random_labeling_lowers_forget_accuracy(tiny, original):
    model, rep = lotus.unlearn(original, tiny, method="random_labeling", device="cpu", seed=0, epochs=1, lr=0.05,
                               augment=False)
    assert accuracy(model, tiny.forget) < accuracy(original, tiny.forget) - 0.1
    # the impair pass sees wrong labels: its loss is far above the original's forget loss
    assert rep.history[0]["loss_forget_relabelled"] > 5 * forget_ce(original, tiny.forget) + 1.0


def test_random_wrong_labels_are_wrong_and_uniform():
    from lotus.methods.base import random_wrong_labels

    y = torch.arange(10).repeat(2000)
    fake = random_wrong_labels(y, 10, make_generator(0, "t"))
    assert fake.shape == y.shape and fake.dtype == torch.long
    assert not (fake == y).any()
    counts = torch.bincount(fake[y == 3], minlength=10).float()
    assert counts[3] == 0 and counts[torch.arange(10) != 3].min() > 150  # ~222 each of 9 others


def test_scrub_max_steps_push_forget_away_from_teacher(tiny, original):
    # forget batches of 16: the max epoch makes 8 ascent steps on the 116 forget images (one
    # batch of the default 128 would leave its effect at the noise level of the min steps)
    common = dict(device="cpu", seed=0, epochs=2, augment=False, forget_batch_size=16)
    no_max, r0 = lotus.unlearn(original, tiny, method="scrub", msteps=0, **common)
    with_max, r1 = lotus.unlearn(original, tiny, method="scrub", msteps=1, **common)
    assert params_changed(with_max, original)
    assert "kl_forget" in r1.history[0] and "kl_forget" not in r1.history[1]
    assert r1.extra["msteps"] == 1

    def kl_forget(m):
        p, _ = predict(original, tiny.forget)
        q, _ = predict(m, tiny.forget)
        return float((p * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log())).sum(1).mean())

    assert kl_forget(with_max) > kl_forget(no_max)
    with pytest.raises(LotusError, match="msteps"):
        lotus.unlearn(original, tiny, method="scrub", msteps=2, **common)


def test_bad_teacher_uses_a_random_seeded_incompetent_teacher(tiny, original):
    from lotus.methods.bad_teacher import incompetent_teacher

    t1 = incompetent_teacher(original, seed=0, device="cpu")
    t2 = incompetent_teacher(original, seed=0, device="cpu")
    t3 = incompetent_teacher(original, seed=1, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(t1.state_dict().values(), t2.state_dict().values()))
    assert params_changed(t1, t3) and params_changed(t1, original)
    assert t1.lotus_config == original.lotus_config and not t1.training
    assert accuracy(t1, tiny.test) < 0.4  # untrained: near chance (0.1)
    # class unlearning makes the effect visible: forget samples (class 3) are distilled towards
    # the random teacher, the retain samples towards the original
    c = lotus.load_splits("digits", forget="class:3", seed=0)
    keep = torch.randperm(len(c.retain), generator=make_generator(0, "tiny class"))[:256]
    nf = len(c.forget)
    tc = dataclasses.replace(c, retain=c.retain.subset(keep), train=concat_splits([c.forget, c.retain.subset(keep)]),
                             forget_indices=torch.arange(nf), retain_indices=torch.arange(nf, nf + 256))
    assert accuracy(original, tc.forget) > 0.95
    model, rep = lotus.unlearn(original, tc, method="bad_teacher", device="cpu", seed=0, epochs=2, lr=1e-3,
                               augment=False)
    acc_forget, acc_retain = accuracy(model, tc.forget), accuracy(model, tc.retain)
    drop_forget = accuracy(original, tc.forget) - acc_forget
    drop_retain = accuracy(original, tc.retain) - acc_retain
    # the forgotten class loses far more than the retain set, which keeps most of its accuracy
    # (the shared features move too: 0.91-0.95 measured on the digits models of the tests)
    assert drop_forget > 0.1 and drop_forget > drop_retain + 0.2 and acc_retain > 0.85
    assert rep.extra["retain_used"] == int(0.3 * 256)


def test_ssd_dampens_only_selected_parameters(tiny, original):
    from lotus.methods.ssd import dampening_factors, full_train_split, ssd_importances

    model, rep = lotus.unlearn(original, tiny, method="ssd", device="cpu", seed=0)
    imp_f, imp_d = ssd_importances(copy.deepcopy(original), tiny.forget, full_train_split(tiny), batch_size=128,
                                   device="cpu", generator=make_generator(0, "ssd"))
    factors = dampening_factors(imp_f, imp_d, alpha=10.0, lam=1.0)
    n_selected = 0
    orig = dict(original.named_parameters())
    for n, p in model.named_parameters():
        sel = factors[n] < 1
        n_selected += int(sel.sum())
        assert torch.equal(p.detach()[~sel], orig[n].detach()[~sel]), f"unselected entries of {n} changed"
        assert torch.allclose(p.detach()[sel], orig[n].detach()[sel] * factors[n][sel])
    assert n_selected > 0 and rep.extra["dampened"] == n_selected
    # buffers (BatchNorm statistics) are untouched: importances are computed in eval mode
    ob = dict(original.named_buffers())
    assert all(torch.equal(b, ob[n]) for n, b in model.named_buffers())
    # applied once: the dampened weights shrink, by the factor, not by its 10th power
    assert rep.epochs == 1 and len(rep.history) == 1


def test_ssd_factors_formula():
    from lotus.methods.ssd import dampening_factors

    imp_f = {"w": torch.tensor([1.0, 11.0, 30.0, 0.0])}
    imp_d = {"w": torch.tensor([1.0, 1.0, 1.0, 0.0])}
    f = dampening_factors(imp_f, imp_d, alpha=10.0, lam=1.0)["w"]
    assert torch.allclose(f, torch.tensor([1.0, 1 / 11, 1 / 30, 1.0]))


def test_unsir_performs_noise_steps_updates(tiny, original, monkeypatch):
    from lotus.methods.unsir import error_maximising_noise

    calls = {"n": 0}
    real_step = torch.optim.Adam.step

    def counting_step(self, *a, **k):
        calls["n"] += 1
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", counting_step)
    bs = 64
    n_batches = -(-len(tiny.forget) // bs)
    model, rep = lotus.unlearn(original, tiny, method="unsir", device="cpu", seed=0, epochs=1, batch_size=bs,
                               noise_steps=5, samples_per_class=10)
    assert calls["n"] == 5 * n_batches  # the model itself uses SGD, so every Adam step is a noise update
    assert rep.history[0]["noise_updates"] == 5 * n_batches
    assert rep.extra["retain_used"] <= 10 * tiny.num_classes
    monkeypatch.undo()
    # the noise maximises the error: with no norm penalty its cross-entropy rises step by step
    x, y = next(tiny.forget.batches(32))
    noise, trace = error_maximising_noise(original, y, tuple(x.shape), steps=5, lr=0.1, lam=0.0,
                                          generator=make_generator(0, "n"), device="cpu")
    assert len(trace) == 5 and noise.shape == x.shape
    with torch.no_grad():
        final = float(F.cross_entropy(original.eval()(noise), y))
    assert final > trace[0] and trace[-1] > trace[0]


def test_per_class_subset_is_random_and_capped():
    from lotus.data import per_class_subset

    y = torch.arange(5).repeat_interleave(torch.tensor([3, 50, 50, 50, 50]))
    idx = per_class_subset(y, 10, make_generator(0, "s"))
    assert torch.equal(torch.bincount(y[idx], minlength=5), torch.tensor([3, 10, 10, 10, 10]))
    assert len(set(idx.tolist())) == len(idx)
    idx2 = per_class_subset(y, 10, make_generator(1, "s"))
    assert not torch.equal(idx, idx2)


def _mask_as_unlearn_computes_it(original, splits):
    """SalUn's mask on a copy in the memory format ``lotus.unlearn`` gives the model (channels
    last for the small CNN): the layout changes the gradients in their last bits, and the
    top-10 % threshold with them."""
    from lotus.methods.base import to_memory_format
    from lotus.methods.salun import saliency_mask
    from lotus.metrics import uses_channels_last

    model = copy.deepcopy(original)
    to_memory_format(uses_channels_last(model, None), model)
    return saliency_mask(model, splits.forget, ratio=0.1, batch_size=128, device="cpu")


def test_salun_changes_only_masked_parameters(tiny, original):

    mask = _mask_as_unlearn_computes_it(original, tiny)
    total = sum(m.numel() for m in mask.values())
    assert abs(sum(int(m.sum()) for m in mask.values()) - round(0.1 * total)) == 0
    model, rep = lotus.unlearn(original, tiny, method="salun", device="cpu", seed=0, epochs=1, lr=0.01)
    orig = dict(original.named_parameters())
    moved = 0
    for n, p in model.named_parameters():
        assert torch.equal(p.detach()[~mask[n]], orig[n].detach()[~mask[n]]), f"unmasked entries of {n} changed"
        moved += int((p.detach()[mask[n]] != orig[n].detach()[mask[n]]).sum())
    assert moved > 0.5 * round(0.1 * total)
    assert rep.extra["mask_fraction"] == pytest.approx(0.1, abs=1e-4)
    # with an unmasked repair pass (the authors' variant) the other weights move too
    free, _ = lotus.unlearn(original, tiny, method="salun", device="cpu", seed=0, epochs=1, lr=0.01,
                            mask_repair=False)
    assert any(not torch.equal(p.detach()[~mask[n]], orig[n].detach()[~mask[n]]) for n, p in free.named_parameters())


def test_salun_lotus_keeps_unmasked_weights(tiny, original):

    mask = _mask_as_unlearn_computes_it(original, tiny)
    model, rep = lotus.unlearn(original, tiny, method="salun_lotus", device="cpu", seed=0, epochs=1)
    orig = dict(original.named_parameters())
    for n, p in model.named_parameters():
        assert torch.equal(p.detach()[~mask[n]], orig[n].detach()[~mask[n]])
    assert params_changed(model, original)
    assert "tau" in rep.history[0] and rep.extra["mask_fraction"] == pytest.approx(0.1, abs=1e-4)


class _Forbidden(ImageSplit):
    """A split whose data must not be read (only its size and labels' length are public)."""

    def __init__(self, split):
        self.labels = split.labels
        self.num_classes = split.num_classes
        self.mean, self.std, self.augment_mode = split.mean, split.std, split.augment_mode

    def batches(self, *a, **k):
        raise AssertionError("retrain read a forget sample")

    def subset(self, *a, **k):
        raise AssertionError("retrain read a forget sample")

    def _raw_batches(self, *a, **k):
        raise AssertionError("retrain read a forget sample")


def test_retrain_never_sees_forget_samples(tiny, trained_digits):
    original, gold = trained_digits
    guarded = dataclasses.replace(tiny, forget=_Forbidden(tiny.forget), train=_Forbidden(tiny.train))
    hp = fast_hp("retrain")
    a, rep = lotus.unlearn(original, guarded, method="retrain", device="cpu", seed=0, **hp)
    assert rep.epochs == 1 and len(rep.history) == 1 and "train_loss" in rep.history[0]
    assert not a.training and a.lotus_config == original.lotus_config
    # the weights passed in are ignored: starting from another model gives the same result
    b, _ = lotus.unlearn(gold, guarded, method="retrain", device="cpu", seed=0, **hp)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    # it starts from the seeded fresh initialisation and trains it
    init = fresh_model_like(original, seed=0, salt="retrain")
    assert params_changed(a, init) and params_changed(a, original)
    assert params_changed(fresh_model_like(original, seed=1, salt="retrain"), init)
    with pytest.raises(LotusError, match="unknown hyper-parameter"):
        lotus.unlearn(original, guarded, method="retrain", device="cpu", epochz=1)
