"""Tests of lotus.data.sources: the registry of data sources and load_splits' dispatch through it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

import lotus
from lotus.data import SourceData, SourceInfo, TensorSplit, list_datasets, load_splits, register_source, source_info
from lotus.data.sources import _REGISTRY
from lotus.utils import LotusError

BUILTIN = ["digits", "cifar10", "cifar100", "imagefolder", "mufac", "tinyimagenet", "imagenet1k"]


def _split(n_per_class: int, k: int = 3, value: int = 0) -> TensorSplit:
    labels = torch.arange(k).repeat_interleave(n_per_class)
    images = torch.full((labels.numel(), 3, 4, 4), value, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.arange(labels.numel(), dtype=torch.uint8)  # every image distinct
    return TensorSplit(images, labels, num_classes=k, mean=(0.5,) * 3, std=(0.25,) * 3)


@pytest.fixture
def toy():
    """Register a source ``toy`` (options ``size``, ``shade``) for one test, then remove it."""
    calls = []

    @register_source("toy", options=("size", "shade"), summary="a toy source", default_forget="count:2")
    def _toy(root, *, download, max_train_per_class, max_heldout_per_class, size=10, shade=0):
        calls.append(dict(root=root, download=download, max_train_per_class=max_train_per_class,
                          max_heldout_per_class=max_heldout_per_class, size=size, shade=shade))
        return SourceData(_split(size, value=shade), ["x", "y", "z"], heldout=_split(4), info={"source": "toy"})

    yield calls
    _REGISTRY.pop("toy", None)


def test_builtin_sources_in_registration_order():
    assert list_datasets() == BUILTIN == lotus.list_datasets()
    info = source_info("digits")
    assert isinstance(info, SourceInfo) and info.name == "digits" and info.options == ("image_size", "noise_std")
    assert info.summary and callable(info.loader)
    assert source_info("MUFAC").default_forget == "rows:1062" and source_info("cifar10").options == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.options = ()


def test_unknown_source_names_the_valid_ones():
    for call in (lambda: load_splits("mnist"), lambda: source_info("mnist")):
        with pytest.raises(LotusError, match="unknown dataset 'mnist'; valid: digits, cifar10, cifar100, imagefolder, mufac, tinyimagenet, imagenet1k"):
            call()


def test_undeclared_option_is_rejected_naming_the_valid_ones():
    with pytest.raises(LotusError, match=r"unknown option\(s\) \['path'\] for dataset 'digits'; valid extra options: "
                                         r"image_size, noise_std"):
        load_splits("digits", path="/tmp")
    with pytest.raises(LotusError, match="for dataset 'cifar10'; valid extra options: none"):
        load_splits("cifar10", image_size=32)


def test_a_registered_source_is_listed_and_loadable(toy):
    assert list_datasets() == BUILTIN + ["toy"]
    assert source_info("toy").options == ("size", "shade")
    s = load_splits("toy", seed=3, size=8, shade=9, root="/r", max_train_per_class=5)
    assert toy == [dict(root="/r", download=False, max_train_per_class=5, max_heldout_per_class=None, size=8, shade=9)]
    assert s.dataset == "toy" and s.classes == ["x", "y", "z"] and s.source == {"source": "toy"}
    assert s.forget_spec == "count:2"  # the source's default forget spec
    assert torch.bincount(s.forget.labels).tolist() == [2, 2, 2] and len(s.retain) == 18
    assert (s.train.images[:, 1] == 9).all()
    assert len(s.val) == len(s.test) == 6 and s.val_indices is not None  # the held-out set is halved
    with pytest.raises(LotusError, match=r"unknown option\(s\) \['colour'\] for dataset 'toy'; valid extra options: size, shade"):
        load_splits("toy", colour="red")


def test_a_source_with_a_fixed_val_and_test(toy):
    @register_source("toy-fixed")
    def _fixed(root, **_):
        return SourceData(_split(6), ["a", "b", "c"], val=_split(2, value=1), test=_split(3, value=2))

    try:
        s = load_splits("toy-fixed", forget=0.5)
        assert (len(s.val), len(s.test)) == (6, 9) and s.val_indices is None and s.test_indices is None
        assert (s.val.images[:, 1] == 1).all() and (s.test.images[:, 1] == 2).all()
        unseen = _split(1, value=7)
        assert load_splits("toy-fixed", forget=0.5, unseen=unseen).val is unseen
    finally:
        _REGISTRY.pop("toy-fixed")


def test_registration_errors(toy):
    with pytest.raises(LotusError, match="already registered"):
        register_source("toy")(lambda root, **kw: None)
    with pytest.raises(LotusError, match="lower-case"):
        register_source("Toy2")
    with pytest.raises(LotusError, match=r"\['max_train_per_class'\].*every source receives"):
        register_source("toy2", options=("max_train_per_class",))
    assert "toy2" not in list_datasets()


def test_a_loader_must_return_source_data():
    @register_source("toy-bad")
    def _bad(root, **_):
        return _split(2), _split(2), ["a", "b", "c"], {}

    @register_source("toy-noheld")
    def _noheld(root, **_):
        return SourceData(_split(2), ["a", "b", "c"])

    @register_source("toy-classes")
    def _classes(root, **_):
        return SourceData(_split(2), ["a", "b"], heldout=_split(2))

    try:
        with pytest.raises(LotusError, match="'toy-bad' returned tuple, expected SourceData"):
            load_splits("toy-bad")
        with pytest.raises(LotusError, match="'toy-noheld' must return a held-out split"):
            load_splits("toy-noheld")
        with pytest.raises(LotusError, match="'toy-classes': train has 3 classes but 2 class names"):
            load_splits("toy-classes")
    finally:
        for name in ("toy-bad", "toy-noheld", "toy-classes"):
            _REGISTRY.pop(name)
