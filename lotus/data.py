"""Data sets and the forget / retain / unseen / test splits of machine unlearning.

One entry point, :func:`load_splits`, turns a data set name, a forget specification and a
seed into an :class:`UnlearningSplits`: the forget set ``D_f``, the retain set ``D_r``, the
unseen set ``D_u`` (called ``val``, as in the paper's code) and a ``test`` set, plus the
class names.

Every split is an :class:`ImageSplit`. Its :meth:`ImageSplit.batches` yields normalised
``float32`` batches and applies **no training augmentation unless asked**
(``augment=True``), so metrics on the forget and retain sets see the images as they are.
(The authors' code evaluates ``D_f``/``D_r`` through the augmented training pipeline; spec
section 9, item 6.)

Small data sets (digits, CIFAR, small image folders) live in memory as ``uint8`` tensors
(:class:`TensorSplit`); large image folders (ImageNet) are decoded on the fly
(:class:`FileSplit`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .utils import LotusError, make_generator, stable_hash

__all__ = [
    "ImageSplit",
    "TensorSplit",
    "FileSplit",
    "UnlearningSplits",
    "load_splits",
    "list_datasets",
    "concat_splits",
    "parse_forget_spec",
    "data_root",
    "load_image_folder",
]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")

_DATASETS = ("digits", "cifar10", "cifar100", "imagefolder", "mufac")


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_splits`."""
    return list(_DATASETS)


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$LOTUS_DATA``, else ``~/.cache/lotus/data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("LOTUS_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "lotus" / "data"


# ---------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------


def _augment(x: torch.Tensor, mode: str | None, generator: torch.Generator | None) -> torch.Tensor:
    """Batched training augmentation on a float batch ``[B, C, H, W]``.

    ``"crop"``: zero-pad by H/8 (4 px at 32 px) and take a random H x W crop per image;
    ``"crop_flip"`` adds a random horizontal flip; ``"flip"`` only flips.
    """
    if not mode:
        return x
    b, _, h, w = x.shape
    dev = x.device
    if "crop" in mode:
        p = max(1, h // 8)
        xp = F.pad(x, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(dev)
        ox = torch.randint(0, 2 * p + 1, (b,), generator=generator).to(dev)
        rows = (oy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, None, :]
        bidx = torch.arange(b, device=dev)[:, None, None, None]
        cidx = torch.arange(x.shape[1], device=dev)[None, :, None, None]
        x = xp[bidx, cidx, rows, cols]
    if "flip" in mode:
        flip = (torch.rand(b, generator=generator) < 0.5).to(dev)[:, None, None, None]
        x = torch.where(flip, x.flip(-1), x)
    return x


class ImageSplit:
    """A labelled set of images; see :meth:`batches`.

    Attributes: ``labels`` (``LongTensor[N]``), ``num_classes``, ``mean``/``std`` (per
    channel, for normalisation of ``[0, 1]`` pixels), ``augment_mode``.
    """

    labels: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment_mode: str | None

    def __len__(self) -> int:
        return int(self.labels.numel())

    # subclasses yield (uint8 images [B, C, H, W], positions [B])
    def _raw_batches(self, order: torch.Tensor, batch_size: int, num_workers: int):
        raise NotImplementedError

    def subset(self, indices) -> "ImageSplit":
        raise NotImplementedError

    @property
    def image_shape(self) -> tuple[int, int, int]:
        raise NotImplementedError

    def batches(
        self,
        batch_size: int = 256,
        *,
        shuffle: bool = False,
        augment: bool = False,
        generator: torch.Generator | None = None,
        drop_last: bool = False,
        device: str | torch.device = "cpu",
        with_index: bool = False,
        num_workers: int = 0,
        channels_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, ...]]:
        """Yield ``(x, y)`` (or ``(x, y, idx)`` with ``with_index``) batches.

        ``x``: normalised ``float32 [B, C, H, W]`` on ``device``; ``y``: ``int64 [B]``;
        ``idx``: ``int64 [B]`` positions in this split. ``shuffle`` draws the order from
        ``generator``; ``augment`` applies the split's training augmentation (none unless
        asked).
        """
        if batch_size < 1:
            raise LotusError(f"batch_size must be >= 1, got {batch_size}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        if drop_last:
            order = order[: (n // batch_size) * batch_size]
        dev = torch.device(device)
        mean = torch.tensor(self.mean, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=dev).view(1, -1, 1, 1)
        for raw, idx in self._raw_batches(order, batch_size, num_workers):
            x = raw.to(dev, non_blocking=True).float().div_(255.0)
            if augment:
                x = _augment(x, self.augment_mode, generator)
            x = (x - mean) / std
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = self.labels[idx].to(dev, non_blocking=True)
            yield (x, y, idx.to(dev)) if with_index else (x, y)

    def class_counts(self) -> torch.Tensor:
        """``LongTensor[num_classes]``: number of samples per class."""
        return torch.bincount(self.labels, minlength=self.num_classes)


class TensorSplit(ImageSplit):
    """An in-memory split: ``images`` is ``uint8 [N, C, H, W]``, ``labels`` ``int64 [N]``."""

    def __init__(self, images, labels, *, num_classes, mean, std, augment_mode=None):
        images = torch.as_tensor(images)
        labels = torch.as_tensor(labels, dtype=torch.long)
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise LotusError(f"images must be uint8 [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        if images.shape[0] != labels.shape[0]:
            raise LotusError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images
        self.labels = labels
        self.num_classes = int(num_classes)
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.augment_mode = augment_mode

    @property
    def image_shape(self):
        return tuple(self.images.shape[1:])

    def _raw_batches(self, order, batch_size, num_workers):
        for start in range(0, order.numel(), batch_size):
            idx = order[start : start + batch_size]
            yield self.images[idx], idx

    def subset(self, indices) -> "TensorSplit":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return TensorSplit(
            self.images[idx], self.labels[idx], num_classes=self.num_classes,
            mean=self.mean, std=self.std, augment_mode=self.augment_mode,
        )

    def __repr__(self) -> str:
        return f"TensorSplit(n={len(self)}, shape={self.image_shape}, classes={self.num_classes})"


def _decode_image(path: str, image_size: int | None) -> torch.Tensor:
    """Read an image file as ``uint8 [3, S, S]`` (resize shorter side + centre crop)."""
    from torchvision.io import ImageReadMode, decode_image, read_file
    import torchvision.transforms.v2.functional as TF

    try:
        img = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise LotusError(f"cannot decode image {path}: {exc}") from exc
    if image_size is not None and tuple(img.shape[1:]) != (image_size, image_size):
        short = min(img.shape[1:])
        if short != image_size:
            resize_to = image_size if max(img.shape[1:]) == short else int(round(image_size * 256 / 224))
            img = TF.resize(img, resize_to, antialias=True)
        img = TF.center_crop(img, [image_size, image_size])
    return img


class _FileDataset(torch.utils.data.Dataset):
    def __init__(self, paths, image_size):
        self.paths = paths
        self.image_size = image_size

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return _decode_image(self.paths[i], self.image_size), i


class FileSplit(ImageSplit):
    """A split read from image files on the fly (for data sets too large for memory).

    ``paths``: list of file paths; ``labels``: ``int64 [N]``; ``image_size``: every image is
    resized (shorter side) and centre-cropped to ``image_size x image_size``.
    """

    def __init__(self, paths, labels, *, num_classes, image_size, mean, std, augment_mode=None):
        self.paths = [str(p) for p in paths]
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if len(self.paths) != self.labels.numel():
            raise LotusError(f"{len(self.paths)} paths but {self.labels.numel()} labels")
        self.num_classes = int(num_classes)
        self.image_size = int(image_size)
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.augment_mode = augment_mode

    @property
    def image_shape(self):
        return (3, self.image_size, self.image_size)

    def _raw_batches(self, order, batch_size, num_workers):
        ds = _FileDataset(self.paths, self.image_size)
        batch_sampler = [order[s : s + batch_size].tolist() for s in range(0, order.numel(), batch_size)]
        loader = torch.utils.data.DataLoader(
            ds, batch_sampler=batch_sampler, num_workers=num_workers,
            pin_memory=torch.cuda.is_available(),
        )
        for imgs, idx in loader:
            yield imgs, idx.long()

    def subset(self, indices) -> "FileSplit":
        idx = torch.as_tensor(indices, dtype=torch.long)
        return FileSplit(
            [self.paths[i] for i in idx.tolist()], self.labels[idx], num_classes=self.num_classes,
            image_size=self.image_size, mean=self.mean, std=self.std, augment_mode=self.augment_mode,
        )

    def to_memory(self, num_workers: int = 0) -> TensorSplit:
        """Decode every image once and return an equivalent :class:`TensorSplit`."""
        imgs = torch.empty((len(self), *self.image_shape), dtype=torch.uint8)
        for raw, idx in self._raw_batches(torch.arange(len(self)), 256, num_workers):
            imgs[idx] = raw
        return TensorSplit(imgs, self.labels, num_classes=self.num_classes, mean=self.mean,
                           std=self.std, augment_mode=self.augment_mode)

    def __repr__(self) -> str:
        return f"FileSplit(n={len(self)}, size={self.image_size}, classes={self.num_classes})"


def concat_splits(splits: Sequence[ImageSplit]) -> ImageSplit:
    """Concatenate splits of the same kind (positions follow the given order)."""
    splits = list(splits)
    if not splits:
        raise LotusError("concat_splits needs at least one split")
    first = splits[0]
    if all(isinstance(s, TensorSplit) for s in splits):
        return TensorSplit(
            torch.cat([s.images for s in splits]), torch.cat([s.labels for s in splits]),
            num_classes=first.num_classes, mean=first.mean, std=first.std,
            augment_mode=first.augment_mode,
        )
    if all(isinstance(s, FileSplit) for s in splits):
        return FileSplit(
            [p for s in splits for p in s.paths], torch.cat([s.labels for s in splits]),
            num_classes=first.num_classes, image_size=first.image_size, mean=first.mean,
            std=first.std, augment_mode=first.augment_mode,
        )
    raise LotusError("cannot concatenate in-memory and file-backed splits; call FileSplit.to_memory() first")


@dataclass
class UnlearningSplits:
    """The four splits of an unlearning benchmark.

    ``forget`` (D_f) and ``retain`` (D_r) partition the training set ``train``; ``val`` is the
    unseen set D_u; ``test`` is used only for evaluation. ``forget_indices`` and
    ``retain_indices`` are positions in ``train``.
    """

    dataset: str
    train: ImageSplit
    forget: ImageSplit
    retain: ImageSplit
    val: ImageSplit
    test: ImageSplit
    classes: list[str]
    forget_indices: torch.Tensor
    retain_indices: torch.Tensor
    forget_spec: str
    seed: int
    forget_rule: str = "random"
    source: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def unseen(self) -> ImageSplit:
        """Alias of ``val``: the unseen set D_u."""
        return self.val

    @property
    def is_class_unlearning(self) -> bool:
        return self.forget_spec.startswith("class:")

    def __getitem__(self, name: str) -> ImageSplit:
        if name not in ("train", "forget", "retain", "val", "test", "unseen"):
            raise KeyError(f"unknown split {name!r}; valid: train, forget, retain, val, test, unseen")
        return getattr(self, name)

    def sizes(self) -> dict[str, int]:
        return {k: len(self[k]) for k in ("forget", "retain", "val", "test")}

    def fingerprint(self) -> str:
        """A short hash identifying data source, forget/retain partition and val/test split."""
        h = hashlib.sha256()
        h.update(repr((self.dataset, self.forget_spec, self.forget_rule, self.seed, sorted(self.source.items()))).encode())
        h.update(self.forget_indices.numpy().tobytes())
        h.update(self.retain_indices.numpy().tobytes())
        h.update(self.val.labels.numpy().tobytes())
        h.update(str(sorted(self.sizes().items())).encode())
        return h.hexdigest()[:16]

    def with_unseen(self, unseen: ImageSplit, name: str = "custom") -> "UnlearningSplits":
        """A copy whose unseen set D_u (``val``) is ``unseen`` (e.g. synthetic CIFAKE images)."""
        if unseen.num_classes != self.num_classes:
            raise LotusError(f"unseen set has {unseen.num_classes} classes, the data set has {self.num_classes}")
        src = dict(self.source, unseen=name)
        return UnlearningSplits(
            self.dataset, self.train, self.forget, self.retain, unseen, self.test, self.classes,
            self.forget_indices, self.retain_indices, self.forget_spec, self.seed, self.forget_rule, src,
        )

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v}" for k, v in self.sizes().items())
        return f"UnlearningSplits({self.dataset!r}, forget={self.forget_spec!r}, seed={self.seed}, {s})"


# ---------------------------------------------------------------------------------------
# Forget specifications
# ---------------------------------------------------------------------------------------


def parse_forget_spec(spec) -> tuple[str, object]:
    """Normalise a forget specification.

    Returns ``(kind, value)`` with kind one of ``"fraction"`` (float in (0, 1), per class),
    ``"count"`` (int per class), ``"class"`` (class name), ``"indices"`` (LongTensor) or
    ``"rows"`` (the first N rows, for data sets with a fixed forget set such as MUFAC).

    Accepted inputs: ``0.1``; ``"0.1"``; ``"count:5"``; ``"class:cat"`` (or a bare class
    name, resolved later); ``"indices:3,5,8"``; a sequence or tensor of ints; ``"rows:1062"``.
    """
    if isinstance(spec, bool):
        raise LotusError(f"invalid forget spec {spec!r}")
    if isinstance(spec, float):
        if not 0.0 < spec < 1.0:
            raise LotusError(f"forget fraction must be in (0, 1), got {spec}")
        return "fraction", float(spec)
    if isinstance(spec, int):
        raise LotusError(
            f"ambiguous forget spec {spec!r}: use a fraction (0.1), 'count:{spec}' for "
            f"{spec} per class, or a list of indices"
        )
    if isinstance(spec, torch.Tensor) or isinstance(spec, (list, tuple, np.ndarray, range)):
        idx = torch.as_tensor(list(spec) if isinstance(spec, range) else spec, dtype=torch.long).flatten()
        return "indices", idx
    if isinstance(spec, str):
        s = spec.strip()
        if ":" in s:
            kind, _, val = s.partition(":")
            kind = kind.strip().lower()
            if kind == "class":
                if not val:
                    raise LotusError("empty class name in forget spec")
                return "class", val.strip()
            if kind == "count":
                try:
                    n = int(val)
                except ValueError:
                    raise LotusError(f"invalid count in forget spec {spec!r}") from None
                if n < 1:
                    raise LotusError(f"forget count per class must be >= 1, got {n}")
                return "count", n
            if kind == "rows":
                n = int(val)
                if n < 1:
                    raise LotusError(f"forget rows must be >= 1, got {n}")
                return "rows", n
            if kind == "indices":
                try:
                    idx = [int(v) for v in val.split(",") if v.strip()]
                except ValueError:
                    raise LotusError(f"invalid index list in forget spec {spec!r}") from None
                return "indices", torch.tensor(idx, dtype=torch.long)
            raise LotusError(f"unknown forget spec kind {kind!r}; valid: class, count, rows, indices, or a fraction")
        try:
            frac = float(s)
        except ValueError:
            return "class", s
        return parse_forget_spec(frac)
    raise LotusError(f"invalid forget spec {spec!r}")


def _split_forget_retain(labels, classes, spec, rule, seed, retain_per_class):
    """Return (forget_idx, retain_idx, canonical_spec) over a training label vector."""
    kind, value = parse_forget_spec(spec)
    n = labels.numel()
    k = len(classes)
    if rule not in ("random", "first"):
        raise LotusError(f"unknown forget_rule {rule!r}; valid: random, first")
    g = make_generator(seed, "forget")
    if kind == "class":
        if value not in classes:
            raise LotusError(f"class {value!r} not present; classes are: {', '.join(map(str, classes))}")
        c = classes.index(value)
        mask = labels == c
        forget = mask.nonzero().flatten()
        retain = (~mask).nonzero().flatten()
        canon = f"class:{value}"
    elif kind == "indices":
        idx = value
        if idx.numel() == 0:
            raise LotusError("the forget set is empty (no indices given)")
        if idx.min() < 0 or idx.max() >= n:
            raise LotusError(f"forget indices must lie in [0, {n}), got min {int(idx.min())} max {int(idx.max())}")
        if torch.unique(idx).numel() != idx.numel():
            raise LotusError("forget indices contain duplicates")
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        forget = mask.nonzero().flatten()
        retain = (~mask).nonzero().flatten()
        canon = "indices:" + hashlib.sha1(forget.numpy().tobytes()).hexdigest()[:12]
    elif kind == "rows":
        if value >= n:
            raise LotusError(f"forget rows {value} >= training set size {n}")
        forget = torch.arange(value)
        retain = torch.arange(value, n)
        canon = f"rows:{value}"
    else:  # fraction or count, per class
        forget_parts, retain_parts = [], []
        for c in range(k):
            members = (labels == c).nonzero().flatten()
            if members.numel() == 0:
                continue
            if rule == "random":
                members = members[torch.randperm(members.numel(), generator=g)]
            nf = int(members.numel() * value) if kind == "fraction" else min(int(value), members.numel())
            forget_parts.append(members[:nf])
            rest = members[nf:]
            if retain_per_class is not None:
                rest = rest[: int(retain_per_class)]
            retain_parts.append(rest)
        forget = torch.sort(torch.cat(forget_parts)).values
        retain = torch.sort(torch.cat(retain_parts)).values
        canon = f"{value:g}" if kind == "fraction" else f"count:{value}"
        if kind == "fraction" and forget.numel() == 0:
            raise LotusError(f"forget fraction {value} selects no sample (classes are too small)")
    if forget.numel() == 0:
        raise LotusError(f"the forget set is empty for spec {spec!r}")
    if retain.numel() == 0:
        raise LotusError(f"the retain set is empty for spec {spec!r}")
    return forget, retain, canon


def _halve_stratified(labels: torch.Tensor, num_classes: int, seed: int):
    """Split positions into two stratified halves (val, test), seeded (spec 6.1)."""
    g = make_generator(seed, "val-test")
    first, second = [], []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(members.numel(), generator=g)]
        h = members.numel() // 2
        first.append(members[:h])
        second.append(members[h:])
    return torch.sort(torch.cat(first)).values, torch.sort(torch.cat(second)).values


def _per_class_limit(labels: torch.Tensor, num_classes: int, limit: int | None, salt: str) -> torch.Tensor:
    """Positions keeping at most ``limit`` samples per class (fixed choice, seed-independent)."""
    if limit is None:
        return torch.arange(labels.numel())
    g = make_generator(0, "subsample", salt)
    keep = []
    for c in range(num_classes):
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(members.numel(), generator=g)[: int(limit)]]
        keep.append(members)
    return torch.sort(torch.cat(keep)).values


# ---------------------------------------------------------------------------------------
# Sources: each returns (train_split, heldout_split, classes, source_info)
# ---------------------------------------------------------------------------------------


def _digits_source(root, *, image_size=32, **_):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # [N, 1, 8, 8] in [0, 1]
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)
    y = torch.tensor(d.target, dtype=torch.long)
    classes = [str(i) for i in range(10)]
    # a fixed "official" train / held-out split (2/3 : 1/3 per class), independent of the run seed
    g = make_generator(0, "digits-official")
    train_idx, held_idx = [], []
    for c in range(10):
        members = (y == c).nonzero().flatten()
        members = members[torch.randperm(members.numel(), generator=g)]
        cut = (2 * members.numel()) // 3
        train_idx.append(members[:cut])
        held_idx.append(members[cut:])
    train_idx = torch.sort(torch.cat(train_idx)).values
    held_idx = torch.sort(torch.cat(held_idx)).values
    xf = x.float() / 255
    mean = tuple(xf[train_idx].mean(dim=(0, 2, 3)).tolist())
    std = tuple(xf[train_idx].std(dim=(0, 2, 3)).tolist())
    mk = lambda idx: TensorSplit(x[idx], y[idx], num_classes=10, mean=mean, std=std, augment_mode="crop")  # noqa: E731
    return mk(train_idx), mk(held_idx), classes, {"source": "sklearn-digits"}


def _list_image_folder(folder: Path, classes: list[str] | None = None):
    """Sorted (paths, labels, classes) of a ``<folder>/<class>/<image>`` tree."""
    if not folder.is_dir():
        raise LotusError(f"image folder not found: {folder}")
    found = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is None:
        classes = found
    elif sorted(found) != sorted(classes):
        missing = sorted(set(classes) - set(found))
        extra = sorted(set(found) - set(classes))
        raise LotusError(f"class folders in {folder} differ from the training classes (missing {missing[:5]}, extra {extra[:5]})")
    if not classes:
        raise LotusError(f"no class folders in {folder}")
    paths, labels = [], []
    for c, name in enumerate(classes):
        files = sorted(
            str(p) for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS
        )
        paths.extend(files)
        labels.extend([c] * len(files))
    if not paths:
        raise LotusError(f"no image files under {folder}")
    return paths, torch.tensor(labels, dtype=torch.long), list(classes)


def load_image_folder(folder, *, classes=None, image_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                      in_memory=True, augment_mode=None, limit_per_class=None) -> ImageSplit:
    """Read a ``<folder>/<class>/<image>`` tree as a split (e.g. a CIFAKE-style unseen set).

    ``image_size=None`` requires all images to share one square size (read from the first).
    """
    paths, labels, classes = _list_image_folder(Path(folder), classes)
    keep = _per_class_limit(labels, len(classes), limit_per_class, str(folder))
    paths = [paths[i] for i in keep.tolist()]
    labels = labels[keep]
    if image_size is None:
        image_size = int(_decode_image(paths[0], None).shape[-1])
    split = FileSplit(paths, labels, num_classes=len(classes), image_size=image_size, mean=mean, std=std,
                      augment_mode=augment_mode)
    return split.to_memory() if in_memory else split


def _folder_cache_path(folder: Path, n_files: int, keep_sig: str) -> Path:
    from .utils import cache_dir

    key = stable_hash([str(folder.resolve()), n_files, keep_sig])
    return cache_dir() / "decoded" / f"{folder.parent.name}-{folder.name}-{key}.pt"


def _tensor_from_folder(folder: Path, limit_per_class, salt, classes=None, image_size=None):
    """Decode an image folder into uint8 tensors, cached on disk (keyed by path, count, subset)."""
    paths, labels, classes = _list_image_folder(folder, classes)
    keep = _per_class_limit(labels, len(classes), limit_per_class, salt)
    cache = _folder_cache_path(folder, len(paths), f"{limit_per_class}-{image_size}")
    if cache.exists():
        try:
            blob = torch.load(cache, weights_only=True)
            if blob["images"].shape[0] == keep.numel() and torch.equal(blob["labels"], labels[keep]):
                return blob["images"], blob["labels"], classes
        except Exception:  # noqa: BLE001 - a broken cache file is rebuilt below
            pass
    sel = [paths[i] for i in keep.tolist()]
    if image_size is None:
        image_size = int(_decode_image(sel[0], None).shape[-1])
    split = FileSplit(sel, labels[keep], num_classes=len(classes), image_size=image_size, mean=(0,) * 3, std=(1,) * 3)
    from tqdm.auto import tqdm

    imgs = torch.empty((len(split), 3, image_size, image_size), dtype=torch.uint8)
    order = torch.arange(len(split))
    nb = (len(split) + 511) // 512
    for raw, idx in tqdm(split._raw_batches(order, 512, min(4, os.cpu_count() or 1) if len(split) > 5000 else 0),
                         total=nb, desc=f"decoding {folder.parent.name}/{folder.name}", leave=False,
                         disable=nb < 4):
        imgs[idx] = raw
    from .utils import atomic_torch_save

    try:
        atomic_torch_save(cache, {"images": imgs, "labels": labels[keep]})
    except OSError:
        pass
    return imgs, labels[keep], classes


def _cifar_source(root, *, name, download=False, max_train_per_class=None, max_heldout_per_class=None, **_):
    base = data_root(root) / name
    k = 10 if name == "cifar10" else 100
    if (base / "train").is_dir() and (base / "test").is_dir():
        tr_x, tr_y, classes = _tensor_from_folder(base / "train", max_train_per_class, f"{name}-train")
        te_x, te_y, _ = _tensor_from_folder(base / "test", max_heldout_per_class, f"{name}-test", classes=classes)
        info = {"source": f"image-folder:{base}"}
    else:
        import torchvision

        cls = torchvision.datasets.CIFAR10 if name == "cifar10" else torchvision.datasets.CIFAR100
        try:
            tr = cls(str(base), train=True, download=download)
            te = cls(str(base), train=False, download=download)
        except Exception as exc:  # noqa: BLE001 - turned into an actionable message
            raise LotusError(
                f"{name} not found under {base}. Either pass download=True (CLI: --download) on a "
                f"machine with internet, or place an image-folder copy at {base}/train/<class>/*.jpg "
                f"and {base}/test/<class>/*.jpg (set the data root with root=... or $LOTUS_DATA). "
                f"Cause: {exc}"
            ) from exc
        classes = list(tr.classes)
        tr_x = torch.from_numpy(tr.data).permute(0, 3, 1, 2).contiguous()
        tr_y = torch.tensor(tr.targets, dtype=torch.long)
        te_x = torch.from_numpy(te.data).permute(0, 3, 1, 2).contiguous()
        te_y = torch.tensor(te.targets, dtype=torch.long)
        keep = _per_class_limit(tr_y, k, max_train_per_class, f"{name}-train")
        tr_x, tr_y = tr_x[keep], tr_y[keep]
        keep = _per_class_limit(te_y, k, max_heldout_per_class, f"{name}-test")
        te_x, te_y = te_x[keep], te_y[keep]
        info = {"source": f"torchvision:{base}"}
    if len(classes) != k:
        raise LotusError(f"{name} must have {k} classes, found {len(classes)} under {base}")
    info.update(max_train_per_class=max_train_per_class, max_heldout_per_class=max_heldout_per_class)
    mk = lambda x, y: TensorSplit(x, y, num_classes=k, mean=CIFAR_MEAN, std=CIFAR_STD, augment_mode="crop")  # noqa: E731
    return mk(tr_x, tr_y), mk(te_x, te_y), classes, info


def _imagefolder_source(root, *, path=None, image_size=None, in_memory="auto", max_train_per_class=None,
                        max_heldout_per_class=None, mean=None, std=None, augment_mode="crop_flip", **_):
    base = Path(path) if path is not None else data_root(root)
    if not (base / "train").is_dir():
        raise LotusError(f"image-folder data set needs {base}/train/<class>/* and {base}/val/<class>/*; {base / 'train'} not found")
    heldout_dir = base / "val" if (base / "val").is_dir() else base / "test"
    if not heldout_dir.is_dir():
        raise LotusError(f"no held-out folder: expected {base}/val/<class>/* (or {base}/test/<class>/*)")
    tr_paths, tr_y, classes = _list_image_folder(base / "train")
    he_paths, he_y, _ = _list_image_folder(heldout_dir, classes)
    k = len(classes)
    keep = _per_class_limit(tr_y, k, max_train_per_class, f"{base}-train")
    tr_paths, tr_y = [tr_paths[i] for i in keep.tolist()], tr_y[keep]
    keep = _per_class_limit(he_y, k, max_heldout_per_class, f"{base}-heldout")
    he_paths, he_y = [he_paths[i] for i in keep.tolist()], he_y[keep]
    if image_size is None:
        image_size = int(_decode_image(tr_paths[0], None).shape[-1])
    mean = tuple(mean) if mean is not None else IMAGENET_MEAN
    std = tuple(std) if std is not None else IMAGENET_STD
    train = FileSplit(tr_paths, tr_y, num_classes=k, image_size=image_size, mean=mean, std=std, augment_mode=augment_mode)
    held = FileSplit(he_paths, he_y, num_classes=k, image_size=image_size, mean=mean, std=std, augment_mode=augment_mode)
    total_bytes = (len(train) + len(held)) * 3 * image_size * image_size
    if in_memory is True or (in_memory == "auto" and total_bytes < 2 * 1024**3):
        train, held = train.to_memory(), held.to_memory()
    return train, held, classes, {"source": f"image-folder:{base}", "image_size": image_size,
                                  "max_train_per_class": max_train_per_class,
                                  "max_heldout_per_class": max_heldout_per_class}


_MUFAC_CLASSES = list("abcdefgh")


def _mufac_source(root, *, path=None, image_size=128, in_memory="auto", **_):
    """MUFAC (facial age, 8 classes a-h): CSVs ``custom_{train,val,test}_dataset.csv`` with
    columns ``image_path`` and ``age_class`` beside folders ``{train,val,test}_images``."""
    import pandas as pd

    base = Path(path) if path is not None else data_root(root) / "mufac"
    parts = {}
    for part in ("train", "val", "test"):
        csv = base / f"custom_{part}_dataset.csv"
        if not csv.is_file():
            raise LotusError(f"MUFAC file not found: {csv} (expected custom_{{train,val,test}}_dataset.csv and {{train,val,test}}_images/)")
        df = pd.read_csv(csv)
        for col in ("image_path", "age_class"):
            if col not in df.columns:
                raise LotusError(f"{csv} has no column {col!r} (columns: {list(df.columns)})")
        bad = sorted(set(df["age_class"]) - set(_MUFAC_CLASSES))
        if bad:
            raise LotusError(f"{csv}: unknown age classes {bad}; expected {_MUFAC_CLASSES}")
        paths = [str(base / f"{part}_images" / p) for p in df["image_path"]]
        labels = torch.tensor([_MUFAC_CLASSES.index(a) for a in df["age_class"]], dtype=torch.long)
        parts[part] = FileSplit(paths, labels, num_classes=8, image_size=image_size, mean=(0.0,) * 3,
                                std=(1.0,) * 3, augment_mode="flip")
    if in_memory is True or in_memory == "auto":
        parts = {k: v.to_memory() for k, v in parts.items()}
    return parts, _MUFAC_CLASSES, {"source": f"mufac:{base}", "image_size": image_size}


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def load_splits(
    dataset: str,
    *,
    root: str | os.PathLike | None = None,
    forget=None,
    seed: int = 0,
    forget_rule: str = "random",
    download: bool = False,
    max_train_per_class: int | None = None,
    max_heldout_per_class: int | None = None,
    retain_per_class: int | None = None,
    unseen: str | os.PathLike | ImageSplit | None = None,
    **kwargs,
) -> UnlearningSplits:
    """Load ``dataset`` and split it into forget / retain / val (unseen) / test.

    Parameters
    ----------
    dataset : ``"digits"``, ``"cifar10"``, ``"cifar100"``, ``"imagefolder"`` or ``"mufac"``.
    root : data root (default ``$LOTUS_DATA``, else ``~/.cache/lotus/data``). CIFAR is read from
        ``<root>/cifar10/{train,test}/<class>/*`` when that folder exists, else through
        torchvision (``download=True`` fetches it). ``imagefolder`` reads ``path=`` (or the root)
        with ``train/`` and ``val/`` class folders; ``mufac`` reads ``<root>/mufac``.
    forget : forget specification: a per-class fraction (``0.1``), ``"count:5"`` (per class),
        a class name (``"cat"`` or ``"class:cat"``) for class unlearning, or explicit indices
        into the training set. Default ``0.1``; MUFAC's default is its fixed split
        ``"rows:1062"`` (the first 1,062 rows of the cleaned training CSV).
    seed : drives the forget selection (``forget_rule="random"``) and the stratified halving
        of the held-out set into val / test. The same seed gives the same splits.
    forget_rule : ``"random"`` (seeded, the paper's intent) or ``"first"`` (the authors' code:
        the first N samples of each class in data set order, whatever the seed).
    max_train_per_class, max_heldout_per_class : optional per-class caps (a fixed subsample,
        independent of the seed) for small CPU profiles.
    retain_per_class : cap the retain set per class (ImageNet protocol: ``"count:5"`` forget and
        45 retain images per class).
    unseen : replace D_u (``val``) by another labelled image folder (``<dir>/<class>/*``) or split,
        e.g. CIFAKE synthetic images; the held-out set then serves entirely as ``test``.
    """
    name = str(dataset).lower()
    if name not in _DATASETS:
        raise LotusError(f"unknown dataset {dataset!r}; valid: {', '.join(_DATASETS)}")
    seed = int(seed)
    if forget is None and name != "mufac":
        forget = 0.1
    if name == "mufac":
        parts, classes, info = _mufac_source(root, **kwargs)
        train, val, test = parts["train"], parts["val"], parts["test"]
        if forget is None:
            forget = "rows:1062"
        heldout = None
    else:
        if name == "digits":
            train, heldout, classes, info = _digits_source(root, **kwargs)
        elif name in ("cifar10", "cifar100"):
            train, heldout, classes, info = _cifar_source(
                root, name=name, download=download, max_train_per_class=max_train_per_class,
                max_heldout_per_class=max_heldout_per_class, **kwargs)
        else:
            train, heldout, classes, info = _imagefolder_source(
                root, max_train_per_class=max_train_per_class,
                max_heldout_per_class=max_heldout_per_class, **kwargs)
    if name == "digits" and (max_train_per_class or max_heldout_per_class):
        keep = _per_class_limit(train.labels, 10, max_train_per_class, "digits-train")
        train = train.subset(keep)
        keep = _per_class_limit(heldout.labels, 10, max_heldout_per_class, "digits-held")
        heldout = heldout.subset(keep)
    forget_idx, retain_idx, canon = _split_forget_retain(
        train.labels, classes, forget, forget_rule, seed, retain_per_class)
    if heldout is not None:
        if unseen is not None:
            val, test = None, heldout
        else:
            vi, ti = _halve_stratified(heldout.labels, len(classes), seed)
            val, test = heldout.subset(vi), heldout.subset(ti)
    if unseen is not None:
        if isinstance(unseen, ImageSplit):
            val = unseen
            info["unseen"] = "custom-split"
        else:
            val = load_image_folder(unseen, classes=classes, image_size=train.image_shape[-1],
                                    mean=train.mean, std=train.std, augment_mode=train.augment_mode)
            info["unseen"] = str(unseen)
        if val.num_classes != len(classes):
            raise LotusError(f"unseen set has {val.num_classes} classes, {name} has {len(classes)}")
    return UnlearningSplits(
        dataset=name, train=train, forget=train.subset(forget_idx), retain=train.subset(retain_idx),
        val=val, test=test, classes=list(classes), forget_indices=forget_idx, retain_indices=retain_idx,
        forget_spec=canon, seed=seed, forget_rule=forget_rule, source=info,
    )
