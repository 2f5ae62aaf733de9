"""Tests of lotus.train: training beats chance, learning-rate schedules, early stopping,
bf16 autocast, the checkpoint cache (hit, miss, corruption, mismatch) and atomic writes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

import lotus.train as T
from lotus.data import load_splits
from lotus.models import create_model
from lotus.train import (
    CheckpointError,
    TrainRecipe,
    get_trained_model,
    load_checkpoint,
    paper_recipe,
    save_checkpoint,
    train_model,
    train_original_and_gold,
)
from lotus.utils import LotusError, NonFiniteLossError

TINY = TrainRecipe(epochs=1, batch_size=64, lr=0.05, scheduler="none", warmup_epochs=0, patience=None, augment=False)
KW = {"width": 8}


@pytest.fixture(scope="module")
def small():
    """Digits capped to 30 train / 10 held-out images per class (300 / 100)."""
    return load_splits("digits", forget=0.1, seed=0, max_train_per_class=30, max_heldout_per_class=10)


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: these tiny models run several times faster single-threaded on a
    shared 2-core machine (thread contention), and results do not depend on it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _accuracy(model, split) -> float:
    model.eval()
    correct = 0
    with torch.inference_mode():
        for x, y in split.batches(256):
            correct += int((model(x).argmax(1) == y).sum())
    return correct / len(split)


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _get(kind, splits, cache, recipe=TINY, seed=0, **kw):
    return get_trained_model(kind, splits, "small_cnn", recipe, seed=seed, device="cpu", cache=cache,
                             model_kwargs=dict(KW), progress=False, **kw)


# ---------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------


def test_short_training_beats_chance(tmp_path):
    splits = load_splits("digits", forget=0.1, seed=0, image_size=16)
    recipe = TrainRecipe(epochs=6, batch_size=64, lr=0.05, scheduler="cosine", warmup_epochs=0, patience=None,
                         augment=False)
    original, gold = train_original_and_gold(splits, "small_cnn", recipe, seed=0, device="cpu", cache=tmp_path,
                                             model_kwargs=KW, progress=False)
    for model in (original, gold):
        assert not model.training
        acc = _accuracy(model, splits.test)
        assert acc > 0.8, f"test accuracy {acc:.3f} is not clearly above chance (0.1)"
        info = model.lotus_train_info
        assert info["epochs"] == 6 and len(info["history"]) == 6 and info["cached"] is False
        hist = info["history"]
        assert set(hist[0]) >= {"epoch", "lr", "train_loss", "val_loss", "val_acc", "seconds"}
        assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    # the original saw the forget set, the gold model did not
    assert _accuracy(original, splits.forget) >= _accuracy(gold, splits.forget)
    assert _accuracy(original, splits.forget) > 0.9


def test_original_trains_on_forget_and_retain_gold_on_retain(small, tmp_path, monkeypatch):
    seen = {}

    def fake_train(model, train, val, recipe, *, device, seed, desc, progress, **resume):
        seen[desc.split()[0]] = (len(train), val)
        return model.eval(), [{"epoch": 0}]

    monkeypatch.setattr(T, "train_model", fake_train)
    train_original_and_gold(small, "small_cnn", TINY, seed=0, device="cpu", cache=False, model_kwargs=KW)
    assert seen["original"] == (len(small.train), small.val)
    assert seen["gold"] == (len(small.retain), small.val)


def test_train_model_history_and_bf16(small):
    torch.manual_seed(0)
    model = create_model("small_cnn", 10, **KW)
    recipe = TINY.replace(epochs=2, amp=True, augment=True)
    model, hist = train_model(model, small.train, small.val, recipe, device="cpu", seed=0, progress=False)
    assert not model.training and len(hist) == 2
    assert all(math.isfinite(h["train_loss"]) and math.isfinite(h["val_loss"]) for h in hist)
    assert 0.0 <= hist[-1]["val_acc"] <= 1.0
    with pytest.raises(LotusError, match="empty"):
        train_model(model, small.train.subset([]), None, TINY, device="cpu", progress=False)


def test_training_is_reproducible(small):
    def run():
        torch.manual_seed(1)
        m = create_model("small_cnn", 10, **KW)
        return train_model(m, small.train, None, TINY.replace(augment=True), device="cpu", seed=3, progress=False)[0]

    assert _same_weights(run(), run())


def test_non_finite_loss_is_reported(small):
    class NaNNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.full((x.shape[0], 10), float("nan")) * self.w

    with pytest.raises(NonFiniteLossError, match="epoch 0, step 0"):
        train_model(NaNNet(), small.train, None, TINY, device="cpu", progress=False)


# ---------------------------------------------------------------------------------------
# schedules and early stopping
# ---------------------------------------------------------------------------------------


def test_paper_warmup_linear_schedule():
    r = paper_recipe("resnet18")
    for e in range(150):
        # spec 6.4: min(1, (e+1)/30) * (1 - max(0, (e+1) - 30) / (150 - 30))
        expected = min(1, (e + 1) / 30) * (1 - max(0, (e + 1) - 30) / 120)
        assert T._lr_factor(r, e) == pytest.approx(expected)
    assert T._lr_factor(r, 29) == 1.0 and T._lr_factor(r, 149) == 0.0


def test_schedules_drive_the_optimizer(small):
    def lrs(recipe):
        m = create_model("small_cnn", 10, **KW)
        return [h["lr"] for h in train_model(m, small.forget, None, recipe, device="cpu", progress=False)[1]]

    assert lrs(TINY.replace(epochs=4, lr=0.1, scheduler="warmup_linear", warmup_epochs=2)) == pytest.approx(
        [0.05, 0.1, 0.05, 0.0])
    assert lrs(TINY.replace(epochs=3, lr=0.1, scheduler="cosine")) == pytest.approx(
        [0.1 * 0.5 * (1 + math.cos(math.pi * e / 3)) for e in range(3)])
    assert lrs(TINY.replace(epochs=2, lr=0.1)) == pytest.approx([0.1, 0.1])


def test_warmup_longer_than_training_is_shortened(small):
    recipe = TINY.replace(epochs=10, lr=0.1, scheduler="warmup_linear", warmup_epochs=30)
    assert T._effective_warmup(recipe) == 2
    factors = [T._lr_factor(recipe, e) for e in range(10)]
    assert max(factors) == 1.0 and factors[0] == 0.5  # reaches the peak lr after 2 epochs
    with pytest.warns(UserWarning, match="warmup_epochs=30 >= epochs=1:"):
        m = create_model("small_cnn", 10, **KW)
        train_model(m, small.forget, None, recipe.replace(epochs=1), device="cpu", progress=False)


def test_early_stopping_restores_best_weights(small, monkeypatch):
    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1])
    snapshots = []

    def fake_eval(model, split, device, batch_size, amp):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return next(losses), 0.5

    monkeypatch.setattr(T, "_eval_loss_acc", fake_eval)
    model = create_model("small_cnn", 10, **KW)
    model, hist = train_model(model, small.forget, small.val, TINY.replace(epochs=8, patience=2), device="cpu",
                              progress=False)
    assert len(hist) == 4  # best at epoch 1, then 2 epochs without improvement
    best = snapshots[1]
    assert all(torch.equal(model.state_dict()[k], best[k]) for k in best)
    assert not all(torch.equal(model.state_dict()[k], snapshots[-1][k]) for k in best)
    # without patience every epoch runs and the last weights are kept
    losses = iter([1.0, 0.5, 0.6, 0.7])
    snapshots.clear()
    model, hist = train_model(create_model("small_cnn", 10, **KW), small.forget, small.val,
                              TINY.replace(epochs=4, patience=None), device="cpu", progress=False)
    assert len(hist) == 4
    assert all(torch.equal(model.state_dict()[k], snapshots[-1][k]) for k in snapshots[-1])


def test_paper_recipes():
    r = paper_recipe("resnet18")
    assert (r.optimizer, r.lr, r.momentum, r.weight_decay, r.batch_size, r.epochs) == ("sgd", 0.1, 0.9, 5e-4, 512, 150)
    assert (r.scheduler, r.warmup_epochs, r.patience, r.augment) == ("warmup_linear", 30, 50, True)
    v = paper_recipe("vit_b16")
    assert (v.optimizer, v.lr, v.momentum, v.weight_decay, v.batch_size, v.epochs) == ("sgd", 1e-4, 0.9, 5e-4, 64, 30)
    assert (v.scheduler, v.patience) == ("none", 10)


@pytest.mark.parametrize("bad,match", [
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"lr": 0.0}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"scheduler": "step"}, "unknown scheduler 'step'.*warmup_linear, cosine, none"),
    ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'.*sgd, adam, adamw"),
    ({"patience": 0}, "patience"),
    ({"warmup_epochs": -1}, "warmup_epochs"),
    ({"momentum": 1.5}, "momentum"),
])
def test_recipe_validation(bad, match):
    with pytest.raises(LotusError, match=match):
        TrainRecipe(**bad)
    with pytest.raises(LotusError, match="unknown TrainRecipe field.*'epoch'"):
        TINY.replace(epoch=3)


# ---------------------------------------------------------------------------------------
# checkpoint cache
# ---------------------------------------------------------------------------------------


def test_cache_hit_loads_without_training(small, tmp_path, monkeypatch):
    first = _get("original", small, tmp_path)
    assert first.lotus_train_info["cached"] is False
    files = sorted(tmp_path.glob("*.pt"))
    assert [str(f) for f in files] == [first.lotus_train_info["path"]]

    def no_training(*a, **k):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(T, "train_model", no_training)
    torch.manual_seed(5)
    expected_rand = torch.rand(3)
    torch.manual_seed(5)
    again = _get("original", small, tmp_path)
    assert torch.equal(torch.rand(3), expected_rand)  # loading leaves the global RNG alone
    assert again.lotus_train_info["cached"] is True
    assert again.lotus_train_info["epochs"] == 1 and not again.training
    assert _same_weights(first, again)
    assert sorted(tmp_path.glob("*.pt")) == files


def test_cache_miss_on_anything_that_determines_the_model(small, tmp_path):
    base = _get("original", small, tmp_path).lotus_train_info["path"]
    paths = {base}
    for kw in ({"seed": 1}, {"recipe": TINY.replace(lr=0.02)}, {"recipe": TINY.replace(augment=True)}):
        m = _get("original", small, tmp_path, **kw)
        assert m.lotus_train_info["cached"] is False
        paths.add(m.lotus_train_info["path"])
    m = get_trained_model("original", small, "small_cnn", TINY, seed=0, cache=tmp_path, model_kwargs={"width": 4},
                          progress=False)
    paths.add(m.lotus_train_info["path"])
    assert len(paths) == 5 and len(list(tmp_path.glob("*.pt"))) == 5
    # another forget set: the original model (trained on forget + retain) is shared, the gold one is not
    other = load_splits("digits", forget=0.2, seed=0, max_train_per_class=30, max_heldout_per_class=10)
    assert _get("original", other, tmp_path).lotus_train_info["path"] == base
    assert _get("original", other, tmp_path).lotus_train_info["cached"] is True
    g1 = _get("gold", small, tmp_path).lotus_train_info["path"]
    g2 = _get("gold", other, tmp_path).lotus_train_info["path"]
    assert g1 != g2 and base not in (g1, g2)
    # another unseen set (used for early stopping) is another original model
    swapped = load_splits("digits", forget=0.1, seed=0, max_train_per_class=30, max_heldout_per_class=10,
                          unseen=small.test)
    assert _get("original", swapped, tmp_path).lotus_train_info["path"] != base


def test_truncated_checkpoint_raises_and_force_retrains(small, tmp_path):
    path = _get("original", small, tmp_path).lotus_train_info["path"]
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt checkpoint"):
        _get("original", small, tmp_path)
    fresh = _get("original", small, tmp_path, force=True)
    assert fresh.lotus_train_info["cached"] is False
    assert _get("original", small, tmp_path).lotus_train_info["cached"] is True


def test_mismatched_checkpoint_raises(small, tmp_path):
    p0 = _get("original", small, tmp_path, seed=0).lotus_train_info["path"]
    p1 = _get("original", small, tmp_path, seed=1).lotus_train_info["path"]
    open(p1, "wb").write(open(p0, "rb").read())  # seed-0 weights under the seed-1 name
    with pytest.raises(CheckpointError, match="different configuration.*differs in: seed"):
        _get("original", small, tmp_path, seed=1)


def test_load_checkpoint_checks(tmp_path):
    model = create_model("small_cnn", 10, width=8)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, {"key": {"a": 1}})
    assert load_checkpoint(path, create_model("small_cnn", 10, width=8), expected_key={"a": 1})["meta"]["key"] == {"a": 1}
    with pytest.raises(CheckpointError, match="differs in: a"):
        load_checkpoint(path, expected_key={"a": 2})
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(path, create_model("small_cnn", 10, width=16))
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save(torch.zeros(3), tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a lotus checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    with torch.no_grad():
        model.fc.weight[0, 0] = float("nan")
    save_checkpoint(tmp_path / "nan.pt", model, {"key": {}})
    with pytest.raises(CheckpointError, match="non-finite.*fc.weight"):
        load_checkpoint(tmp_path / "nan.pt")


def test_atomic_write_leaves_no_temp_files(tmp_path, monkeypatch):
    model = create_model("small_cnn", 10, width=8)
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, {"key": {"v": 1}})
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]
    before = path.read_bytes()

    real_save = torch.save

    def broken_save(obj, fh, *a, **k):
        fh.write(b"partial bytes")
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(path, create_model("small_cnn", 10, width=8), {"key": {"v": 2}})
    monkeypatch.setattr(torch, "save", real_save)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temp file left behind
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert load_checkpoint(path, expected_key={"v": 1})


def test_cache_disabled_and_bad_kind(small, tmp_path, monkeypatch):
    monkeypatch.setenv("LOTUS_CACHE", str(tmp_path / "cache"))
    m = _get("gold", small, False)
    assert m.lotus_train_info["path"] is None and not (tmp_path / "cache").exists()
    with pytest.raises(LotusError, match="kind must be 'original' or 'gold'"):
        _get("teacher", small, False)
    with pytest.raises(LotusError, match="unknown model"):
        get_trained_model("gold", small, "resnet50", TINY, cache=False, progress=False)
    with pytest.raises(LotusError, match="TrainRecipe"):
        get_trained_model("gold", small, "small_cnn", {"epochs": 1}, cache=False, progress=False)
    # the default cache folder is $LOTUS_CACHE/checkpoints
    m = _get("gold", small, None)
    assert m.lotus_train_info["path"].startswith(str(tmp_path / "cache" / "checkpoints"))


def test_epoch_steps_descend_ascend_hook_and_average_by_rows():
    """The one step every training loop takes: sign=-1 ascends, the hook runs before the step,
    the epoch mean weights each batch's loss by its rows, a non-finite loss names its step."""
    from lotus.distributed import EpochSteps, Rows

    def run(sign, hook=None):
        w = torch.nn.Parameter(torch.tensor([1.0]))
        holder = torch.nn.Module()
        holder.w = w
        steps = EpochSteps(holder, torch.optim.SGD([w], lr=0.1), "toy: epoch 0", grad_hook=hook)
        steps.step((w ** 2).sum(), Rows(0, 3, 3, 3, 1.0), sign=sign)       # loss 1 over 3 rows, grad 2
        steps.step((w ** 2).sum() * 0 + 4.0, Rows(0, 1, 1, 1, 1.0), sign=sign)  # loss 4 over 1 row, grad 0
        return float(w.detach()), steps.mean(), steps.steps

    w, mean, n = run(1)
    assert w == pytest.approx(0.8) and n == 2
    assert mean == pytest.approx((1.0 * 3 + 4.0 * 1) / 4)  # per sample, not per batch
    assert run(-1)[0] == pytest.approx(1.2)  # gradient ascent
    seen = []
    assert run(1, hook=lambda m: (seen.append(float(m.w.grad)), m.w.grad.zero_()))[0] == pytest.approx(1.0)
    assert seen == [pytest.approx(2.0), 0.0]  # the hook saw each gradient and its change reached the step

    w = torch.nn.Parameter(torch.tensor([1.0]))
    steps = EpochSteps(torch.nn.Module(), torch.optim.SGD([w], lr=0.1), "toy: epoch 4")
    steps.step((w ** 2).sum(), Rows(0, 1, 1, 1, 1.0))
    with pytest.raises(NonFiniteLossError, match="toy: epoch 4, step 1"):
        steps.step((w * float("nan")).sum(), Rows(0, 1, 1, 1, 1.0))
    assert float(w.detach()) == pytest.approx(0.8)  # the bad step changed nothing
