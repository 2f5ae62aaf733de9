"""The interface every unlearning method implements, and shared training helpers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import ImageSplit, UnlearningSplits
from ..models import Classifier, create_model, list_models, model_family, model_info
from ..utils import LotusError, autocast, check_finite, make_generator

__all__ = [
    "register_method",
    "get_method",
    "list_methods",
    "UnlearningMethod",
    "UnlearnReport",
    "train_epoch_ce",
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
    label: str = ""  # the display name in tables, e.g. "NegGrad+"
    summary: str = ""
    #: methods that need no original model copy (e.g. retrain) set this to False
    needs_original: bool = True
    #: whether a profile's shared unlearning budget (``unlearn: {epochs: ...}``) applies; the
    #: ``retrain`` method, whose epochs are a training recipe's, sets this to False
    shares_budget: bool = True
    #: methods that build a newly initialised copy of the architecture (:func:`fresh_model_like`,
    #: e.g. retrain, Bad Teacher) set this to True: they need ``model.lotus_config``, and
    #: :func:`lotus.unlearn` says so before any work for a model without one
    needs_fresh_model: bool = False

    def default_hparams(self, model_name: str | None = None, dataset: str | None = None) -> dict:
        raise NotImplementedError

    def run(self, model: nn.Module, splits: UnlearningSplits, *, original: nn.Module | None,
            device: torch.device, seed: int, hp: dict) -> dict:
        raise NotImplementedError


_REGISTRY: dict[str, type[UnlearningMethod]] = {}


def register_method(cls: type[UnlearningMethod]) -> type[UnlearningMethod]:
    """Class decorator: register an :class:`UnlearningMethod` subclass under ``cls.name``
    (its metadata, ``label`` and ``summary``, are class attributes beside its code)."""
    if not isinstance(cls, type) or not issubclass(cls, UnlearningMethod):
        raise LotusError(f"register_method expects an UnlearningMethod subclass, got {cls!r}")
    if not cls.name:
        raise LotusError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name] = cls
    return cls


def list_methods() -> list[str]:
    """Registered method names, e.g. ``["bad_teacher", "finetune", "lotus", ...]``."""
    return sorted(_REGISTRY)


def get_method(name: str) -> UnlearningMethod:
    """An instance of the method registered as ``name`` (a :class:`LotusError` lists the
    valid names otherwise)."""
    if name not in _REGISTRY:
        raise LotusError(f"unknown unlearning method {name!r}; valid: {', '.join(list_methods())}")
    return _REGISTRY[name]()


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


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode with gradients off (a frozen teacher); returns it."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def check_hparams(method: str, defaults: dict, given: dict) -> dict:
    """Merge ``given`` over ``defaults``; unknown names are an error listing the valid ones."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise LotusError(f"unknown hyper-parameter(s) {unknown} for method {method!r}; valid: {', '.join(sorted(defaults))}")
    merged = dict(defaults)
    merged.update(given)
    return merged


# ---------------------------------------------------------------------------------------
# Helpers shared by the baseline methods (appended; see finetune.py ... retrain.py)
# ---------------------------------------------------------------------------------------


def family_defaults(model_name: str | None) -> dict:
    """The paper's per-family unlearning budget (spec 5): CNNs 10 epochs with batch 128,
    ViTs 3 epochs with batch 32. Returns ``{"epochs", "batch_size", "augment"}``; ``augment``
    (the data set's training augmentation, e.g. random crop) is on for CNNs and off for ViTs,
    as in the authors' training loaders and in LoTUS."""
    if model_family(model_name) == "vit":
        return {"epochs": 3, "batch_size": 32, "augment": False}
    return {"epochs": 10, "batch_size": 128, "augment": True}


def derived_seed(seed: int, *salt) -> int:
    """A non-negative 62-bit integer seed derived from ``seed`` and ``salt`` (for code that
    can only be seeded through the global RNG, e.g. weight initialisation)."""
    g = make_generator(seed, *salt)
    return int(torch.randint(0, 2**62, (1,), generator=g))


