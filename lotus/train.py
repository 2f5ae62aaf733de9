"""Training of the original model (forget + retain) and the gold standard (retain only).

Defaults follow the paper's recipes (spec 6.4); :class:`TrainRecipe` fields override them
for CPU-sized runs. Trained models are cached as checkpoints keyed by everything that
determines them (the content of the data, split, seed, model, recipe, lotus version and the
global numeric settings), written atomically and loaded with ``torch.load(...,
weights_only=True)``; a mismatched or corrupt checkpoint raises :class:`CheckpointError`
instead of being used.

Long trainings are resumable: every few epochs (``checkpoint_every``, default 5, or
``$LOTUS_CHECKPOINT_EVERY``; 0 turns it off) a *partial* checkpoint beside the final one
(``<name>.pt.partial``) holds the model, the optimizer, the scheduler, the random generators,
the early-stopping state and the history. An interrupted training (Ctrl-C, a kill, a lost
machine) resumes from it on the next call, with the same result as an uninterrupted one;
it is removed once the final checkpoint is written.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
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
from .distributed import (
    all_reduce_sum,
    current,
    decide,
    EpochSteps,
    global_batches,
    guard,
    local_only,
    on_main,
    shard_range,
)
from .models import CHECKPOINT_FORMAT, CNN_RECIPE, create_model, model_info
from .utils import (
    VERSION,
    LotusError,
    atomic_torch_save,
    autocast,
    cache_dir,
    check_writable,
    env_int,
    make_generator,
    numerics,
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
    "checkpoint_path",
    "split_signature",
    "PARTIAL_SUFFIX",
]

logger = logging.getLogger(__name__)

#: suffix of the partial (resumable) checkpoint written beside a final one during training
PARTIAL_SUFFIX = ".partial"
#: default epochs between two partial checkpoints (``$LOTUS_CHECKPOINT_EVERY`` overrides; 0: none)
CHECKPOINT_EVERY = 5


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

        def _num(v):
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        if not _int(self.epochs) or self.epochs < 1:
            raise LotusError(f"epochs must be an int >= 1, got {self.epochs!r}")
        if not _int(self.batch_size) or self.batch_size < 1:
            raise LotusError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        if not (_num(self.lr) and self.lr > 0):
            raise LotusError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not (_num(self.momentum) and 0 <= self.momentum < 1):
            raise LotusError(f"momentum must be a number in [0, 1), got {self.momentum!r}")
        if not (_num(self.weight_decay) and self.weight_decay >= 0):
            raise LotusError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        for name in ("augment", "amp", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                raise LotusError(f"{name} must be true or false, got {getattr(self, name)!r}")
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
    ctx = current()
    if ctx.enabled:  # each rank its share, the sums reduced
        lo, hi = shard_range(len(split), ctx)
        with local_only():
            loss, acc = _eval_loss_acc(model, split.subset(torch.arange(lo, hi)), device, batch_size, amp)
        n = hi - lo
        loss, correct, n = all_reduce_sum(torch.tensor([loss * n, acc * n, float(n)], dtype=torch.float64),
                                          what="the validation loss", ctx=ctx).tolist()
        return loss / max(n, 1), correct / max(n, 1)
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
    resume: str | os.PathLike | None = None,
    resume_key: dict | None = None,
    checkpoint_every: int | None = None,
) -> tuple[nn.Module, list[dict]]:
    """Train ``model`` on ``train`` with ``recipe``; early-stop on ``val`` loss if ``recipe.patience``.

    Returns ``(model, history)``; ``history`` has one dict per epoch
    (``epoch, lr, train_loss, val_loss, val_acc, seconds``; ``seconds`` counts from the start
    of the training, resumed parts included). The model ends in eval mode, holding the
    best-val-loss weights when early stopping is on.

    ``resume``: path of a partial checkpoint. When it exists and was written for the same
    ``resume_key`` (any JSON-plain dict naming the training), training continues from it;
    every ``checkpoint_every`` epochs (default :data:`CHECKPOINT_EVERY`, or
    ``$LOTUS_CHECKPOINT_EVERY``; 0: never) it is rewritten atomically. The caller removes
    it once the result is stored (:func:`get_trained_model` does).
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
    every = _checkpoint_every(checkpoint_every) if resume is not None else 0
    start, done_seconds, rng_state = 0, 0.0, None
    ctx = current()
    if resume is not None:
        # under torchrun rank 0 decides whether to resume (it may remove a damaged file), then every rank reads it
        state = _load_partial(resume, resume_key) if not ctx.enabled else None
        if ctx.enabled and decide(lambda: _load_partial(resume, resume_key) is not None,
                                  what="reading the partial checkpoint"):
            state = _load_partial(resume, resume_key)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            g.set_state(state["generator"])
            rng_state = {"torch": state["torch_rng"], "cuda": state.get("cuda_rng")}
            best_loss, since_best = float(state["best_loss"]), int(state["since_best"])
            best_state = state.get("best_state")
            history = list(state["history"])
            start, done_seconds = int(state["epoch"]), float(state["seconds"])
    # the global RNG (dropout, drop-path) is seeded from ``seed`` and restored afterwards: the
    # training does not depend on the caller's RNG state, and a resumed one continues it
    net = ctx.wrap(model)  # DistributedDataParallel under torchrun, else the model itself
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=make_generator(seed, "train-rng", desc))))
        if rng_state is not None:
            torch.set_rng_state(rng_state["torch"])
            if dev.type == "cuda" and rng_state.get("cuda") is not None:
                torch.cuda.set_rng_state(rng_state["cuda"], dev)
        t0 = time.perf_counter() - done_seconds
        bar = tqdm(range(start, recipe.epochs), desc=desc, disable=not progress, leave=False, initial=start,
                   total=recipe.epochs)
        for epoch in bar:
            model.train()
            steps = EpochSteps(model, opt, f"{desc}: epoch {epoch}", ctx=ctx)
            with guard(steps.what, ctx):
                for x, y, _, rows in global_batches(train, recipe.batch_size, shuffle=True, augment=recipe.augment,
                                                    generator=g, device=dev, channels_last=recipe.channels_last):
                    with autocast(dev, recipe.amp):
                        logits = net(x)
                    steps.step(F.cross_entropy(logits.float(), y), rows)
            rec = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_loss": steps.mean()}
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
            if every and (epoch + 1) % every == 0 and epoch + 1 < recipe.epochs:
                on_main(_save_partial, resume, resume_key, epoch + 1, model, opt, sched, g, dev, best_loss, best_state,
                        since_best, history, time.perf_counter() - t0, what="writing the partial checkpoint")
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return model, history


