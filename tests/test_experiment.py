"""Experiment runner on digits (tiny recipe): pseudo-methods, registered methods, skipping,
forcing and resuming a grid, profiles."""

import pytest
import torch

import lotus
from lotus import methods as methods_mod
from lotus.experiment import (
    PSEUDO_METHODS,
    ExperimentConfig,
    canonical_forget,
    grid,
    prepare,
    run_experiment,
    run_grid,
)
from lotus.methods.base import UnlearningMethod
from lotus.metrics import avg_gap
from lotus.results import ResultsStore
from lotus.utils import LotusError

# the recipe of tests/conftest.py::trained_digits, so the checkpoints are shared in a session
TINY = dict(dataset="digits", model="small_cnn", model_kwargs={"width": 16}, device="cpu",
            train=dict(epochs=8, batch_size=64, lr=0.05, scheduler="cosine", warmup_epochs=0, patience=None,
                       augment=False))

REQUIRED = ("dataset", "model", "method", "forget", "seed", "acc_forget", "acc_retain", "acc_test", "acc_val", "mia",
            "jsd", "rf_jsd", "avg_gap", "unlearn_seconds", "hparams", "train_recipe", "key", "lotus_version",
            "git_commit", "device", "device_name", "torch_version", "created", "epochs", "history")


class _Counting(UnlearningMethod):
    """A test method: counts its runs, nudges the classifier bias, can fail on demand."""

    name = "_counting"
    calls: list = []
    fail_on: set = set()

    def default_hparams(self, model_name=None, dataset=None):
        return {"shift": 0.0, "tag": "a"}

    def run(self, model, splits, *, original, device, seed, hp):
        key = (hp["tag"], seed)
        _Counting.calls.append(key)
        if hp["tag"] in _Counting.fail_on:
            raise KeyboardInterrupt  # a user pressing Ctrl-C in the middle of a grid
        with torch.no_grad():
            model.fc.bias.add_(hp["shift"])
        return {"epochs": 1, "history": [{"epoch": 0, "tau": 1.5}]}


@pytest.fixture
def counting():
    from lotus.methods import base

    methods_mod.register_method(_Counting)
    _Counting.calls = []
    _Counting.fail_on = set()
    yield _Counting
    base._REGISTRY.pop("_counting", None)


def test_pseudo_methods_original_and_gold(tmp_path):
    store = ResultsStore(tmp_path)
    orig = run_experiment(ExperimentConfig(method="original", **TINY), store)
    gold = run_experiment(ExperimentConfig(method="gold", **TINY), store)
    for rec in (orig, gold):
        missing = [k for k in REQUIRED if k not in rec]
        assert not missing
        assert all(0.0 <= rec[k] <= 1.0 for k in ("acc_forget", "acc_retain", "acc_test", "acc_val", "mia"))
        assert rec["forget"] == "0.1" and rec["seed"] == 0 and rec["device"] == "cpu"
    assert gold["avg_gap"] == 0.0 and gold["jsd"] == pytest.approx(0.0, abs=1e-9)
    prep = prepare(ExperimentConfig(method="original", **TINY))
    assert gold["unlearn_seconds"] == pytest.approx(prep.gold.lotus_train_info["seconds"])
    assert gold["unlearn_seconds"] > 0 and gold["epochs"] == 8 and len(gold["history"]) == 8
    assert orig["unlearn_seconds"] == 0.0
    assert orig["jsd"] > 0  # f_orig and f_gold differ on the forget set
    assert orig["avg_gap"] == pytest.approx(avg_gap(orig, gold))
    assert orig["gold"]["acc_forget"] == gold["acc_forget"]
    # the authors' formulas are recorded too (spec 4.3-4.4)
    assert gold["jsd_legacy"] == pytest.approx(0.0, abs=1e-9) and orig["jsd_legacy"] > 0
    assert len(store) == 2
    # the memo hands back the same trained models, and they match a direct evaluation
    assert prepare(ExperimentConfig(method="gold", **TINY)) is prep
    direct = lotus.evaluate(prep.original, prep.splits, original=prep.original, gold=prep.gold, device="cpu")
    assert orig["acc_forget"] == pytest.approx(direct["acc_forget"])
    assert orig["mia"] == pytest.approx(direct["mia"])
    legacy = lotus.evaluate(prep.original, prep.splits, original=prep.original, gold=prep.gold, device="cpu",
                            legacy=True)
    assert orig["jsd_legacy"] == pytest.approx(legacy["jsd"]) and orig["rf_jsd_legacy"] == pytest.approx(legacy["rf_jsd"])
    assert orig["jsd_legacy"] != pytest.approx(orig["jsd"])


