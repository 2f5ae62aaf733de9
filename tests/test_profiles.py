"""Profiles: one home for every setting, inheritance, chapter entries and overrides."""

import pytest

from lotus.experiment import ExperimentConfig, benchmark_methods, configs_from_settings, method_hparams
from lotus.profiles import SETTINGS, list_profiles, load_profile, resolve
from lotus.utils import LotusError


def _write(path, text):
    path.write_text(text)
    return path


def test_shipped_profiles_resolve_to_valid_configs():
    assert set(list_profiles()) == {"tiny", "cpu", "paper"}  # the _base is not listed
    for name in list_profiles():
        prof = load_profile(name)
        assert prof["description"] and set(prof["settings"]) == set(SETTINGS)
        for chapter in prof["chapters"]:
            settings = resolve(prof, chapter)
            for cfg in configs_from_settings(settings):
                cfg.validate()
    assert load_profile("paper")["settings"]["seeds"] == [3407, 13, 12]
    assert load_profile("paper")["settings"]["train"] == {}  # each model's registered recipe
    tiny = resolve("tiny")
    assert tiny["dataset"] == "digits" and tiny["model_kwargs"] == {"width": 16}
    with pytest.raises(LotusError, match=r"unknown profile 'huge'; valid: cpu, paper, tiny"):
        load_profile("huge")


def test_each_value_is_written_once_and_inherited():
    """Chapter parameters shared by every profile live in the base; a chapter entry of a profile
    changes only what differs."""
    for name in ("tiny", "cpu", "paper"):
        s = resolve(name, "02_gumbel_softmax")
        assert s["alphas"] == [2, 4, 8, 16] and s["taus"] == [0.5, 1.0, 2.0, 4.0]
    assert resolve("tiny", "09_large_scale")["fixture"]["source"] == "digits"
    assert resolve("cpu", "09_large_scale")["fixture"]["source"] == "cifar10"
    # the chapter's data set replaces the profile's, and with it the profile's data options
    s = resolve("tiny", "09_large_scale")
    assert s["dataset"] == "imagefolder" and s["data"] == {"path": None, "retain_per_class": 45}
    assert resolve("cpu", "05_forget_50")["forget"] == 0.5
    assert resolve("tiny", "08_class_unlearning")["forget"] == "class:3"


def test_merge_rules(tmp_path):
    _write(tmp_path / "base.yaml", "settings:\n  dataset: digits\n  data: {noise_std: 0.3}\n"
                  "  unlearn: {epochs: 3}\n  hparams: {lotus: {alpha: 2, lr: 0.1}, scrub: {epochs: 1}}\n"
                  "chapters:\n  c1: {seeds: [1], knob: 5}\n")
    child = _write(tmp_path / "child.yaml", "extends: base.yaml\nsettings:\n  unlearn: {batch_size: 8}\n"
                   "  hparams: {lotus: {alpha: 4}}\n  data: {image_size: 16}\n")
    s = resolve(str(child))
    assert s["unlearn"] == {"epochs": 3, "batch_size": 8}  # merged per key
    assert s["hparams"] == {"lotus": {"alpha": 4, "lr": 0.1}, "scrub": {"epochs": 1}}  # merged per method
    assert s["data"] == {"image_size": 16}  # replaced whole
    c = resolve(str(child), "c1", knob=6)
    assert c["seeds"] == [1] and c["knob"] == 6
    # another data set drops the inherited data options; given together, both are kept
    assert resolve(str(child), dataset="cifar10")["data"] == {}
    assert resolve(str(child), dataset="cifar10", data={"download": True})["data"] == {"download": True}
    assert resolve(str(child), dataset="digits")["data"] == {"image_size": 16}  # the same data set keeps them
    # typos are errors naming the valid names, for settings and chapter parameters alike
    with pytest.raises(LotusError, match=r"unknown setting\(s\) \['knobb'\] of chapter 'c1'; valid: .*knob"):
        resolve(str(child), "c1", knobb=1)
    with pytest.raises(LotusError, match=r"unknown setting\(s\) \['knob'\]"):
        resolve(str(child), knob=1)  # a chapter's parameter exists only in that chapter


