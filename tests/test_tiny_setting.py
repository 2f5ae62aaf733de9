"""The tiny profile teaches what the book is about (issue 19): its original model memorises
the forget set, and LoTUS at the profile's tuned settings moves the model towards the gold
model, averaged over three fixed seeds (0, 1, 2; the tuning seed is 100).

The paper's claim would be that LoTUS at least halves the original's distance to the gold
model in forget accuracy, |acc_forget - gold acc_forget|. Measured on tiny (seeds 0-2, the
profile's winner alpha 4, lr 0.001, 3 epochs at batch 64) it does not: the mean distance
falls from 0.218 to 0.187 (ratio 0.86; alpha 8: 0.78; alpha 16: 0.63). Its Avg Gap to the
gold model falls from 0.154 to 0.071 (ratio 0.46), mostly through the MIA. The tests assert
what LoTUS does reach, with a margin, and neither the method nor the profile was changed to
pass them. Trains six small models (about a minute of CPU).
"""

import numpy as np
import pytest

from lotus.experiment import configs_from_settings, run_grid
from lotus.profiles import resolve

SEEDS = (0, 1, 2)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs():
    settings = resolve("tiny", "04_benchmark")
    cfgs = configs_from_settings(settings, methods=["original", "gold", "lotus"], seeds=list(SEEDS))
    records = run_grid(cfgs, None, progress=False)
    return {seed: records[records["seed"] == seed].set_index("method") for seed in SEEDS}


def _mean(runs, fn):
    return float(np.mean([fn(r) for r in runs.values()]))


def test_the_original_memorises_what_the_gold_model_never_saw(runs):
    for seed, r in runs.items():
        orig, gold = r.loc["original"], r.loc["gold"]
        assert orig["acc_forget"] >= 0.97 and orig["acc_retain"] >= 0.97, seed
        assert orig["acc_forget"] - gold["acc_forget"] >= 0.15, seed
        assert orig["mia"] - gold["mia"] >= 0.15, seed


def test_lotus_at_the_profile_settings_moves_towards_the_gold_model(runs):
    def forget_distance(method):
        return _mean(runs, lambda r: abs(r.loc[method, "acc_forget"] - r.loc["gold", "acc_forget"]))

    # not the paper's "at least halves" (see the module docstring): a reduction, with a margin
    assert forget_distance("lotus") <= 0.95 * forget_distance("original")
    # the paper's headline score: LoTUS's Avg Gap well below that of doing nothing
    assert _mean(runs, lambda r: r.loc["lotus", "avg_gap"]) <= 0.65 * _mean(runs, lambda r: r.loc["original", "avg_gap"])
    # without destroying the model
    for seed, r in runs.items():
        assert r.loc["original", "acc_test"] - r.loc["lotus", "acc_test"] <= 0.10, seed
