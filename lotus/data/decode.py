"""Reading image files: decoding, listing image folders, and the decoded-image cache.

Images are decoded to ``uint8 [3, S, S]`` RGB tensors (torchvision's decoder, else PIL);
an image that is not already ``S x S`` has its shorter side resized and is centre-cropped.
Decoded folders are cached under :func:`decode_cache_dir` (``$LOTUS_CACHE/decoded``), keyed
by the file list (paths, sizes, modification times) and the output size, so a changed folder
is decoded again and never served stale. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..utils import LotusError, atomic_torch_save, atomic_write_json, cache_dir, stable_hash

__all__ = [
    "IMAGE_EXTENSIONS",
    "list_image_folder",
    "decode_cached",
    "decode_cache_dir",
    "decode_cache_entries",
    "remove_decode_cache",
    "DecodeCacheEntry",
]

#: file name extensions read as images (case-insensitive)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff")

_DECODE_CACHE_VERSION = 2


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


def decode_cache_dir() -> Path:
    """The folder of the decoded-image cache: ``$LOTUS_CACHE/decoded`` (see :func:`lotus.utils.cache_dir`)."""
    return cache_dir() / "decoded"


def _cached_decode(paths: Sequence[str], image_size: int, resize: int | None = None, *, tag: str,
                   num_workers: int = 0) -> torch.Tensor:
    """:func:`_decode_paths` with an on-disk cache in :func:`decode_cache_dir`.

    The key covers every file's path, size and mtime plus ``image_size``/``resize``; a
    changed folder gets a new key. A cache file that cannot be read or holds the wrong shape
    is reported (warning) and rebuilt, never used. Beside each ``<tag>-<key>.pt`` a small
    ``.json`` records what it holds (for :func:`decode_cache_entries`). Writes are atomic.
    """
    key = stable_hash([_DECODE_CACHE_VERSION, _files_signature(paths), int(image_size), resize], n=20)
    safe_tag = re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)[-60:]
    path = decode_cache_dir() / f"{safe_tag}-{key}.pt"
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
        folder = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else None
    except ValueError:  # paths on different drives
        folder = None
    try:
        atomic_torch_save(path, {"key": key, "images": imgs})
        atomic_write_json(path.with_suffix(".json"), {"tag": tag, "key": key, "images": len(paths), "folder": folder,
                                                      "image_size": int(image_size), "resize": resize})
    except OSError as exc:
        warnings.warn(f"could not write the decoded-image cache {path}: {exc}", stacklevel=3)
    return imgs


#: a file list larger than this (decoded) is not cached whole when only part of it is wanted
FULL_LIST_CACHE_BYTES = 2 * 1024**3


def decode_cached(paths: Sequence[str], image_size: int, resize: int | None = None, *, keep=None, tag: str,
                  num_workers: int = 0) -> torch.Tensor:
    """The images ``paths[keep]`` (every path when ``keep`` is ``None``) as ``uint8 [M, 3, S, S]``,
    decoded once per file list and output size and cached (:func:`decode_cache_dir`).

    ``paths`` is the whole listing (e.g. every file of a folder) and ``keep`` the positions
    wanted (a per-class cap, ``int64 [M]``): the cache entry holds the whole listing, so any
    number of different caps on the same folder decode it once and index the cached tensor.
    When the whole listing would exceed :data:`FULL_LIST_CACHE_BYTES` decoded (2 GiB, e.g.
    ImageNet), only the kept files are decoded and cached, keyed by their own file list.
    """
    if keep is None:
        return _cached_decode(paths, image_size, resize, tag=tag, num_workers=num_workers)
    keep = torch.as_tensor(keep, dtype=torch.long)
    if len(paths) * 3 * int(image_size) ** 2 <= FULL_LIST_CACHE_BYTES:
        return _cached_decode(paths, image_size, resize, tag=tag, num_workers=num_workers)[keep]
    return _cached_decode([paths[i] for i in keep.tolist()], image_size, resize, tag=tag, num_workers=num_workers)


@dataclass(frozen=True)
class DecodeCacheEntry:
    """One file of the decoded-image cache (see :func:`decode_cache_entries`).

    ``path``: the ``.pt`` file; ``tag``: the name given when it was written (e.g.
    ``"cifar10-train"``); ``size_bytes``: bytes on disk (its ``.json`` included);
    ``modified``: POSIX time of the last write; ``folder``, ``images``, ``image_size``: what it
    holds (``None`` when unknown, e.g. entries written before this was recorded);
    ``partial``: a temporary file left by an interrupted write.
    """

    path: Path
    tag: str
    size_bytes: int
    modified: float
    folder: str | None = None
    images: int | None = None
    image_size: int | None = None
    partial: bool = False


def decode_cache_entries() -> list[DecodeCacheEntry]:
    """Every file of the decoded-image cache (sorted by path), temporary files of interrupted
    writes included (``partial=True``). Reads only the small ``.json`` beside each entry."""
    root = decode_cache_dir()
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") and p.name.endswith(".tmp"):
            partial = True
        elif p.suffix == ".pt" and not p.name.startswith("."):
            partial = False
        else:
            continue
        try:
            st = p.stat()
        except OSError:  # removed meanwhile
            continue
        meta, size = {}, st.st_size
        side = p.with_suffix(".json")
        if not partial and side.is_file():
            try:
                meta = json.loads(side.read_text(encoding="utf-8"))
                size += side.stat().st_size
            except (OSError, ValueError):
                meta = {}
        # file names: <tag>-<key>.pt, and .<tag>-<key>.pt.<random>.tmp while being written
        stem = p.name[1:].rsplit(".", 2)[0].rsplit(".", 1)[0] if partial else p.stem
        tag = meta.get("tag") or stem.rsplit("-", 1)[0]
        out.append(DecodeCacheEntry(p, str(tag), int(size), st.st_mtime, meta.get("folder"), meta.get("images"),
                                    meta.get("image_size"), partial))
    return out


def remove_decode_cache(entries: Sequence[DecodeCacheEntry] | None = None) -> int:
    """Delete cache entries (default: every entry and temporary file of
    :func:`decode_cache_entries`) with their ``.json``; returns the bytes freed. An entry is
    rebuilt the next time its images are needed. (Removing a temporary file while another
    process is writing it makes that process warn that it could not write the cache.)"""
    freed = 0
    for e in decode_cache_entries() if entries is None else entries:
        for p in (e.path,) if e.partial else (e.path, e.path.with_suffix(".json")):
            try:
                size = p.stat().st_size
                p.unlink()
            except FileNotFoundError:
                continue
            freed += size
    return freed


def list_image_folder(folder: Path, classes: list[str] | None = None):
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
