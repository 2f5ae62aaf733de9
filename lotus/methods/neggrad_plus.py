"""NegGrad+ (Kurmanji et al., NeurIPS 2023, "Towards unbounded machine unlearning").

Each step minimises ``alpha * CE(retain batch) - (1 - alpha) * CE(forget batch)``: descent on
D_r and genuine gradient *ascent* on D_f in one weighted objective. One epoch is one shuffled
pass over the retain set; every retain batch is paired with the next batch of a reshuffled,
endlessly cycled forget set. SGD lr 1e-3, momentum 0.9, weight decay 5e-4 (spec 5).
Unlike the authors' LoTUS-repo code (whose sign flip is a no-op, so it only descends on
D_f then D_r, spec 9 item 2), this version really ascends on D_f; it returns an eval-mode model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..distributed import all_reduce_sum, average_gradients, current, global_batches, sync_buffers
from ..train import make_optimizer
from ..utils import LotusError, check_finite, make_generator
from .base import (
    HParamRule,
    UnlearningMethod,
    cycle_global_batches,
    family_defaults,
    forward_logits,
    register_method,
)


@register_method
class NegGradPlus(UnlearningMethod):
    name = "neggrad_plus"
    distributed = True  # sharded retain and forget streams, gradients averaged over ranks
    label = "NegGrad+"
    summary = "alpha * CE(retain) - (1 - alpha) * CE(forget), descent + ascent"
    needs_original = False
    hparam_rules = {"alpha": HParamRule("float", 0, 1)}

    def default_hparams(self, model_name=None, dataset=None) -> dict:
        return {**family_defaults(model_name), "alpha": 0.99, "lr": 1e-3, "momentum": 0.9,
                "weight_decay": 5e-4, "amp": False}

    def run(self, model, splits, *, original, device, seed, hp) -> dict:
        alpha = float(hp["alpha"])
        if not 0.0 <= alpha <= 1.0:
            raise LotusError(f"neggrad_plus alpha must be in [0, 1], got {alpha}")
        g = make_generator(seed, "neggrad_plus")
        bs, amp, aug = int(hp["batch_size"]), bool(hp["amp"]), bool(hp["augment"])
        opt = make_optimizer("sgd", model.parameters(), lr=hp["lr"], momentum=hp["momentum"],
                             weight_decay=hp["weight_decay"])
        # under torchrun each rank takes its share of every retain and forget batch; the model is
        # called twice per step, so the gradients are averaged over ranks by hand, not by DDP
        ctx = current()
        nhwc = bool(hp.get("channels_last"))  # batches in the model's memory format (same values)
        forget_stream = cycle_global_batches(splits.forget, bs, generator=g, device=device, augment=aug,
                                             channels_last=nhwc)
        history = []
        for epoch in range(int(hp["epochs"])):
            model.train()
            tot_r = tot_f = 0.0
            steps = 0
            for step, (xr, yr, _, rows_r) in enumerate(global_batches(splits.retain, bs, shuffle=True, augment=aug,
                                                                       generator=g, device=device,
                                                                       channels_last=nhwc)):
                xf, yf, _, rows_f = next(forget_stream)
                loss_r = F.cross_entropy(forward_logits(model, xr, device=device, amp=amp), yr)
                loss_f = F.cross_entropy(forward_logits(model, xf, device=device, amp=amp), yf)
                loss = alpha * loss_r - (1.0 - alpha) * loss_f
                check_finite(loss, where=f"neggrad_plus: epoch {epoch}, step {step}")
                opt.zero_grad(set_to_none=True)
                if ctx.enabled:
                    loss = alpha * rows_r.scale(loss_r) - (1.0 - alpha) * rows_f.scale(loss_f)
                loss.backward()
                average_gradients(model, what=f"neggrad_plus: epoch {epoch}, step {step}", ctx=ctx)
                opt.step()
                tot_r += float(loss_r.detach()) * (rows_r.count / rows_r.total)
                tot_f += float(loss_f.detach()) * (rows_f.count / rows_f.total)
                steps += 1
            if ctx.enabled:
                sync_buffers(model, what=f"neggrad_plus: epoch {epoch}", ctx=ctx)
                tot_r, tot_f = all_reduce_sum(torch.tensor([tot_r, tot_f], dtype=torch.float64),
                                              what=f"neggrad_plus: epoch {epoch}'s losses", ctx=ctx).tolist()
            history.append({"epoch": epoch, "loss_retain": tot_r / max(steps, 1),
                            "loss_forget": tot_f / max(steps, 1)})
        model.eval()
        return {"epochs": int(hp["epochs"]), "history": history}
