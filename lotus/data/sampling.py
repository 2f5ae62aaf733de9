"""The one per-class sampler of the package.

Every per-class selection goes through :func:`per_class_subset`: the fixed per-class caps
of the data sources (:func:`fixed_subsample`), the digits train / held-out split, the
forget set of a fraction or count spec, the retain cap, the stratified val / test halving,
the image-folder fixtures and UNSIR's retain subset.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch

from ..utils import LotusError, make_generator

__all__ = ["per_class_subset", "fixed_subsample", "complement"]


def per_class_subset(labels: torch.Tensor, n_per_class, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sorted positions of at most ``n_per_class`` samples of every class (vectorised).

    ``labels``: ``int64 [N]`` class ids ``>= 0``. ``n_per_class``: an int ``>= 1`` (the same
    cap for every class) or a sequence / ``int64 [K]`` tensor of per-class counts ``>= 0``
    (entry ``c`` for class ``c``; ``K`` must cover every label). Class ``c`` keeps
    ``min(n_c, cap_c)`` samples.

    ``generator``: a ``torch.Generator`` draws the kept samples of each class uniformly at
    random (one ``randperm(N)`` from it, then a stable sort by class: each class's members
    come out in a random order and the first ones are kept); ``None`` keeps the first ones
    of each class in data set order. The result depends only on the labels, the caps and the
    generator's state. Returns ``int64 [M]`` positions in increasing order.
    """
    labels = torch.as_tensor(labels).cpu().long().flatten()
    n = labels.numel()
    if n and int(labels.min()) < 0:
        raise LotusError(f"class labels must be >= 0, got {int(labels.min())}")
    k = int(labels.max()) + 1 if n else 0
    if isinstance(n_per_class, Integral) and not isinstance(n_per_class, bool):
        if n_per_class < 1:
            raise LotusError(f"samples per class must be >= 1, got {n_per_class}")
        caps = torch.full((max(k, 1),), int(n_per_class), dtype=torch.long)
    elif isinstance(n_per_class, (torch.Tensor, np.ndarray, list, tuple)):
        caps = torch.as_tensor(np.asarray(n_per_class) if not isinstance(n_per_class, torch.Tensor) else n_per_class)
        if caps.ndim != 1 or caps.is_floating_point() or caps.dtype == torch.bool:
            raise LotusError(f"per-class counts must be a 1-d sequence of ints, got {caps.dtype} {tuple(caps.shape)}")
        caps = caps.cpu().long()
        if caps.numel() < k:
            raise LotusError(f"per-class counts cover {caps.numel()} classes, the labels reach class {k - 1}")
        if caps.numel() and int(caps.min()) < 0:
            raise LotusError(f"per-class counts must be >= 0, got {int(caps.min())}")
    else:
        raise LotusError(f"samples per class must be an int or a sequence of per-class counts, got {n_per_class!r}")
    if n == 0:
        return torch.zeros(0, dtype=torch.long)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    lab = labels[order]
    by_class = torch.argsort(lab, stable=True)
    sorted_lab = lab[by_class]
    counts = torch.bincount(sorted_lab, minlength=k)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(n) - starts[sorted_lab]  # position of each sample within its class
    keep = order[by_class[rank < caps[sorted_lab]]]
    return torch.sort(keep).values


def fixed_subsample(labels: torch.Tensor, limit: int | None, salt: str) -> torch.Tensor:
    """Sorted positions keeping at most ``limit`` random samples per class: a fixed choice
    (generator seeded from ``salt`` alone, independent of the run seed), so every seed sees
    the same subsample. ``limit=None`` keeps everything."""
    labels = torch.as_tensor(labels)
    if limit is None:
        return torch.arange(labels.numel())
    if not isinstance(limit, Integral) or isinstance(limit, bool) or limit < 1:
        raise LotusError(f"per-class limit must be an int >= 1 or None, got {limit!r}")
    return per_class_subset(labels, int(limit), make_generator(0, "subsample", salt))


def complement(positions: torch.Tensor, n: int) -> torch.Tensor:
    """Sorted positions in ``[0, n)`` that are not in ``positions``."""
    mask = torch.ones(n, dtype=torch.bool)
    mask[positions] = False
    return mask.nonzero().flatten()
