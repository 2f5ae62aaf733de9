"""SalUn (Fan et al., ICLR 2024, "SalUn: empowering machine unlearning via gradient-based
weight saliency") and SalUn + LoTUS.

The saliency mask is computed once, in memory: the gradient of the forget loss
(cross-entropy on D_f, model in eval mode, summed over unshuffled batches) is taken in
absolute value and the global top ``mask_ratio`` (10 %) of all parameter elements is kept.
``salun``: every epoch an *impair* pass over D_f with random wrong labels, then a *repair*
pass over D_r (cross-entropy), SGD lr 1e-3, momentum 0.9, weight decay 5e-4 (spec 5).
Gradients (weight decay folded in) are multiplied by the mask, so only salient weights move
-- SalUn's ``theta_u = m * (theta_o + delta) + (1 - m) * theta_o``. With ``mask_repair=True``
(default, as in SalUn, where one masked update covers both terms) the repair pass is masked
too; ``mask_repair=False`` gives the authors' LoTUS-repo variant (unmasked repair).
``salun_lotus``: the same mask applied to the LoTUS loop (:func:`lotus.methods.lotus.run_lotus`),
after which unmasked weights are reset to the original (this undoes AdamW's decoupled
weight decay, which a gradient mask cannot stop). Unlike the authors' code the mask is
never written to disk and the model is returned in eval mode.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import ImageSplit
from ..distributed import all_reduce_sum, current, global_batches
from ..train import make_optimizer
from ..utils import LotusError, check_finite, make_generator
from .base import (
    UnlearningMethod,
    family_defaults,
    forward_logits,
    random_wrong_labels,
    register_method,
    train_epoch_ce,
)
from .lotus import LotusMethod, default_alpha, run_lotus


def saliency_mask(model: nn.Module, forget: ImageSplit, *, ratio: float = 0.1, batch_size: int = 128, device,
                  amp: bool = False) -> dict[str, torch.Tensor]:
    """SalUn's weight-saliency mask: ``{param name: bool tensor shaped like the parameter}``.

    ``|sum over forget batches of grad CE|`` is ranked over *all* parameter elements jointly;
    exactly ``round(ratio * total)`` elements (the largest) are ``True``. The model is run in
    eval mode and its parameters and buffers are not changed.
    """
    if not 0.0 <= ratio <= 1.0:
        raise LotusError(f"mask_ratio must be in [0, 1], got {ratio}")
    was_training = model.training
    model.eval()
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    acc = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    ctx = current()
    try:
        # under torchrun each rank takes its share of every batch, weighted by its size: the
        # sum over ranks is the one-process sum of batch-mean gradients
        for step, (x, y, _, rows) in enumerate(global_batches(forget, batch_size, device=device)):
            loss = -F.cross_entropy(forward_logits(model, x, device=device, amp=amp), y)
            check_finite(loss, where=f"salun saliency, step {step}")
            if ctx.enabled:
                loss = loss * (rows.count / rows.total)
            grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
            for n, gr in zip(params, grads):
                if gr is not None:
                    acc[n].add_(gr.float())
    finally:
        model.train(was_training)
    if ctx.enabled:
        acc = _unflatten(all_reduce_sum(torch.cat([a.flatten() for a in acc.values()]),
                                        what="salun saliency: summing the gradients", ctx=ctx), acc)
    flat = torch.cat([a.abs().flatten() for a in acc.values()])
    k = int(round(ratio * flat.numel()))
    flat_mask = torch.zeros(flat.numel(), dtype=torch.bool, device=flat.device)
    if k > 0:
        flat_mask[torch.topk(flat, k, sorted=False).indices] = True
    out, start = {}, 0
    for n, a in acc.items():
        out[n] = flat_mask[start:start + a.numel()].view_as(a)
        start += a.numel()
    return out


def _unflatten(flat: torch.Tensor, like: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``flat`` cut back into tensors shaped like the values of ``like`` (same order)."""
    out, start = {}, 0
    for n, a in like.items():
        out[n] = flat[start:start + a.numel()].view_as(a)
        start += a.numel()
    return out


def masked_grad_hook(mask: dict[str, torch.Tensor] | None, weight_decay: float = 0.0) -> Callable[[nn.Module], None]:
    """A ``grad_hook(model)``: adds L2 weight decay ``weight_decay * p`` to each gradient,
    then (if ``mask`` is given) zeroes the gradient outside the mask."""
    fmask = {n: m.float() for n, m in mask.items()} if mask is not None else None

    def hook(model: nn.Module) -> None:
        for n, p in model.named_parameters():
            if p.grad is None:
                continue
            if weight_decay:
                p.grad.add_(p.detach(), alpha=weight_decay)
            if fmask is not None and n in fmask:
                p.grad.mul_(fmask[n])

    return hook


