"""Bad Teacher (Chundawat et al., AAAI 2023, "Can bad teaching induce forgetting?").

The student (the model) is distilled on D_f plus a random 30 % of D_r: on retain samples
towards the frozen *competent* teacher (the original model), on forget samples towards an
*incompetent* teacher -- a freshly, randomly initialised network of the same architecture
(built from ``model.lotus_config`` with a seeded init and ``pretrained=False``). Loss:
``KL(t || softmax(student / T))`` with ``t = l * softmax(u / T) + (1 - l) * softmax(f / T)``
(``l = 1`` for forget samples), Adam lr 1e-4, T = 1 (spec 5). Differences from the authors'
LoTUS-repo code: the union is shuffled (not all forget batches first), the ViT incompetent
teacher is fully random (no pretrained backbone), KL uses ``batchmean`` reduction, and the
model is returned in eval mode. Without augmentation (``teacher_cache``, ``None``: auto) both
teachers' targets are computed once instead of in every epoch (the same numbers, bit for bit
on CPU).
"""

from __future__ import annotations

import torch

from ..data import concat_splits
from ..distributed import EpochSteps, current, global_batches, guard
from ..train import make_optimizer
from ..utils import make_generator
from .base import (
    UnlearningMethod,
    family_defaults,
    forward_logits,
    freeze,
    fresh_model_like,
    kl_to_targets,
    model_accepts,
    random_fraction_subset,
    register_method,
    reuse_teacher,
    teacher_logits,
    to_memory_format,
)


def incompetent_teacher(model: torch.nn.Module, *, seed: int, device) -> torch.nn.Module:
    """A frozen, randomly initialised (never pretrained) copy of ``model``'s architecture, in eval mode."""
    over = {"pretrained": False} if model_accepts(model, "pretrained") else {}
    return freeze(fresh_model_like(model, seed=seed, salt="bad_teacher/incompetent", device=device, **over))


@register_method
class BadTeacher(UnlearningMethod):
    name = "bad_teacher"
    distributed = True  # sharded global batches under DDP; the teachers' logits gathered
    label = "Bad Teacher"
    summary = "distil from the original on retain data and from a random network on forget data"
    needs_fresh_model = True  # fresh_model_like: needs model.lotus_config

    def default_hparams(self, model_name=None, dataset=None) -> dict:
        return {**family_defaults(model_name), "lr": 1e-4, "weight_decay": 0.0, "temperature": 1.0,
                "retain_fraction": 0.3, "amp": False, "teacher_cache": None}

    def run(self, model, splits, *, original, device, seed, hp) -> dict:
        g = make_generator(seed, "bad_teacher")
        amp, T = bool(hp["amp"]), float(hp["temperature"])
        bad = incompetent_teacher(model, seed=seed, device=device)
        to_memory_format(bool(hp.get("channels_last")), bad)
        keep = random_fraction_subset(len(splits.retain), float(hp["retain_fraction"]), g, name="retain_fraction")
        data = concat_splits([splits.forget, splits.retain.subset(keep)])
        n_forget = len(splits.forget)
        opt = make_optimizer("adam", model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])

        def mix(good, worse, idx):  # l * softmax(bad / T) + (1 - l) * softmax(good / T), l = 1 on forget rows
            is_forget = (idx < n_forget).float().unsqueeze(1)
            return is_forget * torch.softmax(worse / T, dim=1) + (1.0 - is_forget) * torch.softmax(good / T, dim=1)

        cached = None
        if reuse_teacher(hp, "bad_teacher"):  # the images do not change between epochs: the targets once
            bs = int(hp["batch_size"])
            cached = mix(teacher_logits(original, data, device=device, batch_size=bs, amp=amp),
                         teacher_logits(bad, data, device=device, batch_size=bs, amp=amp),
                         torch.arange(len(data), device=device))
        history = []
        ctx = current()
        net = ctx.wrap(model)  # DistributedDataParallel under torchrun
        for epoch in range(int(hp["epochs"])):
            model.train()
            steps = EpochSteps(model, opt, f"bad_teacher: epoch {epoch}", ctx=ctx)
            with guard(steps.what, ctx):
                for x, _, idx, rows in global_batches(data, int(hp["batch_size"]), shuffle=True,
                                                      augment=hp["augment"], generator=g, device=device,
                                                      channels_last=bool(hp.get("channels_last"))):
                    if cached is not None:
                        target = cached[idx]
                    else:
                        with torch.no_grad():
                            target = mix(forward_logits(original, x, device=device, amp=amp),
                                         forward_logits(bad, x, device=device, amp=amp), idx)
                    steps.step(kl_to_targets(forward_logits(net, x, device=device, amp=amp), target, T), rows)
            history.append({"epoch": epoch, "loss": steps.mean()})
        model.eval()
        return {"epochs": int(hp["epochs"]), "history": history, "retain_used": int(keep.numel()),
                "teacher_cache": cached is not None}
