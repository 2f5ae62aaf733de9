"""Random labeling (Graves et al., AAAI 2021, "Amnesiac machine learning").

Every epoch: *impair* -- one cross-entropy pass over the forget set D_f whose labels are
replaced by a random *wrong* class (drawn afresh each epoch, vectorised, from the run seed);
then *repair* -- one cross-entropy pass over the retain set D_r. SGD lr 1e-3, momentum 0.9,
weight decay 5e-4 (spec 5). Differences from the authors' LoTUS-repo code: the random labels
are drawn in one vectorised call (no materialised copy of D_f) and the model is returned in
eval mode.
"""

from __future__ import annotations

from ..train import make_optimizer
from ..utils import make_generator
from .base import UnlearningMethod, family_defaults, random_wrong_labels, register_method, train_epoch_ce


@register_method
class RandomLabeling(UnlearningMethod):
    name = "random_labeling"
    distributed = True  # train_epoch_ce / train_model shard and reduce under torchrun
    label = "Rnd Labeling"
    summary = "train on forget samples with random wrong labels, then repair on the retain set"
    needs_original = False

    def default_hparams(self, model_name=None, dataset=None) -> dict:
        return {**family_defaults(model_name), "lr": 1e-3, "momentum": 0.9, "weight_decay": 5e-4,
                "amp": False}

    def run(self, model, splits, *, original, device, seed, hp) -> dict:
        g = make_generator(seed, "random_labeling")
        opt = make_optimizer("sgd", model.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                             weight_decay=hp["weight_decay"])
        bs = int(hp["batch_size"])
        history = []
        for epoch in range(int(hp["epochs"])):
            fake = random_wrong_labels(splits.forget.labels, splits.num_classes, g)
            loss_f = train_epoch_ce(model, splits.forget, opt, device=device, batch_size=bs, generator=g,
                                    augment=hp["augment"], amp=hp["amp"], labels=fake,
                                    channels_last=bool(hp.get("channels_last")),
                                    where=f"random_labeling impair: epoch {epoch}")
            loss_r = train_epoch_ce(model, splits.retain, opt, device=device, batch_size=bs, generator=g,
                                    augment=hp["augment"], amp=hp["amp"],
                                    channels_last=bool(hp.get("channels_last")),
                                    where=f"random_labeling repair: epoch {epoch}")
            history.append({"epoch": epoch, "loss_forget_relabelled": loss_f, "loss_retain": loss_r})
        model.eval()
        return {"epochs": int(hp["epochs"]), "history": history}
