"""The Streisand-effect demonstration of chapter 7: a LoTUS run forced past the unseen level,
beside the same run aimed at it, and the two checks the chapter states in its prose.

* :func:`demo_hparams` gives the two runs' hyper-parameters from the chapter's settings: the
  profile's LoTUS hyper-parameters, changed by ``overshoot_hparams`` (a larger step), once with
  the paper's target Acc(f_orig, D_u) and once with the target 0 (``class_unlearning=True``,
  which makes the dynamic temperature ``exp(alpha * Acc(f_un, D_f)) >= 1`` keep smoothing).
* :func:`level_check` says whether a forget accuracy lies clearly below a target (an
  overshoot), clearly above it, or within the binomial noise of ``n`` forget samples.
* :func:`confidence_auc` is the two-sided separability score of the chapter: the probability
  that a random forget sample is answered with more confidence than a random reference sample.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import roc_auc_score

from ..utils import LotusError

__all__ = ["DEMO_RUNS", "demo_hparams", "level_check", "confidence_auc"]

#: the two runs of the demonstration: name -> the change to LoTUS's target
DEMO_RUNS = {
    "aimed at D_u": {},                         # the paper's target, Acc(f_orig, D_u)
    "aimed at 0": {"class_unlearning": True},   # target 0: nothing tells the run where to stop
}


def demo_hparams(lotus_hparams: dict, overshoot_hparams: dict | None) -> dict[str, dict]:
    """``{run name: hyper-parameters}`` for the runs of :data:`DEMO_RUNS`.

    ``lotus_hparams``: the chapter's LoTUS hyper-parameters (``ch.hparams("lotus")``);
    ``overshoot_hparams``: the profile's changes for the demonstration (e.g. a larger ``lr``).
    Both runs share everything but the target, so any difference between them is the target's.
    """
    extra = dict(overshoot_hparams or {})
    if "class_unlearning" in extra:
        raise LotusError("overshoot_hparams must not set class_unlearning: the demonstration runs both targets")
    return {name: {**lotus_hparams, **extra, **change} for name, change in DEMO_RUNS.items()}


def level_check(acc: float, target: float, n: int, *, z: float = 2.0) -> dict:
    """Where a forget accuracy ``acc`` on ``n`` samples lies relative to ``target``.

    The margin is ``z`` binomial standard errors of an accuracy ``target`` measured on ``n``
    samples, ``z * sqrt(target * (1 - target) / n)`` (at least ``z / n``, so that a target of
    0 or 1 keeps a margin of a few samples). Returns ``{"gap": acc - target, "margin": ...,
    "verdict": "below" | "above" | "at"}``: ``"below"`` (an overshoot) when ``gap < -margin``,
    ``"above"`` when ``gap > margin``, else ``"at"``.
    """
    if not (0.0 <= float(acc) <= 1.0 and 0.0 <= float(target) <= 1.0):
        raise LotusError(f"acc and target must be accuracies in [0, 1], got {acc} and {target}")
    if int(n) < 1:
        raise LotusError(f"n must be a positive number of samples, got {n}")
    if not float(z) > 0:
        raise LotusError(f"z must be > 0, got {z}")
    t, n = float(target), int(n)
    margin = max(float(z) * math.sqrt(t * (1.0 - t) / n), float(z) / n)
    gap = float(acc) - t
    verdict = "below" if gap < -margin else "above" if gap > margin else "at"
    return {"gap": gap, "margin": margin, "verdict": verdict}


def confidence_auc(entropy_forget, entropy_reference) -> float:
    """Area under the ROC curve of the negative entropy, forget samples as positives.

    ``entropy_forget``: ``[N_f]`` entropies (nats) of a model's outputs on D_f;
    ``entropy_reference``: ``[N_r]`` on data the model did not train on (D_u or the test set).
    The result is the probability that a random forget sample gets a *lower* entropy (a more
    confident answer) than a random reference sample, ties counting one half: 0.5 when the two
    are indistinguishable, above 0.5 when D_f still looks like training data, below 0.5 when it
    looks *less* familiar than unseen data (the Streisand effect).
    """
    h_f = np.asarray(entropy_forget, dtype=float).ravel()
    h_r = np.asarray(entropy_reference, dtype=float).ravel()
    if h_f.size == 0 or h_r.size == 0:
        raise LotusError(f"confidence_auc needs entropies on both sets, got {h_f.size} and {h_r.size}")
    if not (np.isfinite(h_f).all() and np.isfinite(h_r).all()):
        raise LotusError("confidence_auc: entropies must be finite")
    labels = np.r_[np.ones(h_f.size), np.zeros(h_r.size)]
    return float(roc_auc_score(labels, -np.r_[h_f, h_r]))
