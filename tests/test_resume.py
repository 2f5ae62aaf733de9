"""Resumable training: an interrupted training resumes from its partial checkpoint and ends
with the same weights as an uninterrupted one; the partial checkpoint is removed on success."""

import pytest
import torch

import lotus.train as T
from lotus.data import load_splits
from lotus.train import PARTIAL_SUFFIX, TrainRecipe, checkpoint_path, get_trained_model

KW = {"width": 8}
# augmentation, a scheduler and early stopping all carry state across epochs
RECIPE = TrainRecipe(epochs=6, batch_size=64, lr=0.05, scheduler="warmup_linear", warmup_epochs=2, patience=4,
                     augment=True)


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits", forget=0.1, seed=0, image_size=16, noise_std=0.3)


def _train(splits, cache, **kw):
    return get_trained_model("original", splits, "small_cnn", RECIPE, seed=0, device="cpu", cache=cache,
                             model_kwargs=KW, progress=False, checkpoint_every=2, **kw)


def test_interrupted_training_resumes_to_the_same_weights(splits, tmp_path, monkeypatch):
    reference = _train(splits, tmp_path / "a")
    ref_history = reference.lotus_train_info["history"]

    # the same training, interrupted (Ctrl-C) during the 4th epoch's evaluation: the partial
    # checkpoint written after epoch 2 survives
    calls = {"n": 0}
    real_eval = T._eval_loss_acc

    def interrupting(*a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_eval(*a, **k)

    monkeypatch.setattr(T, "_eval_loss_acc", interrupting)
    with pytest.raises(KeyboardInterrupt):
        _train(splits, tmp_path / "b")
    path, _ = checkpoint_path("original", splits, "small_cnn", RECIPE, seed=0, cache=tmp_path / "b", model_kwargs=KW)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    assert partial.is_file() and not path.exists()
    assert torch.load(partial, weights_only=True)["epoch"] == 2

    # resumed: two epochs are not trained again, and the result is the uninterrupted one
    monkeypatch.setattr(T, "_eval_loss_acc", real_eval)
    torch.manual_seed(1234)  # the caller's global RNG state must not matter either
    resumed = _train(splits, tmp_path / "b")
    assert not partial.exists() and path.is_file()
    ref_state, got_state = reference.state_dict(), resumed.state_dict()
    assert ref_state.keys() == got_state.keys()
    for k in ref_state:
        assert torch.equal(ref_state[k], got_state[k]), k
    history = resumed.lotus_train_info["history"]
    assert [h["epoch"] for h in history] == [h["epoch"] for h in ref_history] == list(range(6))
    for h, r in zip(history, ref_history):
        assert {k: v for k, v in h.items() if k != "seconds"} == {k: v for k, v in r.items() if k != "seconds"}


def test_a_partial_checkpoint_of_another_training_is_ignored(splits, tmp_path):
    path, _ = checkpoint_path("original", splits, "small_cnn", RECIPE, seed=0, cache=tmp_path, model_kwargs=KW)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match=r"ignoring the partial checkpoint .*\(unreadable\)"):
        model = _train(splits, tmp_path)
    assert path.is_file() and not partial.exists() and len(model.lotus_train_info["history"]) == 6


def test_checkpoint_every_is_checked(monkeypatch):
    monkeypatch.setenv("LOTUS_CHECKPOINT_EVERY", "often")
    with pytest.raises(T.LotusError, match="LOTUS_CHECKPOINT_EVERY must be an integer"):
        T._checkpoint_every(None)
    monkeypatch.setenv("LOTUS_CHECKPOINT_EVERY", "0")
    assert T._checkpoint_every(None) == 0
    with pytest.raises(T.LotusError, match="checkpoint_every must be an int >= 0"):
        T._checkpoint_every(-1)
