"""Tests of lotus.data.decode: the decoded-image cache holds each folder once (per output size),
per-class caps index it, a changed file invalidates it, and its entries can be listed and removed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import lotus.data.decode as D
from lotus.data import (
    decode_cache_dir,
    decode_cache_entries,
    load_image_folder,
    load_splits,
    remove_decode_cache,
)
from lotus.utils import cache_dir


def _pixels(c: int, i: int) -> np.ndarray:
    return np.random.default_rng(100 * c + i).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)


@pytest.fixture
def tree(tmp_path):
    """``<tmp>/folder/{train,val}/{a,b,c}/NN.png``: 6 training and 4 held-out PNGs per class (8x8)."""
    root = tmp_path / "folder"
    for c, name in enumerate("abc"):
        for part, n in (("train", 6), ("val", 4)):
            (root / part / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(_pixels(c, i + 50 * (part == "val"))).save(root / part / name / f"{i:02d}.png")
    return root


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOTUS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def decodes(monkeypatch):
    """The number of files each call of the decoder was asked for."""
    calls = []
    real = D._decode_paths
    monkeypatch.setattr(D, "_decode_paths", lambda paths, *a, **k: calls.append(len(paths)) or real(paths, *a, **k))
    return calls


def test_two_caps_on_one_folder_decode_it_once(tree, fresh_cache, decodes):
    a = load_splits("imagefolder", forget="count:1", path=tree, max_train_per_class=3, max_heldout_per_class=2)
    assert sorted(decodes) == [12, 18]  # the whole train (18) and val (12) folders, once each
    b = load_splits("imagefolder", forget="count:1", path=tree, max_train_per_class=4)
    full = load_splits("imagefolder", forget="count:1", path=tree)
    assert sorted(decodes) == [12, 18]  # other caps, and no cap, are served from the cache
    assert len(list(decode_cache_dir().glob("folder-train-*.pt"))) == 1
    assert torch.bincount(a.train.labels).tolist() == [3, 3, 3] and torch.bincount(b.train.labels).tolist() == [4] * 3
    # the capped sets are the cached images at the kept positions
    for s in (a, b):
        pos = [full.train.images.flatten(1).eq(img.flatten()).all(1).nonzero().item() for img in s.train.images]
        assert torch.equal(full.train.labels[pos], s.train.labels)


def test_a_changed_file_invalidates_the_folder(tree, fresh_cache, decodes):
    load_splits("imagefolder", forget="count:1", path=tree, max_train_per_class=3)
    n = len(decodes)
    target = tree / "train" / "a" / "00.png"
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(target, compress_level=0)
    again = load_splits("imagefolder", forget="count:1", path=tree, max_train_per_class=6)
    assert decodes[n:] == [18]  # the changed train folder is decoded again; val is not
    assert (again.train.images[0] == 7).all()
    assert len(list(decode_cache_dir().glob("folder-train-*.pt"))) == 2  # the stale entry stays until removed


def test_load_image_folder_caps_share_the_cache(tree, fresh_cache, decodes):
    one = load_image_folder(tree / "val", limit_per_class=1)
    two = load_image_folder(tree / "val", limit_per_class=2)
    assert decodes == [12]
    assert torch.bincount(one.labels).tolist() == [1] * 3 and torch.bincount(two.labels).tolist() == [2] * 3
    files = sorted(decode_cache_dir().iterdir())
    nocache = load_image_folder(tree / "val", limit_per_class=2, cache=False)
    assert torch.equal(nocache.images, two.images)
    assert sorted(decode_cache_dir().iterdir()) == files  # cache=False writes nothing to the cache


def test_a_listing_too_large_to_cache_whole_decodes_only_the_kept_files(tree, fresh_cache, decodes, monkeypatch):
    monkeypatch.setattr(D, "FULL_LIST_CACHE_BYTES", 0)
    s = load_splits("imagefolder", forget="count:1", path=tree, max_train_per_class=2, max_heldout_per_class=1)
    assert sorted(decodes) == [3, 6]
    load_splits("imagefolder", forget="count:1", path=tree, max_train_per_class=2, max_heldout_per_class=1)
    assert sorted(decodes) == [3, 6]  # still cached, keyed by the kept files
    assert len(s.train) == 6


def test_cache_entries_are_listed_and_removed(tree, fresh_cache):
    assert decode_cache_dir() == cache_dir() / "decoded" == fresh_cache / "decoded"
    assert decode_cache_entries() == [] and remove_decode_cache() == 0
    load_splits("imagefolder", forget="count:1", path=tree)
    (decode_cache_dir() / ".folder-train-0123.pt.abc_12.tmp").write_bytes(b"x" * 10)  # an interrupted write
    entries = decode_cache_entries()
    assert [(e.tag, e.images, e.partial) for e in entries] == [
        ("folder-train", None, True), ("folder-train", 18, False), ("folder-val", 12, False)]
    train = entries[1]
    assert train.folder == str(tree / "train") and train.image_size == 8
    on_disk = train.path.stat().st_size + train.path.with_suffix(".json").stat().st_size
    assert train.size_bytes == on_disk
    assert remove_decode_cache([train]) == on_disk
    assert [e.tag for e in decode_cache_entries()] == ["folder-train", "folder-val"]
    freed = remove_decode_cache()
    assert freed > 12 * 3 * 8 * 8 and list(decode_cache_dir().iterdir()) == []
