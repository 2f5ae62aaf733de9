"""Your own data: map-style torch ``Dataset`` s as splits of an unlearning benchmark.

:class:`DatasetSplit` is an :class:`~lotus.data.ImageSplit` backed by any map-style
``torch.utils.data.Dataset`` whose items are ``(image, label, ...)`` tuples (torchvision's
``ImageFolder``, ``CIFAR10``, ``TensorDataset``, a ``Subset`` of them) or dicts with an image
and a label entry (``{"image": ..., "label": ...}``, as Hugging Face data sets give). Two
constructors build the :class:`~lotus.data.UnlearningSplits` that :func:`lotus.unlearn` and
:func:`lotus.evaluate` take:

* :func:`from_dataset`: one training Dataset and a forget specification inside it (indices,
  a boolean mask, a per-class fraction, ``"count:5"``, a class), plus held-out data;
* :func:`from_datasets`: a forget Dataset and a retain Dataset given apart.

Both are also reachable as ``UnlearningSplits.from_dataset`` / ``UnlearningSplits.from_datasets``.

How images become batches
-------------------------
Each item's image goes through ``transform`` (for evaluation and, unless a training
transform is given, for training too) or, when a method asks for training augmentation
(``batches(augment=True)``), through ``train_transform``. The result may be

* a **float** tensor ``[C, H, W]`` (e.g. torchvision's ``ToTensor()`` + ``Normalize``): it is the
  model's input as is;
* a **uint8** image (a ``uint8`` tensor ``[C, H, W]``, a PIL image or a ``uint8`` array
  ``[H, W, C]``): it is scaled to ``[0, 1]`` and normalised with the split's ``mean`` / ``std``,
  and ``augment=True`` without a ``train_transform`` applies the split's ``augment_mode``
  (``"crop"``, ``"crop_flip"``, ``"flip"``), exactly as for the built-in
  :class:`~lotus.data.TensorSplit`.

Batches come from a torch ``DataLoader`` whose batch sampler follows the order
``torch.randperm(N, generator=generator)`` of :meth:`ImageSplit.batches`, so a Dataset split
shuffles exactly as the built-in splits do: on the same images, unlearning and evaluation give
the same numbers, bit for bit. With ``num_workers > 0`` the loader draws its worker seed from
the global random generator (PyTorch's default), so random training transforms in workers vary
from epoch to epoch and are reproducible under a seeded run; with ``num_workers=0`` the global
generator is left alone.
"""

from __future__ import annotations

from numbers import Integral
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from ..utils import LotusError
from .forget import _halve_stratified, _split_forget_retain, canonical_forget
from .splits import ImageSplit, UnlearningSplits, _as_index, _augment, _shard_order, concat_splits

__all__ = ["DatasetSplit", "from_dataset", "from_datasets", "dataset_labels"]

#: keys tried, in order, for the image and the label of a dict item
IMAGE_KEYS = ("image", "img", "pixel_values", "x", "input")
LABEL_KEYS = ("label", "labels", "target", "y", "fine_label")


def _parse_item(item, i: int):
    """``(image, label)`` of one Dataset item (a tuple / list, or a dict)."""
    if isinstance(item, (tuple, list)):
        if len(item) < 2:
            raise LotusError(f"dataset item {i} is a {type(item).__name__} of length {len(item)}; "
                             "expected (image, label, ...)")
        return item[0], item[1]
    if isinstance(item, dict):
        img = next((item[k] for k in IMAGE_KEYS if k in item), None)
        lab = next((item[k] for k in LABEL_KEYS if k in item), None)
        if img is None or lab is None:
            raise LotusError(f"dataset item {i} is a dict with keys {list(item)}; expected an image under one of "
                             f"{list(IMAGE_KEYS)} and a label under one of {list(LABEL_KEYS)}")
        return img, lab
    raise LotusError(f"dataset item {i} is a {type(item).__name__}; expected an (image, label) tuple or a dict")