def fresh_model_like(model: nn.Module, *, seed: int, salt: str, device=None, **overrides) -> nn.Module:
    """A newly initialised model of the same architecture as ``model``.

    The architecture is read from ``model.lotus_config`` (set by
    :func:`lotus.models.create_model`); ``overrides`` replace its keyword arguments (e.g.
    ``pretrained=False``). Initialisation draws from the global RNG inside a
    :func:`torch.random.fork_rng` block seeded with :func:`derived_seed` ``(seed, salt)``,
    so it is reproducible and leaves the caller's RNG state untouched. A
    :class:`lotus.models.Classifier` gives a fresh copy of the model inside, wrapped the same way.
    """
    if isinstance(model, Classifier):
        return model.rewrap(fresh_model_like(model.model, seed=seed, salt=salt, device=device, **overrides))
    cfg = dict(getattr(model, "lotus_config", None) or {})
    if "name" not in cfg or "num_classes" not in cfg:
        raise LotusError(
            "cannot build a fresh copy of this model: it has no lotus_config "
            "(create it with lotus.create_model(name, num_classes, **kw))"
        )
    name, k = cfg.pop("name"), cfg.pop("num_classes")
    cfg.update(overrides)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derived_seed(seed, salt))
        new = create_model(name, k, **cfg)
    return new.to(device) if device is not None else new


def model_accepts(model: nn.Module, kwarg: str) -> bool:
    """Whether the registered factory of ``model`` (per ``lotus_config``) takes ``kwarg``."""
    import inspect

    name = (getattr(model, "lotus_config", None) or {}).get("name")
    if name not in list_models():
        return False
    return kwarg in inspect.signature(model_info(name).factory).parameters


def forward_logits(model: nn.Module, x: torch.Tensor, *, device, amp: bool) -> torch.Tensor:
    """``model(x)`` under optional bf16 autocast, returned as ``float32 [B, K]``."""
    with autocast(device, amp):
        logits = model(x)
    return logits.float()


def cycle_batches(split: ImageSplit, batch_size: int, *, generator: torch.Generator, device,
                  augment: bool = False):
    """Endless ``(x, y)`` batches of ``split``, reshuffled (from ``generator``) on every pass."""
    if len(split) == 0:
        raise LotusError("cannot cycle over an empty split")
    while True:
        yield from split.batches(batch_size, shuffle=True, augment=augment, generator=generator, device=device)


def kl_to_targets(student_logits: torch.Tensor, target_probs: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``KL(target || softmax(student / T))`` summed over classes, averaged over the batch.

    ``student_logits``: ``[B, K]``; ``target_probs``: ``[B, K]`` rows summing to 1 (already
    tempered by the caller if wanted). Returns a scalar in nats.
    """
    log_s = F.log_softmax(student_logits.float() / temperature, dim=1)
    return F.kl_div(log_s, target_probs.float(), reduction="batchmean")


def random_wrong_labels(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """For every label a class drawn uniformly among the ``num_classes - 1`` *other* classes.

    Vectorised: ``(y + U{1..K-1}) mod K``. ``labels``: ``int64 [N]`` (CPU); returns ``int64 [N]``.
    """
    if num_classes < 2:
        raise LotusError(f"random relabelling needs at least 2 classes, got {num_classes}")
    labels = labels.cpu().long()
    shift = torch.randint(1, num_classes, labels.shape, generator=generator)
    return (labels + shift) % num_classes


def random_fraction_subset(n: int, fraction: float, generator: torch.Generator, *,
                           name: str = "fraction") -> torch.Tensor:
    """``int(fraction * n)`` distinct positions in ``[0, n)`` drawn at random, sorted.

    ``name`` is the hyper-parameter named in the error for a fraction outside (0, 1]."""
    if not 0.0 < fraction <= 1.0:
        raise LotusError(f"{name} must be in (0, 1], got {fraction}")
    k = int(fraction * n)
    return torch.sort(torch.randperm(n, generator=generator)[:k]).values
