"""Tests of lotus.data: split sizes, disjointness, stratification, seeds, forget specs,
evaluation views without augmentation, image-folder / MUFAC / unseen sources, decode cache,
and error messages. Everything runs on digits or tiny image fixtures written here; the
CIFAR-10 tests use ../shared/data through the ``cifar_root`` fixture (skipped when absent)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lotus.data import (
    FileSplit,
    TensorSplit,
    UnlearningSplits,
    concat_splits,
    data_root,
    list_datasets,
    load_splits,
    parse_forget_spec,
)
from lotus.data.forget import _split_forget_retain
from lotus.utils import LotusError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _per_class(labels: torch.Tensor, k: int) -> list[int]:
    return torch.bincount(labels, minlength=k).tolist()


def _as_set(t: torch.Tensor) -> set[int]:
    return set(t.tolist())


def _heldout_labels(s: UnlearningSplits) -> torch.Tensor:
    """Labels of the held-out set, rebuilt from val/test and their positions."""
    n = len(s.val) + len(s.test)
    out = torch.full((n,), -1, dtype=torch.long)
    out[s.val_indices] = s.val.labels
    out[s.test_indices] = s.test.labels
    return out


def _check_partition(s: UnlearningSplits) -> None:
    """forget / retain partition train; val / test partition the held-out set; contents match."""
    n = len(s.train)
    f, r = _as_set(s.forget_indices), _as_set(s.retain_indices)
    assert not f & r
    assert f | r == set(range(n))
    assert len(f) == len(s.forget) and len(r) == len(s.retain)
    assert torch.equal(s.forget.labels, s.train.labels[s.forget_indices])
    assert torch.equal(s.retain.labels, s.train.labels[s.retain_indices])
    if isinstance(s.train, TensorSplit):
        assert torch.equal(s.forget.images, s.train.images[s.forget_indices])
        assert torch.equal(s.retain.images, s.train.images[s.retain_indices])
    if s.val_indices is not None:
        v, t = _as_set(s.val_indices), _as_set(s.test_indices)
        assert not v & t
        assert v | t == set(range(len(s.val) + len(s.test)))


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb.astype(np.uint8), mode="RGB").save(path)


def _pattern(cls: int, i: int, size: int = 8) -> np.ndarray:
    """A deterministic, image-specific ``[size, size, 3]`` uint8 pattern."""
    rng = np.random.default_rng(1000 * cls + i)
    return rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)


@pytest.fixture
def image_tree(tmp_path):
    """``train/{ant,bee,cat}/`` with 6/8/10 PNGs and ``val/`` with 4 per class (8x8 px)."""
    root = tmp_path / "tree"
    counts = {"ant": 6, "bee": 8, "cat": 10}
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            _write_png(root / "train" / name / f"{i:03d}.png", _pattern(c, i))
        for i in range(4):
            _write_png(root / "val" / name / f"{i:03d}.png", _pattern(c, 100 + i))
    (root / "train" / "ant" / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def mufac_tree(tmp_path):
    """A tiny MUFAC copy: CSVs with image_path / age_class beside {train,val,test}_images."""
    import pandas as pd

    root = tmp_path / "mufac"
    sizes = {"train": 24, "val": 16, "test": 16}
    for p, (part, n) in enumerate(sizes.items()):
        rows = []
        for i in range(n):
            age = "abcdefgh"[i % 8]
            fname = f"{part}_{i:03d}.png"
            _write_png(root / f"{part}_images" / fname, _pattern(p, i, size=12))
            rows.append({"image_path": fname, "age_class": age, "extra": i})
        pd.DataFrame(rows).to_csv(root / f"custom_{part}_dataset.csv", index=False)
    return root


# ---------------------------------------------------------------------------------------
# digits: sizes, partition, stratification
# ---------------------------------------------------------------------------------------


def test_list_datasets():
    assert set(list_datasets()) == {"digits", "cifar10", "cifar100", "imagefolder", "mufac", "tinyimagenet", "imagenet1k"}


def test_digits_split_sizes_exact_per_class(digits_splits):
    s = digits_splits
    assert s.num_classes == 10 and s.classes == [str(i) for i in range(10)]
    train_counts = _per_class(s.train.labels, 10)
    expected_forget = [math.floor(0.1 * n) for n in train_counts]
    assert _per_class(s.forget.labels, 10) == expected_forget
    assert _per_class(s.retain.labels, 10) == [n - f for n, f in zip(train_counts, expected_forget)]
    assert s.forget_spec == "0.1" and s.seed == 0 and s.forget_rule == "random"
    assert s.sizes() == {"forget": len(s.forget), "retain": len(s.retain), "val": len(s.val), "test": len(s.test)}
    # digits has 1,797 images split 2/3 : 1/3 per class
    assert len(s.train) + len(s.val) + len(s.test) == 1797


def test_digits_in_memory_uint8(digits_splits):
    for name in ("train", "forget", "retain", "val", "test"):
        split = digits_splits[name]
        assert isinstance(split, TensorSplit)
        assert split.images.dtype == torch.uint8 and split.image_shape == (3, 32, 32)
        assert split.labels.dtype == torch.int64


def test_partition_and_disjointness(digits_splits):
    _check_partition(digits_splits)


def test_val_test_halves_are_stratified(digits_splits):
    s = digits_splits
    held = _per_class(_heldout_labels(s), 10)
    assert -1 not in _heldout_labels(s).tolist()
    assert _per_class(s.val.labels, 10) == [n // 2 for n in held]
    assert _per_class(s.test.labels, 10) == [n - n // 2 for n in held]


def test_fraction_half_exact_counts():
    s = load_splits("digits", forget=0.5, seed=3)
    train_counts = _per_class(s.train.labels, 10)
    assert _per_class(s.forget.labels, 10) == [n // 2 for n in train_counts]
    _check_partition(s)


def test_fraction_floor_is_robust_to_float_rounding():
    # 0.29 * 100 == 28.999999999999996 in binary floating point: the forget set must hold 29
    labels = torch.arange(3).repeat_interleave(100)
    f, r, canon = _split_forget_retain(labels, ["a", "b", "c"], 0.29, "random", 0, None)
    assert _per_class(labels[f], 3) == [29, 29, 29]
    assert canon == "0.29" and len(r) == 300 - 87


def test_count_spec_and_retain_cap():
    s = load_splits("digits", forget="count:5", seed=0, retain_per_class=10)
    assert _per_class(s.forget.labels, 10) == [5] * 10
    assert _per_class(s.retain.labels, 10) == [10] * 10
    assert not _as_set(s.forget_indices) & _as_set(s.retain_indices)
    assert s.forget_spec == "count:5"
    # rule "first": the first 5 of every class are forgotten and the next 10 retained (ImageNet protocol)
    s = load_splits("digits", forget="count:5", seed=0, retain_per_class=10, forget_rule="first")
    for c in range(10):
        members = (s.train.labels == c).nonzero().flatten()
        assert torch.equal(s.forget_indices[s.forget.labels == c], members[:5])
        assert torch.equal(s.retain_indices[s.retain.labels == c], members[5:15])


# ---------------------------------------------------------------------------------------
# seeds and rules
# ---------------------------------------------------------------------------------------


def test_same_seed_gives_identical_splits():
    a = load_splits("digits", forget=0.1, seed=7)
    b = load_splits("digits", forget=0.1, seed=7)
    for attr in ("forget_indices", "retain_indices", "val_indices", "test_indices"):
        assert torch.equal(getattr(a, attr), getattr(b, attr))
    assert torch.equal(a.val.images, b.val.images)
    assert a.fingerprint() == b.fingerprint()


def test_random_rule_depends_on_seed(digits_splits):
    other = load_splits("digits", forget=0.1, seed=1)
    assert not torch.equal(digits_splits.forget_indices, other.forget_indices)
    # same per-class sizes, different members
    assert _per_class(other.forget.labels, 10) == _per_class(digits_splits.forget.labels, 10)
    assert not torch.equal(digits_splits.val_indices, other.val_indices)
    assert digits_splits.fingerprint() != other.fingerprint()
    _check_partition(other)


def test_first_rule_ignores_seed_for_forget_set():
    a = load_splits("digits", forget=0.1, seed=0, forget_rule="first")
    b = load_splits("digits", forget=0.1, seed=1, forget_rule="first")
    assert torch.equal(a.forget_indices, b.forget_indices)
    for c in range(10):  # the first floor(0.1 n_c) members of each class, in data set order
        members = (a.train.labels == c).nonzero().flatten()
        nf = math.floor(0.1 * members.numel())
        assert torch.equal(a.forget_indices[a.forget.labels == c], members[:nf])
    # the seed still drives the val/test halving
    assert not torch.equal(a.val_indices, b.val_indices)
    assert a.forget_rule == "first"


# ---------------------------------------------------------------------------------------
# class unlearning and explicit indices
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["class:3", "3"])
def test_class_unlearning(spec):
    s = load_splits("digits", forget=spec, seed=0)
    assert s.forget_spec == "class:3" and s.is_class_unlearning
    assert (s.forget.labels == 3).all()
    assert int((s.train.labels == 3).sum()) == len(s.forget)
    assert not (s.retain.labels == 3).any()
    _check_partition(s)


@pytest.mark.parametrize("kind", ["list", "tensor", "array", "string", "mask"])
def test_explicit_indices(kind):
    wanted = [40, 3, 17, 500, 8]
    n = 1195
    spec = {
        "list": wanted,
        "tensor": torch.tensor(wanted),
        "array": np.array(wanted),
        "string": "indices:" + ",".join(map(str, wanted)),
        "mask": torch.zeros(n, dtype=torch.bool).index_fill_(0, torch.tensor(wanted), True),
    }[kind]
    s = load_splits("digits", forget=spec, seed=0)
    assert len(s.train) == n  # the mask above assumes the fixed digits train size
    assert s.forget_indices.tolist() == sorted(wanted)
    assert s.forget_spec.startswith("indices:")
    _check_partition(s)
    # the canonical spec identifies the set, whatever the input form
    assert s.forget_spec == load_splits("digits", forget=sorted(wanted), seed=0).forget_spec


@pytest.mark.parametrize("spec,match", [
    ([], "empty"),
    ([1, 1, 2], "duplicates"),
    ([0, 5000], r"\[0, 1195\)"),
    ([-1, 2], r"\[0, 1195\)"),
    ([0.5, 2.0], "integers"),
    (torch.zeros(10, dtype=torch.bool), "mask"),
])
def test_bad_indices(spec, match):
    with pytest.raises(LotusError, match=match):
        load_splits("digits", forget=spec, seed=0)


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("frac", [0.0, 1.0, 1.5, -0.1, "1.5", "0.0", float("nan")])
def test_fraction_outside_unit_interval(frac):
    with pytest.raises(LotusError, match="fraction"):
        load_splits("digits", forget=frac)


def test_error_messages():
    with pytest.raises(LotusError, match="unknown dataset 'mnist'.*digits.*cifar10"):
        load_splits("mnist")
    with pytest.raises(LotusError, match="class 'zebra' not present.*0, 1, 2"):
        load_splits("digits", forget="class:zebra")
    with pytest.raises(LotusError, match="class 'zebra' not present"):
        load_splits("digits", forget="zebra")
    with pytest.raises(LotusError, match="selects no sample"):
        load_splits("digits", forget=0.001)
    with pytest.raises(LotusError, match="ambiguous"):
        load_splits("digits", forget=5)
    with pytest.raises(LotusError, match="forget_rule.*random, first"):
        load_splits("digits", forget_rule="last")
    with pytest.raises(LotusError, match="unknown option.*max_train_per_clas.*image_size"):
        load_splits("digits", max_train_per_clas=5)
    with pytest.raises(LotusError, match="max_train_per_class"):
        load_splits("digits", max_train_per_class=0)
    with pytest.raises(LotusError, match="count"):
        load_splits("digits", forget="count:0")
    with pytest.raises(LotusError, match="unknown forget spec kind 'frac'"):
        load_splits("digits", forget="frac:0.1")


def test_parse_forget_spec():
    assert parse_forget_spec(0.1) == ("fraction", 0.1)
    assert parse_forget_spec(" 0.5 ") == ("fraction", 0.5)
    assert parse_forget_spec(np.float32(0.25)) == ("fraction", 0.25)
    assert parse_forget_spec("count:5") == ("count", 5)
    assert parse_forget_spec("class: cat") == ("class", "cat")
    assert parse_forget_spec("cat") == ("class", "cat")
    assert parse_forget_spec("rows:1062") == ("rows", 1062)
    kind, idx = parse_forget_spec("indices:4,2")
    assert kind == "indices" and idx.tolist() == [4, 2]
    with pytest.raises(LotusError):
        parse_forget_spec(True)
    with pytest.raises(LotusError):
        parse_forget_spec("")


def test_missing_cifar_offline_is_actionable(tmp_path):
    with pytest.raises(LotusError, match="cifar10 not found.*download=True.*image-folder"):
        load_splits("cifar10", root=tmp_path, download=False)


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("LOTUS_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("LOTUS_DATA")
    assert data_root() == Path.home() / ".cache" / "lotus" / "data"
    # the environment variable reaches load_splits
    monkeypatch.setenv("LOTUS_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(LotusError, match="nowhere"):
        load_splits("cifar10")


# ---------------------------------------------------------------------------------------
# batches: evaluation views carry no augmentation
# ---------------------------------------------------------------------------------------


def _normalised(split: TensorSplit) -> torch.Tensor:
    mean = torch.tensor(split.mean).view(1, -1, 1, 1)
    std = torch.tensor(split.std).view(1, -1, 1, 1)
    return (split.images.float() / 255 - mean) / std


def test_eval_batches_are_deterministic_and_unaugmented(digits_splits):
    forget = digits_splits.forget
    xs1 = torch.cat([x for x, _ in forget.batches(50)])
    xs2 = torch.cat([x for x, _ in forget.batches(50, augment=False)])
    assert xs1.dtype == torch.float32 and xs1.shape == (len(forget), 3, 32, 32)
    assert torch.equal(xs1, xs2)
    torch.testing.assert_close(xs1, _normalised(forget))
    ys = torch.cat([y for _, y in forget.batches(50)])
    assert torch.equal(ys, forget.labels)


def test_augmented_batches_are_random_crops(digits_splits):
    split = digits_splits.retain.subset(torch.arange(40))
    assert split.augment_mode == "crop"
    g = torch.Generator().manual_seed(0)
    xa = torch.cat([x for x, _ in split.batches(16, augment=True, generator=g)])
    assert not torch.allclose(xa, _normalised(split))
    g = torch.Generator().manual_seed(0)
    xb = torch.cat([x for x, _ in split.batches(16, augment=True, generator=g)])
    assert torch.equal(xa, xb)  # reproducible with the same generator
    # every augmented image is the zero-padded original shifted by at most 4 px
    mean = torch.tensor(split.mean).view(-1, 1, 1)
    std = torch.tensor(split.std).view(-1, 1, 1)
    raw = split.images.float() / 255
    padded = torch.nn.functional.pad(raw, (4, 4, 4, 4))
    for i in range(len(split)):
        img = xa[i] * std + mean
        found = any(
            torch.allclose(img, padded[i, :, dy : dy + 32, dx : dx + 32], atol=1e-5)
            for dy in range(9) for dx in range(9)
        )
        assert found, f"augmented image {i} is not a 4-px crop of the original"


def test_batches_shuffle_index_and_drop_last(digits_splits):
    split = digits_splits.forget
    g = torch.Generator().manual_seed(1)
    seen, ref = [], _normalised(split)
    for x, y, idx in split.batches(32, shuffle=True, generator=g, with_index=True):
        assert torch.equal(y, split.labels[idx])
        torch.testing.assert_close(x, ref[idx])
        seen.append(idx)
    order = torch.cat(seen)
    assert sorted(order.tolist()) == list(range(len(split)))
    assert not torch.equal(order, torch.arange(len(split)))
    n_full = len(split) // 32
    assert sum(1 for _ in split.batches(32, drop_last=True)) == n_full
    with pytest.raises(LotusError, match="batch_size"):
        next(split.batches(0))


def test_subset_concat_and_class_counts(digits_splits):
    tr = digits_splits.train
    mask = tr.labels == 2
    sub = tr.subset(mask)
    assert len(sub) == int(mask.sum()) and (sub.labels == 2).all()
    assert torch.equal(sub.class_counts(), torch.bincount(tr.labels[mask], minlength=10))
    both = concat_splits([digits_splits.forget, digits_splits.retain])
    assert len(both) == len(tr)
    assert torch.equal(both.images[: len(digits_splits.forget)], digits_splits.forget.images)
    with pytest.raises(LotusError):
        concat_splits([])


# ---------------------------------------------------------------------------------------
# image folders, decoding and the decode cache
# ---------------------------------------------------------------------------------------


def test_imagefolder_source(image_tree):
    s = load_splits("imagefolder", path=image_tree, forget=0.5, seed=0, augment_mode=None)
    assert s.classes == ["ant", "bee", "cat"] and s.num_classes == 3
    assert _per_class(s.train.labels, 3) == [6, 8, 10]
    assert _per_class(s.forget.labels, 3) == [3, 4, 5]
    assert _per_class(s.val.labels, 3) == [2, 2, 2] and _per_class(s.test.labels, 3) == [2, 2, 2]
    _check_partition(s)
    assert isinstance(s.train, TensorSplit) and s.train.image_shape == (3, 8, 8)
    # PNG is lossless: the stored pixels are exactly the written ones (files sorted by name)
    bee_idx = (s.train.labels == 1).nonzero().flatten()
    for i, pos in enumerate(bee_idx.tolist()):
        assert np.array_equal(s.train.images[pos].permute(1, 2, 0).numpy(), _pattern(1, i))


def test_imagefolder_on_the_fly_matches_in_memory(image_tree):
    mem = load_splits("imagefolder", path=image_tree, seed=0, forget=0.5)
    disk = load_splits("imagefolder", path=image_tree, seed=0, forget=0.5, in_memory=False)
    assert isinstance(disk.train, FileSplit) and isinstance(mem.train, TensorSplit)
    xm = torch.cat([x for x, _ in mem.forget.batches(5)])
    xd = torch.cat([x for x, _ in disk.forget.batches(5)])
    torch.testing.assert_close(xm, xd)
    xw = torch.cat([x for x, _ in disk.forget.batches(5, num_workers=1)])
    torch.testing.assert_close(xm, xw)
    assert torch.equal(mem.forget_indices, disk.forget_indices)


def test_imagefolder_resize_and_centre_crop(tmp_path):
    # a 10x20 image: shorter side resized to 6 (-> 6x12), then centre-cropped to 6x6
    img = np.zeros((10, 20, 3), np.uint8)
    img[:, 5:15] = 200  # the centre half is bright
    for c in ("a", "b"):
        _write_png(tmp_path / "train" / c / "0.png", img)
        _write_png(tmp_path / "val" / c / "0.png", img)
    s = load_splits("imagefolder", path=tmp_path, forget=[0], image_size=6)
    x = s.train.images[0]
    assert x.shape == (3, 6, 6)
    assert int(x.min()) >= 150  # the dark margins were cropped away
    with pytest.raises(LotusError, match="resize"):
        FileSplit(["x.png"], [0], num_classes=2, image_size=8, mean=(0,) * 3, std=(1,) * 3, resize=4)


def test_imagefolder_errors(tmp_path, image_tree):
    with pytest.raises(LotusError, match="train"):
        load_splits("imagefolder", path=tmp_path / "missing")
    (tmp_path / "only_train" / "train" / "a").mkdir(parents=True)
    with pytest.raises(LotusError, match="held-out"):
        load_splits("imagefolder", path=tmp_path / "only_train")
    (image_tree / "val" / "dog").mkdir()
    with pytest.raises(LotusError, match="extra.*dog"):
        load_splits("imagefolder", path=image_tree)
    bad = tmp_path / "bad"
    for c in ("a", "b"):
        _write_png(bad / "train" / c / "0.png", _pattern(0, 0))
        _write_png(bad / "val" / c / "0.png", _pattern(0, 0))
    (bad / "train" / "b" / "1.png").write_bytes(b"not a png")
    with pytest.raises(LotusError, match="cannot decode image.*1.png"):
        load_splits("imagefolder", path=bad, image_size=8)


def test_decode_cache_hit_and_invalidation(image_tree, monkeypatch):
    import lotus.data.decode as D

    first = load_splits("imagefolder", path=image_tree, seed=0)
    calls = []
    real = D._decode_paths
    monkeypatch.setattr(D, "_decode_paths", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = load_splits("imagefolder", path=image_tree, seed=0)
    assert calls == []  # served from the cache
    assert torch.equal(first.train.images, again.train.images)
    # a changed file (new content and size) is decoded again, never served stale
    target = image_tree / "train" / "ant" / "000.png"
    new_pixels = np.full((8, 8, 3), 7, np.uint8)
    Image.fromarray(new_pixels).save(target, compress_level=0)
    changed = load_splits("imagefolder", path=image_tree, seed=0)
    assert calls, "a modified folder must be decoded again"
    assert (changed.train.images[0] == 7).all()


def test_corrupt_decode_cache_is_rebuilt(image_tree):
    from lotus.utils import cache_dir

    s = load_splits("imagefolder", path=image_tree, seed=0)
    files = sorted((cache_dir() / "decoded").glob("tree-train-*.pt"))
    assert files
    for f in files:
        f.write_bytes(f.read_bytes()[:100])
    with pytest.warns(UserWarning, match="decoded-image cache"):
        again = load_splits("imagefolder", path=image_tree, seed=0)
    assert torch.equal(again.train.images, s.train.images)


# ---------------------------------------------------------------------------------------
# unseen replacement (CIFAKE style) and MUFAC
# ---------------------------------------------------------------------------------------


def test_unseen_folder_replaces_val(image_tree, tmp_path):
    fake = tmp_path / "fake"
    for c, name in enumerate(["ant", "bee", "cat"]):
        for i in range(3):
            _write_png(fake / name / f"{i}.png", _pattern(c, 900 + i))
    s = load_splits("imagefolder", path=image_tree, seed=0, unseen=fake)
    assert len(s.val) == 9 and _per_class(s.val.labels, 3) == [3, 3, 3]
    assert len(s.test) == 12  # the whole held-out set serves as test
    assert s.val.mean == s.train.mean and s.val.image_shape == s.train.image_shape
    assert np.array_equal(s.val.images[4].permute(1, 2, 0).numpy(), _pattern(1, 901))
    assert s.source["unseen"] == str(fake)
    plain = load_splits("imagefolder", path=image_tree, seed=0)
    assert s.fingerprint() != plain.fingerprint()
    # an ImageSplit works too, and class mismatches are reported
    s2 = load_splits("imagefolder", path=image_tree, seed=0, unseen=s.val)
    assert s2.val is s.val
    wrong = tmp_path / "wrong"
    _write_png(wrong / "ant" / "0.png", _pattern(0, 0))
    with pytest.raises(LotusError, match="missing"):
        load_splits("imagefolder", path=image_tree, unseen=wrong)


def test_digits_with_unseen_split(digits_splits):
    unseen = digits_splits.val.subset(torch.arange(20))
    s = load_splits("digits", seed=0, unseen=unseen)
    assert s.val is unseen and s.unseen is unseen
    assert len(s.test) == len(digits_splits.val) + len(digits_splits.test)


def test_mufac_source(mufac_tree):
    s = load_splits("mufac", root=mufac_tree.parent, forget="rows:5", image_size=12)
    assert s.classes == list("abcdefgh")
    assert s.forget_indices.tolist() == [0, 1, 2, 3, 4]
    assert s.forget.labels.tolist() == [0, 1, 2, 3, 4]  # age classes a..e in CSV order
    assert (len(s.train), len(s.val), len(s.test)) == (24, 16, 16)
    assert s.val_indices is None and s.forget_spec == "rows:5"
    _check_partition(s)
    assert s.train.mean == (0.0, 0.0, 0.0) and s.train.std == (1.0, 1.0, 1.0)
    assert np.array_equal(s.train.images[3].permute(1, 2, 0).numpy(), _pattern(0, 3, size=12))
    # path= works as well, and the default fixed forget set is the first 1,062 rows
    with pytest.raises(LotusError, match="rows 1062"):
        load_splits("mufac", path=mufac_tree, image_size=12)
    # per-class caps keep the CSV order
    capped = load_splits("mufac", path=mufac_tree, image_size=12, forget="rows:2", max_train_per_class=2)
    assert len(capped.train) == 16 and _per_class(capped.train.labels, 8) == [2] * 8


def test_mufac_errors(mufac_tree, tmp_path):
    with pytest.raises(LotusError, match="custom_train_dataset.csv"):
        load_splits("mufac", path=tmp_path / "nothing")
    import pandas as pd

    csv = mufac_tree / "custom_val_dataset.csv"
    df = pd.read_csv(csv)
    df.loc[0, "age_class"] = "z"
    df.to_csv(csv, index=False)
    with pytest.raises(LotusError, match="unknown age classes.*z"):
        load_splits("mufac", path=mufac_tree, forget="rows:2")
    df.loc[0, "age_class"] = "a"
    df.to_csv(csv, index=False)
    os.remove(mufac_tree / "test_images" / "test_003.png")
    with pytest.raises(LotusError, match="missing.*test_003.png"):
        load_splits("mufac", path=mufac_tree, forget="rows:2")


# ---------------------------------------------------------------------------------------
# CIFAR-10 (image-folder copy in ../shared/data)
# ---------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cifar10_folder_small_subsample(cifar_root):
    from torchvision.io import ImageReadMode, decode_image, read_file

    s = load_splits("cifar10", root=cifar_root, forget=0.1, seed=0, max_train_per_class=50, max_heldout_per_class=20)
    assert s.classes == CIFAR10_CLASSES
    assert _per_class(s.train.labels, 10) == [50] * 10
    assert _per_class(s.forget.labels, 10) == [5] * 10
    assert _per_class(s.retain.labels, 10) == [45] * 10
    assert _per_class(s.val.labels, 10) == [10] * 10 and _per_class(s.test.labels, 10) == [10] * 10
    assert s.train.images.dtype == torch.uint8 and s.train.image_shape == (3, 32, 32)
    assert s.train.mean == pytest.approx((0.4914, 0.4822, 0.4465))
    _check_partition(s)
    # the subsample is fixed (seed-independent); the forget set is not
    other = load_splits("cifar10", root=cifar_root, forget=0.1, seed=1, max_train_per_class=50, max_heldout_per_class=20)
    assert other.train.content_hash() == s.train.content_hash()
    assert not torch.equal(other.forget_indices, s.forget_indices)
    # images and labels come from the files: decode the kept files of the fixed subsample again
    from lotus.data import fixed_subsample, list_image_folder

    paths, labels, _ = list_image_folder(cifar_root / "cifar10" / "train")
    keep = fixed_subsample(labels, 50, "cifar10-train")
    assert torch.equal(labels[keep], s.train.labels)
    for pos in (0, 137, 499):
        direct = decode_image(read_file(paths[int(keep[pos])]), mode=ImageReadMode.RGB)
        assert torch.equal(direct, s.train.images[pos])


def test_cifar10_class_unlearning(cifar_root):
    s = load_splits("cifar10", root=cifar_root, forget="cat", max_train_per_class=30, max_heldout_per_class=10)
    assert s.forget_spec == "class:cat"
    assert len(s.forget) == 30 and (s.forget.labels == 3).all()
    assert not (s.retain.labels == 3).any() and len(s.retain) == 270


def test_digits_options():
    small = load_splits("digits", image_size=16)
    assert small.train.image_shape == (3, 16, 16) and len(small.train) == 1195
    noisy = load_splits("digits", noise_std=0.5)
    clean = load_splits("digits")
    assert noisy.train.labels.equal(clean.train.labels)
    diff = (noisy.train.images.float() - clean.train.images.float()).abs().mean()
    assert diff > 10  # visibly noisy (mean |delta| in 0-255 units)
    assert torch.equal(noisy.train.images, load_splits("digits", noise_std=0.5, seed=4).train.images)
    assert noisy.source["noise_std"] == 0.5 and "noise_std" not in clean.source
    assert noisy.fingerprint() != clean.fingerprint()
    with pytest.raises(LotusError, match="noise_std"):
        load_splits("digits", noise_std=-1)
    with pytest.raises(LotusError, match="image_size"):
        load_splits("digits", image_size=4)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("augment", [False, True])
def test_batches_are_the_normalised_images_in_the_asked_memory_format(channels_last, augment):
    """``batches`` gives exactly ``(x / 255 - mean) / std`` of the shuffled images (augmented
    with the same random draws), NHWC when asked, whatever the order of its in-place steps."""
    from lotus.data.splits import TensorSplit, _augment

    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (37, 3, 12, 12), generator=g, dtype=torch.uint8)
    split = TensorSplit(imgs, torch.randint(0, 5, (37,), generator=g), num_classes=5, mean=(0.4, 0.5, 0.6),
                        std=(0.2, 0.25, 0.3), augment_mode="crop_flip")
    got = list(split.batches(10, shuffle=True, augment=augment, generator=torch.Generator().manual_seed(1),
                             channels_last=channels_last))
    ref_gen = torch.Generator().manual_seed(1)
    order = torch.randperm(37, generator=ref_gen)
    mean, std = torch.tensor(split.mean).view(1, -1, 1, 1), torch.tensor(split.std).view(1, -1, 1, 1)
    assert [len(y) for _, y in got] == [10, 10, 10, 7]
    for k, (x, y) in enumerate(got):
        idx = order[k * 10:(k + 1) * 10]
        ref = imgs[idx].float() / 255.0
        if augment:
            ref = _augment(ref, "crop_flip", ref_gen)
        assert torch.equal(x, (ref - mean) / std)
        assert torch.equal(y, split.labels[idx])
        assert x.is_contiguous(memory_format=torch.channels_last) == channels_last
    assert torch.equal(split.images, imgs)  # the stored images are never changed in place