def test_registered_method_runs_and_records_its_report(tmp_path, counting):
    store = ResultsStore(tmp_path)
    base = run_experiment(ExperimentConfig(method="_counting", **TINY), store)
    shifted = run_experiment(ExperimentConfig(method="_counting", hparams={"shift": 5.0, "tag": "b"}, **TINY), store)
    assert counting.calls == [("a", 0), ("b", 0)]
    assert base["hparams"] == {"shift": 0.0, "tag": "a"}  # resolved: defaults + overrides
    assert shifted["hparams"] == {"shift": 5.0, "tag": "b"}
    assert base["history"] == [{"epoch": 0, "tau": 1.5}] and base["epochs"] == 1
    assert base["unlearn_seconds"] >= 0
    orig = run_experiment(ExperimentConfig(method="original", **TINY))
    # an unchanged model scores like the original; a uniform logit shift changes nothing either
    for k in ("acc_forget", "acc_retain", "mia", "rf_jsd", "jsd"):
        assert base[k] == pytest.approx(orig[k], abs=1e-6)
    assert shifted["acc_test"] == pytest.approx(orig["acc_test"])
    assert base["key"] != shifted["key"] and len(store) == 2


def test_builtin_method_if_registered(tmp_path):
    available = lotus.list_methods()
    name = next((m for m in ("finetune", "random_labeling", "lotus") if m in available), None)
    if name is None:
        pytest.skip("no built-in method registered yet")
    rec = run_experiment(ExperimentConfig(method=name, hparams={"epochs": 1}, **TINY), ResultsStore(tmp_path))
    assert rec["method"] == name and rec["hparams"]["epochs"] == 1
    assert rec["unlearn_seconds"] > 0
    orig = run_experiment(ExperimentConfig(method="original", **TINY))
    assert rec["jsd"] != pytest.approx(orig["jsd"], abs=1e-9)  # the model really changed


def test_skip_if_stored_and_force(tmp_path, counting):
    store = ResultsStore(tmp_path)
    cfg = ExperimentConfig(method="_counting", **TINY)
    first = run_experiment(cfg, store)
    again = run_experiment(cfg, store)
    assert counting.calls == [("a", 0)]
    assert again == first
    forced = run_experiment(cfg, store, force=True)
    assert counting.calls == [("a", 0), ("a", 0)]
    assert forced["created"] >= first["created"] and len(store) == 1
    # without a store nothing is skipped
    run_experiment(cfg)
    assert len(counting.calls) == 3


def test_grid_resumes_after_an_interruption(tmp_path, counting):
    store = ResultsStore(tmp_path)
    cfgs = grid(methods=["original", "_counting"], seeds=[0], hparams={"_counting": {"tag": "b"}}, **TINY)
    cfgs.append(ExperimentConfig(method="_counting", hparams={"tag": "c"}, **TINY))
    counting.fail_on = {"c"}
    with pytest.raises(KeyboardInterrupt):
        run_grid(cfgs, store, progress=False)
    assert counting.calls == [("b", 0), ("c", 0)]
    assert len(store) == 2  # original and the first _counting run were stored
    counting.fail_on = set()
    df = run_grid(cfgs, store, progress=False)
    assert counting.calls == [("b", 0), ("c", 0), ("c", 0)]  # only the unfinished run ran again
    assert df.attrs["skipped"] == 2
    assert list(df["method"]) == ["original", "_counting", "_counting"]
    assert [h.get("tag") for h in df["hparams"]] == [None, "b", "c"]
    assert len(store) == 3


