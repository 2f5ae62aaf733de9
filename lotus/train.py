"""Training of the original model (forget + retain) and the gold standard (retain only).

Defaults follow the paper's recipes (spec 6.4); :class:`TrainRecipe` fields override them
for CPU-sized runs. Trained models are cached as checkpoints keyed by everything that
determines them (data source, split, seed, model, recipe), written atomically and loaded
with ``torch.load(..., weights_only=True)``; a mismatched or corrupt checkpoint raises
:class:`CheckpointError` instead of being used.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from .data import ImageSplit, UnlearningSplits
from .models import CHECKPOINT_FORMAT, CNN_RECIPE, create_model, model_info
from .utils import (
    LotusError,
    atomic_torch_save,
    autocast,
    cache_dir,
    check_finite,
    make_generator,
    resolve_device,
    stable_hash,
    synchronize,
)

__all__ = [
    "TrainRecipe",
    "paper_recipe",
    "make_optimizer",
    "train_model",
    "train_original_and_gold",
    "get_trained_model",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
]


class CheckpointError(LotusError):
    """A checkpoint is corrupt, or was made for another data split / model / recipe."""


@dataclass(frozen=True)
class TrainRecipe:
    """How to train a model from scratch.

    ``scheduler``: ``"warmup_linear"`` (the paper's ResNet-18 schedule: linear warm-up over
    ``warmup_epochs``, then linear decay to 0 at ``epochs``), ``"cosine"`` or ``"none"``.
    ``patience``: early stopping on the val loss (best weights restored); ``None`` disables it.
    ``augment``: apply the data set's training augmentation (random crop for CIFAR).
    ``amp``: bfloat16 autocast. ``channels_last``: NHWC memory format (faster CNNs on CPU).

    With ``"warmup_linear"``, a ``warmup_epochs`` that is not smaller than ``epochs`` (e.g. the
    paper's 30 with a 10-epoch CPU run) would never reach the peak learning rate; the
    schedule then warms up over ``epochs // 5`` epochs instead (the paper's 30 : 150 ratio)
    and warns.
    """

    epochs: int = CNN_RECIPE["epochs"]
    batch_size: int = CNN_RECIPE["batch_size"]
    optimizer: str = CNN_RECIPE["optimizer"]
    lr: float = CNN_RECIPE["lr"]
    momentum: float = CNN_RECIPE["momentum"]
    weight_decay: float = CNN_RECIPE["weight_decay"]
    scheduler: str = CNN_RECIPE["scheduler"]
    warmup_epochs: int = CNN_RECIPE["warmup_epochs"]
    patience: int | None = CNN_RECIPE["patience"]
    augment: bool = CNN_RECIPE["augment"]
    amp: bool = False
    channels_last: bool = False

    def replace(self, **changes) -> "TrainRecipe":
        valid = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - valid)
        if unknown:
            raise LotusError(f"unknown TrainRecipe field(s) {unknown}; valid: {', '.join(sorted(valid))}")
        return replace(self, **changes)

    def __post_init__(self):
        def _int(v):
            return isinstance(v, int) and not isinstance(v, bool)

        if not _int(self.epochs) or self.epochs < 1:
            raise LotusError(f"epochs must be an int >= 1, got {self.epochs!r}")
        if not _int(self.batch_size) or self.batch_size < 1:
            raise LotusError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise LotusError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not 0 <= self.momentum < 1:
            raise LotusError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.weight_decay < 0:
            raise LotusError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise LotusError(f"unknown optimizer {self.optimizer!r}; valid: sgd, adam, adamw")
        if self.scheduler not in ("warmup_linear", "cosine", "none"):
            raise LotusError(f"unknown scheduler {self.scheduler!r}; valid: warmup_linear, cosine, none")
        if not _int(self.warmup_epochs) or self.warmup_epochs < 0:
            raise LotusError(f"warmup_epochs must be an int >= 0, got {self.warmup_epochs!r}")
        if self.patience is not None and (not _int(self.patience) or self.patience < 1):
            raise LotusError(f"patience must be an int >= 1 or None, got {self.patience!r}")


def paper_recipe(model_name: str | None) -> TrainRecipe:
    """The recipe registered with ``model_name`` (:func:`lotus.models.model_info`): the
    authors' scripts' recipe of its family (spec 6.4; the paper itself gives none).

    CNNs (ResNet-18): SGD lr 0.1, momentum 0.9, wd 5e-4, batch 512, 150 epochs, 30-epoch
    warm-up then linear decay, early stopping patience 50, random-crop augmentation.
    ViTs: SGD lr 1e-4, momentum 0.9, wd 5e-4, batch 64, 30 epochs, no scheduler, patience 10.
    ``None`` gives the CNN recipe (the :class:`TrainRecipe` defaults).
    """
    if model_name is None:
        return TrainRecipe()
    return TrainRecipe(**model_info(model_name).recipe)


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """``"sgd"`` (with momentum), ``"adam"`` or ``"adamw"`` over the parameters that require
    gradients."""
    name = name.lower()
    params = [p for p in params if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise LotusError(f"unknown optimizer {name!r}; valid: sgd, adam, adamw")


def _effective_warmup(recipe: TrainRecipe) -> int:
    """Warm-up epochs actually used by ``"warmup_linear"`` (see :class:`TrainRecipe`)."""
    w = recipe.warmup_epochs
    return w if w < recipe.epochs else recipe.epochs // 5


def _lr_factor(recipe: TrainRecipe, epoch: int) -> float:
    """Learning-rate multiplier for 0-based ``epoch`` (``torch.optim.lr_scheduler.LambdaLR``).

    ``"warmup_linear"`` is the paper's ``min(1, (e+1)/W) * (1 - max(0, (e+1) - W) / (E - W))``
    (spec 6.4): linear warm-up to the peak at epoch ``W - 1``, then linear decay that reaches
    0 in the last epoch (as in the authors' code). ``"cosine"``: ``0.5 (1 + cos(pi e / E))``
    (ignores ``warmup_epochs``). ``"none"``: 1.
    """
    e, total = epoch + 1, recipe.epochs
    if recipe.scheduler == "warmup_linear":
        w = _effective_warmup(recipe)
        warm = min(1.0, e / w) if w > 0 else 1.0
        decay = 1.0 - max(0, e - w) / max(1, total - w)
        return max(0.0, warm * decay)
    if recipe.scheduler == "cosine":
        return 0.5 * (1 + math.cos(math.pi * epoch / total))
    return 1.0


def _eval_loss_acc(model, split, device, batch_size, amp):
    model.eval()
    loss, correct, n = 0.0, 0, 0
    with torch.inference_mode():
        for x, y in split.batches(batch_size, device=device):
            with autocast(device, amp):
                logits = model(x)
            logits = logits.float()
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            n += y.numel()
    return loss / max(n, 1), correct / max(n, 1)


def train_model(
    model: nn.Module,
    train: ImageSplit,
    val: ImageSplit | None,
    recipe: TrainRecipe,
    *,
    device=None,
    seed: int = 0,
    desc: str = "training",
    progress: bool = True,
) -> tuple[nn.Module, list[dict]]:
    """Train ``model`` on ``train`` with ``recipe``; early-stop on ``val`` loss if ``recipe.patience``.

    Returns ``(model, history)``; ``history`` has one dict per epoch
    (``epoch, lr, train_loss, val_loss, val_acc, seconds``). The model ends in eval mode,
    holding the best-val-loss weights when early stopping is on.
    """
    if len(train) == 0:
        raise LotusError("cannot train on an empty split")
    if not isinstance(recipe, TrainRecipe):
        raise LotusError(f"recipe must be a TrainRecipe, got {type(recipe).__name__}")
    if recipe.scheduler == "warmup_linear" and recipe.warmup_epochs >= recipe.epochs:
        warnings.warn(
            f"warmup_epochs={recipe.warmup_epochs} >= epochs={recipe.epochs}: warming up over "
            f"{_effective_warmup(recipe)} epoch(s) instead (set warmup_epochs explicitly to silence this)",
            stacklevel=2)
    dev = resolve_device(device)
    model.to(dev)
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last)
    opt = make_optimizer(recipe.optimizer, model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                         weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: _lr_factor(recipe, e))
    g = make_generator(seed, "train", desc)
    history: list[dict] = []
    best_loss, best_state, since_best = float("inf"), None, 0
    t0 = time.perf_counter()
    bar = tqdm(range(recipe.epochs), desc=desc, disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        tot, n = 0.0, 0
        for step, (x, y) in enumerate(train.batches(recipe.batch_size, shuffle=True, augment=recipe.augment, generator=g,
                                                    device=dev, channels_last=recipe.channels_last)):
            with autocast(dev, recipe.amp):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            check_finite(loss, where=f"{desc}: epoch {epoch}, step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * y.numel()
            n += y.numel()
        rec = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_loss": tot / max(n, 1)}
        sched.step()
        if val is not None and len(val):
            rec["val_loss"], rec["val_acc"] = _eval_loss_acc(model, val, dev, max(recipe.batch_size, 256), recipe.amp)
        synchronize(dev)
        rec["seconds"] = time.perf_counter() - t0
        history.append(rec)
        bar.set_postfix({k: round(v, 4) for k, v in rec.items() if k in ("train_loss", "val_loss", "val_acc")})
        if recipe.patience is not None and "val_loss" in rec:
            if rec["val_loss"] < best_loss:
                best_loss, since_best = rec["val_loss"], 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                since_best += 1
                if since_best >= recipe.patience:  # `patience` epochs in a row without improvement
                    break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history


# ---------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------


def save_checkpoint(path: str | Path, model: nn.Module, meta: dict) -> Path:
    """Atomically save ``{"format", "meta", "state_dict"}`` to ``path``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return atomic_torch_save(path, {"format": CHECKPOINT_FORMAT, "meta": meta, "state_dict": state})


def load_checkpoint(path: str | Path, model: nn.Module | None = None, *, expected_key: dict | None = None) -> dict:
    """Load a checkpoint safely (``weights_only=True``) and check it.

    Raises :class:`CheckpointError` if the file is unreadable or truncated, not a lotus
    checkpoint (or of another format version), holds non-finite weights, if its
    ``meta["key"]`` differs from ``expected_key`` (it was made for another split, seed, model
    or recipe), or if its tensors do not fit ``model``. ``FileNotFoundError`` if ``path`` does
    not exist. Returns the checkpoint dict; loads into ``model`` if given.
    """
    path = Path(path)
    remedy = "Delete the file (or pass force=True) to retrain."
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise CheckpointError(f"corrupt checkpoint {path}: {type(exc).__name__}: {exc}. {remedy}") from exc
    if (not isinstance(ckpt, dict) or not isinstance(ckpt.get("meta"), dict)
            or not isinstance(ckpt.get("state_dict"), dict)):
        raise CheckpointError(f"{path} is not a lotus checkpoint (no meta/state_dict). {remedy}")
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {ckpt.get('format')!r}, expected {CHECKPOINT_FORMAT}. {remedy}")
    bad = [k for k, v in ckpt["state_dict"].items()
           if not isinstance(v, torch.Tensor) or (v.is_floating_point() and not torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"checkpoint {path} holds non-finite or non-tensor entries ({', '.join(bad[:5])}). {remedy}")
    if expected_key is not None:
        got = ckpt["meta"].get("key")
        got = got if isinstance(got, dict) else {}
        if got != expected_key:
            diff = sorted(k for k in set(expected_key) | set(got) if got.get(k) != expected_key.get(k))
            raise CheckpointError(
                f"checkpoint {path} was made for a different configuration (differs in: {', '.join(diff)}); "
                f"it is not used. {remedy}")
    if model is not None:
        try:
            model.load_state_dict(ckpt["state_dict"], strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path} does not fit the model: {exc}") from exc
    return ckpt


def _key(kind: str, splits: UnlearningSplits, model_name: str, model_kwargs: dict, recipe: TrainRecipe, seed: int) -> dict:
    """Everything that determines a trained model, as a JSON-plain dict.

    Data enter by content: the training images and labels (original: all of ``train``; gold:
    ``train`` plus the retain positions) and the unseen set ``val`` used for early stopping.
    The original model does not depend on the forget set, so one original serves every
    forget spec of a data set and seed.
    """
    import hashlib

    if kind == "original":
        train_sig = splits.train.content_hash()
    else:
        h = hashlib.sha256(splits.train.content_hash().encode())
        h.update(splits.retain_indices.numpy().tobytes())
        train_sig = h.hexdigest()[:16]
    key = {
        "format": CHECKPOINT_FORMAT,
        "kind": kind,
        "dataset": splits.dataset,
        "source": {str(k): str(v) for k, v in sorted(splits.source.items())},
        "train_data": train_sig,
        "val_data": splits.val.content_hash() if splits.val is not None else None,
        "seed": int(seed),
        "model": model_name,
        "model_kwargs": {k: model_kwargs[k] for k in sorted(model_kwargs)},
        "recipe": asdict(recipe),
    }
    # a JSON round trip makes the key plain (str/int/float/bool/None/list/dict): it then
    # survives torch.load(weights_only=True) unchanged and compares equal after loading
    return json.loads(json.dumps(key, sort_keys=True, default=str))


def get_trained_model(
    kind: str,
    splits: UnlearningSplits,
    model_name: str,
    recipe: TrainRecipe,
    *,
    seed: int = 0,
    device=None,
    cache: str | Path | None = None,
    model_kwargs: dict | None = None,
    force: bool = False,
    progress: bool = True,
) -> nn.Module:
    """Train (or load from the cache) the ``"original"`` (forget + retain) or ``"gold"``
    (retain only) model. ``cache=False`` disables caching; ``force=True`` retrains.

    The model carries ``lotus_train_info`` (``seconds``, ``epochs``, ``history``, ``cached``,
    ``path``)."""
    if kind not in ("original", "gold"):
        raise LotusError(f"kind must be 'original' or 'gold', got {kind!r}")
    model_kwargs = dict(model_kwargs or {})
    dev = resolve_device(device)
    if not isinstance(recipe, TrainRecipe):
        raise LotusError(f"recipe must be a TrainRecipe, got {type(recipe).__name__}")
    key = _key(kind, splits, model_name, model_kwargs, recipe, seed)
    with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG alone
        torch.manual_seed(int(seed))
        model = create_model(model_name, splits.num_classes, **model_kwargs)
    path = None
    if cache is not False:
        root = Path(cache) if cache else cache_dir() / "checkpoints"
        path = root / f"{splits.dataset}-{model_name}-{kind}-{stable_hash(key)}.pt"
        if path.exists() and not force:
            ckpt = load_checkpoint(path, model, expected_key=key)
            model.to(dev).eval()
            model.lotus_train_info = dict(ckpt["meta"].get("info", {}), cached=True, path=str(path))
            return model
    train = splits.train if kind == "original" else splits.retain
    t0 = time.perf_counter()
    model, history = train_model(model, train, splits.val, recipe, device=dev, seed=seed,
                                 desc=f"{kind} {model_name}/{splits.dataset}", progress=progress)
    seconds = time.perf_counter() - t0
    info = {"seconds": seconds, "epochs": len(history), "history": history, "device": str(dev),
            "recipe": asdict(recipe)}
    if path is not None:
        save_checkpoint(path, model, {"key": key, "info": info})
    model.lotus_train_info = dict(info, cached=False, path=str(path) if path else None)
    return model


def train_original_and_gold(splits: UnlearningSplits, model_name: str, recipe: TrainRecipe | None = None, *,
                            seed: int = 0, device=None, cache=None, model_kwargs=None, force=False,
                            progress=True) -> tuple[nn.Module, nn.Module]:
    """``(original, gold)``: f_orig trained on forget + retain, f_gold on retain only (cached)."""
    recipe = recipe or paper_recipe(model_name)
    kw = dict(seed=seed, device=device, cache=cache, model_kwargs=model_kwargs, force=force, progress=progress)
    original = get_trained_model("original", splits, model_name, recipe, **kw)
    gold = get_trained_model("gold", splits, model_name, recipe, **kw)
    return original, gold
