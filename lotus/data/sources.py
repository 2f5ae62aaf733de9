"""Data sources behind a registry, and :func:`load_splits`, the one entry point.

A *source* turns a data root and its options into a training set and a held-out set (or a
fixed val / test pair). It is registered with :func:`register_source`, which records its
:class:`SourceInfo` (loader, accepted options, a one-line summary, the default forget spec);
:func:`load_splits` looks the source up, rejects options it did not declare, loads it and
draws the forget / retain / val / test partition (:mod:`lotus.data.forget`).

Registered sources
------------------
``digits``
    scikit-learn's 8x8 digits (always offline), upsampled; options ``image_size, noise_std``.
``cifar10``, ``cifar100``
    CIFAR from ``<root>/<name>/{train,test}/<class>/*`` image folders when present, else
    through torchvision (``download=True`` fetches it).
``imagefolder``
    any ``<path>/train/<class>/*`` + ``<path>/val/<class>/*`` tree (ImageNet protocol);
    options ``path, image_size, resize, in_memory, mean, std, augment_mode, num_workers``.
``mufac``
    MUFAC facial-age CSVs with a fixed forget set; options ``path, image_size, in_memory,
    num_workers``.
``tinyimagenet``
    Tiny-ImageNet in the layout of its official zip (:mod:`lotus.data.layouts`), 64 px;
    options ``path, image_size, in_memory, num_workers, class_names``.
``imagenet1k``
    ImageNet-1k as ``<root>/imagenet1k/{train,val}/<wnid>/*.JPEG`` (``Resize(256)`` +
    ``CenterCrop(224)``); options ``path, image_size, resize, in_memory, num_workers``.

A new source:

>>> @register_source("mine", options=("path",), summary="my images")
... def _mine(root, *, download, max_train_per_class, max_heldout_per_class, path=None):
...     return SourceData(train=..., classes=[...], heldout=..., info={"source": "mine"})
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from ..utils import LotusError, make_generator
from .decode import _decode_image, decode_cached, list_image_folder
from .forget import _halve_stratified, _split_forget_retain, parse_forget_spec
from .layouts import CIFAKE_LAYOUT, TINYIMAGENET_LAYOUT, list_tinyimagenet
from .sampling import complement, fixed_subsample, per_class_subset
from .splits import (
    CIFAR_MEAN,
    CIFAR_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    FileSplit,
    ImageSplit,
    TensorSplit,
    UnlearningSplits,
)

__all__ = [
    "SourceData",
    "SourceInfo",
    "register_source",
    "list_datasets",
    "source_info",
    "data_root",
    "load_image_folder",
    "load_splits",
]


@dataclass
class SourceData:
    """What a source's loader returns.

    ``train``: the training set (``forget`` and ``retain`` are drawn from it); ``classes``: the
    class names, in label order. Either ``heldout`` (halved, stratified and seeded, into val /
    test by :func:`load_splits`) or a fixed ``val`` and ``test`` pair (MUFAC). ``info``: what
    identifies the data (recorded in ``UnlearningSplits.source`` and its fingerprint).
    """

    train: ImageSplit
    classes: list[str]
    heldout: ImageSplit | None = None
    val: ImageSplit | None = None
    test: ImageSplit | None = None
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SourceInfo:
    """A registered data source.

    ``loader(root, *, download, max_train_per_class, max_heldout_per_class, **options) ->
    SourceData``; ``options``: the extra keyword arguments of :func:`load_splits` it accepts;
    ``default_forget``: the forget spec used when ``load_splits`` gets ``forget=None``.
    """

    name: str
    loader: Callable[..., SourceData]
    options: tuple[str, ...] = ()
    summary: str = ""
    default_forget: object = 0.1


_REGISTRY: dict[str, SourceInfo] = {}


def register_source(name: str, *, options=(), summary: str = "", default_forget=0.1):
    """Decorator: register ``loader(root, *, download, max_train_per_class,
    max_heldout_per_class, **options) -> SourceData`` under ``name`` (lower case), with the
    options it accepts (:class:`SourceInfo`). The per-class caps are passed to every loader,
    already validated (an int >= 1 or ``None``); a loader applies them as a fixed subsample."""
    if not isinstance(name, str) or not name or name != name.lower():
        raise LotusError(f"a source name must be a non-empty lower-case string, got {name!r}")
    options = tuple(options)
    if not all(isinstance(o, str) for o in options):
        raise LotusError(f"source options must be names (strings), got {options!r}")
    reserved = sorted(set(options) & {"root", "download", "max_train_per_class", "max_heldout_per_class"})
    if reserved:
        raise LotusError(f"source {name!r} declares options {reserved} that every source receives anyway")

    def deco(fn):
        if name in _REGISTRY:
            raise LotusError(f"data source {name!r} is already registered")
        _REGISTRY[name] = SourceInfo(name, fn, options, summary, default_forget)
        return fn

    return deco


def list_datasets() -> list[str]:
    """Names accepted by :func:`load_splits` (in registration order)."""
    return list(_REGISTRY)


def source_info(name: str) -> SourceInfo:
    """The :class:`SourceInfo` of the data source ``name`` (case-insensitive); a
    :class:`LotusError` names the valid sources otherwise."""
    key = name.lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise LotusError(f"unknown dataset {name!r}; valid: {', '.join(list_datasets())}")
    return _REGISTRY[key]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: ``root`` if given, else ``$LOTUS_DATA``, else ``~/.cache/lotus/data``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("LOTUS_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "lotus" / "data"


# ---------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------


@register_source("digits", options=("image_size", "noise_std"),
                 summary="scikit-learn's 8x8 digits (1,797 images, offline), upsampled; 10 classes")
def _digits_source(root, *, download=False, max_train_per_class=None, max_heldout_per_class=None,
                   image_size=32, noise_std=0.0):
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
    # a fixed "official" split: 2/3 of every class for training, the rest held out
    train_idx = per_class_subset(y, 2 * torch.bincount(y, minlength=10) // 3, make_generator(0, "digits-official"))
    held_idx = complement(train_idx, y.numel())
    xf = x[train_idx].float() / 255
    mean = tuple(xf.mean(dim=(0, 2, 3)).tolist())
    std = tuple(xf.std(dim=(0, 2, 3)).tolist())
    mk = lambda idx: TensorSplit(x[idx], y[idx], num_classes=10, mean=mean, std=std, augment_mode="crop")  # noqa: E731
    info = {"source": "sklearn-digits", "image_size": int(image_size)}
    if noise_std > 0:
        info["noise_std"] = float(noise_std)
    train, held = mk(train_idx), mk(held_idx)
    if max_train_per_class or max_heldout_per_class:
        train = train.subset(fixed_subsample(train.labels, max_train_per_class, "digits-train"))
        held = held.subset(fixed_subsample(held.labels, max_heldout_per_class, "digits-held"))
        info.update(max_train_per_class=max_train_per_class, max_heldout_per_class=max_heldout_per_class)
    return SourceData(train, classes, heldout=held, info=info)


def _cifar_source(root, *, name, download=False, max_train_per_class=None, max_heldout_per_class=None):
    """CIFAR-10/100 from ``<root>/<name>/{train,test}/<class>/*`` image folders when present
    (decoded once, cached), else through torchvision (``download=True`` fetches it)."""
    base = data_root(root) / name
    k = 10 if name == "cifar10" else 100
    if (base / "train").is_dir() and (base / "test").is_dir():
        tr_paths, tr_y, classes = list_image_folder(base / "train")
        te_paths, te_y, _ = list_image_folder(base / "test", classes)
        if len(classes) != k:
            raise LotusError(f"{name} must have {k} classes, found {len(classes)} under {base / 'train'}")
        # the whole folder is decoded and cached once; the per-class caps index it
        keep = fixed_subsample(tr_y, max_train_per_class, f"{name}-train")
        tr_x, tr_y = decode_cached(tr_paths, 32, keep=keep, tag=f"{name}-train"), tr_y[keep]
        keep = fixed_subsample(te_y, max_heldout_per_class, f"{name}-test")
        te_x, te_y = decode_cached(te_paths, 32, keep=keep, tag=f"{name}-test"), te_y[keep]
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
        keep = fixed_subsample(tr_y, max_train_per_class, f"{name}-train")
        tr_x, tr_y = tr_x[keep], tr_y[keep]
        keep = fixed_subsample(te_y, max_heldout_per_class, f"{name}-test")
        te_x, te_y = te_x[keep], te_y[keep]
        info = {"source": f"torchvision:{base}"}
    info.update(max_train_per_class=max_train_per_class, max_heldout_per_class=max_heldout_per_class)
    mk = lambda x, y: TensorSplit(x, y, num_classes=k, mean=CIFAR_MEAN, std=CIFAR_STD, augment_mode="crop")  # noqa: E731
    return SourceData(mk(tr_x, tr_y), classes, heldout=mk(te_x, te_y), info=info)


@register_source("cifar10", summary="CIFAR-10 (image folders under the data root, else torchvision); 10 classes")
def _cifar10_source(root, **kw):
    return _cifar_source(root, name="cifar10", **kw)


@register_source("cifar100", summary="CIFAR-100 (image folders under the data root, else torchvision); 100 classes")
def _cifar100_source(root, **kw):
    return _cifar_source(root, name="cifar100", **kw)


@register_source("imagefolder",
                 options=("path", "image_size", "resize", "in_memory", "mean", "std", "augment_mode", "num_workers"),
                 summary="a <path>/train/<class>/* + <path>/val/<class>/* tree (ImageNet protocol)")
def _imagefolder_source(root, *, download=False, path=None, image_size=None, resize=None, in_memory="auto",
                        max_train_per_class=None, max_heldout_per_class=None, mean=None, std=None,
                        augment_mode="crop_flip", num_workers=0):
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
    tr_paths, tr_y, classes = list_image_folder(base / "train")
    he_paths, he_y, _ = list_image_folder(heldout_dir, classes)
    k = len(classes)
    if k < 2:
        raise LotusError(f"an image-folder data set needs at least 2 classes, found {classes} in {base / 'train'}")
    keep_tr = fixed_subsample(tr_y, max_train_per_class, "imagefolder-train")
    keep_he = fixed_subsample(he_y, max_heldout_per_class, "imagefolder-heldout")
    if image_size is None:
        image_size = int(_decode_image(tr_paths[int(keep_tr[0])], None).shape[-1])
    mean = tuple(mean) if mean is not None else IMAGENET_MEAN
    std = tuple(std) if std is not None else IMAGENET_STD
    total_bytes = (keep_tr.numel() + keep_he.numel()) * 3 * image_size * image_size
    memory = in_memory is True or (in_memory == "auto" and total_bytes < 2 * 1024**3)
    kw = dict(num_classes=k, image_size=image_size, mean=mean, std=std, augment_mode=augment_mode, resize=resize,
              in_memory=memory, num_workers=num_workers)
    train = _folder_split(tr_paths, tr_y, keep_tr, tag=f"{base.name}-train", **kw)
    held = _folder_split(he_paths, he_y, keep_he, tag=f"{base.name}-{heldout_dir.name}", **kw)
    info = {"source": f"image-folder:{base}", "image_size": image_size, "resize": resize,
            "max_train_per_class": max_train_per_class, "max_heldout_per_class": max_heldout_per_class}
    return SourceData(train, classes, heldout=held, info=info)


_MUFAC_CLASSES = list("abcdefgh")


@register_source("mufac", options=("path", "image_size", "in_memory", "num_workers"), default_forget="rows:1062",
                 summary="MUFAC facial age (8 classes), fixed val/test and forget set (the first 1,062 rows)")
def _mufac_source(root, *, download=False, path=None, image_size=128, in_memory="auto", num_workers=0,
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
        keep = fixed_subsample(labels, cap, f"mufac-{part}")
        parts[part] = _folder_split(paths, labels, keep, num_classes=8, image_size=image_size, mean=(0.0,) * 3,
                                    std=(1.0,) * 3, augment_mode="flip", in_memory=in_memory in (True, "auto"),
                                    num_workers=num_workers, tag=f"mufac-{part}")
    info = {"source": f"mufac:{base}", "image_size": image_size, "max_train_per_class": max_train_per_class,
            "max_heldout_per_class": max_heldout_per_class}
    return SourceData(parts["train"], list(_MUFAC_CLASSES), val=parts["val"], test=parts["test"], info=info)


#: the normalisation of the paper's Tiny-ImageNet loader (spec 6.2: its 0-255 statistics / 255)
TINYIMAGENET_MEAN = (122.4786 / 255, 114.2755 / 255, 101.3963 / 255)
TINYIMAGENET_STD = (70.4924 / 255, 68.5679 / 255, 71.8127 / 255)


@register_source("tinyimagenet", options=("path", "image_size", "in_memory", "num_workers", "class_names"),
                 summary="Tiny-ImageNet (200 classes, 64 px) in the layout of its official zip")
def _tinyimagenet_source(root, *, download=False, path=None, image_size=64, in_memory="auto", num_workers=0,
                         class_names="words", max_train_per_class=None, max_heldout_per_class=None):
    """Tiny-ImageNet: ``path``, else ``<root>/tinyimagenet``, else ``<root>/tiny-imagenet-200``,
    in the layout of the official zip (:func:`lotus.data.layouts.list_tinyimagenet`). The
    official validation set (10,000 images, labels from ``val/val_annotations.txt``) is the
    held-out set, halved into val (D_u) and test as in the paper (spec 6.1).

    Images are 64 px (``image_size`` resizes them); the paper's ViT resizes them to 224 inside
    the model (:func:`lotus.create_model`), as its ``Resize(224)`` transform did. Normalised
    with the authors' statistics; training augmentation: a random 64 px crop of the image
    zero-padded by 8 px, and a horizontal flip (the authors pad by repeating the edge pixels).
    Class names come from ``words.txt`` (the first name of each WordNet id, e.g. ``"pizza"``;
    ``class_names="wnid"`` keeps the ids). In memory when it fits in 2 GiB (the whole data set
    at 64 px does: 1.3 GB), decoded once and cached.
    """
    if path is not None:
        base = Path(path).expanduser()
    else:
        candidates = [data_root(root) / "tinyimagenet", data_root(root) / "tiny-imagenet-200"]
        base = next((c for c in candidates if c.is_dir()), None)
        if base is None:
            raise LotusError(f"Tiny-ImageNet not found: neither {candidates[0]} nor {candidates[1]} exists. "
                             f"Unzip tiny-imagenet-200.zip under the data root (root=... or $LOTUS_DATA), or pass "
                             f"path=...; expected {TINYIMAGENET_LAYOUT}")
    if in_memory not in (True, False, "auto"):
        raise LotusError(f"in_memory must be True, False or 'auto', got {in_memory!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, Integral) or image_size < 8:
        raise LotusError(f"tinyimagenet image_size must be an int >= 8, got {image_size!r}")
    tr_paths, tr_y, he_paths, he_y, classes, _ = list_tinyimagenet(base, class_names)
    keep_tr = fixed_subsample(tr_y, max_train_per_class, "tinyimagenet-train")
    keep_he = fixed_subsample(he_y, max_heldout_per_class, "tinyimagenet-val")
    total_bytes = (len(tr_paths) + len(he_paths)) * 3 * int(image_size) ** 2
    memory = in_memory is True or (in_memory == "auto" and total_bytes < 2 * 1024**3)
    kw = dict(num_classes=len(classes), image_size=int(image_size), mean=TINYIMAGENET_MEAN, std=TINYIMAGENET_STD,
              augment_mode="crop_flip", in_memory=memory, num_workers=num_workers)
    train = _folder_split(tr_paths, tr_y, keep_tr, tag="tinyimagenet-train", **kw)
    held = _folder_split(he_paths, he_y, keep_he, tag="tinyimagenet-val", **kw)
    info = {"source": f"tinyimagenet:{base}", "image_size": int(image_size), "class_names": class_names,
            "max_train_per_class": max_train_per_class, "max_heldout_per_class": max_heldout_per_class}
    return SourceData(train, classes, heldout=held, info=info)


@register_source("imagenet1k", options=("path", "image_size", "resize", "in_memory", "num_workers"),
                 default_forget="count:5",
                 summary="ImageNet-1k as train/<wnid>/ + val/<wnid>/ image folders, 224 px (the paper's Table 4)")
def _imagenet1k_source(root, *, download=False, path=None, image_size=224, resize=256, in_memory="auto",
                       num_workers=0, max_train_per_class=None, max_heldout_per_class=None):
    """ImageNet-1k: ``path``, else ``<root>/imagenet1k``, holding ``train/<wnid>/*.JPEG`` and
    the official validation images sorted the same way, ``val/<wnid>/*.JPEG`` (the layout of
    ``torchvision.datasets.ImageFolder``; classes are the sorted WordNet ids, the label order
    of the pre-trained ImageNet models). Images are resized to 256 px on the shorter side and
    centre-cropped to 224 (spec 6.2), normalised with the ImageNet statistics. The held-out
    set (50,000 images) is halved into val (D_u) and test, as the authors' code does (the
    paper says 5,000 each; spec 6.1). Read from disk on the fly unless it fits in 2 GiB.
    """
    base = Path(path).expanduser() if path is not None else data_root(root) / "imagenet1k"
    if not (base / "train").is_dir() or not (base / "val").is_dir():
        raise LotusError(f"ImageNet-1k not found: expected {base}/train/<wnid>/*.JPEG and {base}/val/<wnid>/*.JPEG "
                         "(the validation images sorted into one folder per class); set the data root "
                         "(root=... or $LOTUS_DATA) or pass path=...")
    data = _imagefolder_source(root, path=base, image_size=image_size, resize=resize, in_memory=in_memory,
                               max_train_per_class=max_train_per_class, max_heldout_per_class=max_heldout_per_class,
                               mean=IMAGENET_MEAN, std=IMAGENET_STD, augment_mode="crop_flip",
                               num_workers=num_workers)
    data.info["source"] = f"imagenet1k:{base}"
    return data


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
    paths, labels, classes = list_image_folder(folder, classes)
    keep = fixed_subsample(labels, limit_per_class, "image-folder")
    if image_size is None:
        image_size = int(_decode_image(paths[int(keep[0])], None).shape[-1])
    return _folder_split(paths, labels, keep, num_classes=len(classes), image_size=image_size, mean=mean, std=std,
                         augment_mode=augment_mode, resize=resize, in_memory=in_memory, cache=cache,
                         num_workers=num_workers, tag=f"{folder.parent.name}-{folder.name}")


def _folder_split(paths, labels, keep, *, in_memory, tag, num_workers=0, cache=True, **kw) -> ImageSplit:
    """The images ``paths[keep]`` with ``labels[keep]``: a :class:`FileSplit` (``kw``: its
    arguments), or with ``in_memory`` a :class:`TensorSplit` decoded through the per-listing
    cache (:func:`~lotus.data.decode.decode_cached`: the whole listing is decoded once, the
    caps index it; ``cache=False`` decodes only the kept files, without the cache). A
    :class:`FileSplit` streams its batches through ``num_workers`` decoding processes."""
    split = FileSplit([paths[i] for i in keep.tolist()], labels[keep], num_workers=num_workers, **kw)
    if not in_memory or not cache:
        return split.to_memory(num_workers) if in_memory else split
    images = decode_cached(paths, split.image_size, split.resize, keep=keep, tag=tag, num_workers=num_workers)
    return TensorSplit(images, split.labels, num_classes=split.num_classes, mean=split.mean, std=split.std,
                       augment_mode=split.augment_mode)


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
    dataset : a registered source (:func:`list_datasets`): ``"digits"``, ``"cifar10"``,
        ``"cifar100"``, ``"imagefolder"``, ``"mufac"``, ``"tinyimagenet"``, ``"imagenet1k"``, or
        one added with :func:`register_source`.
    root : data root (default ``$LOTUS_DATA``, else ``~/.cache/lotus/data``). CIFAR is read from
        ``<root>/cifar10/{train,test}/<class>/*`` when that folder exists, else through
        torchvision (``download=True`` fetches it). ``imagefolder`` reads ``path=`` (or the root)
        with ``train/`` and ``val/`` class folders; ``mufac`` reads ``path=`` or ``<root>/mufac``,
        ``tinyimagenet`` ``path=`` or ``<root>/tinyimagenet`` (or ``<root>/tiny-imagenet-200``),
        ``imagenet1k`` ``path=`` or ``<root>/imagenet1k``.
    forget : forget specification: a per-class fraction (``0.1``), ``"count:5"`` (per class),
        a class name (``"cat"`` or ``"class:cat"``) for class unlearning, explicit indices into
        the training set (list / array / tensor, or a boolean mask), or ``"rows:N"`` (first N
        rows). Default: the source's ``default_forget``, ``0.1``; MUFAC's default is its fixed
        split ``"rows:1062"`` (the first 1,062 rows of the cleaned training CSV).
    seed : drives the forget selection (``forget_rule="random"``) and the stratified halving
        of the held-out set into val / test. The same seed gives the same splits.
    forget_rule : ``"random"`` (seeded, the paper's intent) or ``"first"`` (the authors' code:
        the first N samples of each class in data set order, whatever the seed).
    max_train_per_class, max_heldout_per_class : optional per-class caps (a fixed subsample,
        independent of the seed) for small CPU profiles.
    retain_per_class : cap the retain set per class (ImageNet protocol: ``"count:5"`` forget and
        45 retain images per class).
    unseen : replace D_u (``val``) by another labelled image folder (``<dir>/<class>/*``, one
        folder per class of the data set; a relative path is taken relative to the data root,
        so ``unseen="cifake"`` reads ``<data root>/cifake``) or split, e.g. CIFAKE synthetic
        images (:func:`lotus.data.sort_cifake` sorts them); the held-out set then serves
        entirely as ``test``. This is the one way to replace D_u.
    kwargs : the source's options (:func:`source_info` ``(name).options``): digits ``image_size,
        noise_std``; imagefolder ``path, image_size, resize, in_memory, mean, std, augment_mode,
        num_workers``; mufac ``path, image_size, in_memory, num_workers``; tinyimagenet ``path,
        image_size, in_memory, num_workers, class_names``; imagenet1k ``path, image_size, resize,
        in_memory, num_workers``. Undeclared options are an error.
    """
    src = source_info(str(dataset))
    name = src.name
    unknown = sorted(set(kwargs) - set(src.options))
    if unknown:
        valid = ", ".join(src.options) or "none"
        raise LotusError(f"unknown option(s) {unknown} for dataset {name!r}; valid extra options: {valid}")
    if forget_rule not in ("random", "first"):
        raise LotusError(f"unknown forget_rule {forget_rule!r}; valid: random, first")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise LotusError(f"seed must be an int, got {seed!r}")
    seed = int(seed)
    if forget is None:
        forget = src.default_forget
    if not (isinstance(forget, str) and ":" not in forget):
        parse_forget_spec(forget)  # fail fast on malformed specs, before reading any data
    for cap_name, cap in (("max_train_per_class", max_train_per_class), ("max_heldout_per_class", max_heldout_per_class)):
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, Integral) or cap < 1):
            raise LotusError(f"{cap_name} must be an int >= 1 or None, got {cap!r}")
    if unseen is not None and not isinstance(unseen, (ImageSplit, str, os.PathLike)):
        raise LotusError(f"unseen must be an image-folder path or an ImageSplit, got {type(unseen).__name__}")
    unseen_dir = None
    if isinstance(unseen, (str, os.PathLike)):  # checked before the data set is read
        unseen_dir = Path(unseen).expanduser()
        if not unseen_dir.is_absolute():
            unseen_dir = data_root(root) / unseen_dir
        if not unseen_dir.is_dir():
            layout = CIFAKE_LAYOUT if name == "cifar10" else f"<folder>/<class>/<image>, one folder per class of {name}"
            raise LotusError(f"unseen set not found: {unseen_dir} is not a folder (expected {layout})")
    data = src.loader(root, download=download, max_train_per_class=max_train_per_class,
                      max_heldout_per_class=max_heldout_per_class, **kwargs)
    _check_source_data(name, data)
    train, classes, info = data.train, list(data.classes), dict(data.info)
    val_idx = test_idx = None
    if data.heldout is None:
        val, test = data.val, data.test
    elif unseen is not None:
        val, test = None, data.heldout
    else:
        val_idx, test_idx = _halve_stratified(data.heldout.labels, len(classes), seed)
        val, test = data.heldout.subset(val_idx), data.heldout.subset(test_idx)
    if isinstance(forget, str) and ":" not in forget and forget.strip() in classes:
        forget = f"class:{forget.strip()}"  # a bare class name, even a numeric one such as digits' "3"
    forget_idx, retain_idx, canon = _split_forget_retain(
        train.labels, classes, forget, forget_rule, seed, retain_per_class)
    if unseen is not None:
        if isinstance(unseen, ImageSplit):
            val = unseen
            info["unseen"] = "custom-split"
        else:
            val = load_image_folder(unseen_dir, classes=classes, image_size=train.image_shape[-1],
                                    mean=train.mean, std=train.std, augment_mode=train.augment_mode)
            info["unseen"] = str(unseen)
        if val.num_classes != len(classes):
            raise LotusError(f"unseen set has {val.num_classes} classes, {name} has {len(classes)}")
    return UnlearningSplits(
        dataset=name, train=train, forget=train.subset(forget_idx), retain=train.subset(retain_idx),
        val=val, test=test, classes=classes, forget_indices=forget_idx, retain_indices=retain_idx,
        forget_spec=canon, seed=seed, forget_rule=forget_rule, source=info,
        val_indices=val_idx, test_indices=test_idx,
    )


def _check_source_data(name: str, data) -> None:
    """A source's loader must return a :class:`SourceData` with consistent splits."""
    if not isinstance(data, SourceData):
        raise LotusError(f"data source {name!r} returned {type(data).__name__}, expected SourceData")
    if not isinstance(data.train, ImageSplit):
        raise LotusError(f"data source {name!r}: train must be an ImageSplit, got {type(data.train).__name__}")
    if data.heldout is None and (data.val is None or data.test is None):
        raise LotusError(f"data source {name!r} must return a held-out split, or both val and test")
    k = len(data.classes)
    for part in ("train", "heldout", "val", "test"):
        split = getattr(data, part)
        if split is not None and split.num_classes != k:
            raise LotusError(f"data source {name!r}: {part} has {split.num_classes} classes but "
                             f"{k} class names were given")