def project_to_mask(model: nn.Module, original: nn.Module, mask: dict[str, torch.Tensor]) -> None:
    """Reset every parameter element outside ``mask`` to its value in ``original`` (in place)."""
    ref = dict(original.named_parameters())
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in mask:
                p.copy_(torch.where(mask[n], p, ref[n].to(p.dtype)))


def _mask_fraction(mask: dict[str, torch.Tensor]) -> float:
    total = sum(m.numel() for m in mask.values())
    return sum(int(m.sum()) for m in mask.values()) / max(total, 1)


@register_method
class SalUn(UnlearningMethod):
    name = "salun"
    distributed = True  # the saliency is summed over ranks; training through train_epoch_ce
    label = "SalUn"
    summary = "random labeling restricted to the 10 % most forget-salient weights"
    needs_original = False

    def default_hparams(self, model_name=None, dataset=None) -> dict:
        return {**family_defaults(model_name), "lr": 1e-3, "momentum": 0.9, "weight_decay": 5e-4,
                "mask_ratio": 0.1, "mask_repair": True, "amp": False}

    def run(self, model, splits, *, original, device, seed, hp) -> dict:
        g = make_generator(seed, "salun")
        bs, amp, aug = int(hp["batch_size"]), bool(hp["amp"]), bool(hp["augment"])
        mask = saliency_mask(model, splits.forget, ratio=float(hp["mask_ratio"]), batch_size=bs, device=device, amp=amp)
        # weight decay is folded into the hooks so that masked-out weights do not decay either
        opt = make_optimizer("sgd", model.parameters(), lr=hp["lr"], momentum=hp["momentum"], weight_decay=0.0)
        wd = float(hp["weight_decay"])
        impair_hook = masked_grad_hook(mask, wd)
        repair_hook = impair_hook if hp["mask_repair"] else masked_grad_hook(None, wd)
        history = []
        for epoch in range(int(hp["epochs"])):
            fake = random_wrong_labels(splits.forget.labels, splits.num_classes, g)
            loss_f = train_epoch_ce(model, splits.forget, opt, device=device, batch_size=bs, generator=g,
                                    augment=aug, amp=amp, labels=fake, grad_hook=impair_hook,
                                    channels_last=bool(hp.get("channels_last")), where=f"salun impair: epoch {epoch}")
            loss_r = train_epoch_ce(model, splits.retain, opt, device=device, batch_size=bs, generator=g,
                                    augment=aug, amp=amp, grad_hook=repair_hook,
                                    channels_last=bool(hp.get("channels_last")), where=f"salun repair: epoch {epoch}")
            history.append({"epoch": epoch, "loss_forget_relabelled": loss_f, "loss_retain": loss_r})
        model.eval()
        return {"epochs": int(hp["epochs"]), "history": history, "mask_fraction": _mask_fraction(mask)}


@register_method
class SalUnLotus(UnlearningMethod):
    name = "salun_lotus"
    distributed = True  # the saliency is summed over ranks; training through run_lotus
    label = "SalUn (LoTUS loss)"
    summary = "the LoTUS loss restricted to SalUn's saliency mask"
    hparam_rules = LotusMethod.hparam_rules

    def default_hparams(self, model_name=None, dataset=None) -> dict:
        return {**LotusMethod().default_hparams(model_name, dataset), "mask_ratio": 0.1}

    def run(self, model, splits, *, original, device, seed, hp) -> dict:
        hp = dict(hp)
        ratio = float(hp.pop("mask_ratio"))
        if hp.get("alpha") is None:
            hp["alpha"] = default_alpha((getattr(model, "lotus_config", None) or {}).get("name"), splits,
                                        hp.get("class_unlearning"))
        mask = saliency_mask(model, splits.forget, ratio=ratio, batch_size=int(hp["batch_size"]), device=device,
                             amp=bool(hp["amp"]))
        out = run_lotus(model, splits, original=original, device=device, seed=seed, hp=hp,
                        grad_hook=masked_grad_hook(mask))
        project_to_mask(model, original, mask)
        model.eval()
        out = dict(out)
        out["mask_fraction"] = _mask_fraction(mask)
        out["alpha_used"] = hp["alpha"]
        return out
