"""Tests of lotus.data.forget.canonical_forget: one canonical text of a forget spec, the same
from every entry point (load_splits, the experiment runner, the results store)."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

import lotus.experiment
from lotus.data import canonical_forget, load_splits
from lotus.experiment import ExperimentConfig
from lotus.results import ResultsStore
from lotus.utils import LotusError

IDX = [40, 3, 17, 500, 8]
IDX_TEXT = "indices:" + hashlib.sha1(torch.tensor(sorted(IDX)).numpy().tobytes()).hexdigest()[:12]

# (forms of one spec, its canonical text)
CASES = [
    ((0.1, "0.1", " 0.10 ", np.float32(0.1), "1e-1"), "0.1"),
    (("count:5", "COUNT: 5"), "count:5"),
    (("cat", "class:cat", "class: cat"), "class:cat"),
    (("rows:1062",), "rows:1062"),
    ((IDX, sorted(IDX), IDX[::-1], torch.tensor(IDX), np.array(IDX), "indices:40,3,17,500,8", "indices:3,8,17,40,500",
      torch.zeros(600, dtype=torch.bool).index_fill_(0, torch.tensor(IDX), True)), IDX_TEXT),
]


@pytest.mark.parametrize("forms,text", CASES)
def test_canonical_text_of_every_form(forms, text):
    for spec in forms:
        assert canonical_forget(spec) == text, spec
    assert canonical_forget(text) == text  # idempotent, the indices digest included


def test_experiment_uses_the_same_function():
    assert lotus.experiment.canonical_forget is canonical_forget


@pytest.mark.parametrize("forms,text", CASES[:3] + CASES[4:])
def test_experiment_identity_records_the_canonical_text(forms, text):
    for spec in forms:
        if isinstance(spec, (torch.Tensor, np.ndarray)) or (isinstance(spec, list) and len(spec) > 5):
            continue  # a config holds plain values
        assert ExperimentConfig(forget=spec).identity()["forget"] == text, spec


@pytest.mark.parametrize("forms,text", CASES)
def test_results_store_filters_on_the_canonical_text(tmp_path, forms, text):
    store = ResultsStore(tmp_path)
    for forget in (text, "0.5"):
        store.put({"dataset": "digits", "model": "small_cnn", "model_kwargs": {}, "method": "lotus", "hparams": {},
                   "forget": forget, "seed": 0, "train_recipe": {}, "data": {}, "eval": {}, "acc_forget": 0.5})
    for spec in forms:
        if isinstance(spec, list):
            continue  # a list filters on any of its values
        got = store.records(forget=spec)
        assert got["forget"].tolist() == [text], spec
    assert store.records(forget=list(forms[:1]) + ["0.5"])["forget"].tolist() == sorted([text, "0.5"])


@pytest.fixture
def pets(tmp_path):
    """``train/{ant,cat}/`` with 4 PNGs each and ``val/`` with 2 each (4x4 px)."""
    for c, name in enumerate(("ant", "cat")):
        for part, n in (("train", 4), ("val", 2)):
            (tmp_path / part / name).mkdir(parents=True)
            for i in range(n):
                Image.fromarray(np.full((4, 4, 3), 10 * c + i, np.uint8)).save(tmp_path / part / name / f"{i}.png")
    return tmp_path


def test_load_splits_records_the_canonical_text(pets):
    for spec in ("cat", "class:cat"):
        s = load_splits("imagefolder", path=pets, forget=spec, seed=0)
        assert s.forget_spec == canonical_forget(spec) == "class:cat"
    for spec in (0.5, "0.5"):
        assert load_splits("imagefolder", path=pets, forget=spec).forget_spec == canonical_forget(spec) == "0.5"
    assert load_splits("imagefolder", path=pets, forget="count:1").forget_spec == "count:1"
    wanted = [5, 0, 2]
    for spec in (wanted, sorted(wanted), torch.tensor(wanted[::-1]), "indices:2,5,0",
                 torch.zeros(8, dtype=torch.bool).index_fill_(0, torch.tensor(wanted), True)):
        s = load_splits("imagefolder", path=pets, forget=spec)
        assert s.forget_spec == canonical_forget(spec) == canonical_forget(wanted)
        assert s.forget_indices.tolist() == [0, 2, 5]


def test_malformed_specs_are_errors():
    for spec in ("", "frac:0.1", 5, True, 1.5, "count:x", "indices:1,a"):
        with pytest.raises(LotusError):
            canonical_forget(spec)
    with pytest.raises(LotusError, match="forget"):
        ResultsStore("unused").records(forget="count:0")