def _as_label(y, i: int) -> int:
    if isinstance(y, torch.Tensor):
        if y.numel() != 1:
            raise LotusError(f"the label of dataset item {i} has shape {tuple(y.shape)}; expected one class index")
        y = y.item()
    if isinstance(y, (bool, np.bool_)) or not isinstance(y, (Integral, np.integer)):
        raise LotusError(f"the label of dataset item {i} is {y!r}; expected an int class index")
    return int(y)


def _as_chw(x, i: int) -> torch.Tensor:
    """An image as a ``[C, H, W]`` tensor: tensors as they are (``[H, W]`` gets a channel),
    PIL images and numpy arrays read as ``[H, W(, C)]``."""
    if isinstance(x, torch.Tensor):
        t = x
    elif isinstance(x, np.ndarray) or hasattr(x, "__array_interface__"):  # numpy, PIL
        a = np.ascontiguousarray(np.asarray(x))
        t = torch.from_numpy(a if a.flags.writeable else a.copy())
        t = t[None] if t.ndim == 2 else t.permute(2, 0, 1) if t.ndim == 3 else t
    else:
        raise LotusError(f"the image of dataset item {i} is a {type(x).__name__}; give a transform that returns a "
                         "tensor [C, H, W] (e.g. torchvision.transforms.ToTensor())")
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3:
        raise LotusError(f"the image of dataset item {i} has shape {tuple(t.shape)}; expected [C, H, W]")
    if not (t.is_floating_point() or t.dtype == torch.uint8):
        raise LotusError(f"the image of dataset item {i} has dtype {t.dtype}; expected a float or uint8 tensor")
    return t


class _Items(Dataset):
    """``(image [C, H, W], label, position)`` of ``dataset`` after ``transform``."""

    def __init__(self, dataset, transform: Callable | None):
        self.dataset = dataset
        self.transform = transform

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        x, y = _parse_item(self.dataset[i], i)
        if self.transform is not None:
            x = self.transform(x)
        return _as_chw(x, i), _as_label(y, i), i


def _collate(batch):
    xs, ys, idx = zip(*batch)
    shapes = {tuple(x.shape) for x in xs}
    dtypes = {x.dtype for x in xs}
    if len(shapes) > 1 or len(dtypes) > 1:
        raise LotusError(f"the images of one batch differ in shape or dtype ({sorted(shapes)[:3]}, {sorted(map(str, dtypes))}); "
                         "give a transform that resizes / crops every image to one size")
    return torch.stack(xs), torch.tensor(ys, dtype=torch.long), torch.tensor(idx, dtype=torch.long)


def dataset_labels(dataset) -> torch.Tensor:
    """``LongTensor[N]``: the label of every item of a map-style ``dataset``.

    Read without loading images where the dataset says them: ``Subset`` and ``ConcatDataset``
    through their parts, a ``targets`` attribute (torchvision data sets) or ``labels``; else one
    pass over the items (this loads every image once)."""
    if isinstance(dataset, Subset):
        return dataset_labels(dataset.dataset)[torch.as_tensor(np.asarray(dataset.indices), dtype=torch.long)]
    if isinstance(dataset, ConcatDataset):
        return torch.cat([dataset_labels(d) for d in dataset.datasets])
    n = len(dataset)
    for attr in ("targets", "labels"):
        t = getattr(dataset, attr, None)
        if t is None or isinstance(t, str):
            continue
        try:
            t = torch.as_tensor(np.asarray(t))
        except (TypeError, ValueError, RuntimeError):
            continue
        if t.ndim == 1 and t.numel() == n and not t.is_floating_point() and t.dtype != torch.bool:
            return t.long()
    from tqdm import tqdm

    return torch.tensor([_as_label(_parse_item(dataset[i], i)[1], i)
                         for i in tqdm(range(n), desc="reading labels", leave=False, disable=n < 5000)],
                        dtype=torch.long)