def test_grid_skip_errors_goes_on(tmp_path, counting):
    cfgs = [ExperimentConfig(method="_counting", hparams={"tag": "bad"}, **TINY),
            ExperimentConfig(method="_counting", hparams={"tag": "ok"}, **TINY)]
    def boom(*a, **k):
        raise RuntimeError("boom")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(counting, "run", boom)
        with pytest.warns(UserWarning, match="boom"):
            df = run_grid(cfgs, None, progress=False, on_error="skip")
    assert len(df) == 0
    with pytest.raises(LotusError, match="on_error"):
        run_grid(cfgs, None, on_error="ignore")


def test_config_validation_happens_before_training(tmp_path):
    with pytest.raises(LotusError, match=r"unknown unlearning method 'nope'; valid: .*gold.*original.*retrain"):
        run_experiment(ExperimentConfig(method="nope", **TINY))
    with pytest.raises(LotusError, match=r"unknown dataset 'mnist'; valid: digits"):
        run_experiment(ExperimentConfig(**{**TINY, "dataset": "mnist"}, method="original"))
    with pytest.raises(LotusError, match="takes no hyper-parameters"):
        ExperimentConfig(method="gold", hparams={"epochs": 1}, **TINY).validate()
    with pytest.raises(LotusError, match="unknown TrainRecipe field"):
        ExperimentConfig(method="original", **{**TINY, "train": {"epoch": 3}}).validate()
    with pytest.raises(LotusError, match="unknown evaluation option"):
        ExperimentConfig(method="original", eval={"fast": True}, **TINY).validate()
    with pytest.raises(LotusError, match="unknown experiment setting"):
        ExperimentConfig.from_dict({"method": "original", "colour": 1})
    # a whole grid is checked before anything runs
    with pytest.raises(LotusError, match="nope"):
        run_grid([ExperimentConfig(method="original", **TINY), ExperimentConfig(method="nope", **TINY)],
                 ResultsStore(tmp_path), progress=False)
    assert len(ResultsStore(tmp_path)) == 0


def test_key_depends_on_what_determines_the_result():
    cfg = ExperimentConfig(method="original", **TINY)
    assert cfg.key() == ExperimentConfig(method="original", **TINY).key()
    # where the data and checkpoints live and which device runs do not change the result's key
    assert cfg.replace(device=None, cache_dir="/x", data={"root": "/data"}).key() == cfg.key()
    assert cfg.replace(seed=1).key() != cfg.key()
    assert cfg.replace(forget="0.5").key() != cfg.key()
    assert cfg.replace(forget=0.1).key() == cfg.replace(forget="0.1").key()
    assert cfg.replace(train={**TINY["train"], "epochs": 9}).key() != cfg.key()
    assert cfg.replace(model_kwargs={"width": 8}).key() != cfg.key()
    assert cfg.replace(data={"forget_rule": "first"}).key() != cfg.key()
    assert cfg.replace(eval={"legacy": True}).key() != cfg.key()
    assert cfg.replace(method="gold").key() != cfg.key()


def test_canonical_forget_matches_load_splits():
    assert canonical_forget(0.1) == "0.1" == canonical_forget("0.1")
    assert canonical_forget("count:5") == "count:5"
    assert canonical_forget("class:3") == "class:3"
    assert canonical_forget("cat") == "class:cat"
    idx = [30, 4, 17]
    assert canonical_forget(idx) == lotus.load_splits("digits", forget=idx, seed=0).forget_spec
    assert canonical_forget("class:3") == lotus.load_splits("digits", forget="class:3", seed=0).forget_spec


def test_grid_order_and_hparams():
    cfgs = grid(methods=["original", "lotus"], seeds=[0, 1], forget=[0.1, 0.5], hparams={"lotus": {"alpha": 2}},
                **TINY)
    assert len(cfgs) == 8
    assert [(c.forget, c.seed, c.method) for c in cfgs[:4]] == [(0.1, 0, "original"), (0.1, 0, "lotus"),
                                                                (0.1, 1, "original"), (0.1, 1, "lotus")]
    assert all(c.hparams == ({"alpha": 2} if c.method == "lotus" else {}) for c in cfgs)


def test_pseudo_methods_listed():
    from lotus.experiment import all_methods

    assert set(PSEUDO_METHODS) <= set(all_methods())
    assert set(lotus.list_methods()) <= set(all_methods())
