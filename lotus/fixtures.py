"""Small data sets written to disk, for exercising the code paths that read files.

Two kinds: :func:`write_image_folder` (below) and :func:`write_standin`, a few random images
per class in the real on-disk layout of one of the paper's data sets (CIFAR-10/100 image
folders, Tiny-ImageNet, MUFAC, ImageNet-1k, CIFAKE), so that a named benchmark
(:func:`lotus.profiles.list_benchmarks`) runs end to end in seconds with ``data_root``
pointing at the stand-ins::

    >>> from lotus.fixtures import write_standin
    >>> for name in ("tinyimagenet", "mufac"):
    ...     write_standin("/tmp/standins", name)
    >>> lotus.load_splits("tinyimagenet", root="/tmp/standins", forget="class:pizza")

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

from .data import CIFAR10_CLASSES, CIFAR100_CLASSES, load_splits, per_class_subset
from .utils import LotusError, make_generator

__all__ = ["write_image_folder", "write_standin", "FIXTURE_SOURCES", "STANDINS", "MARKER"]

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

    def build(tmp: Path) -> None:
        tr_x, tr_y, he_x, he_y, classes = _source_splits(source, data_root, int(train_per_class), int(val_per_class))
        k = len(classes)
        g = make_generator(seed, "fixture", source)
        tr_idx = _pick(tr_y, k, int(train_per_class), f"{source} training images", g)
        he_idx = _pick(he_y, k, int(val_per_class), f"{source} held-out images", g)
        _write_pngs(tmp / "train", _resize(tr_x[tr_idx], image_size), tr_y[tr_idx], classes)
        _write_pngs(tmp / "val", _resize(he_x[he_idx], image_size), he_y[he_idx], classes)

    return _write_atomically(root, params, build, overwrite=overwrite)


def _write_atomically(root: Path, params: dict, build, *, overwrite: bool = False) -> Path:
    """Build a fixture with ``build(tmp_folder)`` in a temporary sibling of ``root``, record
    ``params`` in its :data:`MARKER` file and rename it into place. An existing fixture with the
    same ``params`` is kept (unless ``overwrite``), one with other parameters replaced; an
    existing folder that is not a fixture is an error (an empty one is replaced)."""
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
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        build(tmp)
        (tmp / MARKER).write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


# ---------------------------------------------------------------------------------------
# Stand-ins of the paper's data sets, in their real on-disk layouts
# ---------------------------------------------------------------------------------------

#: Tiny-ImageNet classes of the stand-in (real WordNet ids and words.txt names; pizza and
#: bison are the classes of the authors' class-unlearning runs)
_TINY_CLASSES = {"n01443537": "goldfish, Carassius auratus", "n02123045": "tabby, tabby cat",
                 "n02410509": "bison", "n04487081": "trolleybus, trolley coach, trackless trolley",
                 "n07873807": "pizza, pizza pie"}
#: ImageNet classes of the stand-in (real WordNet ids)
_IMAGENET_WNIDS = ("n01440764", "n01443537", "n01484850", "n01491361")

#: data set -> (folder under the root, default images per class in training and held-out
#: parts, image size): enough for every forget spec of the paper's benchmarks (a 10 % forget
#: set needs 10 images per class, MUFAC's fixed ``rows:1062`` needs 1,063 training rows,
#: ImageNet's ``count:5`` 6 images per class)
STANDINS = {
    "cifar10": ("cifar10", 10, 2, 32),
    "cifar100": ("cifar100", 10, 2, 32),
    "tinyimagenet": ("tinyimagenet", 10, 2, 64),
    "mufac": ("mufac", 134, 2, 16),
    "imagenet1k": ("imagenet1k", 8, 2, 40),
    "cifake": ("CIFAKE", 0, 2, 32),
}


def _noise_images(rng, n: int, height: int, width: int, colour) -> list:
    """``n`` random ``uint8 [height, width, 3]`` images around the RGB ``colour``."""
    import numpy as np

    x = np.asarray(colour, dtype=np.float32) + rng.normal(0.0, 30.0, size=(n, height, width, 3))
    return list(np.clip(x, 0, 255).astype(np.uint8))


def _save(img, path: Path) -> None:
    from PIL import Image

    if not path.parent.is_dir():
        path.parent.mkdir(parents=True)
    kw = {"quality": 90} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    Image.fromarray(img).save(path, **kw)


def _write_standin_files(dest: Path, dataset: str, train_n: int, held_n: int, size: int, seed: int) -> None:
    """The files of :func:`write_standin` under ``dest`` (a fresh folder)."""
    import numpy as np

    rng = np.random.default_rng([seed, sorted(STANDINS).index(dataset)])

    colours = rng.integers(40, 216, size=(len(CIFAR100_CLASSES), 3))  # one per class
    width = size + size // 5 if dataset == "imagenet1k" else size  # ImageNet's: wider than high (resize + crop)

    def images(c, n):
        return _noise_images(rng, n, size, width, colours[c])

    if dataset in ("cifar10", "cifar100"):
        classes = CIFAR10_CLASSES if dataset == "cifar10" else CIFAR100_CLASSES
        for c, name in enumerate(classes):
            for part, n in (("train", train_n), ("test", held_n)):
                for i, img in enumerate(images(c, n)):
                    _save(img, dest / part / name / f"{i:04d}.png")
    elif dataset == "tinyimagenet":
        wnids = list(_TINY_CLASSES)
        (dest / "wnids.txt").write_text("".join(f"{w}\n" for w in wnids))
        words = {"n00001740": "entity", **_TINY_CLASSES, "n15299783": "time off"}  # words.txt covers all of WordNet
        (dest / "words.txt").write_text("".join(f"{w}\t{t}\n" for w, t in words.items()))
        lines = []
        for c, wnid in enumerate(wnids):
            boxes = []
            for i, img in enumerate(images(c, train_n)):
                _save(img, dest / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
                boxes.append(f"{wnid}_{i}.JPEG\t0\t0\t{size - 1}\t{size - 1}\n")
            (dest / "train" / wnid / f"{wnid}_boxes.txt").write_text("".join(boxes))
            for img in images(c, held_n):
                name = f"val_{len(lines)}.JPEG"
                _save(img, dest / "val" / "images" / name)
                lines.append(f"{name}\t{wnid}\t0\t0\t{size - 1}\t{size - 1}\n")
        order = rng.permutation(len(lines))  # the official file is not sorted by class
        (dest / "val" / "val_annotations.txt").write_text("".join(lines[i] for i in order))
    elif dataset == "mufac":
        import pandas as pd

        for part, n in (("train", train_n), ("val", held_n), ("test", held_n)):
            rows = [(c, img) for c in range(8) for img in images(c, n)]
            order = rng.permutation(len(rows))  # the CSVs are not sorted by class
            records = []
            for j, i in enumerate(order):
                c, img = rows[i]
                fname = f"{part}_{j:05d}.jpg"
                _save(img, dest / f"{part}_images" / fname)
                records.append({"image_path": fname, "age_class": "abcdefgh"[c]})
            pd.DataFrame(records).to_csv(dest / f"custom_{part}_dataset.csv", index=False)
    elif dataset == "imagenet1k":
        for c, wnid in enumerate(_IMAGENET_WNIDS):
            for part, n in (("train", train_n), ("val", held_n)):
                for i, img in enumerate(images(c, n)):
                    _save(img, dest / part / wnid / f"{wnid}_{part}_{i}.JPEG")
    else:  # cifake: the Kaggle layout; lotus.data.sort_cifake sorts test/FAKE into class folders
        for kind in ("FAKE", "REAL"):
            for c in range(len(CIFAR10_CLASSES)):
                for i, img in enumerate(images(c, held_n)):
                    stem = f"{i}" if c == 0 else f"{i} ({c + 1})"  # CIFAKE's names: class k > 0 gets " (k+1)"
                    _save(img, dest / "test" / kind / f"{stem}.jpg")


def write_standin(root: str | os.PathLike, dataset: str, *, train_per_class: int | None = None,
                  heldout_per_class: int | None = None, image_size: int | None = None, seed: int = 0) -> Path:
    """Write a small stand-in of ``dataset`` in its real on-disk layout under ``root`` (a data
    root) and return its folder.

    ``dataset`` (:data:`STANDINS`): ``"cifar10"`` / ``"cifar100"`` (``<root>/<name>/{train,test}/
    <class>/*.png`` with the real class names), ``"tinyimagenet"`` (``<root>/tinyimagenet`` in the
    layout of the official zip: ``wnids.txt``, ``words.txt``, ``train/<wnid>/images/*.JPEG``,
    ``val/images`` with ``val/val_annotations.txt``; five real classes, pizza and bison among
    them), ``"mufac"`` (``<root>/mufac``: ``custom_{train,val,test}_dataset.csv`` beside
    ``{train,val,test}_images/``), ``"imagenet1k"`` (``<root>/imagenet1k/{train,val}/<wnid>/
    *.JPEG``, 4 classes, images wider than high) and ``"cifake"`` (``<root>/CIFAKE/test/
    {FAKE,REAL}/*.jpg`` named as in CIFAKE; :func:`lotus.data.sort_cifake` makes the unseen
    folder from it).

    The images are random noise around one colour per class (learnable, meaningless); the
    default sizes (:data:`STANDINS`) hold enough images for every forget spec of the paper's
    benchmarks. As :func:`write_image_folder`: an identical stand-in is reused, one with other
    parameters rebuilt, a folder that is not a stand-in never touched; written atomically.
    """
    if dataset not in STANDINS:
        raise LotusError(f"no stand-in for {dataset!r}; valid: {', '.join(STANDINS)}")
    folder, train_n, held_n, size = STANDINS[dataset]
    train_n = train_n if train_per_class is None else int(train_per_class)
    held_n = held_n if heldout_per_class is None else int(heldout_per_class)
    size = size if image_size is None else int(image_size)
    if held_n < 1 or (train_n < 1 and dataset != "cifake"):
        raise LotusError(f"a stand-in needs at least one image per class and part, got {train_n} / {held_n}")
    if size < 8:
        raise LotusError(f"image_size must be >= 8 pixels, got {size}")
    params = dict(standin=dataset, train_per_class=train_n, heldout_per_class=held_n, image_size=size, seed=int(seed),
                  format=1)
    return _write_atomically(Path(root).expanduser() / folder, params,
                             lambda tmp: _write_standin_files(tmp, dataset, train_n, held_n, size, int(seed)))
