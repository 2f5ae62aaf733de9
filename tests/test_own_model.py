"""Your own model on your own data: torch Datasets as splits (bit for bit the built-in splits),
any nn.Module classifier through one adapter, and retrain-free scoring of saved models
(`lotus.metrics.score_checkpoint`, `lotus score`)."""

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import Dataset, Subset, TensorDataset

import lotus
from lotus.cli import main
from lotus.data import DatasetSplit, UnlearningSplits, concat_splits, dataset_labels, load_splits, source_info
from lotus.methods import get_method, list_methods
from lotus.metrics import evaluate, predict, read_indices, score_checkpoint
from lotus.models import Classifier, as_classifier, load_model_file, model_device, output_logits
from lotus.train import TrainRecipe, get_trained_model
from lotus.utils import LotusError

DIGITS = dict(image_size=8, max_train_per_class=40, max_heldout_per_class=20)


@pytest.fixture(scope="module")
def small():
    """Digits at 8 px, 40 training and 20 held-out images per class."""
    return load_splits("digits", forget=0.1, seed=0, **DIGITS)


def _net(seed=0, width=8):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return lotus.create_model("small_cnn", 10, width=width)


def _datasets(splits):
    """The splits' own images as torch TensorDatasets (uint8 [C, H, W] items)."""
    return tuple(TensorDataset(s.images, s.labels) for s in (splits.train, splits.val, splits.test))


def _normalise(splits):
    """A per-item transform giving the normalised float images the built-in splits yield."""
    mean = torch.tensor(splits.train.mean).view(-1, 1, 1)
    std = torch.tensor(splits.train.std).view(-1, 1, 1)
    return lambda x: (x.float().div(255.0) - mean) / std


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def _epochs(method, n=1):
    return {"epochs": n} if "epochs" in get_method(method).default_hparams() else {}


# ---------------------------------------------------------------------------------------
# 1. torch Datasets as splits
# ---------------------------------------------------------------------------------------


def test_dataset_split_batches_equal_the_tensor_split_with_shuffle_and_augmentation(small):
    ref = small.train
    ds = DatasetSplit(TensorDataset(ref.images, ref.labels), num_classes=10, mean=ref.mean, std=ref.std,
                      augment_mode=ref.augment_mode)
    assert ref.augment_mode == "crop"
    ga, gb = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = list(ref.batches(64, shuffle=True, augment=True, generator=ga, with_index=True))
    b = list(ds.batches(64, shuffle=True, augment=True, generator=gb, with_index=True))
    assert len(a) == len(b) > 1
    for (xa, ya, ia), (xb, yb, ib) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb) and torch.equal(ia, ib)
    assert torch.equal(ga.get_state(), gb.get_state())  # the same random numbers were drawn
    # a float transform (the user's ToTensor + Normalize) gives the same batches without augmentation
    fl = DatasetSplit(TensorDataset(ref.images, ref.labels), num_classes=10, transform=_normalise(small))
    for (xa, _), (xb, _) in zip(ref.batches(100), fl.batches(100)):
        assert torch.equal(xa, xb)
    assert ds.image_shape == ref.image_shape and fl.content_hash() != ds.content_hash()
    assert ds.content_hash() == DatasetSplit(TensorDataset(ref.images, ref.labels), num_classes=10, mean=ref.mean,
                                             std=ref.std, augment_mode="crop").content_hash()


