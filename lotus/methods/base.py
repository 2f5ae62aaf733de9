"""The interface every unlearning method implements, and shared training helpers."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import ImageSplit, UnlearningSplits
from ..distributed import EpochSteps, all_gather_rows, current, global_batches, guard, shard_range
from ..metrics import uses_channels_last
from ..models import Classifier, create_model, list_models, model_family, model_info
from ..utils import LotusError, autocast, make_generator

__all__ = [
    "register_method",
    "get_method",
    "list_methods",
    "UnlearningMethod",
    "UnlearnReport",
    "train_epoch_ce",
    "soft_cross_entropy",
    "HParamRule",
    "HPARAM_RULES",
    "validate_hparams",
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
    #: the method's own ``HParamRule`` per hyper-parameter name, where it differs from the
    #: shared ``lotus.methods.base.HPARAM_RULES`` (e.g. LoTUS's ``alpha``); read by
    #: ``lotus.methods.base.validate_hparams``
    hparam_rules: dict = {}
    #: whether the method runs under ``torchrun`` with several processes (its loops use the
    #: sharded, weighted batches of :func:`lotus.distributed.global_batches` and DDP, and every
    #: statistic over the data is reduced across ranks); :func:`lotus.unlearn` refuses the others
    #: with a :class:`~lotus.utils.LotusError` naming the method rather than give per-rank results
    distributed: bool = False
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

    Under ``torchrun`` the model trains in DistributedDataParallel on this rank's share of
    every global batch (:func:`lotus.distributed.global_batches`: same order and batch size as
    one process, the gradient of the global batch mean); the returned loss is the mean over
    all ranks.
    """
    ctx = current()
    net = ctx.wrap(model)
    model.train()
    steps = EpochSteps(model, optimizer, where, grad_hook=grad_hook, ctx=ctx)
    lab = labels.to(device) if labels is not None else None
    with guard(where, ctx):
        for x, y, idx, rows in global_batches(split, batch_size, shuffle=True, augment=augment, generator=generator,
                                              device=device, channels_last=channels_last):
            if lab is not None:
                y = lab[idx]
            with autocast(device, amp):
                logits = net(x)
            steps.step(F.cross_entropy(logits.float(), y), rows, sign=sign)
    return steps.mean()


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode with gradients off (a frozen teacher); returns it."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def check_hparams(method: str, defaults: dict, given: dict) -> dict:
    """Merge ``given`` over ``defaults``; unknown names are an error listing the valid ones,
    and every value is checked (:func:`validate_hparams`) before any work starts."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise LotusError(f"unknown hyper-parameter(s) {unknown} for method {method!r}; valid: {', '.join(sorted(defaults))}")
    merged = dict(defaults)
    merged.update(given)
    return validate_hparams(method, merged)


@dataclass(frozen=True)
class HParamRule:
    """What values a hyper-parameter takes.

    ``kind``: ``"int"`` (not a bool, not a float), ``"float"`` (any finite real number),
    ``"bool"`` or ``"choice"`` (one of ``choices``). ``low``/``high``: bounds, inclusive unless
    ``low_open``/``high_open``; ``none_ok``: ``None`` is allowed (e.g. "automatic");
    ``why``: a reason appended to the error message.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    none_ok: bool = False
    choices: tuple = ()
    why: str = ""

    def describe(self) -> str:
        if self.kind == "bool":
            text = "true or false"
        elif self.kind == "choice":
            text = "one of " + ", ".join(map(str, self.choices))
        else:
            text = "an integer" if self.kind == "int" else "a finite number"
            if self.low is not None and self.high is not None:
                text += f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
            elif self.low is not None:
                text += f" {'>' if self.low_open else '>='} {self.low:g}"
            elif self.high is not None:
                text += f" {'<' if self.high_open else '<='} {self.high:g}"
        return text + (" or null" if self.none_ok else "")

    def ok(self, value) -> bool:
        if value is None:
            return self.none_ok
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            return isinstance(value, str) and value in self.choices
        if isinstance(value, bool) or not isinstance(value, Integral if self.kind == "int" else Real):
            return False
        v = float(value)
        if not math.isfinite(v):
            return False
        if self.low is not None and (v <= self.low if self.low_open else v < self.low):
            return False
        if self.high is not None and (v >= self.high if self.high_open else v > self.high):
            return False
        return True


