"""Small image-folder data sets written to disk, for exercising the image-folder code path.

The large-scale chapter runs the ImageNet-1k protocol on any ``<root>/{train,val}/<class>/*``
tree (``lotus.load_splits("imagefolder", path=root)``). Without ImageNet at hand,
:func:`write_image_folder` makes such a tree from a data set the package can load anyway
(scikit-learn's digits, or CIFAR-10/100 when available), so the same code path — file listing,
decoding, the ``"count:5"`` forget rule, the retain cap — runs end to end on a laptop.

>>> from lotus.fixtures import write_image_folder
>>> root = write_image_folder("/tmp/digits-folder", source="digits", train_per_class=60, val_per_class=20)
>>> splits = lotus.load_splits("imagefolder", path=root, forget="count:5", retain_per_class=45)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from .data import load_splits, per_class_subset
from .utils import LotusError, make_generator

__all__ = ["write_image_folder", "FIXTURE_SOURCES", "MARKER"]

#: data sets a fixture can be made from
FIXTURE_SOURCES = ("digits", "cifar10", "cifar100")
#: file written at the fixture's root; it records the parameters and marks the folder as ours
MARKER = ".lotus-fixture.json"


def _source_splits(source: str, data_root, train_per_class: int, val_per_class: int):
    """``(train uint8 [N,3,H,W], train labels, held-out uint8, held-out labels, class names)``."""
    kwargs = {}
    if source in ("cifar10", "cifar100"):
        kwargs = dict(max_train_per_class=train_per_class, max_heldout_per_class=val_per_class)
    splits = load_splits(source, root=data_root, forget=0.1, seed=0, **kwargs)
    train = splits.train
    held_images = torch.cat([splits.val.images, splits.test.images])
    held_labels = torch.cat([splits.val.labels, splits.test.labels])
    return train.images, train.labels, held_images, held_labels, list(splits.classes)


def _pick(labels: torch.Tensor, num_classes: int, per_class: int, what: str, generator: torch.Generator):
    """Sorted positions of ``per_class`` random samples of every class."""
    counts = torch.bincount(labels, minlength=num_classes)
    short = (counts < per_class).nonzero().flatten().tolist()
    if short:
        raise LotusError(f"{what}: classes {short[:5]} have fewer than {per_class} images "
                         f"(smallest class has {int(counts.min())}); lower the per-class count")
    return per_class_subset(labels, per_class, generator)


def _resize(images: torch.Tensor, image_size: int | None) -> torch.Tensor:
    """Bilinear resize of ``uint8 [N, 3, H, W]`` to ``image_size`` (no-op for ``None`` or same size)."""
    if image_size is None or images.shape[-1] == image_size:
        return images
    x = F.interpolate(images.float(), size=(image_size, image_size), mode="bilinear", align_corners=False,
                      antialias=image_size < images.shape[-1])
    return x.round().clamp(0, 255).to(torch.uint8)


def _write_pngs(folder: Path, images: torch.Tensor, labels: torch.Tensor, classes: list[str]) -> None:
    from PIL import Image

    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
    counters = [0] * len(classes)
    pixels = images.permute(0, 2, 3, 1).contiguous().numpy()  # [N, H, W, 3] for PIL
    for img, y in zip(pixels, labels.tolist()):
        Image.fromarray(img).save(folder / classes[y] / f"{counters[y]:05d}.png")
        counters[y] += 1


def write_image_folder(
    root: str | os.PathLike,
    *,
    source: str = "digits",
    train_per_class: int = 60,
    val_per_class: int = 20,
    image_size: int | None = None,
    data_root: str | os.PathLike | None = None,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a ``<root>/{train,val}/<class>/NNNNN.png`` image folder and return ``root``.

    Parameters
    ----------
    root : destination folder. If it already holds a fixture made with the same parameters
        it is reused as is; a fixture with other parameters is rebuilt; an existing folder that
        is not a fixture (no :data:`MARKER` file) is never touched — that is an error.
    source : ``"digits"`` (always available, 10 classes, ~120 training and ~60 held-out images
        per class, 32 px) or ``"cifar10"`` / ``"cifar100"`` (read from ``data_root`` /
        ``$LOTUS_DATA``).
    train_per_class, val_per_class : images per class in ``train/`` and ``val/``; picked at
        random (seeded by ``seed``) from the source's training and held-out images.
    image_size : resize the square images to this size (``None`` keeps the source size).
    overwrite : rebuild even when an identical fixture exists.

    The folder is built in a temporary sibling and renamed into place, so a reader never sees
    a half-written fixture.
    """
    if source not in FIXTURE_SOURCES:
        raise LotusError(f"unknown fixture source {source!r}; valid: {', '.join(FIXTURE_SOURCES)}")
    for name, v in (("train_per_class", train_per_class), ("val_per_class", val_per_class)):
        if int(v) < 1:
            raise LotusError(f"{name} must be >= 1, got {v}")
    if image_size is not None and int(image_size) < 8:
        raise LotusError(f"image_size must be >= 8 pixels, got {image_size}")
    root = Path(root).expanduser()
    params = dict(source=source, train_per_class=int(train_per_class), val_per_class=int(val_per_class),
                  image_size=None if image_size is None else int(image_size), seed=int(seed), format=2)
    marker = root / MARKER
    if root.exists():
        if not marker.is_file():
            if root.is_dir() and not any(root.iterdir()):
                root.rmdir()
            else:
                raise LotusError(f"{root} exists and is not a lotus fixture (no {MARKER}); choose another folder")
        else:
            try:
                old = json.loads(marker.read_text())
            except (OSError, json.JSONDecodeError):
                old = None
            if old == params and not overwrite:
                return root
            shutil.rmtree(root)

    tr_x, tr_y, he_x, he_y, classes = _source_splits(source, data_root, int(train_per_class), int(val_per_class))
    k = len(classes)
    g = make_generator(seed, "fixture", source)
    tr_idx = _pick(tr_y, k, int(train_per_class), f"{source} training images", g)
    he_idx = _pick(he_y, k, int(val_per_class), f"{source} held-out images", g)

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        _write_pngs(tmp / "train", _resize(tr_x[tr_idx], image_size), tr_y[tr_idx], classes)
        _write_pngs(tmp / "val", _resize(he_x[he_idx], image_size), he_y[he_idx], classes)
        (tmp / MARKER).write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root