def test_dataset_batches_leave_the_global_random_state_alone(small):
    ds = DatasetSplit(TensorDataset(small.train.images, small.train.labels), num_classes=10)
    before = torch.get_rng_state()
    list(ds.batches(50, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.parametrize("method", ["lotus", "bad_teacher", "ssd", "unsir"])
def test_from_dataset_unlearns_and_evaluates_bit_for_bit_like_load_splits(small, method):
    train, val, test = _datasets(small)
    mine = UnlearningSplits.from_dataset(train, forget=small.forget_indices, unseen=val, test=test, num_classes=10,
                                         mean=small.train.mean, std=small.train.std, augment_mode="crop",
                                         name="digits")
    assert isinstance(mine.forget, DatasetSplit) and mine.sizes() == small.sizes()
    assert torch.equal(mine.forget_indices, small.forget_indices)
    model = _net()
    hp = {**_epochs(method), **({"augment": True} if "augment" in get_method(method).default_hparams() else {})}
    a, ra = lotus.unlearn(model, small, method, device="cpu", seed=3, **hp)
    b, rb = lotus.unlearn(model, mine, method, device="cpu", seed=3, **hp)
    assert not _same_weights(a, model)  # something was learned
    assert _same_weights(a, b) and ra.history == rb.history
    assert evaluate(a, small, original=model, device="cpu") == evaluate(b, mine, original=model, device="cpu")


def test_float_transform_path_is_bit_for_bit_too(small):
    train, val, test = _datasets(small)
    mine = UnlearningSplits.from_dataset(train, forget=small.forget_indices, unseen=val, test=test,
                                         transform=_normalise(small))
    model = _net()
    a, _ = lotus.unlearn(model, small, "lotus", device="cpu", seed=1, epochs=1, augment=False)
    b, _ = lotus.unlearn(model, mine, "lotus", device="cpu", seed=1, epochs=1, augment=False)
    assert _same_weights(a, b)
    assert evaluate(a, small, original=model, device="cpu") == evaluate(b, mine, original=model, device="cpu")


def test_from_datasets_with_forget_and_retain_apart_matches_too(small):
    train, val, test = _datasets(small)
    mine = UnlearningSplits.from_datasets(forget=Subset(train, small.forget_indices.tolist()),
                                          retain=Subset(train, small.retain_indices.tolist()), unseen=val, test=test,
                                          mean=small.train.mean, std=small.train.std, augment_mode="crop")
    n_f = len(small.forget)
    assert torch.equal(mine.forget_indices, torch.arange(n_f)) and len(mine.train) == len(small.train)
    assert torch.equal(mine.train.labels[:n_f], small.forget.labels)
    model = _net()
    a, _ = lotus.unlearn(model, small, "lotus", device="cpu", seed=2, epochs=1)
    b, _ = lotus.unlearn(model, mine, "lotus", device="cpu", seed=2, epochs=1)
    assert _same_weights(a, b)


def test_a_held_out_dataset_is_halved_as_load_splits_halves_it():
    data = source_info("digits").loader(None, download=False, **DIGITS)
    heldout = TensorDataset(data.heldout.images, data.heldout.labels)
    train = TensorDataset(data.train.images, data.train.labels)
    ref = load_splits("digits", forget="count:3", seed=7, **DIGITS)
    mine = lotus.data.from_dataset(train, forget="count:3", heldout=heldout, seed=7, classes=data.classes)
    assert mine.forget_spec == ref.forget_spec == "count:3"
    for name in ("forget_indices", "retain_indices", "val_indices", "test_indices"):
        assert torch.equal(getattr(mine, name), getattr(ref, name)), name
    for part in ("forget", "retain", "val", "test"):
        assert torch.equal(mine[part].labels, ref[part].labels)
    cls = lotus.data.from_dataset(train, forget="3", heldout=heldout, classes=data.classes)
    assert cls.is_class_unlearning and set(cls.forget.labels.tolist()) == {3}


class _PilDicts(Dataset):
    """Items as a Hugging Face data set gives them: {"image": PIL image, "label": int}."""

    def __init__(self, images, labels):
        from PIL import Image

        self.items = [{"image": Image.fromarray(x.permute(1, 2, 0).numpy()), "label": int(y)}
                      for x, y in zip(images, labels)]
        self.classes = [f"digit {i}" for i in range(10)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_dict_items_pil_images_and_a_training_transform(small):
    ds = _PilDicts(small.train.images[:30], small.train.labels[:30])
    split = DatasetSplit(ds, mean=small.train.mean, std=small.train.std)
    assert split.num_classes == 10  # from ds.classes
    ref = small.train.subset(range(30))
    (x_ref, y_ref), = ref.batches(30)
    (x, y), = split.batches(30)
    assert torch.equal(x, x_ref) and torch.equal(y, y_ref)
    # augment=True goes through train_transform (here: a deterministic flip), evaluation does not
    flipping = DatasetSplit(ds, mean=small.train.mean, std=small.train.std,
                            train_transform=lambda img: torch.from_numpy(np.asarray(img)[:, ::-1].copy()).permute(2, 0, 1))
    (xa, _), = flipping.batches(30, augment=True)
    (xe, _), = flipping.batches(30)
    assert torch.equal(xa, x_ref.flip(-1)) and torch.equal(xe, x_ref)
    names = lotus.data.from_dataset(ds, forget=[0, 1], unseen=ds, test=ds).classes
    assert names[0] == "digit 0"


class _NoImages(Dataset):
    """A dataset whose labels are known without loading an image."""

    def __init__(self, n):
        self.targets = [i % 4 for i in range(n)]

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        raise AssertionError("an image was loaded")


def test_labels_are_read_without_loading_images():
    ds = _NoImages(20)
    assert dataset_labels(Subset(ds, [3, 5, 6])).tolist() == [3, 1, 2]
    assert DatasetSplit(Subset(ds, list(range(8))), num_classes=4).labels.tolist() == [0, 1, 2, 3] * 2


def test_clear_errors_for_data_that_do_not_fit(small):
    train, val, test = _datasets(small)
    with pytest.raises(LotusError, match="heldout= .* or both unseen= and test="):
        lotus.data.from_dataset(train, forget=0.1, unseen=val)
    with pytest.raises(LotusError, match="either heldout="):
        lotus.data.from_dataset(train, forget=0.1, heldout=val, unseen=val, test=test)
    with pytest.raises(LotusError, match="map-style torch Dataset"):
        DatasetSplit([1, 2, 3][0], num_classes=3)
    with pytest.raises(LotusError, match="forget indices must lie in"):
        lotus.data.from_dataset(train, forget=[0, 10**6], unseen=val, test=test)
    wrong = DatasetSplit(train, labels=torch.zeros(len(train), dtype=torch.long), num_classes=10)
    with pytest.raises(LotusError, match="has label .* but the split's labels say 0"):
        list(wrong.batches(len(train)))
    mixed = DatasetSplit([(torch.zeros(3, 8, 8), 0), (torch.zeros(3, 9, 9), 1)], num_classes=2)
    with pytest.raises(LotusError, match="differ in shape"):
        list(mixed.batches(2))
    with pytest.raises(LotusError, match=r"expected an \(image, label\) tuple"):
        DatasetSplit([torch.zeros(3)], num_classes=2)
    with pytest.raises(LotusError, match="different kinds"):
        concat_splits([small.forget, DatasetSplit(train, num_classes=10)])


# ---------------------------------------------------------------------------------------
# 2. any nn.Module classifier
# ---------------------------------------------------------------------------------------


class _Outputs(nn.Module):
    """The same network with another output: a tuple, a dict, or an object with .logits."""

    def __init__(self, net, kind):
        super().__init__()
        self.net, self.kind = net, kind

    def forward(self, x):
        logits = self.net(x)
        if self.kind == "tuple":
            return logits, x.mean()
        if self.kind == "dict":
            return {"logits": logits, "aux": x.mean()}
        if self.kind == "hf":
            return SimpleNamespace(logits=logits, hidden_states=None)
        return {"scores": logits}


@pytest.mark.parametrize("kind", ["tuple", "dict", "hf", "custom"])
def test_models_with_other_outputs_unlearn_like_the_plain_model(small, kind):
    plain = _net()
    other = _Outputs(_net(), kind)
    fn = {"logits_fn": lambda out: out["scores"]} if kind == "custom" else {}
    # channels_last is automatic for the registered CNN only and changes the last bits of the
    # floats; the comparison is bit for bit, so both run in the default memory format
    a, _ = lotus.unlearn(plain, small, "lotus", device="cpu", seed=0, epochs=1, channels_last=False)
    b, _ = lotus.unlearn(other, small, "lotus", device="cpu", seed=0, epochs=1, channels_last=False, **fn)
    assert type(b) is _Outputs  # your model comes back, unwrapped
    assert _same_weights(a, b.net)
    assert evaluate(a, small, device="cpu", channels_last=False) == evaluate(b, small, device="cpu", **fn)
    if kind == "custom":
        with pytest.raises(LotusError, match="logits_fn"):
            lotus.unlearn(other, small, "lotus", device="cpu", epochs=1)


class _Fixed(nn.Module):
    """A classifier that only takes 12x12 inputs with values doubled (its 'own normalisation')."""

    def __init__(self):
        super().__init__()
        self.net = _net()

    def forward(self, x):
        if x.shape[-1] != 12:
            raise RuntimeError(f"expected 12x12 inputs, got {tuple(x.shape)}")
        return self.net(x)


def test_models_that_need_their_own_input_size_and_normalisation(small):
    model = _Fixed()
    with pytest.raises(LotusError, match="input_size=... or preprocess="):
        lotus.unlearn(model, small, "lotus", device="cpu", epochs=1)
    out, _ = lotus.unlearn(model, small, "lotus", device="cpu", epochs=1, input_size=12, preprocess=lambda x: 2 * x)
    assert type(out) is _Fixed
    probs, _ = predict(out, small.test, device="cpu", input_size=12, preprocess=lambda x: 2 * x)
    x = torch.nn.functional.interpolate(next(small.test.batches(len(small.test)))[0], size=(12, 12), mode="bilinear",
                                        align_corners=False)
    with torch.inference_mode():
        assert torch.allclose(probs, torch.softmax(out.net(2 * x), 1), atol=1e-6)


@pytest.mark.parametrize("method", list_methods())
def test_every_method_takes_any_classifier_or_says_what_it_needs(small, method):
    model = _Outputs(_net(), "tuple")
    if get_method(method).needs_fresh_model:
        with pytest.raises(LotusError, match=rf"method '{method}' .*lotus_config"):
            lotus.unlearn(model, small, method, device="cpu", **_epochs(method))
        return
    out, report = lotus.unlearn(model, small, method, device="cpu", **_epochs(method))
    assert type(out) is _Outputs and report.method == method
    assert not _same_weights(out.net, model.net)


def test_a_wrapped_lotus_model_keeps_its_wrapper_and_can_be_retrained(small):
    clf = as_classifier(_net(), input_size=8)
    out, _ = lotus.unlearn(clf, small, "retrain", device="cpu", epochs=1, batch_size=64, patience=None)
    assert isinstance(out, Classifier) and out.input_size == 8 and out.lotus_config == clf.lotus_config
    assert not _same_weights(out, clf)


def test_a_head_that_does_not_fit_the_data_is_an_error_before_any_work(small):
    with pytest.raises(LotusError, match=r"logits of shape \(2, 5\) .* 10 classes"):
        lotus.unlearn(lotus.create_model("small_cnn", 5, width=8), small, "lotus", device="cpu")
    with pytest.raises(LotusError, match="already a lotus.models.Classifier"):
        as_classifier(as_classifier(_net()), logits_fn=output_logits)


def test_device_defaults():
    model = _net()
    assert model_device(model, "cpu") == torch.device("cpu")
    assert model_device(model) == lotus.utils.resolve_device(None)  # a CPU model goes to the default device


# ---------------------------------------------------------------------------------------
# 3. model files and retrain-free scoring
# ---------------------------------------------------------------------------------------


def test_model_files_of_every_kind_load_with_the_same_predictions(small, tmp_path):
    net = _net(seed=4).eval()
    x = next(small.test.batches(7))[0]
    with torch.inference_mode():
        want = net(x)
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    torch.save({"state_dict": net.state_dict()}, tmp_path / "wrapped.pt")
    torch.jit.save(torch.jit.script(net), tmp_path / "ts.pt")
    batch = torch.export.Dim("batch", min=1)
    torch.export.save(torch.export.export(net, (x,), dynamic_shapes=({0: batch},)), tmp_path / "dyn.pt2")
    torch.export.save(torch.export.export(net, (x[:4],)), tmp_path / "static.pt2")  # fixed batch of 4
    loaded = {
        "name": load_model_file(tmp_path / "sd.pt", model="small_cnn", num_classes=10, model_kwargs={"width": 8}),
        "factory": load_model_file(tmp_path / "wrapped.pt", model="lotus.models:SmallCNN", num_classes=10,
                                   model_kwargs={"width": 8}),
        "module": load_model_file(tmp_path / "sd.pt", model=_net(seed=9)),
        "torchscript": load_model_file(tmp_path / "ts.pt"),
        "export": load_model_file(tmp_path / "dyn.pt2"),
        "export, fixed batch": load_model_file(tmp_path / "static.pt2"),
    }
    for kind, m in loaded.items():
        with torch.inference_mode():
            got = as_classifier(m)(x)
        assert torch.allclose(got, want, atol=1e-5), kind
    probs, _ = predict(loaded["export, fixed batch"], small.test, device="cpu", batch_size=9)
    assert probs.shape == (len(small.test), 10)


def test_wrong_model_files_are_clear_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    torch.save(_net().state_dict(), tmp_path / "sd.pt")
    torch.save(_net(), tmp_path / "pickled_module.pt")  # needs code to unpickle: refused
    torch.save({"format": 99, "meta": {}, "state_dict": _net().state_dict()}, tmp_path / "future.pt")
    cases = [
        (tmp_path / "missing.pt", {}, "does not exist"),
        (tmp_path / "notes.txt", {}, "not a model file lotus can read safely"),
        (tmp_path / "pickled_module.pt", {}, "not a model file lotus can read safely"),
        (tmp_path / "sd.pt", {}, "plain state dict: pass the architecture"),
        (tmp_path / "sd.pt", {"model": "small_cnn", "num_classes": 10}, "do not fit the model small_cnn"),
        (tmp_path / "sd.pt", {"model": "no_such_net", "num_classes": 10}, "unknown model 'no_such_net'"),
        (tmp_path / "future.pt", {}, "checkpoint format 99"),
    ]
    for path, kw, message in cases:
        with pytest.raises(LotusError, match=message):
            load_model_file(path, **kw)


def test_forget_lists_in_every_format(tmp_path):
    want = [4, 1, 9]
    (tmp_path / "a.txt").write_text("# forget these\n4, 1\n9\n")
    (tmp_path / "a.json").write_text(json.dumps(want))
    np.save(tmp_path / "a.npy", np.array(want))
    torch.save(torch.tensor(want), tmp_path / "a.pt")
    for name in ("a.txt", "a.json", "a.npy", "a.pt"):
        assert read_indices(tmp_path / name).tolist() == want
    (tmp_path / "bad.txt").write_text("4 one 9")
    with pytest.raises(LotusError, match="cannot read the forget list"):
        read_indices(tmp_path / "bad.txt")


@pytest.fixture(scope="module")
def two_checkpoints(small, tmp_path_factory):
    """(original, gold) checkpoints as `lotus train` writes them, and the models."""
    cache = tmp_path_factory.mktemp("ckpt")
    recipe = TrainRecipe(epochs=2, batch_size=64, lr=0.05, scheduler="cosine", warmup_epochs=0, patience=None,
                         augment=False)
    kw = dict(seed=0, device="cpu", cache=cache, model_kwargs={"width": 8}, progress=False)
    orig = get_trained_model("original", small, "small_cnn", recipe, **kw)
    gold = get_trained_model("gold", small, "small_cnn", recipe, **kw)
    return orig, gold


def test_score_checkpoint_is_evaluate_without_a_gold_model(small, two_checkpoints):
    orig, gold = two_checkpoints
    res = score_checkpoint(orig.lotus_train_info["path"], gold.lotus_train_info["path"], "digits", forget=0.1,
                           seed=0, device="cpu", **DIGITS)
    want_u = evaluate(gold, small, original=orig, device="cpu")
    want_o = evaluate(orig, small, device="cpu")
    for k in ("acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "rf_jsd", "rf_jsd_legacy"):
        assert res["unlearned"][k] == want_u[k] and res["original"][k] == want_o[k], k
    assert res["forget"] == small.forget_spec and res["sizes"] == small.sizes()
    # the same from modules and splits of your own
    again = score_checkpoint(orig, gold, small, device="cpu")
    assert again["unlearned"] == res["unlearned"]


def test_lotus_score_on_two_checkpoints_written_by_lotus_train(small, tmp_path, capsys):
    data = ["--dataset", "digits", "--data", *(f"{k}={v}" for k, v in DIGITS.items())]
    rc = main(["train", *data, "--model", "small_cnn", "--model-arg", "width=8", "--train", "epochs=1",
               "batch_size=64", "scheduler=cosine", "warmup_epochs=0", "patience=null", "augment=false",
               "--cache-dir", str(tmp_path / "ckpt"), "--device", "cpu", "-q"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    paths = re.findall(r"^\s+(/\S+\.pt)$", out, flags=re.M)
    assert len(paths) == 2 and "-original-" in paths[0] and "-gold-" in paths[1]
    forget = small.forget_indices[::2]
    (tmp_path / "forget.txt").write_text("\n".join(map(str, forget.tolist())))
    unseen = lotus.fixtures.write_image_folder(tmp_path / "fx", source="digits", train_per_class=1, val_per_class=5,
                                               image_size=8) / "val"
    argv = ["score", "--original", paths[0], "--unlearned", paths[1], *data, "--forget-file",
            str(tmp_path / "forget.txt"), "--unseen", str(unseen), "--device", "cpu"]
    rc = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    res = json.loads(out)
    want = score_checkpoint(paths[0], paths[1], "digits", forget=forget, unseen=unseen, device="cpu", **DIGITS)
    assert res == json.loads(json.dumps(want))
    assert res["sizes"]["forget"] == forget.numel() and res["sizes"]["val"] == 50
    rc = main(argv)
    out, _ = capsys.readouterr()
    assert rc == 0 and "rf_jsd" in out and f"{res['unlearned']['rf_jsd']:.4f}" in out
    rc = main(["score", "--original", str(tmp_path / "forget.txt"), "--unlearned", paths[1], *data, "--device", "cpu"])
    _, err = capsys.readouterr()
    assert rc == 2 and "not a model file lotus can read safely" in err
