"""Split containers: labelled image sets and the four splits of an unlearning benchmark.

Every split is an :class:`ImageSplit`. Its :meth:`ImageSplit.batches` yields normalised
``float32`` batches and applies **no training augmentation unless asked**
(``augment=True``), so metrics on the forget and retain sets see the images as they are.
(The authors' code evaluates ``D_f``/``D_r`` through the augmented training pipeline; spec
section 9, item 6.)

Small data sets (digits, CIFAR, small image folders) live in memory as ``uint8`` tensors
(:class:`TensorSplit`); large image folders (ImageNet) are decoded on the fly
(:class:`FileSplit`, see :mod:`lotus.data.decode`). :class:`UnlearningSplits` bundles the
forget set ``D_f``, the retain set ``D_r``, the unseen set ``D_u`` (``val``) and ``test``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from numbers import Integral
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..distributed import batch_rows
from ..utils import LotusError
from .decode import _cached_decode, _decode_paths, _iter_decoded

__all__ = [
    "ImageSplit",
    "TensorSplit",
    "FileSplit",
    "UnlearningSplits",
    "concat_splits",
    "CIFAR_MEAN",
    "CIFAR_STD",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
]

#: per-channel normalisation statistics of CIFAR (the authors' values) and ImageNet
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _as_index(indices, n: int | None = None, what: str = "indices") -> torch.Tensor:
    """``LongTensor`` of positions from a list / array / tensor of ints or a boolean mask of length ``n``."""
    if isinstance(indices, range):
        indices = list(indices)
    t = torch.as_tensor(np.asarray(indices) if not isinstance(indices, torch.Tensor) else indices)
    if t.dtype == torch.bool:
        if n is not None and t.numel() != n:
            raise LotusError(f"boolean {what} mask has {t.numel()} entries, expected {n}")
        return t.flatten().nonzero().flatten()
    if t.is_floating_point():
        if t.numel() and not torch.equal(t, t.round()):
            raise LotusError(f"{what} must be integers, got non-integral values")
        t = t.long()
    if t.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    return t.long().flatten()


# ---------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------


def _augment(x: torch.Tensor, mode: str | None, generator: torch.Generator | None,
             rows: tuple[int, int, int] | None = None) -> torch.Tensor:
    """Batched training augmentation on a float batch ``[B, C, H, W]``.

    ``"crop"``: zero-pad by H/8 (4 px at 32 px) and take a random H x W crop per image;
    ``"crop_flip"`` adds a random horizontal flip; ``"flip"`` only flips. Random numbers
    are drawn on the CPU from ``generator`` (reproducible on any device). ``rows=(lo, hi,
    total)``: ``x`` holds rows ``[lo, hi)`` of a global batch of ``total`` images (one rank's
    share): the numbers are drawn for the whole batch and rows ``lo:hi`` used, so every rank
    consumes the generator as one process does.
    """
    if not mode:
        return x
    b, _, h, w = x.shape
    dev = x.device
    draw, keep = (b, slice(None)) if rows is None else (rows[2], slice(rows[0], rows[1]))

    def rand_int(high):
        return torch.randint(0, high, (draw,), generator=generator)[keep].to(dev)

    if "crop" in mode:
        p = max(1, h // 8)
        xp = F.pad(x, (p, p, p, p))
        oy = rand_int(2 * p + 1)
        ox = rand_int(2 * p + 1)
        rows = (oy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, None, :]
        bidx = torch.arange(b, device=dev)[:, None, None, None]
        cidx = torch.arange(x.shape[1], device=dev)[None, :, None, None]
        x = xp[bidx, cidx, rows, cols]
    if "flip" in mode:
        flip = (torch.rand(draw, generator=generator)[keep] < 0.5).to(dev)[:, None, None, None]
        x = torch.where(flip, x.flip(-1), x)
    return x


def _shard_order(order: torch.Tensor, batch_size: int, shard: tuple[int, int] | None):
    """This rank's part of ``order`` for ``batches(shard=(rank, world_size))``:
    ``(order, batch_size, rows)``, the rank's contiguous share of every global batch of
    ``batch_size`` (:func:`lotus.distributed.batch_rows`) one after the other, its batch size
    (the share of a full batch: every share but the last has it, the last is not larger) and
    ``rows[i] = (lo, hi, total)``, the rows of global batch ``i`` it holds. A rank with no share
    of a last batch smaller than the number of ranks gets that batch's first row as a placeholder
    (the caller gives it weight 0), so every rank runs the same number of steps. Without
    ``shard``: ``(order, batch_size, None)``."""
    if shard is None:
        return order, batch_size, None
    rank, world = (int(v) for v in shard)
    if not 0 <= rank < world:
        raise LotusError(f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard!r}")
    if batch_size < world:
        raise LotusError(f"batch_size ({batch_size}) must be >= the number of ranks ({world}) to shard batches")
    parts, rows = [], []
    for start in range(0, order.numel(), batch_size):
        gb = order[start:start + batch_size]
        lo, hi = batch_rows(gb.numel(), rank, world)
        parts.append(gb[lo:hi] if hi > lo else gb[:1])
        rows.append((lo, hi, gb.numel()) if hi > lo else (0, 1, gb.numel()))
    local = torch.cat(parts) if parts else order[:0]
    return local, batch_rows(batch_size, rank, world)[1] - batch_rows(batch_size, rank, world)[0], rows


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

    def _content_blob(self, h) -> None:
        raise NotImplementedError

    def content_hash(self) -> str:
        """A short hex digest of the split's content (pixels or file paths, labels,
        normalisation, augmentation mode); cached on the object. Used in checkpoint keys."""
        cached = getattr(self, "_content_hash", None)
        if cached is None:
            h = hashlib.sha1()
            h.update(repr((type(self).__name__, self.num_classes, self.mean, self.std, self.augment_mode)).encode())
            h.update(memoryview(self.labels.contiguous().numpy()).cast("B"))
            self._content_blob(h)
            cached = self._content_hash = h.hexdigest()[:16]
        return cached

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
        shard: tuple[int, int] | None = None,
    ) -> Iterator[tuple[torch.Tensor, ...]]:
        """Yield ``(x, y)`` (or ``(x, y, idx)`` with ``with_index``) batches.

        ``x``: normalised ``float32 [B, C, H, W]`` on ``device``; ``y``: ``int64 [B]``;
        ``idx``: ``int64 [B]`` positions in this split. ``shuffle`` draws the order from
        ``generator``; ``augment`` applies the split's training augmentation (none unless
        asked). ``shard=(rank, world_size)``: only this rank's share of every batch is loaded
        and yielded, from the same order and augmentation numbers as without (see
        :func:`lotus.distributed.global_batches`, which weights the shares).
        """
        if not isinstance(batch_size, Integral) or batch_size < 1:
            raise LotusError(f"batch_size must be an int >= 1, got {batch_size!r}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        if drop_last:
            order = order[: (n // batch_size) * batch_size]
        order, local_bs, rows = _shard_order(order, int(batch_size), shard)
        dev = torch.device(device)
        mean = torch.tensor(self.mean, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=dev).view(1, -1, 1, 1)
        nhwc = torch.channels_last
        for step, (raw, idx) in enumerate(self._raw_batches(order, local_bs, num_workers)):
            if channels_last and not augment:
                raw = raw.contiguous(memory_format=nhwc)  # reorder the uint8 bytes, not 4x as many floats
            # one float copy, then in place: the same values as ``(x / 255 - mean) / std``
            x = raw.to(dev, non_blocking=True).float().div_(255.0)
            if augment:
                x = _augment(x, self.augment_mode, generator, rows[step] if rows else None)
            x = x.sub_(mean).div_(std)
            if channels_last and not x.is_contiguous(memory_format=nhwc):
                x = x.contiguous(memory_format=nhwc)
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
        if labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise LotusError(f"{images.shape[0]} images but labels of shape {tuple(labels.shape)}")
        if len(mean) not in (1, images.shape[1]) or len(std) not in (1, images.shape[1]):
            raise LotusError(f"mean/std need 1 or {images.shape[1]} channels, got {len(mean)}/{len(std)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= int(num_classes)):
            raise LotusError(f"labels must lie in [0, {num_classes}), got [{int(labels.min())}, {int(labels.max())}]")
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

    def _content_blob(self, h) -> None:
        h.update(repr(tuple(self.images.shape)).encode())
        h.update(memoryview(self.images.contiguous().numpy()).cast("B"))

    def subset(self, indices) -> "TensorSplit":
        idx = _as_index(indices, len(self))
        return TensorSplit(
            self.images[idx], self.labels[idx], num_classes=self.num_classes,
            mean=self.mean, std=self.std, augment_mode=self.augment_mode,
        )

    def __repr__(self) -> str:
        return f"TensorSplit(n={len(self)}, shape={self.image_shape}, classes={self.num_classes})"

class FileSplit(ImageSplit):
    """A split read from image files on the fly (for data sets too large for memory).

    ``paths``: list of file paths; ``labels``: ``int64 [N]``; ``image_size``: every image that
    is not already ``image_size x image_size`` has its shorter side resized to ``resize``
    (default ``image_size``) and is centre-cropped to ``image_size x image_size``.
    ``num_workers``: decoding processes of a torch ``DataLoader`` for every :meth:`batches` call
    that asks for none (0: decode in this process); a speed option, not part of the content.
    """

    def __init__(self, paths, labels, *, num_classes, image_size, mean, std, augment_mode=None, resize=None,
                 num_workers: int = 0):
        self.paths = [str(p) for p in paths]
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if len(self.paths) != self.labels.numel():
            raise LotusError(f"{len(self.paths)} paths but {self.labels.numel()} labels")
        self.num_classes = int(num_classes)
        self.image_size = int(image_size)
        if resize is not None and int(resize) < self.image_size:
            raise LotusError(f"resize ({resize}) must be >= image_size ({image_size})")
        self.resize = int(resize) if resize is not None else None
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.augment_mode = augment_mode
        if isinstance(num_workers, bool) or not isinstance(num_workers, Integral) or num_workers < 0:
            raise LotusError(f"num_workers must be an int >= 0, got {num_workers!r}")
        self.num_workers = int(num_workers)

    @property
    def image_shape(self):
        return (3, self.image_size, self.image_size)

    def _raw_batches(self, order, batch_size, num_workers):
        yield from _iter_decoded(self.paths, order, batch_size, self.image_size, self.resize,
                                 num_workers or self.num_workers)

    def _content_blob(self, h) -> None:
        h.update(repr((self.image_size, self.resize)).encode())
        h.update("\n".join(self.paths).encode())

    def subset(self, indices) -> "FileSplit":
        idx = _as_index(indices, len(self))
        return FileSplit(
            [self.paths[i] for i in idx.tolist()], self.labels[idx], num_classes=self.num_classes,
            image_size=self.image_size, mean=self.mean, std=self.std, augment_mode=self.augment_mode,
            resize=self.resize, num_workers=self.num_workers,
        )

    def to_memory(self, num_workers: int = 0, *, cache: bool = False, tag: str = "files") -> TensorSplit:
        """Decode every image once and return an equivalent :class:`TensorSplit`.

        ``cache=True`` stores / reuses the decoded tensor under ``$LOTUS_CACHE/decoded``."""
        if cache:
            imgs = _cached_decode(self.paths, self.image_size, self.resize, tag=tag, num_workers=num_workers)
        else:
            imgs = _decode_paths(self.paths, self.image_size, self.resize, num_workers=num_workers)
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
    for s in splits[1:]:
        if s.num_classes != first.num_classes or s.image_shape != first.image_shape:
            raise LotusError(
                f"cannot concatenate splits with different classes/shapes: {first.num_classes} classes "
                f"{first.image_shape} vs {s.num_classes} classes {s.image_shape}")
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
            std=first.std, augment_mode=first.augment_mode, resize=first.resize, num_workers=first.num_workers,
        )
    if all(type(s) is type(first) for s in splits) and hasattr(type(first), "_concat"):
        return type(first)._concat(splits)  # another kind of split (e.g. lotus.data.DatasetSplit)
    raise LotusError(f"cannot concatenate splits of different kinds ({', '.join(sorted({type(s).__name__ for s in splits}))}); "
                     "call FileSplit.to_memory() first to join in-memory and file-backed splits")



@dataclass
class UnlearningSplits:
    """The four splits of an unlearning benchmark.

    ``forget`` (D_f) and ``retain`` (D_r) partition the training set ``train`` (unless
    ``retain_per_class`` capped the retain set); ``val`` is the unseen set D_u; ``test`` is
    used only for evaluation. ``forget_indices`` and ``retain_indices`` are positions in
    ``train``; ``val_indices`` / ``test_indices`` are positions in the held-out set they were
    halved from (``None`` when a split was not drawn from it, e.g. MUFAC or a custom unseen set).
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
    val_indices: torch.Tensor | None = None
    test_indices: torch.Tensor | None = None

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
        """A short hash identifying data source, forget/retain partition and val/test split
        (including the content of the unseen set ``val``)."""
        h = hashlib.sha256()
        h.update(repr((self.dataset, self.forget_spec, self.forget_rule, self.seed,
                       sorted((str(k), str(v)) for k, v in self.source.items()))).encode())
        h.update(self.forget_indices.numpy().tobytes())
        h.update(self.retain_indices.numpy().tobytes())
        for idx in (self.val_indices, self.test_indices):
            h.update(b"-" if idx is None else idx.numpy().tobytes())
        h.update(self.val.content_hash().encode())
        h.update(self.test.labels.numpy().tobytes())
        h.update(str(sorted(self.sizes().items())).encode())
        return h.hexdigest()[:16]

    def __repr__(self) -> str:
        s = ", ".join(f"{k}={v}" for k, v in self.sizes().items())
        return f"UnlearningSplits({self.dataset!r}, forget={self.forget_spec!r}, seed={self.seed}, {s})"

