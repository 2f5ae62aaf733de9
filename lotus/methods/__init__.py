"""Unlearning methods behind one entry point, :func:`unlearn`.

Every method implements :class:`~lotus.methods.base.UnlearningMethod` and is registered
under a name with :func:`~lotus.methods.base.register_method`; :func:`list_methods` lists
them and :func:`get_method` returns one.
"""

from __future__ import annotations

import copy
import logging
import time

import torch
import torch.nn as nn

from ..data import UnlearningSplits
from ..distributed import check_supported
from ..models import Classifier, as_classifier, check_classifier, model_device, unwrap_classifier
from ..utils import LotusError, seed_everything, synchronize, to_plain

# the built-in methods register themselves on import
from . import bad_teacher, finetune, lotus, neggrad_plus, random_labeling, retrain, salun, scrub, ssd, unsir  # noqa: F401
from .base import (
    UnlearningMethod,
    UnlearnReport,
    check_hparams,
    freeze,
    get_method,
    list_methods,
    register_method,
    resolve_speed_options,
    to_memory_format,
)

__all__ = ["unlearn", "list_methods", "get_method", "register_method", "UnlearnReport", "UnlearningMethod"]

logger = logging.getLogger(__name__)


def _warm_imports() -> None:
    """Import what the first optimizer of a process imports lazily (``torch._dynamo``: seconds),
    so that this one-time cost of the process is not counted as the first run's unlearning time."""
    import torch._dynamo  # noqa: F401