def _num(low=None, high=None, *, kind="float", lo_open=False, hi_open=False, none_ok=False, why="") -> HParamRule:
    return HParamRule(kind, low, high, lo_open, hi_open, none_ok, (), why)


#: the rule of every hyper-parameter name the built-in methods use (a method's own
#: ``hparam_rules`` take precedence); a name without a rule must still be plain and finite
HPARAM_RULES: dict[str, HParamRule] = {
    "epochs": _num(1, kind="int", why="0 epochs would store the untouched original as a result"),
    "batch_size": _num(1, kind="int"),
    "forget_batch_size": _num(1, kind="int"),
    "eval_batch_size": _num(1, kind="int"),
    "msteps": _num(0, kind="int", none_ok=True),
    "lr": _num(0, lo_open=True),
    "noise_lr": _num(0, lo_open=True),
    "momentum": _num(0, 1, hi_open=True),
    "weight_decay": _num(0),
    "temperature": _num(0, lo_open=True, why="the targets divide the logits by it"),
    "retain_fraction": _num(0, 1, lo_open=True),
    "mask_ratio": _num(0, 1, lo_open=True),
    "alpha": _num(0),
    "gamma": _num(0),
    "lam": _num(0, lo_open=True),
    "noise_lambda": _num(0),
    "noise_steps": _num(1, kind="int"),
    "samples_per_class": _num(1, kind="int"),
    "stop_tolerance": _num(0),
    "round_acc": _num(0, 12, kind="int", none_ok=True),
    "amp": HParamRule("bool"),
    "augment": HParamRule("bool"),
    "mask_repair": HParamRule("bool"),
    "channels_last": HParamRule("bool", none_ok=True),   # null: auto (channels_last for the registered CNNs)
    "teacher_cache": HParamRule("bool", none_ok=True),   # null: auto (whenever the data are not augmented)
    "class_unlearning": HParamRule("bool", none_ok=True),
    "targets": HParamRule("choice", choices=("gumbel", "softmax")),
    "stop_rule": HParamRule("choice", choices=("paper", "authors", "best")),
    # the retrain method's hyper-parameters are a training recipe
    "optimizer": HParamRule("choice", choices=("sgd", "adam", "adamw")),
    "scheduler": HParamRule("choice", choices=("warmup_linear", "cosine", "none")),
    "warmup_epochs": _num(0, kind="int"),
    "patience": _num(1, kind="int", none_ok=True),
}


def _plain_finite(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_plain_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_plain_finite(v) for v in value.values())
    return True


def validate_hparams(method: str, hp: dict) -> dict:
    """Check every value of the merged hyper-parameters ``hp`` of ``method`` against its
    rule (the method's ``hparam_rules``, else :data:`HPARAM_RULES`); return ``hp``.

    A wrong type (``alpha="two"``, ``epochs=2.7``), a value out of range (``epochs=0``,
    ``lr=-1``, ``momentum=5``, ``temperature=0``) or a NaN / infinity is a
    :class:`LotusError` naming the method, the hyper-parameter, the value and what it takes,
    raised before anything is trained.
    """
    impl = _REGISTRY.get(method)
    own = dict(getattr(impl, "hparam_rules", {}) or {})
    for name, value in hp.items():
        rule = own.get(name, HPARAM_RULES.get(name))
        if rule is None:
            if not _plain_finite(value):
                raise LotusError(f"{method} {name} must be finite, got {value!r}")
            continue
        if not rule.ok(value):
            hint = ""
            if isinstance(value, str):
                try:
                    float(value)
                    hint = " (a number was read as text: in YAML write 1.0e-3, not 1e-3)"
                except ValueError:
                    pass
            right_type = (isinstance(value, Real) and not isinstance(value, bool)
                          and (rule.kind != "int" or isinstance(value, Integral)))
            why = f"; {rule.why}" if rule.why and right_type else ""  # the reason speaks of the range
            raise LotusError(f"{method} {name} must be {rule.describe()}, got {value!r}{hint}{why}")
    return hp


# ---------------------------------------------------------------------------------------
# Helpers shared by the baseline methods (appended; see finetune.py ... retrain.py)
# ---------------------------------------------------------------------------------------