def test_profile_file_validation(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "settings: {dataset: digits, epochs: 3}\n")
    with pytest.raises(LotusError, match=r"unknown setting\(s\) \['epochs'\]"):
        load_profile(bad)
    _write(bad, "description: x\nextra: 1\n")
    with pytest.raises(LotusError, match="unknown section"):
        load_profile(bad)
    _write(bad, "- a\n- b\n")
    with pytest.raises(LotusError, match="must be a YAML mapping"):
        load_profile(bad)
    _write(bad, "settings: {dataset: [unclosed\n")
    with pytest.raises(LotusError, match="not valid YAML"):
        load_profile(bad)
    _write(tmp_path / "a.yaml", "extends: b.yaml\n")
    _write(tmp_path / "b.yaml", "extends: a.yaml\n")
    with pytest.raises(LotusError, match="extends itself"):
        load_profile(tmp_path / "a.yaml")
    good = _write(tmp_path / "mine.yaml", "description: mine\nextends: cpu\nsettings: {seeds: [1]}\n")
    prof = load_profile(good)
    assert prof["name"] == "mine" and prof["settings"]["seeds"] == [1] and prof["settings"]["dataset"] == "cifar10"
    assert prof["chapters"]["08_class_unlearning"]["forget"] == "class:cat"  # inherited chapter entries


def test_the_shared_budget_reaches_every_method_that_has_it():
    s = resolve("tiny", unlearn={"epochs": 2, "stop_rule": "best"}, hparams={"scrub": {"epochs": 1}})
    own = resolve("tiny")["hparams"]  # the profile's tuned values come on top of the budget
    assert method_hparams("lotus", s) == {"epochs": 2, "batch_size": 64, "stop_rule": "best", **own["lotus"]}
    assert method_hparams("finetune", s) == {"epochs": 2, "batch_size": 64, **own["finetune"]}  # no stop rule
    assert method_hparams("ssd", s) == {"batch_size": 64, **own["ssd"]}  # SSD has no epochs
    assert method_hparams("scrub", s)["epochs"] == 1  # its own setting wins
    assert method_hparams("retrain", s) == {}  # retraining's epochs are a recipe's, not the budget
    assert method_hparams("gold", s) == {}
    with pytest.raises(LotusError, match=r"unknown hyper-parameter\(s\) \['alpah'\] for method 'lotus'"):
        configs_from_settings(resolve("tiny", methods=["lotus"], unlearn={"alpah": 2}))
    with pytest.raises(LotusError, match=r"hparams given for unknown method\(s\) \['lotsu'\]"):
        configs_from_settings(resolve("tiny", hparams={"lotsu": {"alpha": 2}}))


def test_methods_all_is_the_paper_order_without_the_retrain_method():
    methods = benchmark_methods("all")
    assert methods[:3] == ["original", "gold", "finetune"] and "retrain" not in methods and methods[-2:] == [
        "lotus", "salun_lotus"]
    assert benchmark_methods(["lotus", "original"], always=("gold",)) == ["original", "gold", "lotus"]
    with pytest.raises(LotusError, match="unknown unlearning method"):
        benchmark_methods(["lotsu"])


def test_configs_carry_every_setting():
    s = resolve("tiny", seeds=[0, 1], methods=["original", "lotus"], data_root="~/d", eval={"amp": False})
    cfgs = configs_from_settings(s)
    assert [(c.seed, c.method) for c in cfgs] == [(0, "original"), (0, "lotus"), (1, "original"), (1, "lotus")]
    c = cfgs[1]
    assert isinstance(c, ExperimentConfig) and c.dataset == "digits" and c.model_kwargs == {"width": 16}
    assert c.train["epochs"] == 12 and c.hparams["epochs"] == 3 and c.eval == {"amp": False}
    assert c.hparams == {**resolve("tiny")["unlearn"], **resolve("tiny")["hparams"].get("lotus", {})}
    assert c.data["noise_std"] == 0.45 and not c.data["root"].startswith("~")


def test_a_shared_override_beats_the_profiles_tuned_value():
    """The cpu profile tunes lr per method; an override's shared ``unlearn: {lr}`` replaces
    it for every method that shares the budget, the retrain method keeps its own, and an
    explicit per-method override still wins over the shared one."""
    tuned = resolve("cpu")["hparams"]
    assert tuned["lotus"]["lr"] != 0.5 and tuned["finetune"]["lr"] != 0.5
    s = resolve("cpu", unlearn={"lr": 0.5})
    assert method_hparams("lotus", s)["lr"] == 0.5
    assert method_hparams("finetune", s)["lr"] == 0.5
    assert s["hparams"]["ssd"] == tuned["ssd"]  # no lr there: nothing added
    s = resolve("cpu", unlearn={"lr": 0.5}, hparams={"lotus": {"lr": 0.25}})
    assert method_hparams("lotus", s)["lr"] == 0.25
    assert method_hparams("finetune", s)["lr"] == 0.5
    # a chapter entry of the profile itself is not an override: the tuned values stay
    assert resolve("cpu", "04_benchmark")["hparams"]["lotus"]["lr"] == tuned["lotus"]["lr"]