def _checkpoint_every(value: int | None) -> int:
    if value is None:
        value = env_int("LOTUS_CHECKPOINT_EVERY", "an integer number of epochs")
        if value is None:
            return CHECKPOINT_EVERY
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LotusError(f"checkpoint_every must be an int >= 0 (0: no partial checkpoints), got {value!r}")
    return value


def _save_partial(path, key, next_epoch, model, opt, sched, g, dev, best_loss, best_state, since_best, history,
                  seconds) -> None:
    cpu = lambda sd: {k: v.detach().cpu().clone() for k, v in sd.items()}  # noqa: E731
    state = {
        "format": CHECKPOINT_FORMAT, "partial": True, "key": key, "epoch": int(next_epoch),
        "model": cpu(model.state_dict()), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
        "generator": g.get_state(), "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
        "best_loss": float(best_loss), "best_state": cpu(best_state) if best_state is not None else None,
        "since_best": int(since_best), "history": json.loads(json.dumps(history)), "seconds": float(seconds),
    }
    atomic_torch_save(path, state)


def _load_partial(path, key) -> dict | None:
    """The state saved by :func:`_save_partial` at ``path`` for ``key``; ``None`` (with a
    warning for a damaged or foreign file, which is removed) when there is none to resume."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        ok = isinstance(state, dict) and state.get("partial") is True and state.get("format") == CHECKPOINT_FORMAT
    except Exception as exc:  # noqa: BLE001 - any unpickling failure: start afresh
        ok, state = False, f"{type(exc).__name__}: {exc}"
    if not ok or state.get("key") != key:
        why = "unreadable" if not ok else "made for another training"
        warnings.warn(f"ignoring the partial checkpoint {path} ({why}); training from the start", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    return state


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
    remedy = ("Delete it, or retrain it with --force (`lotus run --force`, `lotus train --force`; "
              "Python: force=True).")
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


def split_signature(split: ImageSplit) -> str:
    """A short hex digest of what ``split`` holds: its :meth:`~lotus.data.ImageSplit.content_hash`
    (pixels of in-memory splits) plus, for file-backed splits, every file's size and
    modification time, so that files changed under the same paths give another signature.
    Cached on the object."""
    import hashlib

    cached = getattr(split, "_lotus_signature", None)
    if cached is not None:
        return cached
    h = hashlib.sha256(split.content_hash().encode())
    for p in getattr(split, "paths", None) or []:
        try:
            st = os.stat(p)
            h.update(f"{st.st_size}:{st.st_mtime_ns};".encode())
        except OSError:
            h.update(b"missing;")
    sig = h.hexdigest()[:16]
    try:
        split._lotus_signature = sig
    except AttributeError:  # a split type with __slots__: recompute next time
        pass
    return sig


def _source_identity(source: dict) -> dict:
    """A data source's description without where it lies (a path names no content: the
    content enters keys through :func:`split_signature`)."""
    out = {}
    for k, v in sorted(source.items()):
        if k == "unseen":
            continue
        v = str(v)
        if k == "source" and ":" in v:
            v = v.split(":", 1)[0]
        out[str(k)] = v
    return out


def _key(kind: str, splits: UnlearningSplits, model_name: str, model_kwargs: dict, recipe: TrainRecipe, seed: int) -> dict:
    """Everything that determines a trained model, as a JSON-plain dict.

    Data enter by content, not by path: the training images and labels (original: all of
    ``train``; gold: ``train`` plus the retain positions) and the unseen set ``val`` used for
    early stopping. The lotus version and the global numeric settings
    (:func:`lotus.utils.numerics`) enter too. The original model does not depend on the
    forget set, so one original serves every forget spec of a data set and seed.
    """
    import hashlib

    if kind == "original":
        train_sig = split_signature(splits.train)
    else:
        h = hashlib.sha256(split_signature(splits.train).encode())
        h.update(splits.retain_indices.numpy().tobytes())
        train_sig = h.hexdigest()[:16]
    key = {
        "format": CHECKPOINT_FORMAT,
        "kind": kind,
        "dataset": splits.dataset,
        "source": _source_identity(splits.source),
        "train_data": train_sig,
        "val_data": split_signature(splits.val) if splits.val is not None else None,
        "seed": int(seed),
        "model": model_name,
        "model_kwargs": {k: model_kwargs[k] for k in sorted(model_kwargs)},
        "recipe": asdict(recipe),
        "lotus_version": VERSION,
        "numerics": numerics(),
    }
    # a JSON round trip makes the key plain (str/int/float/bool/None/list/dict): it then
    # survives torch.load(weights_only=True) unchanged and compares equal after loading
    return json.loads(json.dumps(key, sort_keys=True, default=str))


def checkpoint_path(kind: str, splits: UnlearningSplits, model_name: str, recipe: TrainRecipe, *, seed: int = 0,
                    cache: str | Path | None = None, model_kwargs: dict | None = None) -> tuple[Path, dict]:
    """``(path, key)`` of the cached ``kind`` model (``"original"`` or ``"gold"``): where
    :func:`get_trained_model` stores it (under ``cache``, default ``$LOTUS_CACHE/checkpoints``)
    and the dict that identifies it. Trains nothing; the partial checkpoint of an
    interrupted training is ``path`` + :data:`PARTIAL_SUFFIX`."""
    if kind not in ("original", "gold"):
        raise LotusError(f"kind must be 'original' or 'gold', got {kind!r}")
    key = _key(kind, splits, model_name, dict(model_kwargs or {}), recipe, seed)
    root = Path(cache).expanduser() if cache else cache_dir() / "checkpoints"
    return root / f"{splits.dataset}-{model_name}-{kind}-{stable_hash(key)}.pt", key


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
    replace_bad: bool = False,
    checkpoint_every: int | None = None,
) -> nn.Module:
    """Train (or load from the cache) the ``"original"`` (forget + retain) or ``"gold"``
    (retain only) model. ``cache=False`` disables caching; ``force=True`` retrains;
    ``replace_bad=True`` retrains (with a warning) when the cached checkpoint is corrupt or
    mismatched instead of raising :class:`CheckpointError`.

    Before training, the cache folder is checked to be writable (a :class:`LotusError`
    naming it otherwise), and an interrupted training of the same model resumes from its
    partial checkpoint (see the module's docstring; ``checkpoint_every`` epochs apart).
    The model carries ``lotus_train_info`` (``seconds``, ``epochs``, ``history``, ``cached``,
    ``path``)."""
    if kind not in ("original", "gold"):
        raise LotusError(f"kind must be 'original' or 'gold', got {kind!r}")
    model_kwargs = dict(model_kwargs or {})
    dev = resolve_device(device)
    if not isinstance(recipe, TrainRecipe):
        raise LotusError(f"recipe must be a TrainRecipe, got {type(recipe).__name__}")
    with torch.random.fork_rng(devices=[]):  # seeded init that leaves the caller's RNG alone
        torch.manual_seed(int(seed))
        model = create_model(model_name, splits.num_classes, **model_kwargs)
    path = partial = None
    key = _key(kind, splits, model_name, model_kwargs, recipe, seed)
    if cache is not False:
        path, key = checkpoint_path(kind, splits, model_name, recipe, seed=seed, cache=cache, model_kwargs=model_kwargs)
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        # under torchrun rank 0 says whether it is cached (one answer for all ranks; the cache
        # folder must be shared by the nodes)
        if not force and decide(path.exists, what="looking up the checkpoint cache"):
            if not path.exists():
                raise LotusError(f"rank 0 has the checkpoint {path} but this rank cannot see it: under torchrun on "
                                 "several nodes, $LOTUS_CACHE must be a folder every node shares")
            logger.debug("%s %s/%s: loading the cached checkpoint %s", kind, model_name, splits.dataset, path)
            try:
                ckpt = load_checkpoint(path, model, expected_key=key)
            except CheckpointError as exc:
                if not replace_bad:
                    raise
                warnings.warn(f"{exc} Retraining it (replace_bad/--force).", stacklevel=2)
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(int(seed))
                    model = create_model(model_name, splits.num_classes, **model_kwargs)
            else:
                model.to(dev).eval()
                model.lotus_train_info = dict(ckpt["meta"].get("info", {}), cached=True, path=str(path))
                return model
        check_writable(path.parent, "checkpoint cache", min_free=16_000_000)
        if force:
            on_main(partial.unlink, missing_ok=True, what="removing the partial checkpoint")
    train = splits.train if kind == "original" else splits.retain
    t0 = time.perf_counter()
    model, history = train_model(model, train, splits.val, recipe, device=dev, seed=seed,
                                 desc=f"{kind} {model_name}/{splits.dataset}", progress=progress,
                                 resume=partial, resume_key=key, checkpoint_every=checkpoint_every)
    seconds = float((history[-1] if history else {}).get("seconds", time.perf_counter() - t0))
    logger.debug("%s %s/%s: trained %d epoch(s) in %.1f s%s", kind, model_name, splits.dataset, len(history), seconds,
                 f", saved to {path}" if path is not None else "")
    info = {"seconds": seconds, "epochs": len(history), "history": history, "device": str(dev),
            "recipe": asdict(recipe)}
    if path is not None:  # under torchrun rank 0 writes, the others wait for it
        on_main(lambda: (save_checkpoint(path, model, {"key": key, "info": info}), partial.unlink(missing_ok=True)),
                what=f"writing the checkpoint {path}")
    model.lotus_train_info = dict(info, cached=False, path=str(path) if path else None)
    return model


def train_original_and_gold(splits: UnlearningSplits, model_name: str, recipe: TrainRecipe | None = None, *,
                            seed: int = 0, device=None, cache=None, model_kwargs=None, force=False,
                            progress=True, replace_bad=False) -> tuple[nn.Module, nn.Module]:
    """``(original, gold)``: f_orig trained on forget + retain, f_gold on retain only (cached).
    ``replace_bad``: retrain a corrupt or mismatched checkpoint instead of raising."""
    recipe = recipe or paper_recipe(model_name)
    kw = dict(seed=seed, device=device, cache=cache, model_kwargs=model_kwargs, force=force, progress=progress,
              replace_bad=replace_bad)
    original = get_trained_model("original", splits, model_name, recipe, **kw)
    gold = get_trained_model("gold", splits, model_name, recipe, **kw)
    return original, gold
