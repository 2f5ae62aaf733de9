"""The hyper-parameter search (lotus.tune, `lotus tune`): the plan a profile describes, the
grid it expands to, the choice of the winners, and one small search end to end."""

import pandas as pd
import pytest

from lotus.cli import main
from lotus.profiles import load_profile
from lotus.results import ResultsStore
from lotus.tune import best_settings, hparams_yaml, run_tune, tune_configs, tune_plan
from lotus.utils import LotusError


def _write(path, text):
    path.write_text(text)
    return path


def test_shipped_profiles_describe_a_search_on_a_seed_the_tables_do_not_use():
    for name in ("tiny", "cpu"):
        plan = tune_plan(name)
        assert plan["seed"] not in plan["settings"]["seeds"]
        for chapter, entry in load_profile(name)["chapters"].items():
            assert plan["seed"] not in (entry.get("seeds") or [])
        # the paper's alpha grid for LoTUS, and a learning rate for every method that has one
        assert plan["grid"]["lotus"]["alpha"] == [2, 4, 8, 16]
        for method, space in plan["grid"].items():
            assert method == "ssd" or "lr" in space, method
        assert {"ssd", "scrub", "salun", "unsir"} <= set(plan["grid"])
        assert {"alpha", "lam"} <= set(plan["grid"]["ssd"]) and "msteps" in plan["grid"]["scrub"]
        assert "mask_ratio" in plan["grid"]["salun"] and "noise_steps" in plan["grid"]["unsir"]
        for cfg in tune_configs(name):
            cfg.validate()


def test_grid_expands_to_every_combination_over_the_chapter_settings(tmp_path):
    prof = _write(tmp_path / "p.yaml", "extends: tiny\nsettings:\n  hparams: {lotus: {lr: 0.5, stop_rule: best}}\n"
                  "tune:\n  seed: 7\n  grid:\n    lotus: {lr: [0.001, 0.01]}\n    ssd: {alpha: [5, 10], lam: [1.0]}\n")
    cfgs = tune_configs(prof, methods=["lotus", "ssd"])
    assert [(c.method, c.seed) for c in cfgs[:2]] == [("original", 7), ("gold", 7)]
    lotus_cfgs = [c for c in cfgs if c.method == "lotus"]
    # the searched names replace the profile's values; the others (and the shared budget) stay
    # (the child's learning rates times the base's alpha grid: every combination)
    assert sorted((c.hparams["alpha"], c.hparams["lr"]) for c in lotus_cfgs) == [
        (a, lr) for a in (2, 4, 8, 16) for lr in (0.001, 0.01)]
    assert all(c.hparams["stop_rule"] == "best" and c.hparams["epochs"] == 3 for c in lotus_cfgs)
    # the grid merges per method and per name: the base's LoTUS alpha grid survives a child
    # that gives only learning rates
    assert tune_plan(prof)["grid"]["lotus"]["alpha"] == [2, 4, 8, 16]
    assert sorted(c.hparams["alpha"] for c in cfgs if c.method == "ssd") == [5, 10]
    assert len({c.key() for c in cfgs}) == len(cfgs)


def test_plan_errors_name_the_problem(tmp_path):
    with pytest.raises(LotusError, match=r"unknown hyper-parameter\(s\) \['alpah'\]"):
        tune_plan(_write(tmp_path / "a.yaml", "extends: tiny\ntune: {grid: {lotus: {alpah: [1]}}}\n"))
    with pytest.raises(LotusError, match="is one of the reported seeds"):
        tune_plan(_write(tmp_path / "b.yaml", "extends: tiny\ntune: {seed: 0}\n"))
    with pytest.raises(LotusError, match="must be a non-empty list"):
        load_profile(_write(tmp_path / "c.yaml", "extends: tiny\ntune: {grid: {lotus: {lr: 0.1}}}\n"))
    with pytest.raises(LotusError, match=r"unknown tune key\(s\) \['seeds'\]"):
        load_profile(_write(tmp_path / "d.yaml", "extends: tiny\ntune: {seeds: [1]}\n"))
    with pytest.raises(LotusError, match=r"no tuning grid for method\(s\) \['retrain'\]"):
        tune_plan("tiny", methods=["retrain"])


def _records(rows):
    return pd.DataFrame([{"method": m, "hparams": hp, "avg_gap": g, "test_drop": d, "acc_forget": 0.5,
                          "acc_retain": 0.9, "acc_test": 0.6, "mia": 0.3, "unlearn_seconds": 1.0}
                         for m, hp, g, d in rows])


def test_the_winner_is_the_lowest_avg_gap_within_the_test_accuracy_limit():
    grid = {"lotus": {"lr": [1, 2, 3]}, "ssd": {"alpha": [1, 2]}}
    rec = _records([("lotus", {"lr": 1, "epochs": 3}, 0.20, 0.01), ("lotus", {"lr": 2, "epochs": 3}, 0.05, 0.30),
                    ("lotus", {"lr": 3, "epochs": 3}, 0.10, 0.10),
                    ("ssd", {"alpha": 1}, 0.50, 0.50), ("ssd", {"alpha": 2}, 0.40, 0.45)])
    best = best_settings(rec, grid, max_test_drop=0.10)
    assert best.loc["lotus", "setting"] == {"lr": 3} and best.loc["lotus", "within_limit"]
    assert best.loc["lotus", "runs"] == 3 and best.loc["lotus", "avg_gap"] == pytest.approx(0.10)
    # no setting within the limit: the lowest Avg Gap, flagged (collapse is what it does)
    assert best.loc["ssd", "setting"] == {"alpha": 2} and not best.loc["ssd", "within_limit"]


def test_a_small_search_end_to_end(tmp_path, capsys):
    prof = _write(tmp_path / "p.yaml", "extends: tiny\nsettings:\n  data: {noise_std: 0.45, image_size: 8}\n"
                  "  train: {epochs: 2, batch_size: 64, lr: 0.05, scheduler: cosine, warmup_epochs: 0,"
                  " patience: null, augment: false}\n  unlearn: {epochs: 1}\n"
                  "tune:\n  seed: 5\n  grid:\n    lotus: {alpha: [2], lr: [0.0001, 0.01]}\n")
    result = run_tune(prof, methods=["lotus"], progress=False)
    assert list(result.records["method"]) == ["original", "gold", "lotus", "lotus"]
    assert len(ResultsStore(result.records.attrs["store"])) >= 4  # every record is stored
    lotus_rows = result.records[result.records["method"] == "lotus"]
    chosen = lotus_rows.loc[lotus_rows["avg_gap"].idxmin(), "hparams"]["lr"]
    assert result.best.loc["lotus", "setting"] == {"alpha": 2, "lr": chosen}
    assert result.records.loc[result.records["method"] == "original", "test_drop"].iloc[0] == 0
    text = hparams_yaml(result, command="lotus tune --profile p", date="2000-01-01")
    assert "seed 5" in text and f"lotus: {{alpha: 2, lr: {chosen}}}" in text
    # the profile's other hparams stay (tiny's SCRUB batch), so the block can replace the old one
    assert "scrub: {" in text and "forget_batch_size: 64" in text
    # the command line reruns it from the stored records and prints the same winner
    assert main(["tune", "--profile", str(prof), "--methods", "lotus", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Avg Gap to the gold model" in out and f"lotus: {{alpha: 2, lr: {chosen}}}" in out
