"""Pack the CIFAR-10 image folders into one small file, and unpack them elsewhere.

The GPU machine used for validation receives at most 64 MiB and has no internet. The
image-folder copy (``<root>/cifar10/{train,test}/<class>/*.jpg``, ~900 bytes per JPEG) fits
when its JPEG bytes are concatenated into one tensor (about 55 MB for all 60,000 images)
instead of 60,000 files (about 240 MB on disk).

    python scripts/pack_cifar10.py pack ../shared/data .gpu/cifar10-jpeg.pt
    python scripts/pack_cifar10.py unpack .gpu/cifar10-jpeg.pt /tmp/data     # -> /tmp/data/cifar10/...

``--per-class N`` keeps only the first N images per class and split (for quick tests).
The packed file holds only tensors, lists and strings, so it loads with ``weights_only=True``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch


def pack(root: Path, out: Path, per_class: int | None = None) -> dict:
    base = root / "cifar10"
    if not (base / "train").is_dir():
        raise SystemExit(f"no image folders under {base} (expected {base}/train/<class>/*.jpg)")
    classes = sorted(p.name for p in (base / "train").iterdir() if p.is_dir())
    blob: dict = {"format": 1, "classes": classes}
    for split in ("train", "test"):
        chunks, names, labels, offsets = [], [], [], [0]
        for c, name in enumerate(classes):
            files = sorted((base / split / name).glob("*.jpg"))
            if per_class is not None:
                files = files[:per_class]
            for f in files:
                data = f.read_bytes()
                chunks.append(data)
                offsets.append(offsets[-1] + len(data))
                names.append(f.name)
                labels.append(c)
        blob[f"{split}_bytes"] = torch.frombuffer(bytearray(b"".join(chunks)), dtype=torch.uint8)
        blob[f"{split}_offsets"] = torch.tensor(offsets, dtype=torch.int64)
        blob[f"{split}_labels"] = torch.tensor(labels, dtype=torch.int64)
        blob[f"{split}_names"] = names
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, out)
    return {s: len(blob[f"{s}_labels"]) for s in ("train", "test")}


def unpack(packed: Path, dest_root: Path) -> dict:
    blob = torch.load(packed, weights_only=True)
    counts = {}
    for split in ("train", "test"):
        data, off = blob[f"{split}_bytes"].numpy().tobytes(), blob[f"{split}_offsets"].tolist()
        labels, names = blob[f"{split}_labels"].tolist(), blob[f"{split}_names"]
        for c in blob["classes"]:
            (dest_root / "cifar10" / split / c).mkdir(parents=True, exist_ok=True)
        for i, (lab, name) in enumerate(zip(labels, names)):
            (dest_root / "cifar10" / split / blob["classes"][lab] / name).write_bytes(data[off[i]:off[i + 1]])
        counts[split] = len(labels)
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="image folders -> one file")
    p.add_argument("root", type=Path, help="data root holding cifar10/{train,test}")
    p.add_argument("out", type=Path)
    p.add_argument("--per-class", type=int, default=None)
    u = sub.add_parser("unpack", help="one file -> image folders under DEST/cifar10")
    u.add_argument("packed", type=Path)
    u.add_argument("dest", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "pack":
        counts = pack(a.root, a.out, a.per_class)
        print(f"packed {counts} into {a.out} ({a.out.stat().st_size / 2**20:.1f} MiB)")
    else:
        counts = unpack(a.packed, a.dest)
        print(f"unpacked {counts} under {a.dest / 'cifar10'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
