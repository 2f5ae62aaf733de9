"""The interface every unlearning method implements, and shared training helpers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import ImageSplit, UnlearningSplits
from ..utils import LotusError, autocast, check_finite

__all__ = [
    "UnlearningMethod",
    "UnlearnReport",
    "make_optimizer",
    "train_epoch_ce",
    "model_family",
    "soft_cross_entropy",
]


@dataclass
class UnlearnReport:
    """What :func:`lotus.unlearn` returns beside the model.

    ``seconds``: wall time of the unlearning routine only (evaluation excluded, as in the
    paper); ``epochs``: epochs actually run; ``history``: one dict per epoch (LoTUS:
    ``{"epoch", "tau", "acc_forget", "delta_acc"}``); ``extra``: method-specific fields.
    """

    method: str
    seconds: float
    epochs: int
    hparams: dict
    history: list[dict] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


class UnlearningMethod:
    """Base class. Subclasses set ``name`` and implement :meth:`default_hparams` and :meth:`run`.

    ``run`` updates ``model`` in place (the caller passes a copy) and returns a dict with
    ``epochs`` and optionally ``history`` and any extra report fields. ``original`` is a
    frozen copy of the original model (never modified), ``hp`` the merged hyper-parameters,
    ``seed`` the run seed: draw every random number from generators derived from it.
    """

    name: str = ""
    summary: str = ""
    #: methods that need no original model copy (e.g. retrain) set this to False
    needs_original: bool = True

    def default_hparams(self, model_name: str | None = None, dataset: str | None = None) -> dict:
        raise NotImplementedError

    def run(self, model: nn.Module, splits: UnlearningSplits, *, original: nn.Module | None,
            device: torch.device, seed: int, hp: dict) -> dict:
        raise NotImplementedError


def model_family(model_name: str | None, model: nn.Module | None = None) -> str:
    """``"vit"`` for transformer models, else ``"cnn"`` (selects the paper's per-family defaults)."""
    name = model_name or (getattr(model, "lotus_config", {}) or {}).get("name", "")
    return "vit" if "vit" in str(name).lower() else "cnn"


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``"sgd"`` (with momentum), ``"adam"`` or ``"adamw"``."""
    name = name.lower()
    params = [p for p in params if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise LotusError(f"unknown optimizer {name!r}; valid: sgd, adam, adamw")


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ``-sum_c t_c log softmax(logits)_c``; ``targets`` rows sum to 1."""
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def train_epoch_ce(
    model: nn.Module,
    split: ImageSplit,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device,
    batch_size: int,
    generator: torch.Generator,
    augment: bool = False,
    amp: bool = False,
    where: str = "training",
    labels: torch.Tensor | None = None,
    sign: float = 1.0,
    grad_hook: Callable[[nn.Module], None] | None = None,
    channels_last: bool = False,
) -> float:
    """One shuffled epoch of cross-entropy on ``split``; returns the mean loss.

    ``labels`` (``LongTensor[len(split)]``) overrides the split's labels (random labeling);
    ``sign=-1`` performs gradient *ascent*; ``grad_hook(model)`` runs between ``backward``
    and ``step`` (e.g. SalUn's saliency mask).
    """
    model.train()
    total, count = 0.0, 0
    lab = labels.to(device) if labels is not None else None
    for step, (x, y, idx) in enumerate(split.batches(batch_size, shuffle=True, augment=augment, generator=generator,
                                                      device=device, with_index=True, channels_last=channels_last)):
        if lab is not None:
            y = lab[idx]
        with autocast(device, amp):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        check_finite(loss, where=f"{where}, step {step}")
        optimizer.zero_grad(set_to_none=True)
        (sign * loss).backward()
        if grad_hook is not None:
            grad_hook(model)
        optimizer.step()
        total += float(loss.detach()) * y.numel()
        count += y.numel()
    return total / max(count, 1)


def check_hparams(method: str, defaults: dict, given: dict) -> dict:
    """Merge ``given`` over ``defaults``; unknown names are an error listing the valid ones."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise LotusError(f"unknown hyper-parameter(s) {unknown} for method {method!r}; valid: {', '.join(sorted(defaults))}")
    merged = dict(defaults)
    merged.update(given)
    return merged


def to_builtin(obj: Any) -> Any:
    """Tensors/NumPy scalars -> Python numbers (for JSON reports)."""
    if isinstance(obj, torch.Tensor):
        return obj.item() if obj.numel() == 1 else obj.tolist()
    if isinstance(obj, dict):
        return {k: to_builtin(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_builtin(v) for v in obj]
    return obj
