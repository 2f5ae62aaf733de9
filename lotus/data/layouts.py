"""The on-disk layouts of published data sets that are not plain ``<class>/<image>`` folders.

* Tiny-ImageNet (:func:`list_tinyimagenet`): the layout of the official
  ``tiny-imagenet-200.zip``::

      wnids.txt                       one WordNet id per line: the 200 classes
      words.txt                       "<wnid>\\t<names, comma separated>" (all of WordNet)
      train/<wnid>/images/*.JPEG      500 training images per class, 64 x 64 px
      val/images/*.JPEG               10,000 validation images in one folder
      val/val_annotations.txt         "<file>\\t<wnid>\\t<x>\\t<y>\\t<w>\\t<h>" per validation image

  (``test/`` has no labels and is not read.)
* CIFAKE (:func:`sort_cifake`): the synthetic CIFAR-10 look-alikes the paper uses as the
  unseen set D_u of its Table 2, sorted into one folder per CIFAR-10 class so that
  :func:`lotus.load_splits` (``unseen=``) can read them.

Every reader checks the copy and raises a :class:`~lotus.utils.LotusError` naming the missing
or malformed file before any image is decoded.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import torch

from ..utils import LotusError
from .decode import IMAGE_EXTENSIONS

__all__ = ["CIFAR10_CLASSES", "CIFAR100_CLASSES", "TINYIMAGENET_LAYOUT", "list_tinyimagenet", "sort_cifake",
           "CIFAKE_LAYOUT"]

#: CIFAR-10's class names in label order (torchvision's, = sorted)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: CIFAR-100's fine class names in label order (torchvision's, = sorted)
CIFAR100_CLASSES = tuple("""
apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can castle
caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant flatfish
forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle
mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine
possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar
sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale
willow_tree wolf woman worm
""".split())

#: the expected Tiny-ImageNet layout, quoted by every error about it
TINYIMAGENET_LAYOUT = ("wnids.txt, words.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG and "
                       "val/val_annotations.txt (the layout of the official tiny-imagenet-200.zip)")

#: the expected layout of a sorted CIFAKE copy (the unseen set of the CIFAR-10 benchmarks)
CIFAKE_LAYOUT = ("<folder>/<CIFAR-10 class>/<image> with the ten folders " + ", ".join(CIFAR10_CLASSES)
                 + "; make it from CIFAKE's test/FAKE images with lotus.data.sort_cifake(<CIFAKE copy>, <folder>)")


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _read_lines(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise LotusError(f"Tiny-ImageNet: {what} not found: {path} (expected {TINYIMAGENET_LAYOUT})")
    return [line.rstrip("\r\n") for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]


def _class_names(base: Path, wnids: list[str], class_names: str) -> list[str]:
    """The display name of every class: the first name words.txt gives for its WordNet id
    (``"n07873807\\tpizza, pizza pie"`` -> ``"pizza"``); a name two classes share gets its
    id appended (``"crane (n03126707)"``). ``class_names="wnid"``: the ids themselves."""
    if class_names == "wnid":
        return list(wnids)
    words: dict[str, str] = {}
    for i, line in enumerate(_read_lines(base / "words.txt", "words.txt (class names; or pass class_names='wnid')")):
        if not line.strip():
            continue
        wnid, sep, names = line.partition("\t")
        if not sep:
            raise LotusError(f"Tiny-ImageNet: {base / 'words.txt'} line {i + 1} is not '<wnid>\\t<names>': {line!r}")
        words[wnid.strip()] = names.split(",")[0].strip()
    missing = [w for w in wnids if not words.get(w)]
    if missing:
        raise LotusError(f"Tiny-ImageNet: {base / 'words.txt'} has no name for {len(missing)} class(es) of wnids.txt, "
                         f"e.g. {missing[0]} (or pass class_names='wnid')")
    names = [words[w] for w in wnids]
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return [f"{n} ({w})" if counts[n] > 1 else n for n, w in zip(names, wnids)]


def list_tinyimagenet(base: str | os.PathLike, class_names: str = "words"):
    """Check a Tiny-ImageNet copy at ``base`` and list its labelled images.

    Returns ``(train_paths, train_labels, val_paths, val_labels, classes, wnids)``: sorted
    training files of every class, the validation files in annotation order (labels from
    ``val/val_annotations.txt``), ``LongTensor`` labels indexing ``wnids`` (the order of
    ``wnids.txt``), and the class names (``class_names="words"``: the first name ``words.txt``
    gives for each id, e.g. ``"pizza"``, with the id appended to a name two classes share;
    ``"wnid"``: the WordNet ids).

    Raises :class:`LotusError` for a missing ``wnids.txt`` / ``words.txt`` /
    ``val_annotations.txt``, a duplicated or empty class list, a class without training
    images, and an annotation line that is malformed, names an unknown class or a missing file.
    """
    base = Path(base)
    if class_names not in ("words", "wnid"):
        raise LotusError(f"Tiny-ImageNet class_names must be 'words' or 'wnid', got {class_names!r}")
    if not base.is_dir():
        raise LotusError(f"Tiny-ImageNet not found: {base} is not a folder (expected {TINYIMAGENET_LAYOUT})")
    wnids = [w.strip() for w in _read_lines(base / "wnids.txt", "wnids.txt (the class list)") if w.strip()]
    if len(wnids) < 2:
        raise LotusError(f"Tiny-ImageNet: {base / 'wnids.txt'} lists {len(wnids)} class(es); at least 2 are needed")
    dup = sorted({w for w in wnids if wnids.count(w) > 1})
    if dup:
        raise LotusError(f"Tiny-ImageNet: {base / 'wnids.txt'} lists classes twice: {dup[:5]}")
    index = {w: i for i, w in enumerate(wnids)}
    classes = _class_names(base, wnids, class_names)

    train_paths: list[str] = []
    train_labels: list[int] = []
    for c, wnid in enumerate(wnids):
        folder = base / "train" / wnid / "images"
        if not folder.is_dir():
            raise LotusError(f"Tiny-ImageNet: training folder of class {wnid} not found: {folder} "
                             f"(expected {TINYIMAGENET_LAYOUT})")
        with os.scandir(folder) as it:
            files = sorted(e.path for e in it if _is_image(e.name))
        if not files:
            raise LotusError(f"Tiny-ImageNet: no image files in {folder}")
        train_paths.extend(files)
        train_labels.extend([c] * len(files))

    ann = base / "val" / "val_annotations.txt"
    val_dir = base / "val" / "images"
    lines = _read_lines(ann, "val/val_annotations.txt (the validation labels)")
    if not val_dir.is_dir():
        raise LotusError(f"Tiny-ImageNet: validation images not found: {val_dir} (expected {TINYIMAGENET_LAYOUT})")
    present = {e.name for e in os.scandir(val_dir)}
    val_paths: list[str] = []
    val_labels: list[int] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2 or not fields[0].strip() or not fields[1].strip():
            raise LotusError(f"Tiny-ImageNet: {ann} line {i + 1} is not '<file>\\t<wnid>\\t...': {line!r}")
        fname, wnid = fields[0].strip(), fields[1].strip()
        if wnid not in index:
            raise LotusError(f"Tiny-ImageNet: {ann} line {i + 1} names class {wnid!r}, which wnids.txt does not list")
        if fname not in present:
            raise LotusError(f"Tiny-ImageNet: {ann} line {i + 1} names {fname!r}, which is missing from {val_dir}")
        if fname in seen:
            raise LotusError(f"Tiny-ImageNet: {ann} line {i + 1} annotates {fname!r} a second time")
        seen.add(fname)
        val_paths.append(str(val_dir / fname))
        val_labels.append(index[wnid])
    if not val_paths:
        raise LotusError(f"Tiny-ImageNet: {ann} annotates no image")
    return (train_paths, torch.tensor(train_labels, dtype=torch.long), val_paths,
            torch.tensor(val_labels, dtype=torch.long), classes, wnids)


_CIFAKE_CLASS = re.compile(r"\((\d+)\)$")


def sort_cifake(source: str | os.PathLike, dest: str | os.PathLike, *, part: str = "test", kind: str = "FAKE",
                link: bool = True) -> Path:
    """Sort CIFAKE's synthetic images into ``<dest>/<CIFAR-10 class>/`` and return ``dest``.

    ``source`` is a CIFAKE copy (``<source>/{train,test}/{REAL,FAKE}/*.jpg``); the images of
    ``<source>/<part>/<kind>`` are linked (``link=True``: hard links where the file system
    allows, else copies) or copied into the class folders. CIFAKE names the images of CIFAR-10
    class ``k`` (``k >= 1``) ``"<n> (<k+1>).jpg"`` and those of class 0 (airplane)
    ``"<n>.jpg"``; this follows the sorting script of the paper's authors (their
    ``organize_cifake.sh``, which reads the class from that suffix). The paper's Table 2 uses
    the 10,000 images of ``test/FAKE``. ``dest`` must be absent or empty.
    """
    src = Path(source).expanduser() / part / kind
    dest = Path(dest).expanduser()
    if not src.is_dir():
        raise LotusError(f"CIFAKE images not found: {src} (expected a CIFAKE copy with {part}/{kind}/*.jpg)")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise LotusError(f"{dest} exists and is not an empty folder; choose another destination")
    files = sorted((e for e in os.scandir(src) if e.is_file() and _is_image(e.name)), key=lambda e: e.name)
    if not files:
        raise LotusError(f"no image files in {src}")
    targets = []
    for e in files:
        m = _CIFAKE_CLASS.search(os.path.splitext(e.name)[0].strip())
        k = int(m.group(1)) - 1 if m else 0
        if not 0 <= k < len(CIFAR10_CLASSES):
            raise LotusError(f"CIFAKE file {e.path}: class suffix ({k + 1}) outside 1-{len(CIFAR10_CLASSES)}")
        targets.append((e.path, dest / CIFAR10_CLASSES[k] / e.name))
    for name in CIFAR10_CLASSES:
        (dest / name).mkdir(parents=True, exist_ok=True)
    for path, target in targets:
        if link:
            try:
                os.link(path, target)
                continue
            except OSError:
                pass
        shutil.copy2(path, target)
    return dest
