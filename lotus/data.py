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
(:class:`FileSplit`). Decoded image folders are cached under ``$LOTUS_CACHE/decoded``,
keyed by the file list (paths, sizes, modification times) and the output size, so a
changed folder is decoded again and never served stale.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real
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
    "concat",
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

# keyword arguments each source accepts through ``load_splits(**kwargs)``
_SOURCE_KWARGS = {
    "digits": ("image_size", "noise_std"),
    "cifar10": (),
    "cifar100": (),
    "imagefolder": ("path", "image_size", "resize", "in_memory", "mean", "std", "augment_mode", "num_workers"),
    "mufac": ("path", "image_size", "in_memory", "num_workers"),
}

_DECODE_CACHE_VERSION = 2


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


def _augment(x: torch.Tensor, mode: str | None, generator: torch.Generator | None) -> torch.Tensor:
    """Batched training augmentation on a float batch ``[B, C, H, W]``.

    ``"crop"``: zero-pad by H/8 (4 px at 32 px) and take a random H x W crop per image;
    ``"crop_flip"`` adds a random horizontal flip; ``"flip"`` only flips. Random numbers
    are drawn on the CPU from ``generator`` (reproducible on any device).
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
    ) -> Iterator[tuple[torch.Tensor, ...]]:
        """Yield ``(x, y)`` (or ``(x, y, idx)`` with ``with_index``) batches.

        ``x``: normalised ``float32 [B, C, H, W]`` on ``device``; ``y``: ``int64 [B]``;
        ``idx``: ``int64 [B]`` positions in this split. ``shuffle`` draws the order from
        ``generator``; ``augment`` applies the split's training augmentation (none unless
        asked).
        """
        if not isinstance(batch_size, Integral) or batch_size < 1:
            raise LotusError(f"batch_size must be an int >= 1, got {batch_size!r}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        if drop_last:
            order = order[: (n // batch_size) * batch_size]
        dev = torch.device(device)
        mean = torch.tensor(self.mean, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=dev).view(1, -1, 1, 1)
        for raw, idx in self._raw_batches(order, int(batch_size), num_workers):
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


def _read_rgb(path: str) -> torch.Tensor:
    """Decode an image file to ``uint8 [3, H, W]`` RGB (torchvision's decoder, else PIL)."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        from torchvision.io import ImageReadMode, decode_image
    except ImportError:  # torchvision without image I/O (its decoders are deprecated since 0.29)
        decode_image = None
    if decode_image is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB)
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1).contiguous()


def _decode_image(path: str, image_size: int | None, resize: int | None = None) -> torch.Tensor:
    """Read an image file as ``uint8 [3, S, S]`` (RGB).

    ``image_size=None`` returns the image as stored. Otherwise an image that is not already
    ``S x S`` has its shorter side resized to ``resize`` (default ``S``; e.g. 256 for the
    ImageNet protocol ``Resize(256) + CenterCrop(224)``) and is centre-cropped to ``S x S``.
    """
    try:
        img = _read_rgb(str(path))
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise LotusError(f"cannot decode image {path}: {type(exc).__name__}: {exc}") from exc
    if image_size is None or tuple(img.shape[1:]) == (image_size, image_size):
        return img
    import torchvision.transforms.v2.functional as TF

    short = int(resize) if resize else int(image_size)
    if min(img.shape[1:]) != short:
        img = TF.resize(img, short, antialias=True)
    return TF.center_crop(img, [image_size, image_size])


class _FileDataset(torch.utils.data.Dataset):
    def __init__(self, paths, image_size, resize=None):
        self.paths = paths
        self.image_size = image_size
        self.resize = resize

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return _decode_image(self.paths[i], self.image_size, self.resize), i


def _iter_decoded(paths: Sequence[str], order: torch.Tensor, batch_size: int, image_size: int,
                  resize: int | None, num_workers: int):
    """Yield ``(uint8 [B, 3, S, S], positions [B])`` for ``paths`` in ``order``.

    ``num_workers == 0`` decodes in this process (no DataLoader overhead); otherwise a torch
    ``DataLoader`` with that many worker processes decodes in parallel.
    """
    if num_workers and num_workers > 0:
        ds = _FileDataset(list(paths), image_size, resize)
        batch_sampler = [order[s : s + batch_size].tolist() for s in range(0, order.numel(), batch_size)]
        loader = torch.utils.data.DataLoader(
            ds, batch_sampler=batch_sampler, num_workers=int(num_workers),
            pin_memory=torch.cuda.is_available(),
        )
        for imgs, idx in loader:
            yield imgs, idx.long()
        return
    for s in range(0, order.numel(), batch_size):
        idx = order[s : s + batch_size]
        yield torch.stack([_decode_image(paths[i], image_size, resize) for i in idx.tolist()]), idx


