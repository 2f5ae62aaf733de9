"""Retrain from scratch on the retain set: the gold standard f_gold (spec 1, 6.4).

A freshly initialised model of the same architecture (``model.lotus_config``, init seeded
from the run seed) is trained on D_r only with :func:`lotus.train.train_model` and the
paper's recipe (:func:`lotus.train.paper_recipe`); every recipe field (``epochs``, ``lr``,
``batch_size``, ``scheduler``, ``patience``, ...) is a hyper-parameter. Early stopping uses
the unseen set D_u (``val``). The forget set is never read. For pretrained architectures
(ViT) the configured pretrained weights are kept, as for the authors' gold models.
"""

from __future__ import annotations

from dataclasses import asdict

from ..train import TrainRecipe, paper_recipe, train_model
from .base import UnlearningMethod, fresh_model_like, register_method


@register_method
class Retrain(UnlearningMethod):
    name = "retrain"
    distributed = True  # train_epoch_ce / train_model shard and reduce under torchrun
    label = "Retrain"
    summary = "train a fresh model on the retain set only, timed (the `gold` row is the same model, cached)"
    needs_original = False
    shares_budget = False  # its epochs are a training recipe's, not the unlearning budget
    needs_fresh_model = True  # fresh_model_like: needs model.lotus_config

    def default_hparams(self, model_name=None, dataset=None) -> dict:
        return asdict(paper_recipe(model_name))

    def run(self, model, splits, *, original, device, seed, hp) -> dict:
        recipe = TrainRecipe(**hp)
        fresh = fresh_model_like(model, seed=seed, salt="retrain", device=device)
        fresh, history = train_model(fresh, splits.retain, splits.val, recipe, device=device, seed=seed,
                                     desc="retrain", progress=False)
        fresh.eval()
        return {"model": fresh, "epochs": len(history), "history": history}
