"""Tests of lotus.data.sampling: the one per-class sampler and the fixed subsamples built on it."""

from __future__ import annotations

import pytest
import torch

from lotus.data import fixed_subsample, load_splits, per_class_subset
from lotus.data.sampling import complement
from lotus.utils import LotusError, make_generator

# 4 classes of 3, 50, 7 and 20 samples, interleaved in a fixed shuffled order
LABELS = torch.arange(4).repeat_interleave(torch.tensor([3, 50, 7, 20]))[torch.randperm(80, generator=torch.Generator().manual_seed(5))]


def _counts(idx: torch.Tensor, labels: torch.Tensor = LABELS, k: int = 4) -> list[int]:
    return torch.bincount(labels[idx], minlength=k).tolist()


def _reference(labels: torch.Tensor, caps: list[int], generator: torch.Generator | None) -> list[int]:
    """The definition, written as a plain loop: one randperm(N) (or data set order), then the
    first caps[c] members of class c in that order."""
    order = torch.randperm(labels.numel(), generator=generator).tolist() if generator else range(labels.numel())
    taken, keep = [0] * len(caps), []
    for i in order:
        c = int(labels[i])
        if taken[c] < caps[c]:
            taken[c] += 1
            keep.append(i)
    return sorted(keep)


def test_exact_per_class_counts_with_a_cap():
    idx = per_class_subset(LABELS, 10, make_generator(0, "t"))
    assert _counts(idx) == [3, 10, 7, 10]  # min(n_c, cap)
    assert idx.dtype == torch.int64 and torch.equal(idx, torch.sort(idx).values)
    assert len(set(idx.tolist())) == len(idx)


def test_exact_per_class_counts_with_per_class_counts():
    want = [1, 0, 7, 20]
    for caps in (want, torch.tensor(want), tuple(want)):
        idx = per_class_subset(LABELS, caps, make_generator(0, "t"))
        assert _counts(idx) == want
    # counts above a class's size are clipped to it
    assert _counts(per_class_subset(LABELS, [9, 60, 9, 9], make_generator(0, "t"))) == [3, 50, 7, 9]


@pytest.mark.parametrize("caps", [5, [2, 30, 0, 20]])
def test_matches_the_definition(caps):
    cap_list = [caps] * 4 if isinstance(caps, int) else caps
    for seed in range(3):
        got = per_class_subset(LABELS, caps, make_generator(seed, "t")).tolist()
        assert got == _reference(LABELS, cap_list, make_generator(seed, "t"))
    assert per_class_subset(LABELS, caps, None).tolist() == _reference(LABELS, cap_list, None)


def test_deterministic_per_generator():
    a = per_class_subset(LABELS, 5, make_generator(0, "t"))
    b = per_class_subset(LABELS, 5, make_generator(0, "t"))
    c = per_class_subset(LABELS, 5, make_generator(1, "t"))
    assert torch.equal(a, b)
    assert not torch.equal(a, c) and _counts(a) == _counts(c)


def test_no_generator_keeps_the_first_of_each_class():
    idx = per_class_subset(LABELS, 2, None)
    for c in range(4):
        members = (LABELS == c).nonzero().flatten()
        assert torch.equal(idx[LABELS[idx] == c], members[:2])


def test_one_draw_from_the_generator_whatever_the_number_of_classes():
    # vectorised: a single randperm(N) from the generator, not one draw per class
    many = torch.arange(500).repeat(2)  # 500 classes of 2
    g = make_generator(0, "t")
    per_class_subset(many, 1, g)
    ref = make_generator(0, "t")
    torch.randperm(many.numel(), generator=ref)
    assert torch.equal(g.get_state(), ref.get_state())


def test_sampler_errors():
    with pytest.raises(LotusError, match=">= 1"):
        per_class_subset(LABELS, 0)
    with pytest.raises(LotusError, match="cover 2 classes"):
        per_class_subset(LABELS, [1, 1])
    with pytest.raises(LotusError, match=">= 0"):
        per_class_subset(LABELS, [1, -1, 1, 1])
    with pytest.raises(LotusError, match="labels must be >= 0"):
        per_class_subset(torch.tensor([0, -1]), 1)
    with pytest.raises(LotusError, match="int or a sequence"):
        per_class_subset(LABELS, 2.5)
    assert per_class_subset(torch.zeros(0, dtype=torch.long), 3).numel() == 0


def test_fixed_subsample_is_fixed_and_salted():
    a = fixed_subsample(LABELS, 4, "x")
    assert torch.equal(a, fixed_subsample(LABELS, 4, "x"))
    assert torch.equal(a, per_class_subset(LABELS, 4, make_generator(0, "subsample", "x")))
    assert _counts(a) == [3, 4, 4, 4]
    assert not torch.equal(a, fixed_subsample(LABELS, 4, "y"))
    assert torch.equal(fixed_subsample(LABELS, None, "x"), torch.arange(80))
    with pytest.raises(LotusError, match="per-class limit"):
        fixed_subsample(LABELS, 0, "x")


def test_complement():
    assert complement(torch.tensor([1, 3]), 5).tolist() == [0, 2, 4]


# ---------------------------------------------------------------------------------------
# every per-class draw of load_splits goes through the sampler
# ---------------------------------------------------------------------------------------


def test_load_splits_draws_through_the_sampler(digits_splits):
    s = digits_splits
    counts = torch.bincount(s.train.labels, minlength=10)
    forget = per_class_subset(s.train.labels, torch.floor(counts * 0.1 + 1e-6).long(), make_generator(0, "forget"))
    assert torch.equal(s.forget_indices, forget)
    held = torch.full((len(s.val) + len(s.test),), -1, dtype=torch.long)
    held[s.val_indices], held[s.test_indices] = s.val.labels, s.test.labels
    half = torch.bincount(held, minlength=10) // 2
    assert torch.equal(s.val_indices, per_class_subset(held, half, make_generator(0, "val-test")))


def test_fixed_caps_are_seed_independent_subsamples_of_the_full_set(digits_splits):
    a = load_splits("digits", forget=0.1, seed=0, max_train_per_class=30, max_heldout_per_class=10)
    b = load_splits("digits", forget=0.1, seed=5, max_train_per_class=30, max_heldout_per_class=10)
    assert torch.equal(a.train.images, b.train.images)
    assert torch.bincount(a.train.labels, minlength=10).tolist() == [30] * 10
    keep = fixed_subsample(digits_splits.train.labels, 30, "digits-train")
    assert torch.equal(a.train.images, digits_splits.train.images[keep])


def test_retain_cap_draws_through_the_sampler():
    s = load_splits("digits", forget="count:5", seed=2, retain_per_class=10)
    rest = complement(s.forget_indices, len(s.train))
    g = make_generator(2, "forget")
    per_class_subset(s.train.labels, torch.bincount(s.train.labels).clamp(max=5), g)  # the forget draw
    assert torch.equal(s.retain_indices, rest[per_class_subset(s.train.labels[rest], 10, g)])