def family_defaults(model_name: str | None) -> dict:
    """The paper's per-family unlearning budget (spec 5): CNNs 10 epochs with batch 128,
    ViTs 3 epochs with batch 32. Returns ``{"epochs", "batch_size", "augment", "channels_last"}``;
    ``augment`` (the data set's training augmentation, e.g. random crop) is on for CNNs and off
    for ViTs, as in the authors' training loaders and in LoTUS. ``channels_last`` is a speed
    option: ``None`` (auto) runs the registered CNNs in NHWC memory format
    (:func:`lotus.metrics.uses_channels_last`; :func:`lotus.unlearn` resolves it)."""
    if model_family(model_name) == "vit":
        return {"epochs": 3, "batch_size": 32, "augment": False, "channels_last": None}
    return {"epochs": 10, "batch_size": 128, "augment": True, "channels_last": None}


def to_memory_format(channels_last: bool, *models: nn.Module) -> None:
    """Convert ``models`` in place to the channels-last (NHWC) memory format, or back to the
    default (contiguous) one. Values are unchanged; convolutions then pick their NHWC kernels
    whatever the layout of the input batches."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for m in models:
        if m is not None:
            m.to(memory_format=fmt)


def resolve_speed_options(model: nn.Module, hp: dict) -> dict:
    """``hp`` with its ``channels_last`` (``None``: auto for ``model``) resolved to a bool."""
    hp = dict(hp)
    if "channels_last" in hp:
        hp["channels_last"] = uses_channels_last(model, hp["channels_last"])
    return hp


def reuse_teacher(hp: dict, method: str) -> bool:
    """Whether a distillation method computes its frozen teacher's outputs once instead of
    every epoch: ``hp["teacher_cache"]``, ``None`` (auto) meaning whenever the unlearning data
    are not augmented (the teacher then sees the same images every epoch, so the outputs are
    the same; fresh noise is still drawn every epoch). ``True`` with ``augment`` is an error."""
    want = hp.get("teacher_cache")
    if want is None:
        return not hp.get("augment", False)
    if want and hp.get("augment", False):
        raise LotusError(f"{method}: teacher_cache=True needs augment=False (augmented images change every "
                         "epoch, so their teacher outputs cannot be reused); set teacher_cache to null or false")
    return bool(want)


def teacher_logits(teacher: nn.Module, split: ImageSplit, *, device, batch_size: int, amp: bool = False) -> torch.Tensor:
    """The frozen ``teacher``'s logits on every sample of ``split``, in split order:
    ``float32 [N, K]`` on ``device`` (one pass without augmentation, eval mode, no gradients).
    Row ``i`` is what the teacher gives sample ``i`` inside any training batch: the outputs
    of a model in eval mode do not depend on the other samples of a batch (bit for bit on
    CPU, tested; GPU kernels chosen by batch size may differ in the last bits).

    Under ``torchrun`` every rank computes its contiguous share and the rows are gathered."""
    ctx = current()
    if ctx.enabled:
        lo, hi = shard_range(len(split), ctx)
        mine = _teacher_logits(teacher, split.subset(torch.arange(lo, hi)), device=device, batch_size=batch_size,
                               amp=amp, k=split.num_classes)
        return all_gather_rows(mine, what="gathering the teacher's logits", ctx=ctx)
    return _teacher_logits(teacher, split, device=device, batch_size=batch_size, amp=amp, k=split.num_classes)


def _teacher_logits(teacher, split, *, device, batch_size, amp, k) -> torch.Tensor:
    teacher.eval()
    out = []
    with torch.no_grad():
        for x, _ in split.batches(batch_size, device=device):
            out.append(forward_logits(teacher, x, device=device, amp=amp))
    k = out[0].shape[1] if out else k
    return torch.cat(out) if out else torch.empty(0, k, device=device)


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


def cycle_global_batches(split: ImageSplit, batch_size: int, *, generator: torch.Generator, device,
                         augment: bool = False, channels_last: bool = False):
    """:func:`cycle_batches` as :func:`lotus.distributed.global_batches`: endless
    ``(x, y, idx, rows)``, this rank's share of every global batch (all of it in one process)."""
    if len(split) == 0:
        raise LotusError("cannot cycle over an empty split")
    while True:
        yield from global_batches(split, batch_size, shuffle=True, augment=augment, generator=generator, device=device,
                                  channels_last=channels_last)


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