def _decode_paths(paths: Sequence[str], image_size: int, resize: int | None = None, *, num_workers: int = 0,
                  desc: str = "decoding") -> torch.Tensor:
    """Decode ``paths`` into one ``uint8 [N, 3, S, S]`` tensor (progress bar for large folders)."""
    from tqdm import tqdm

    n = len(paths)
    out = torch.empty((n, 3, image_size, image_size), dtype=torch.uint8)
    bs = 512
    nb = (n + bs - 1) // bs
    it = _iter_decoded(paths, torch.arange(n), bs, image_size, resize, num_workers)
    for raw, idx in tqdm(it, total=nb, desc=desc, leave=False, disable=n < 5000):
        out[idx] = raw
    return out


def _files_signature(paths: Sequence[str]) -> str:
    """Digest of the file list: path, size and modification time of each file."""
    h = hashlib.sha1()
    for p in paths:
        try:
            st = os.stat(p)
        except OSError as exc:
            raise LotusError(f"image file not readable: {p} ({exc})") from exc
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _cached_decode(paths: Sequence[str], image_size: int, resize: int | None = None, *, tag: str,
                   num_workers: int = 0) -> torch.Tensor:
    """:func:`_decode_paths` with an on-disk cache in ``$LOTUS_CACHE/decoded``.

    The key covers every file's path, size and mtime plus ``image_size``/``resize``; a
    changed folder gets a new key. A cache file that cannot be read or holds the wrong shape
    is reported (warning) and rebuilt, never used.
    """
    from .utils import atomic_torch_save, cache_dir

    key = stable_hash([_DECODE_CACHE_VERSION, _files_signature(paths), int(image_size), resize], n=20)
    safe_tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)[-60:]
    path = cache_dir() / "decoded" / f"{safe_tag}-{key}.pt"
    shape = (len(paths), 3, int(image_size), int(image_size))
    if path.is_file():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            imgs = blob["images"]
            if blob.get("key") == key and imgs.dtype == torch.uint8 and tuple(imgs.shape) == shape:
                return imgs
            reason = f"holds {imgs.dtype} {tuple(imgs.shape)}, expected uint8 {shape}"
        except Exception as exc:  # noqa: BLE001 - a broken cache file is rebuilt below
            reason = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"ignoring decoded-image cache {path} ({reason}); decoding the images again", stacklevel=3)
    imgs = _decode_paths(paths, int(image_size), resize, num_workers=num_workers, desc=f"decoding {tag}")
    try:
        atomic_torch_save(path, {"key": key, "images": imgs})
    except OSError as exc:
        warnings.warn(f"could not write the decoded-image cache {path}: {exc}", stacklevel=3)
    return imgs


class FileSplit(ImageSplit):
    """A split read from image files on the fly (for data sets too large for memory).

    ``paths``: list of file paths; ``labels``: ``int64 [N]``; ``image_size``: every image that
    is not already ``image_size x image_size`` has its shorter side resized to ``resize``
    (default ``image_size``) and is centre-cropped to ``image_size x image_size``.
    """

    def __init__(self, paths, labels, *, num_classes, image_size, mean, std, augment_mode=None, resize=None):
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

    @property
    def image_shape(self):
        return (3, self.image_size, self.image_size)

    def _raw_batches(self, order, batch_size, num_workers):
        yield from _iter_decoded(self.paths, order, batch_size, self.image_size, self.resize, num_workers)

    def _content_blob(self, h) -> None:
        h.update(repr((self.image_size, self.resize)).encode())
        h.update("\n".join(self.paths).encode())

    def subset(self, indices) -> "FileSplit":
        idx = _as_index(indices, len(self))
        return FileSplit(
            [self.paths[i] for i in idx.tolist()], self.labels[idx], num_classes=self.num_classes,
            image_size=self.image_size, mean=self.mean, std=self.std, augment_mode=self.augment_mode,
            resize=self.resize,
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
            std=first.std, augment_mode=first.augment_mode, resize=first.resize,
        )
    raise LotusError("cannot concatenate in-memory and file-backed splits; call FileSplit.to_memory() first")