def unlearn(
    model: nn.Module,
    splits: UnlearningSplits,
    method: str = "lotus",
    *,
    device=None,
    seed: int = 0,
    inplace: bool = False,
    model_name: str | None = None,
    logits_fn=None,
    preprocess=None,
    input_size: int | None = None,
    **hparams,
) -> tuple[nn.Module, UnlearnReport]:
    """Unlearn ``splits.forget`` from ``model`` with ``method``.

    Parameters
    ----------
    model : the original model f_orig (trained on forget + retain), any ``nn.Module``
        classifier. Not modified unless ``inplace=True``: by default a deep copy is unlearned
        and returned.
    splits : :class:`~lotus.data.UnlearningSplits` (forget, retain, val = D_u, test), from
        :func:`lotus.load_splits` or from your own Datasets
        (``UnlearningSplits.from_dataset`` / ``from_datasets``).
    method : a name from :func:`list_methods`.
    device : ``"cpu"``, ``"cuda"``, ... (default: the model's device when it sits on an
        accelerator, else CUDA if available).
    seed : seeds every random choice of the method (retain subset, noise, shuffling).
    model_name : registry name of the model (selects the paper's per-model defaults);
        read from ``model.lotus_config`` when omitted.
    **hparams : method hyper-parameters overriding its defaults; unknown names are an error.
        ``augment`` (training augmentation during unlearning) defaults to what the original
        model was trained with when that is known (models from :mod:`lotus.train`).
    logits_fn, preprocess, input_size : how to read ``model`` as a classifier of the splits'
        batches (:func:`lotus.models.as_classifier`): ``logits_fn(output)`` picks the logits
        of a model returning something else than a tensor (tuples, ``{"logits": ...}`` and
        Hugging Face outputs are read without it), ``preprocess(x)`` adapts the batch,
        ``input_size`` resizes it. Every method sees the model through this adapter; the
        returned model is yours, unwrapped.

        Speed options (every method has ``amp``, bf16 autocast, default off; most have
        ``channels_last``, ``None`` = auto: NHWC for the registered CNNs; the distillation
        methods have ``teacher_cache``, ``None`` = auto: the teacher's outputs computed once
        when ``augment`` is off) change how fast, not what is computed; ``report.extra["speed"]``
        records the values used.

    Under ``torchrun`` (several processes, :mod:`lotus.distributed`) every rank calls ``unlearn``
    with the same arguments; the methods whose ``distributed`` attribute is true (all but UNSIR)
    train on the shared global sample stream (DistributedDataParallel, or gradients averaged over
    ranks), reduce their statistics over the data across ranks and return the same model on every
    rank; the others are a :class:`LotusError` naming the method.

    Returns
    Methods that build a fresh copy of the architecture (``retrain``, ``bad_teacher``) need
    ``model.lotus_config`` (models from :func:`lotus.create_model`); for other models they are
    a :class:`LotusError` before any work. So is a model whose logits do not fit the splits.
    -------
    (model, report) : the unlearned model in eval mode on ``device`` (in the default memory
        format), and an :class:`UnlearnReport` whose ``seconds`` is the wall time of the
        unlearning routine (evaluation excluded).
    """
    if not isinstance(splits, UnlearningSplits):
        raise LotusError(f"splits must be an UnlearningSplits (lotus.load_splits, UnlearningSplits.from_dataset(s)), "
                         f"got {type(splits).__name__}")
    if not isinstance(model, nn.Module):
        raise LotusError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if len(splits.forget) == 0:
        raise LotusError("the forget set is empty")
    impl = get_method(method)
    check_supported(method, impl.distributed)
    wrapped_here = not isinstance(model, Classifier)
    dev = model_device(model, device)
    if model_name is None:
        model_name = (getattr(model, "lotus_config", None) or {}).get("name")
    if impl.needs_fresh_model and not (getattr(model, "lotus_config", None) or {}).get("name"):
        raise LotusError(
            f"method {method!r} trains a newly initialised model of the same architecture and builds it from "
            f"model.lotus_config, which this {type(unwrap_classifier(model)).__name__} lacks; create the model with "
            "lotus.create_model (register your architecture with lotus.models.register_model), or use another method")
    hp = check_hparams(method, impl.default_hparams(model_name, splits.dataset), hparams)
    if "augment" in hp and "augment" not in hparams:
        # unlearn with the augmentation the original model was trained with, when known
        # (the authors' methods reuse the training pipeline); else the method's default
        recipe = (getattr(model, "lotus_train_info", None) or {}).get("recipe") or {}
        if "augment" in recipe:
            hp["augment"] = bool(recipe["augment"])
    # the one adapter every method sees: a module whose forward gives [B, K] logits
    model = as_classifier(model, logits_fn=logits_fn, preprocess=preprocess, input_size=input_size)
    hp = resolve_speed_options(model, hp)
    student = model if inplace else copy.deepcopy(model)
    student.to(dev)
    # the probe reads retain images: a method such as retrain must never see the forget set
    probe = splits.retain if len(splits.retain) else splits.forget
    check_classifier(student, next(probe.batches(2, device=dev))[0], splits.num_classes)
    original = freeze(copy.deepcopy(model).to(dev)) if impl.needs_original else None
    logger.debug("unlearning with %s on %s, seed %s, hyper-parameters %s", method, dev, seed, hp)
    nhwc = bool(hp.get("channels_last", False))
    to_memory_format(nhwc, student, original)
    _warm_imports()
    seed_everything(seed)
    synchronize(dev)
    t0 = time.perf_counter()
    out = impl.run(student, splits, original=original, device=dev, seed=int(seed), hp=hp) or {}
    synchronize(dev)
    seconds = time.perf_counter() - t0
    out = dict(out)
    # evaluation a method performs only for its report is not unlearning time
    seconds -= float(out.pop("_excluded_seconds", 0.0))
    student = out.pop("model", student)
    student.eval()
    logger.debug("%s: unlearned in %.2f s", method, seconds)
    if nhwc:
        to_memory_format(False, student)
    out["speed"] = {"channels_last": nhwc, "amp": bool(hp.get("amp", False)),
                    "teacher_cache": bool(out.pop("teacher_cache", False)), "threads": torch.get_num_threads()}
    if wrapped_here:
        student = unwrap_classifier(student)
    report = UnlearnReport(
        method=method, seconds=seconds, epochs=int(out.pop("epochs", hp.get("epochs", 0))),
        hparams=to_plain(hp), history=to_plain(out.pop("history", [])), extra=to_plain(out),
    )
    return student, report