def _dataset_classes(dataset) -> list | None:
    """The ``classes`` attribute of a dataset (through ``Subset`` / ``ConcatDataset``), if any."""
    while isinstance(dataset, (Subset, ConcatDataset)):
        dataset = dataset.dataset if isinstance(dataset, Subset) else dataset.datasets[0]
    classes = getattr(dataset, "classes", None)
    return [str(c) for c in classes] if isinstance(classes, (list, tuple)) and classes else None


def _is_map_dataset(obj) -> bool:
    return hasattr(obj, "__getitem__") and hasattr(obj, "__len__") and not isinstance(obj, (str, bytes, ImageSplit))


class DatasetSplit(ImageSplit):
    """An :class:`~lotus.data.ImageSplit` backed by a map-style torch ``Dataset`` (see the module
    docstring for how items become batches).

    ``labels`` (``LongTensor[N]``) saves reading them (:func:`dataset_labels` otherwise);
    ``num_classes`` defaults to ``len(dataset.classes)``, else the largest label + 1.
    ``transform`` / ``train_transform``: callables on an item's image (evaluation / training
    augmentation). ``mean`` / ``std`` / ``augment_mode`` apply to uint8 images only.
    ``num_workers``: loader processes when a caller asks for none.
    """

    def __init__(self, dataset, *, num_classes: int | None = None, labels=None, transform: Callable | None = None,
                 train_transform: Callable | None = None, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,),
                 augment_mode: str | None = None, num_workers: int = 0):
        if not _is_map_dataset(dataset):
            raise LotusError(f"expected a map-style torch Dataset (with __getitem__ and __len__), got {type(dataset).__name__}")
        for name, fn in (("transform", transform), ("train_transform", train_transform)):
            if fn is not None and not callable(fn):
                raise LotusError(f"{name} must be callable, got {type(fn).__name__}")
        if augment_mode not in (None, "crop", "crop_flip", "flip"):
            raise LotusError(f"augment_mode must be None, 'crop', 'crop_flip' or 'flip', got {augment_mode!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, Integral) or num_workers < 0:
            raise LotusError(f"num_workers must be an int >= 0, got {num_workers!r}")
        self.dataset = dataset
        self.labels = dataset_labels(dataset) if labels is None else torch.as_tensor(labels, dtype=torch.long).flatten()
        if self.labels.numel() != len(dataset):
            raise LotusError(f"{self.labels.numel()} labels for a dataset of {len(dataset)} items")
        if num_classes is None:
            classes = _dataset_classes(dataset)
            num_classes = len(classes) if classes else (int(self.labels.max()) + 1 if self.labels.numel() else 0)
        if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 2:
            raise LotusError(f"num_classes must be an int >= 2, got {num_classes!r}")
        if self.labels.numel() and (int(self.labels.min()) < 0 or int(self.labels.max()) >= int(num_classes)):
            raise LotusError(f"labels must lie in [0, {num_classes}), got [{int(self.labels.min())}, {int(self.labels.max())}]")
        self.num_classes = int(num_classes)
        self.transform = transform
        self.train_transform = train_transform
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.augment_mode = augment_mode
        self.num_workers = int(num_workers)
        self._shape = None

    def _options(self) -> dict:
        return dict(num_classes=self.num_classes, transform=self.transform, train_transform=self.train_transform,
                    mean=self.mean, std=self.std, augment_mode=self.augment_mode, num_workers=self.num_workers)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        if self._shape is None:
            if len(self) == 0:
                raise LotusError("an empty split has no image shape")
            self._shape = tuple(_Items(self.dataset, self.transform)[0][0].shape)
        return self._shape

    def _loader(self, order: torch.Tensor, batch_size: int, num_workers: int, transform):
        """Yield ``(images [B, C, H, W], item labels [B], positions [B])`` in ``order``."""
        nw = int(num_workers or self.num_workers)
        sampler = [order[s:s + batch_size].tolist() for s in range(0, order.numel(), batch_size)]
        loader = DataLoader(_Items(self.dataset, transform), batch_sampler=sampler, num_workers=nw,
                            collate_fn=_collate, pin_memory=nw > 0 and torch.cuda.is_available(),
                            # without workers the loader's seed is unused: draw it from a private
                            # generator so that the global random state is left alone
                            generator=None if nw else torch.Generator())
        yield from loader

    def _raw_batches(self, order, batch_size, num_workers):
        for x, _, idx in self._loader(order, batch_size, num_workers, self.transform):
            yield x, idx

    def batches(self, batch_size: int = 256, *, shuffle: bool = False, augment: bool = False,
                generator: torch.Generator | None = None, drop_last: bool = False, device="cpu",
                with_index: bool = False, num_workers: int = 0, channels_last: bool = False,
                shard: tuple[int, int] | None = None):
        """As :meth:`lotus.data.ImageSplit.batches`; ``augment=True`` uses ``train_transform`` when
        given (else the ``augment_mode`` of uint8 images)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
            raise LotusError(f"batch_size must be an int >= 1, got {batch_size!r}")
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        if drop_last:
            order = order[: (n // batch_size) * batch_size]
        order, local_bs, rows = _shard_order(order, int(batch_size), shard)
        by_transform = augment and self.train_transform is not None
        dev = torch.device(device)
        mean = torch.tensor(self.mean, device=dev).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=dev).view(1, -1, 1, 1)
        tf = self.train_transform if by_transform else self.transform
        for step, (raw, y_item, idx) in enumerate(self._loader(order, local_bs, num_workers, tf)):
            y = self.labels[idx]
            if not torch.equal(y, y_item):
                j = int((y != y_item).nonzero()[0, 0])
                raise LotusError(f"item {int(idx[j])} of the dataset has label {int(y_item[j])} but the split's labels "
                                 f"say {int(y[j])} (labels given that do not match the data?)")
            if raw.is_floating_point():  # the transform made the model's input
                x = raw.to(dev, non_blocking=True).float()
            else:  # uint8 pixels: the built-in pipeline
                x = raw.to(dev, non_blocking=True).float().div_(255.0)
                if augment and not by_transform:
                    x = _augment(x, self.augment_mode, generator, rows[step] if rows else None)
                x = (x - mean) / std
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = y.to(dev, non_blocking=True)
            yield (x, y, idx.to(dev)) if with_index else (x, y)

    def subset(self, indices) -> "DatasetSplit":
        idx = _as_index(indices, len(self))
        return DatasetSplit(Subset(self.dataset, idx.tolist()), labels=self.labels[idx], **self._options())

    @classmethod
    def _concat(cls, splits: Sequence["DatasetSplit"]) -> "DatasetSplit":
        first = splits[0]
        for s in splits[1:]:
            if s._options() != first._options():
                raise LotusError("cannot concatenate Dataset splits with different transforms, classes or normalisation")
        return DatasetSplit(ConcatDataset([s.dataset for s in splits]), labels=torch.cat([s.labels for s in splits]),
                            **first._options())

    def _content_blob(self, h) -> None:
        # the pixels the evaluation pipeline yields (one pass over the data)
        for x, idx in self._raw_batches(torch.arange(len(self)), 256, 0):
            h.update(repr((str(x.dtype), tuple(x.shape))).encode())
            h.update(memoryview(x.contiguous().numpy()).cast("B"))

    def __repr__(self) -> str:
        return f"DatasetSplit({type(self.dataset).__name__}, n={len(self)}, classes={self.num_classes})"


# ---------------------------------------------------------------------------------------
# Constructors of UnlearningSplits
# ---------------------------------------------------------------------------------------


def _as_split(obj, what: str, labels=None, **opts) -> ImageSplit:
    if isinstance(obj, ImageSplit):
        if obj.num_classes != opts["num_classes"]:
            raise LotusError(f"{what} has {obj.num_classes} classes, the other splits {opts['num_classes']}")
        return obj
    if not _is_map_dataset(obj):
        raise LotusError(f"{what} must be a map-style torch Dataset or an ImageSplit, got {type(obj).__name__}")
    return DatasetSplit(obj, labels=labels, **opts)


def _resolve_classes(datasets: dict, num_classes, classes, known: dict | None = None) -> tuple[int, list[str], dict]:
    """Number of classes and class names for the given parts, and their labels (read once;
    ``known`` gives labels of some parts)."""
    known = {k: torch.as_tensor(v, dtype=torch.long).flatten() for k, v in (known or {}).items() if v is not None}
    labels = {k: known[k] if k in known else v.labels if isinstance(v, ImageSplit) else dataset_labels(v)
              for k, v in datasets.items() if v is not None}
    if classes is not None:
        classes = [str(c) for c in classes]
    first = next(v for v in datasets.values() if v is not None)
    found = classes or (_dataset_classes(first) if not isinstance(first, ImageSplit) else None)
    if num_classes is None:
        num_classes = len(found) if found else max((int(t.max()) + 1 for t in labels.values() if t.numel()), default=0)
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 2:
        raise LotusError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if classes is not None and len(classes) != num_classes:
        raise LotusError(f"{len(classes)} class names for {num_classes} classes")
    names = found if found and len(found) == num_classes else [str(i) for i in range(int(num_classes))]
    return int(num_classes), names, labels


def _held_out(heldout, unseen, test, seed: int, k: int, labels: dict, opts: dict):
    """``(val, test, val_indices, test_indices)`` from a held-out set (halved, stratified, as
    :func:`lotus.load_splits` does) or from an unseen set and a test set."""
    if heldout is not None:
        if unseen is not None or test is not None:
            raise LotusError("give either heldout= (halved into the unseen set and the test set) or unseen= and test=, not both")
        held = _as_split(heldout, "heldout", labels.get("heldout"), **opts)
        val_idx, test_idx = _halve_stratified(held.labels, k, seed)
        return held.subset(val_idx), held.subset(test_idx), val_idx, test_idx
    if unseen is None or test is None:
        raise LotusError("the evaluation needs unseen data: give heldout= (halved into the unseen set D_u and a test "
                         "set, as lotus.load_splits does), or both unseen= and test=")
    return (_as_split(unseen, "unseen", labels.get("unseen"), **opts),
            _as_split(test, "test", labels.get("test"), **opts), None, None)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise LotusError(f"seed must be an int, got {seed!r}")
    return int(seed)


def from_dataset(dataset, *, forget, heldout=None, unseen=None, test=None, num_classes: int | None = None,
                 classes: Sequence[str] | None = None, labels=None, seed: int = 0, forget_rule: str = "random",
                 retain_per_class: int | None = None, transform: Callable | None = None,
                 train_transform: Callable | None = None, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,),
                 augment_mode: str | None = None, num_workers: int = 0, name: str = "custom") -> UnlearningSplits:
    """:class:`~lotus.data.UnlearningSplits` of one training ``Dataset``, its forget samples
    marked by ``forget``.

    Parameters
    ----------
    dataset : the training set of the original model (a map-style torch ``Dataset``).
    forget : which of its samples to forget, as :func:`lotus.load_splits` reads it: positions
        (a list, array or tensor of ints) or a boolean mask over ``dataset``, a per-class
        fraction (``0.1``), ``"count:5"`` per class, a class (``"class:cat"``) or ``"rows:N"``.
        Every other sample is retained.
    heldout : data the model never saw, halved per class (seeded) into the unseen set D_u and the
        test set, as :func:`lotus.load_splits` does; or give ``unseen`` and ``test`` apart.
    num_classes, classes : default ``dataset.classes`` (torchvision), else the largest label + 1.
    labels : the labels of ``dataset`` (``LongTensor[N]``), if reading them is slow.
    seed : draws random forget specs and the halving of ``heldout``.
    transform, train_transform, mean, std, augment_mode, num_workers : how items become batches
        (``DatasetSplit``); they apply to every part given as a Dataset.
    name : the data set's name in reports.

    ``unseen`` / ``test`` / ``heldout`` may also be :class:`~lotus.data.ImageSplit` s.
    """
    seed = _check_seed(seed)
    k, names, lab = _resolve_classes({"train": dataset, "heldout": heldout, "unseen": unseen, "test": test},
                                     num_classes, classes, known={"train": labels})
    opts = dict(num_classes=k, transform=transform, train_transform=train_transform, mean=mean, std=std,
                augment_mode=augment_mode, num_workers=num_workers)
    train = _as_split(dataset, "dataset", lab["train"], **opts)
    if isinstance(forget, str) and ":" not in forget and forget.strip() in names:
        forget = f"class:{forget.strip()}"
    forget_idx, retain_idx, canon = _split_forget_retain(train.labels, names, forget, forget_rule, seed,
                                                         retain_per_class)
    val, test_split, val_idx, test_idx = _held_out(heldout, unseen, test, seed, k, lab, opts)
    return UnlearningSplits(
        dataset=str(name), train=train, forget=train.subset(forget_idx), retain=train.subset(retain_idx),
        val=val, test=test_split, classes=names, forget_indices=forget_idx, retain_indices=retain_idx,
        forget_spec=canon, seed=seed, forget_rule=forget_rule, source={"source": "torch-dataset"},
        val_indices=val_idx, test_indices=test_idx,
    )


def from_datasets(*, forget, retain, heldout=None, unseen=None, test=None, num_classes: int | None = None,
                  classes: Sequence[str] | None = None, seed: int = 0, transform: Callable | None = None,
                  train_transform: Callable | None = None, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,),
                  augment_mode: str | None = None, num_workers: int = 0, name: str = "custom") -> UnlearningSplits:
    """:class:`~lotus.data.UnlearningSplits` of a forget set and a retain set given apart.

    ``forget`` (D_f) and ``retain`` (D_r) are map-style torch ``Dataset`` s (or
    :class:`~lotus.data.ImageSplit` s of one kind); together they are the original model's
    training set ``train`` (forget first: ``forget_indices`` are ``0 .. len(forget) - 1``).
    ``heldout`` is halved (stratified, seeded) into the unseen set D_u and the test set; or
    give ``unseen`` and ``test``. The other arguments are those of :func:`from_dataset`.
    """
    seed = _check_seed(seed)
    k, names, lab = _resolve_classes({"forget": forget, "retain": retain, "heldout": heldout, "unseen": unseen,
                                      "test": test}, num_classes, classes)
    opts = dict(num_classes=k, transform=transform, train_transform=train_transform, mean=mean, std=std,
                augment_mode=augment_mode, num_workers=num_workers)
    f = _as_split(forget, "forget", lab["forget"], **opts)
    r = _as_split(retain, "retain", lab["retain"], **opts)
    if len(f) == 0:
        raise LotusError("the forget set is empty")
    if len(r) == 0:
        raise LotusError("the retain set is empty")
    train = concat_splits([f, r])
    forget_idx = torch.arange(len(f))
    retain_idx = torch.arange(len(f), len(f) + len(r))
    val, test_split, val_idx, test_idx = _held_out(heldout, unseen, test, seed, k, lab, opts)
    return UnlearningSplits(
        dataset=str(name), train=train, forget=f, retain=r, val=val, test=test_split, classes=names,
        forget_indices=forget_idx, retain_indices=retain_idx, forget_spec=canonical_forget(forget_idx), seed=seed,
        source={"source": "torch-datasets"}, val_indices=val_idx, test_indices=test_idx,
    )


# the constructors as UnlearningSplits.from_dataset / .from_datasets (defined here, beside the
# Dataset split they build; lotus.data imports this module, so they are always attached)
UnlearningSplits.from_dataset = staticmethod(from_dataset)
UnlearningSplits.from_datasets = staticmethod(from_datasets)