def concat(*splits: ImageSplit) -> ImageSplit:
    """``concat(a, b, ...)``: same as :func:`concat_splits` ``([a, b, ...])``."""
    return concat_splits(splits)


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

    def with_unseen(self, unseen: ImageSplit, name: str = "custom") -> "UnlearningSplits":
        """A copy whose unseen set D_u (``val``) is ``unseen`` (e.g. synthetic CIFAKE images)."""
        if unseen.num_classes != self.num_classes:
            raise LotusError(f"unseen set has {unseen.num_classes} classes, the data set has {self.num_classes}")
        src = dict(self.source, unseen=name)
        return UnlearningSplits(
            self.dataset, self.train, self.forget, self.retain, unseen, self.test, self.classes,
            self.forget_indices, self.retain_indices, self.forget_spec, self.seed, self.forget_rule, src,
            None, self.test_indices,
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
    name, resolved later); ``"indices:3,5,8"``; a sequence, array or tensor of ints, or a
    boolean mask over the training set; ``"rows:1062"``.
    """
    if isinstance(spec, (bool, np.bool_)):
        raise LotusError(f"invalid forget spec {spec!r}")
    if isinstance(spec, Real) and not isinstance(spec, Integral):
        frac = float(spec)
        if not 0.0 < frac < 1.0:
            raise LotusError(f"forget fraction must be in (0, 1), got {spec}")
        return "fraction", frac
    if isinstance(spec, Integral):
        raise LotusError(
            f"ambiguous forget spec {spec!r}: use a fraction (0.1), 'count:{spec}' for "
            f"{spec} per class, or a list of indices"
        )
    if isinstance(spec, (torch.Tensor, list, tuple, np.ndarray, range)):
        try:
            t = spec if isinstance(spec, torch.Tensor) else torch.as_tensor(np.asarray(list(spec) if isinstance(spec, range) else spec))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise LotusError(f"invalid forget index list: {exc}") from None
        if t.dtype == torch.bool:
            return "mask", t.flatten()
        if not (t.is_floating_point() or t.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
            raise LotusError(f"forget indices must be integers, got dtype {t.dtype}")
        return "indices", _as_index(t, what="forget indices")
    if isinstance(spec, str):
        s = spec.strip()
        if not s:
            raise LotusError("empty forget spec")
        if ":" in s:
            kind, _, val = s.partition(":")
            kind, val = kind.strip().lower(), val.strip()
            if kind == "class":
                if not val:
                    raise LotusError("empty class name in forget spec")
                return "class", val
            if kind in ("count", "rows"):
                try:
                    n = int(val)
                except ValueError:
                    raise LotusError(f"invalid {kind} in forget spec {spec!r}: {val!r} is not an integer") from None
                if n < 1:
                    raise LotusError(f"forget {kind} must be >= 1, got {n}")
                return kind, n
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
        if not 0.0 < frac < 1.0:
            raise LotusError(
                f"forget fraction must be in (0, 1), got {s!r} (for class unlearning of a class "
                f"named {s!r} write 'class:{s}')")
        return "fraction", frac
    raise LotusError(f"invalid forget spec {spec!r} (type {type(spec).__name__})")


def _take_per_class(labels: torch.Tensor, members_of, k: int, n_per_class: int | None, rule: str,
                    g: torch.Generator) -> torch.Tensor:
    """Keep at most ``n_per_class`` of ``members_of`` positions per class (first or seeded random)."""
    if n_per_class is None:
        return members_of
    keep = []
    member_labels = labels[members_of]
    for c in range(k):
        m = members_of[member_labels == c]
        if rule == "random":
            m = m[torch.randperm(m.numel(), generator=g)]
        keep.append(m[: int(n_per_class)])
    return torch.sort(torch.cat(keep)).values if keep else members_of[:0]


def _split_forget_retain(labels, classes, spec, rule, seed, retain_per_class):
    """Return ``(forget_idx, retain_idx, canonical_spec)`` over a training label vector.

    Per-class kinds (fraction, count) take, for every class, ``floor(n_c * fraction)`` (with
    a tolerance for binary floating point, so ``0.29 * 100`` gives 29) or ``min(count, n_c)``
    samples: seeded-random ones with ``rule="random"``, the first ones in data set order with
    ``rule="first"`` (the authors' code). ``retain_per_class`` caps the retain set per class.
    """
    kind, value = parse_forget_spec(spec)
    n = labels.numel()
    k = len(classes)
    if rule not in ("random", "first"):
        raise LotusError(f"unknown forget_rule {rule!r}; valid: random, first")
    if retain_per_class is not None and (not isinstance(retain_per_class, Integral) or retain_per_class < 1):
        raise LotusError(f"retain_per_class must be an int >= 1 or None, got {retain_per_class!r}")
    g = make_generator(seed, "forget")
    if kind == "class":
        if value not in classes:
            raise LotusError(f"class {value!r} not present; classes are: {', '.join(map(str, classes))}")
        c = classes.index(value)
        mask = labels == c
        canon = f"class:{value}"
    elif kind in ("indices", "mask"):
        if kind == "mask":
            if value.numel() != n:
                raise LotusError(f"boolean forget mask has {value.numel()} entries, the training set has {n}")
            idx = value.nonzero().flatten()
        else:
            idx = value
        if idx.numel() == 0:
            raise LotusError("the forget set is empty (no indices given)")
        if idx.min() < 0 or idx.max() >= n:
            raise LotusError(f"forget indices must lie in [0, {n}), got min {int(idx.min())} max {int(idx.max())}")
        if torch.unique(idx).numel() != idx.numel():
            raise LotusError("forget indices contain duplicates")
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        canon = "indices:" + hashlib.sha1(mask.nonzero().flatten().numpy().tobytes()).hexdigest()[:12]
    elif kind == "rows":
        if value >= n:
            raise LotusError(f"forget rows {value} >= training set size {n}; pass a smaller spec (e.g. 'rows:{max(1, n // 6)}' or 0.1)")
        mask = torch.zeros(n, dtype=torch.bool)
        mask[:value] = True
        canon = f"rows:{value}"
    else:  # fraction or count, per class
        mask = torch.zeros(n, dtype=torch.bool)
        for c in range(k):
            members = (labels == c).nonzero().flatten()
            if members.numel() == 0:
                continue
            if rule == "random":
                members = members[torch.randperm(members.numel(), generator=g)]
            if kind == "fraction":
                nf = int(math.floor(members.numel() * value + 1e-6))
            else:
                nf = min(int(value), members.numel())
            mask[members[:nf]] = True
        canon = f"{value:g}" if kind == "fraction" else f"count:{value}"
        if not mask.any():
            raise LotusError(f"forget spec {spec!r} selects no sample (the classes are too small: "
                             f"largest has {int(torch.bincount(labels, minlength=k).max())} samples)")
    forget = mask.nonzero().flatten()
    retain = (~mask).nonzero().flatten()
    retain = _take_per_class(labels, retain, k, retain_per_class, rule, g)
    if forget.numel() == 0:
        raise LotusError(f"the forget set is empty for spec {spec!r}")
    if retain.numel() == 0:
        raise LotusError(f"the retain set is empty for spec {spec!r}")
    return forget, retain, canon


def _halve_stratified(labels: torch.Tensor, num_classes: int, seed: int):
    """Split positions into two stratified halves (val, test), seeded (spec 6.1).

    Each class contributes ``floor(n_c / 2)`` samples to the first half and the rest to the
    second. Returns two sorted ``LongTensor`` s of positions."""
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
    """Sorted positions keeping at most ``limit`` samples per class (a fixed random choice,
    independent of the run seed, so every seed sees the same subsample)."""
    if limit is None:
        return torch.arange(labels.numel())
    if not isinstance(limit, Integral) or isinstance(limit, bool) or limit < 1:
        raise LotusError(f"per-class limit must be an int >= 1 or None, got {limit!r}")
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


def _digits_source(root, *, image_size=32, noise_std=0.0):
    """scikit-learn's 8x8 digits (1,797 images, always offline), upsampled to ``image_size``.

    ``noise_std > 0`` adds fixed Gaussian pixel noise (std in units of the [0, 1] intensity
    range, drawn once at 8x8 from a generator independent of the run seed, then clipped): a
    harder variant in which a small network memorises its training images (forget accuracy
    above unseen accuracy), as unlearning experiments need. A fixed "official" train /
    held-out split (2/3 : 1/3 per class, independent of the run seed); normalisation
    statistics from the training part."""
    from sklearn.datasets import load_digits

    if isinstance(image_size, bool) or not isinstance(image_size, Integral) or image_size < 8:
        raise LotusError(f"digits image_size must be an int >= 8, got {image_size!r}")
    if not isinstance(noise_std, Real) or not math.isfinite(noise_std) or noise_std < 0:
        raise LotusError(f"digits noise_std must be a finite number >= 0, got {noise_std!r}")
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # [N, 1, 8, 8] in [0, 1]
    if noise_std > 0:
        noise = torch.randn(x.shape, generator=make_generator(0, "digits-noise"))
        x = (x + float(noise_std) * noise).clamp(0, 1)
    x = F.interpolate(x, size=(int(image_size), int(image_size)), mode="bilinear", align_corners=False)
    x = (x.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1)
    y = torch.tensor(d.target, dtype=torch.long)
    classes = [str(i) for i in range(10)]
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
    xf = x[train_idx].float() / 255
    mean = tuple(xf.mean(dim=(0, 2, 3)).tolist())
    std = tuple(xf.std(dim=(0, 2, 3)).tolist())
    mk = lambda idx: TensorSplit(x[idx], y[idx], num_classes=10, mean=mean, std=std, augment_mode="crop")  # noqa: E731
    info = {"source": "sklearn-digits", "image_size": int(image_size)}
    if noise_std > 0:
        info["noise_std"] = float(noise_std)
    return mk(train_idx), mk(held_idx), classes, info


def _list_image_folder(folder: Path, classes: list[str] | None = None):
    """Sorted ``(paths, labels, classes)`` of a ``<folder>/<class>/<image>`` tree.

    Classes are the sub-folder names in sorted order (as ``torchvision.datasets.ImageFolder``)
    unless ``classes`` is given, in which case the folder must hold exactly those classes."""
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
        raise LotusError(f"no class folders in {folder} (expected {folder}/<class>/<image>)")
    paths, labels = [], []
    for c, name in enumerate(classes):
        with os.scandir(folder / name) as it:
            files = sorted(e.path for e in it if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS)
        paths.extend(files)
        labels.extend([c] * len(files))
    if not paths:
        raise LotusError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {folder}")
    return paths, torch.tensor(labels, dtype=torch.long), list(classes)


def load_image_folder(folder, *, classes=None, image_size=None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                      in_memory=True, augment_mode=None, limit_per_class=None, resize=None, cache=True,
                      num_workers=0) -> ImageSplit:
    """Read a ``<folder>/<class>/<image>`` tree as a split (e.g. a CIFAKE-style unseen set).

    ``classes`` fixes the label order (the folder must hold exactly those classes).
    ``image_size=None`` takes the size of the first image (all images are then resized /
    centre-cropped to it). ``in_memory`` decodes everything once (cached on disk unless
    ``cache=False``) into a :class:`TensorSplit`; otherwise a :class:`FileSplit` is returned.
    """
    folder = Path(folder)
    paths, labels, classes = _list_image_folder(folder, classes)
    keep = _per_class_limit(labels, len(classes), limit_per_class, str(folder))
    paths = [paths[i] for i in keep.tolist()]
    labels = labels[keep]
    if image_size is None:
        image_size = int(_decode_image(paths[0], None).shape[-1])
    split = FileSplit(paths, labels, num_classes=len(classes), image_size=image_size, mean=mean, std=std,
                      augment_mode=augment_mode, resize=resize)
    if not in_memory:
        return split
    return split.to_memory(num_workers, cache=cache, tag=f"{folder.parent.name}-{folder.name}")


def _cifar_source(root, *, name, download=False, max_train_per_class=None, max_heldout_per_class=None):
    """CIFAR-10/100 from ``<root>/<name>/{train,test}/<class>/*`` image folders when present
    (decoded once, cached), else through torchvision (``download=True`` fetches it)."""
    base = data_root(root) / name
    k = 10 if name == "cifar10" else 100
    if (base / "train").is_dir() and (base / "test").is_dir():
        tr_paths, tr_y, classes = _list_image_folder(base / "train")
        te_paths, te_y, _ = _list_image_folder(base / "test", classes)
        if len(classes) != k:
            raise LotusError(f"{name} must have {k} classes, found {len(classes)} under {base / 'train'}")
        keep = _per_class_limit(tr_y, k, max_train_per_class, f"{name}-train")
        tr_paths, tr_y = [tr_paths[i] for i in keep.tolist()], tr_y[keep]
        keep = _per_class_limit(te_y, k, max_heldout_per_class, f"{name}-test")
        te_paths, te_y = [te_paths[i] for i in keep.tolist()], te_y[keep]
        tr_x = _cached_decode(tr_paths, 32, tag=f"{name}-train")
        te_x = _cached_decode(te_paths, 32, tag=f"{name}-test")
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
                f"Cause: {type(exc).__name__}: {exc}"
            ) from exc
        classes = list(tr.classes)
        tr_x = torch.from_numpy(tr.data).permute(0, 3, 1, 2).contiguous()
        tr_y = torch.tensor(tr.targets, dtype=torch.long)
        te_x = torch.from_numpy(te.data).permute(0, 3, 1, 2).contiguous()
        te_y = torch.tensor(te.targets, dtype=torch.long)
        if len(classes) != k:
            raise LotusError(f"{name} must have {k} classes, found {len(classes)} under {base}")
        keep = _per_class_limit(tr_y, k, max_train_per_class, f"{name}-train")
        tr_x, tr_y = tr_x[keep], tr_y[keep]
        keep = _per_class_limit(te_y, k, max_heldout_per_class, f"{name}-test")
        te_x, te_y = te_x[keep], te_y[keep]
        info = {"source": f"torchvision:{base}"}
    info.update(max_train_per_class=max_train_per_class, max_heldout_per_class=max_heldout_per_class)
    mk = lambda x, y: TensorSplit(x, y, num_classes=k, mean=CIFAR_MEAN, std=CIFAR_STD, augment_mode="crop")  # noqa: E731
    return mk(tr_x, tr_y), mk(te_x, te_y), classes, info


def _imagefolder_source(root, *, path=None, image_size=None, resize=None, in_memory="auto", max_train_per_class=None,
                        max_heldout_per_class=None, mean=None, std=None, augment_mode="crop_flip", num_workers=0):
    """``<path>/train/<class>/*`` and ``<path>/val/<class>/*`` (or ``test/``); in memory when
    it fits in 2 GiB (``in_memory="auto"``), else decoded on the fly."""
    base = Path(path) if path is not None else data_root(root)
    if not (base / "train").is_dir():
        raise LotusError(f"image-folder data set needs {base}/train/<class>/* and {base}/val/<class>/*; {base / 'train'} not found")
    heldout_dir = base / "val" if (base / "val").is_dir() else base / "test"
    if not heldout_dir.is_dir():
        raise LotusError(f"no held-out folder: expected {base}/val/<class>/* (or {base}/test/<class>/*)")
    if in_memory not in (True, False, "auto"):
        raise LotusError(f"in_memory must be True, False or 'auto', got {in_memory!r}")
    tr_paths, tr_y, classes = _list_image_folder(base / "train")
    he_paths, he_y, _ = _list_image_folder(heldout_dir, classes)
    k = len(classes)
    if k < 2:
        raise LotusError(f"an image-folder data set needs at least 2 classes, found {classes} in {base / 'train'}")
    keep = _per_class_limit(tr_y, k, max_train_per_class, f"{base}-train")
    tr_paths, tr_y = [tr_paths[i] for i in keep.tolist()], tr_y[keep]
    keep = _per_class_limit(he_y, k, max_heldout_per_class, f"{base}-heldout")
    he_paths, he_y = [he_paths[i] for i in keep.tolist()], he_y[keep]
    if image_size is None:
        image_size = int(_decode_image(tr_paths[0], None).shape[-1])
    mean = tuple(mean) if mean is not None else IMAGENET_MEAN
    std = tuple(std) if std is not None else IMAGENET_STD
    kw = dict(num_classes=k, image_size=image_size, mean=mean, std=std, augment_mode=augment_mode, resize=resize)
    train = FileSplit(tr_paths, tr_y, **kw)
    held = FileSplit(he_paths, he_y, **kw)
    total_bytes = (len(train) + len(held)) * 3 * image_size * image_size
    if in_memory is True or (in_memory == "auto" and total_bytes < 2 * 1024**3):
        train = train.to_memory(num_workers, cache=True, tag=f"{base.name}-train")
        held = held.to_memory(num_workers, cache=True, tag=f"{base.name}-{heldout_dir.name}")
    return train, held, classes, {"source": f"image-folder:{base}", "image_size": image_size, "resize": resize,
                                  "max_train_per_class": max_train_per_class,
                                  "max_heldout_per_class": max_heldout_per_class}


_MUFAC_CLASSES = list("abcdefgh")


def _mufac_source(root, *, path=None, image_size=128, in_memory="auto", num_workers=0,
                  max_train_per_class=None, max_heldout_per_class=None):
    """MUFAC (facial age, 8 classes a-h): CSVs ``custom_{train,val,test}_dataset.csv`` with
    columns ``image_path`` and ``age_class`` beside folders ``{train,val,test}_images``.

    Per-class caps keep the CSV order (a fixed subsample), so ``"rows:N"`` still means the
    first N kept training rows."""
    import pandas as pd

    base = Path(path) if path is not None else data_root(root) / "mufac"
    if in_memory not in (True, False, "auto"):
        raise LotusError(f"in_memory must be True, False or 'auto', got {in_memory!r}")
    parts = {}
    for part in ("train", "val", "test"):
        csv = base / f"custom_{part}_dataset.csv"
        if not csv.is_file():
            raise LotusError(f"MUFAC file not found: {csv} (expected custom_{{train,val,test}}_dataset.csv "
                             f"and {{train,val,test}}_images/ under {base}; set root=... or $LOTUS_DATA)")
        df = pd.read_csv(csv)
        for col in ("image_path", "age_class"):
            if col not in df.columns:
                raise LotusError(f"{csv} has no column {col!r} (columns: {list(df.columns)})")
        if len(df) == 0:
            raise LotusError(f"{csv} has no rows")
        ages = [str(a).strip() for a in df["age_class"]]
        bad = sorted(set(ages) - set(_MUFAC_CLASSES))
        if bad:
            raise LotusError(f"{csv}: unknown age classes {bad[:8]}; expected {_MUFAC_CLASSES}")
        folder = base / f"{part}_images"
        paths = [str(folder / str(p)) for p in df["image_path"]]
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise LotusError(f"{len(missing)} MUFAC images listed in {csv} are missing, e.g. {missing[0]}")
        labels = torch.tensor([_MUFAC_CLASSES.index(a) for a in ages], dtype=torch.long)
        cap = max_train_per_class if part == "train" else max_heldout_per_class
        keep = _per_class_limit(labels, 8, cap, f"mufac-{part}")
        paths, labels = [paths[i] for i in keep.tolist()], labels[keep]
        split = FileSplit(paths, labels, num_classes=8, image_size=image_size, mean=(0.0,) * 3,
                          std=(1.0,) * 3, augment_mode="flip")
        if in_memory is True or in_memory == "auto":
            split = split.to_memory(num_workers, cache=True, tag=f"mufac-{part}")
        parts[part] = split
    return parts, list(_MUFAC_CLASSES), {"source": f"mufac:{base}", "image_size": image_size,
                                         "max_train_per_class": max_train_per_class,
                                         "max_heldout_per_class": max_heldout_per_class}


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
        with ``train/`` and ``val/`` class folders; ``mufac`` reads ``path=`` or ``<root>/mufac``.
    forget : forget specification: a per-class fraction (``0.1``), ``"count:5"`` (per class),
        a class name (``"cat"`` or ``"class:cat"``) for class unlearning, explicit indices into
        the training set (list / array / tensor, or a boolean mask), or ``"rows:N"`` (first N
        rows). Default ``0.1``; MUFAC's default is its fixed split ``"rows:1062"`` (the first
        1,062 rows of the cleaned training CSV).
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
    kwargs : per data set options: digits ``image_size, noise_std``; imagefolder ``path, image_size, resize,
        in_memory, mean, std, augment_mode, num_workers``; mufac ``path, image_size, in_memory,
        num_workers``. Unknown options are an error.
    """
    name = str(dataset).lower()
    if name not in _DATASETS:
        raise LotusError(f"unknown dataset {dataset!r}; valid: {', '.join(_DATASETS)}")
    unknown = sorted(set(kwargs) - set(_SOURCE_KWARGS[name]))
    if unknown:
        valid = ", ".join(_SOURCE_KWARGS[name]) or "none"
        raise LotusError(f"unknown option(s) {unknown} for dataset {name!r}; valid extra options: {valid}")
    if forget_rule not in ("random", "first"):
        raise LotusError(f"unknown forget_rule {forget_rule!r}; valid: random, first")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise LotusError(f"seed must be an int, got {seed!r}")
    seed = int(seed)
    if forget is None:
        forget = "rows:1062" if name == "mufac" else 0.1
    if not (isinstance(forget, str) and ":" not in forget):
        parse_forget_spec(forget)  # fail fast on malformed specs, before reading any data
    for cap_name, cap in (("max_train_per_class", max_train_per_class), ("max_heldout_per_class", max_heldout_per_class)):
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, Integral) or cap < 1):
            raise LotusError(f"{cap_name} must be an int >= 1 or None, got {cap!r}")
    val_idx = test_idx = None
    if name == "mufac":
        parts, classes, info = _mufac_source(root, max_train_per_class=max_train_per_class,
                                             max_heldout_per_class=max_heldout_per_class, **kwargs)
        train, val, test = parts["train"], parts["val"], parts["test"]
        heldout = None
    else:
        if name == "digits":
            train, heldout, classes, info = _digits_source(root, **kwargs)
            if max_train_per_class or max_heldout_per_class:
                train = train.subset(_per_class_limit(train.labels, 10, max_train_per_class, "digits-train"))
                heldout = heldout.subset(_per_class_limit(heldout.labels, 10, max_heldout_per_class, "digits-held"))
                info.update(max_train_per_class=max_train_per_class, max_heldout_per_class=max_heldout_per_class)
        elif name in ("cifar10", "cifar100"):
            train, heldout, classes, info = _cifar_source(
                root, name=name, download=download, max_train_per_class=max_train_per_class,
                max_heldout_per_class=max_heldout_per_class)
        else:
            train, heldout, classes, info = _imagefolder_source(
                root, max_train_per_class=max_train_per_class,
                max_heldout_per_class=max_heldout_per_class, **kwargs)
        if unseen is not None:
            val, test = None, heldout
        else:
            val_idx, test_idx = _halve_stratified(heldout.labels, len(classes), seed)
            val, test = heldout.subset(val_idx), heldout.subset(test_idx)
    if isinstance(forget, str) and ":" not in forget and forget.strip() in classes:
        forget = f"class:{forget.strip()}"  # a bare class name, even a numeric one such as digits' "3"
    forget_idx, retain_idx, canon = _split_forget_retain(
        train.labels, classes, forget, forget_rule, seed, retain_per_class)
    if unseen is not None:
        if isinstance(unseen, ImageSplit):
            val = unseen
            info["unseen"] = "custom-split"
        elif isinstance(unseen, (str, os.PathLike)):
            val = load_image_folder(unseen, classes=classes, image_size=train.image_shape[-1],
                                    mean=train.mean, std=train.std, augment_mode=train.augment_mode)
            info["unseen"] = str(unseen)
        else:
            raise LotusError(f"unseen must be an image-folder path or an ImageSplit, got {type(unseen).__name__}")
        if val.num_classes != len(classes):
            raise LotusError(f"unseen set has {val.num_classes} classes, {name} has {len(classes)}")
    return UnlearningSplits(
        dataset=name, train=train, forget=train.subset(forget_idx), retain=train.subset(retain_idx),
        val=val, test=test, classes=list(classes), forget_indices=forget_idx, retain_indices=retain_idx,
        forget_spec=canon, seed=seed, forget_rule=forget_rule, source=info,
        val_indices=val_idx, test_indices=test_idx,
    )
