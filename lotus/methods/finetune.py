"""Finetuning: keep training the original model on the retain set only (cross-entropy).

The forget set is never used; forgetting relies on catastrophic forgetting. Hyper-parameters
as in the paper's baseline (spec 5): SGD lr 1e-3, momentum 0.9, weight decay 5e-4, the
per-family budget (CNN 10 epochs / batch 128, ViT 3 / 32). Unlike the authors' LoTUS-repo
code, the returned model is in eval mode.
"""

from __future__ import annotations

from ..train import make_optimizer
from ..utils import make_generator
from .base import UnlearningMethod, family_defaults, register_method, train_epoch_ce


@register_method
class Finetune(UnlearningMethod):
    name = "finetune"
    distributed = True  # train_epoch_ce / train_model shard and reduce under torchrun
    label = "Finetuning"
    summary = "cross-entropy training on the retain set only"
    needs_original = False

    def default_hparams(self, model_name=None, dataset=None) -> dict:
        return {**family_defaults(model_name), "lr": 1e-3, "momentum": 0.9, "weight_decay": 5e-4,
                "amp": False}

    def run(self, model, splits, *, original, device, seed, hp) -> dict:
        g = make_generator(seed, "finetune")
        opt = make_optimizer("sgd", model.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                             weight_decay=hp["weight_decay"])
        history = []
        for epoch in range(int(hp["epochs"])):
            loss = train_epoch_ce(model, splits.retain, opt, device=device, batch_size=int(hp["batch_size"]),
                                  generator=g, augment=hp["augment"], amp=hp["amp"],
                                  channels_last=bool(hp.get("channels_last")), where=f"finetune: epoch {epoch}")
            history.append({"epoch": epoch, "loss_retain": loss})
        model.eval()
        return {"epochs": int(hp["epochs"]), "history": history}
