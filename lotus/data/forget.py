"""Forget specifications and the forget / retain / val / test partition.

:func:`parse_forget_spec` reads a forget specification, :func:`canonical_forget` gives its
one canonical text (what :func:`lotus.load_splits` records in ``forget_spec`` and what the
results store keys and filters on), and the private helpers draw the forget / retain split
of a training set and the stratified halving of a held-out set into val / test.
"""

from __future__ import annotations

import hashlib
import re
from numbers import Integral, Real

import numpy as np
import torch

from ..utils import LotusError, make_generator
from .sampling import complement, per_class_subset
from .splits import _as_index

__all__ = ["parse_forget_spec", "canonical_forget"]


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


#: the text ``canonical_forget`` writes for explicit indices: ``indices:`` + 12 hex digits
_DIGEST = re.compile(r"indices:\s*([0-9a-fA-F]{12})")


def canonical_forget(spec) -> str:
    """The one canonical text of a forget specification.

    It is what :func:`lotus.load_splits` records as ``UnlearningSplits.forget_spec``, what
    experiment records store as ``forget`` and what :meth:`lotus.results.ResultsStore.records`
    compares with. ``0.1`` and ``"0.1"`` -> ``"0.1"``; ``"count:5"``; ``"cat"`` and
    ``"class:cat"`` -> ``"class:cat"``; ``"rows:1062"``; explicit indices (a list, array or
    tensor in any order, ``"indices:3,5,8"``, or a boolean mask) -> ``"indices:"`` + the first
    12 hex digits of the SHA-1 of the sorted distinct positions (``int64`` bytes).

    The function is idempotent: a canonical text maps to itself, including the indices
    digest (``"indices:"`` followed by exactly 12 hex digits is read as a digest, not as one
    12-digit position). A bare text that is not a number is a class name; a bare number must
    be a fraction (write ``"class:3"`` for a class named ``"3"``). Raises :class:`LotusError`
    for a malformed specification.
    """
    if isinstance(spec, str):
        m = _DIGEST.fullmatch(spec.strip())
        if m:
            return "indices:" + m.group(1).lower()
    kind, value = parse_forget_spec(spec)
    return _canonical_text(kind, value)


def _canonical_text(kind: str, value) -> str:
    """The canonical text of a parsed ``(kind, value)`` pair (see :func:`canonical_forget`)."""
    if kind == "fraction":
        return f"{value:g}"
    if kind in ("indices", "mask"):
        positions = value.nonzero().flatten() if kind == "mask" else torch.unique(value)  # sorted, distinct
        return "indices:" + hashlib.sha1(positions.long().numpy().tobytes()).hexdigest()[:12]
    return f"{kind}:{value}"


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
    elif kind == "rows":
        if value >= n:
            raise LotusError(f"forget rows {value} >= training set size {n}; pass a smaller spec (e.g. 'rows:{max(1, n // 6)}' or 0.1)")
        mask = torch.zeros(n, dtype=torch.bool)
        mask[:value] = True
    else:  # fraction or count, per class
        counts = torch.bincount(labels, minlength=k)
        if kind == "fraction":
            n_forget = torch.floor(counts.double() * value + 1e-6).long()
        else:
            n_forget = counts.clamp(max=int(value))
        mask = torch.zeros(n, dtype=torch.bool)
        mask[per_class_subset(labels, n_forget, g if rule == "random" else None)] = True
        if not mask.any():
            raise LotusError(f"forget spec {spec!r} selects no sample (the classes are too small: "
                             f"largest has {int(torch.bincount(labels, minlength=k).max())} samples)")
    forget = mask.nonzero().flatten()
    retain = (~mask).nonzero().flatten()
    if retain_per_class is not None:
        retain = retain[per_class_subset(labels[retain], int(retain_per_class), g if rule == "random" else None)]
    if forget.numel() == 0:
        raise LotusError(f"the forget set is empty for spec {spec!r}")
    if retain.numel() == 0:
        raise LotusError(f"the retain set is empty for spec {spec!r}")
    return forget, retain, _canonical_text(kind, value)


def _halve_stratified(labels: torch.Tensor, num_classes: int, seed: int):
    """Split positions into two stratified halves (val, test), seeded (spec 6.1).

    Each class contributes ``floor(n_c / 2)`` random samples to the first half and the rest
    to the second. Returns two sorted ``LongTensor`` s of positions."""
    half = torch.bincount(labels, minlength=num_classes) // 2
    first = per_class_subset(labels, half, make_generator(seed, "val-test"))
    return first, complement(first, labels.numel())
