"""lotus.fixtures.write_image_folder: an image-folder tree that load_splits("imagefolder") reads."""

import json

import pytest
import torch

from lotus.data import load_splits
from lotus.fixtures import MARKER, write_image_folder
from lotus.utils import LotusError


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory):
    return write_image_folder(tmp_path_factory.mktemp("fx") / "digits", source="digits", train_per_class=12,
                              val_per_class=6)


def test_layout_and_counts(digits_folder):
    classes = sorted(p.name for p in (digits_folder / "train").iterdir())
    assert classes == [str(i) for i in range(10)]
    for part, n in (("train", 12), ("val", 6)):
        for c in classes:
            files = sorted((digits_folder / part / c).iterdir())
            assert len(files) == n and all(f.suffix == ".png" for f in files)
    assert json.loads((digits_folder / MARKER).read_text())["train_per_class"] == 12


def test_images_keep_their_labels(digits_folder):
    """A classifier-free check: every written image equals a source image of the same class."""
    src = load_splits("digits", forget=0.1, seed=0)
    splits = load_splits("imagefolder", path=digits_folder, forget="count:2", seed=0, retain_per_class=5)
    train = splits.train
    assert train.image_shape == (3, 32, 32) and len(train) == 120
    flat_src = src.train.images.flatten(1)
    for i in (0, 37, 119):
        img = train.images[i].flatten()
        match = (flat_src == img).all(dim=1).nonzero().flatten()
        assert match.numel() >= 1, f"image {i} is not a source image"
        assert int(src.train.labels[match[0]]) == int(train.labels[i])
    assert splits.sizes() == {"forget": 20, "retain": 50, "val": 30, "test": 30}


def test_reuse_rebuild_and_refuse(tmp_path):
    root = write_image_folder(tmp_path / "fx", train_per_class=3, val_per_class=2, image_size=16)
    first = sorted(p for p in root.rglob("*.png"))
    stamp = first[0].stat().st_mtime_ns
    again = write_image_folder(tmp_path / "fx", train_per_class=3, val_per_class=2, image_size=16)
    assert again == root and first[0].stat().st_mtime_ns == stamp  # reused, not rewritten
    from PIL import Image

    with Image.open(first[0]) as im:
        assert im.size == (16, 16) and im.mode == "RGB"
    write_image_folder(tmp_path / "fx", train_per_class=4, val_per_class=2, image_size=16)  # new params -> rebuilt
    assert len(list((root / "train" / "0").iterdir())) == 4
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("user data")
    with pytest.raises(LotusError, match="not a lotus fixture"):
        write_image_folder(other)
    assert (other / "keep.txt").read_text() == "user data"


def test_seed_changes_the_selection(tmp_path):
    a = write_image_folder(tmp_path / "a", train_per_class=3, val_per_class=1, seed=0)
    b = write_image_folder(tmp_path / "b", train_per_class=3, val_per_class=1, seed=1)
    ia = load_splits("imagefolder", path=a, forget="count:1").train.images
    ib = load_splits("imagefolder", path=b, forget="count:1").train.images
    assert not torch.equal(ia, ib)


def test_bad_arguments(tmp_path):
    with pytest.raises(LotusError, match="valid: digits, cifar10, cifar100"):
        write_image_folder(tmp_path / "x", source="mnist")
    with pytest.raises(LotusError, match="train_per_class must be >= 1"):
        write_image_folder(tmp_path / "x", train_per_class=0)
    with pytest.raises(LotusError, match="fewer than 1000 images"):
        write_image_folder(tmp_path / "x", train_per_class=1000)
    assert not (tmp_path / "x").exists()
