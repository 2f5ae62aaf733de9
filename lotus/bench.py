"""``lotus bench``: how fast the package is, measured as ratios taken in one run.

Every timing is compared with a reference measured in the same process, interleaved with
it, so that a shared or throttled machine inflates both sides alike. Sections (keys of the
JSON the bench writes):

``overhead``
    each method's wall time (:func:`lotus.unlearn`) divided by the *bare compute* of the same
    passes: the same models, optimiser and losses on the same batch tensors, made before the
    clock starts, in a plain loop (no data pipeline, no checks, no bookkeeping).
``evaluation``
    :func:`lotus.evaluate` against a straightforward implementation written here the way the
    authors' code evaluates (batch size 1 for the membership-attack probabilities and the JSD
    inputs, per-sample Python loops for the class means of RF-JSD), on the same splits; the
    values must agree to 1e-6 in legacy mode. The forward passes alone, on batches made
    beforehand, bound the speed-up any batched implementation can reach on the machine.
``growth``
    LoTUS and evaluation time at forget sets of 1 %, 10 % and 50 % of the training set, with
    the fitted slope (seconds per 1,000 forget images).
``rf_jsd``
    RF-JSD of 1.28 million synthetic predictions over 1,000 classes streamed in batches
    (:func:`lotus.metrics.rf_jsd_streamed`) in a fresh process: time and peak memory.
``options``
    speed options (channels-last, bf16 autocast, threads, batch size, ``torch.compile``):
    images/s of LoTUS and of evaluation, and their effect on the metrics (accuracies, MIA,
    Avg Gap) over three seeds, against "today": the package before this bench (fp32,
    default memory format, teacher recomputed every epoch).
``teacher``
    reuse of the teacher's outputs without augmentation: LoTUS time per epoch with the
    teacher's logits computed once vs every epoch, and whether both give the same model bit
    for bit.

Modes: ``quick`` (CI and the book's tiny profile; under 3 minutes on two CPU cores),
``full`` (the default; under 10 minutes with the profile's models cached) and ``gpu`` (the
same suite on a CUDA device at the paper's scale, ResNet-18 on CIFAR-10-sized data at batch
128 and ViT-B/16 at 224 px at batch 32, untrained synthetic data: images/s only). The sizes of
each mode are :data:`MODES`. Run ``lotus bench --help``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

from .data import TensorSplit, UnlearningSplits, concat_splits, load_splits, per_class_subset
from .experiment import configs_from_settings, load_kwargs, method_hparams, prepare
from .methods import get_method, unlearn
from .methods.base import random_wrong_labels, resolve_speed_options, to_memory_format
from .metrics import avg_gap, evaluate, rf_jsd_streamed, uses_channels_last
from .models import create_model, model_family
from .profiles import resolve
from .results import device_name, git_commit, now_iso
from .utils import (
    VERSION,
    LotusError,
    atomic_write_json,
    autocast,
    make_generator,
    resolve_device,
    synchronize,
    to_plain,
)

__all__ = ["MODES", "TARGETS", "SECTIONS", "run_bench", "bench_table", "format_report", "describe_machine", "read_bench",
           "save_bench", "stored_results", "default_output", "add_arguments", "main"]

log = logging.getLogger(__name__)

BENCH_FORMAT = 1

#: the scale of the RF-JSD section, that of ImageNet-1k (training images, classes, validation images)
IMAGENET_TRAIN, IMAGENET_CLASSES, IMAGENET_VAL = 1_281_167, 1000, 50_000

#: the sizes of each mode. ``overhead_retain``/``eval_caps``: at most this many images per split
#: (``None``: the whole split); ``option_epochs``: LoTUS epochs per run (``None``: the profile's
#: budget); ``workloads`` (gpu): synthetic data and untrained models at the paper's scale
MODES = {
    "quick": {
        "methods": ["lotus", "scrub", "finetune", "random_labeling", "salun"],
        "repeats": 1, "overhead_retain": 600,
        "eval_caps": {"forget": 100, "retain": 400, "val": 200, "test": 200},
        "growth": [0.01, 0.1, 0.5],
        "rf_rows": 128_000, "rf_classes": IMAGENET_CLASSES, "rf_reference_rows": 5_000, "rf_batch": 8192,
        "options": ["today", "default", "bf16", "threads_1"], "option_seeds": [0, 1, 2], "option_epochs": 1,
        "teacher_epochs": 2, "compile_steps": 0,
    },
    "full": {
        "methods": ["lotus", "scrub", "finetune", "random_labeling", "salun"],
        "repeats": 3, "overhead_retain": 1500,
        "eval_caps": None,
        "growth": [0.01, 0.1, 0.5],
        "rf_rows": IMAGENET_TRAIN, "rf_classes": IMAGENET_CLASSES, "rf_reference_rows": IMAGENET_VAL, "rf_batch": 8192,
        "options": ["today", "default", "bf16", "threads_1", "batch_256", "compile"], "option_seeds": [0, 1, 2],
        "option_epochs": None, "teacher_epochs": 3, "compile_steps": 8,
    },
    "gpu": {  # about 7 minutes on one H200 (estimated: not yet run on a GPU)
        "methods": ["lotus", "scrub", "finetune", "random_labeling", "salun"],
        "repeats": 2, "overhead_retain": 10000,
        "eval_caps": {"forget": 1000, "retain": 2000, "val": 1000, "test": 1000},
        "growth": [0.01, 0.1, 0.5],
        "rf_rows": IMAGENET_TRAIN, "rf_classes": IMAGENET_CLASSES, "rf_reference_rows": IMAGENET_VAL, "rf_batch": 8192,
        "options": ["today", "default", "bf16", "batch_256", "compile"], "option_seeds": [0],
        "option_epochs": 1, "teacher_epochs": 3, "compile_steps": 20,
        # each workload may change the sizes above for itself ("sizes")
        "workloads": [
            {"model": "resnet18", "num_classes": 10, "image_size": 32, "train_per_class": 5000,
             "heldout_per_class": 1000, "forget": 0.1},
            {"model": "vit_b16", "model_kwargs": {"pretrained": False}, "num_classes": 10, "image_size": 32,
             "train_per_class": 300, "heldout_per_class": 50, "forget": 0.1,
             "sizes": {"repeats": 1, "eval_caps": {"forget": 300, "retain": 1000, "val": 500, "test": 500},
                       "options": ["today", "default", "bf16"]}},
        ],
    },
}

#: the speed targets, each as (table row, comparison, bound)
TARGETS = {
    "overhead": ("every method's time / bare compute", "<=", 1.10),
    "evaluation_speedup": ("evaluate vs the batch-1 implementation", ">=", 20.0),
    "evaluation_equal": ("largest |difference| of the legacy values", "<=", 1e-6),
    "lotus_epoch": ("LoTUS per epoch, today / new defaults", ">=", 1.5),
    "rf_jsd_seconds": ("RF-JSD at 1.28M x 1000, seconds", "<", 60.0),
    "rf_jsd_gb": ("RF-JSD at 1.28M x 1000, peak GB", "<", 2.0),
}

#: the speed options of the ``options`` section: (LoTUS hyper-parameters, evaluate kwargs, threads)
OPTIONS = {
    "today": ({"channels_last": False, "teacher_cache": False}, {"channels_last": False}, None),
    "default": ({}, {}, None),
    "channels_last_off": ({"channels_last": False}, {"channels_last": False}, None),
    "bf16": ({"amp": True}, {"amp": True}, None),
    "threads_1": ({}, {}, 1),
    "batch_256": ({"batch_size": 256}, {}, None),
}

_OPTION_TEXT = {
    "today": "before this bench: fp32, default memory format, teacher every epoch",
    "default": "the new defaults (channels-last for CNNs, teacher reuse without augmentation)",
    "channels_last_off": "new defaults without channels-last",
    "bf16": "new defaults + bf16 autocast (unlearning and evaluation)",
    "threads_1": "new defaults on 1 thread",
    "batch_256": "new defaults, batch 256 instead of the method's",
    "compile": "torch.compile of the student's training step (bare loop; compile time apart)",
}


# ---------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------


@dataclass
class Workload:
    """What the sections run on: splits, models and the per-method settings.

    ``trained``: the models were trained on the splits (a profile's cached models), so the
    metrics mean something; ``False`` for synthetic data and untrained models (timing only).
    """

    name: str
    splits: UnlearningSplits
    original: nn.Module
    gold: nn.Module
    model: str
    model_kwargs: dict
    device: torch.device
    trained: bool
    settings: dict | None = None
    setup_seconds: float = 0.0
    splits_for: Callable[[float], UnlearningSplits] | None = None

    def hparams(self, method: str, **changes) -> dict:
        """The profile's hyper-parameters of ``method`` (its shared budget and overrides)."""
        hp = method_hparams(method, self.settings) if self.settings is not None else {}
        hp.update(changes)
        return hp

    def describe(self) -> dict:
        return {"name": self.name, "dataset": self.splits.dataset, "model": self.model,
                "model_kwargs": self.model_kwargs, "trained": self.trained, "sizes": self.splits.sizes(),
                "image_shape": list(self.splits.train.image_shape), "num_classes": self.splits.num_classes,
                "setup_seconds": self.setup_seconds}


def profile_workload(profile: str | None, *, settings: dict | None = None, device=None, seed: int = 0) -> Workload:
    """The splits and cached (or freshly trained) models of ``profile`` (or of resolved
    ``settings``, e.g. a chapter's) for ``seed``."""
    settings = dict(settings) if settings is not None else resolve(profile)
    if device is not None:
        settings["device"] = str(device)
    cfg = configs_from_settings(settings, methods=["original"], seeds=[seed])[0]
    t0 = time.perf_counter()
    prep = prepare(cfg.validate(), progress=False)
    setup = time.perf_counter() - t0
    data = load_kwargs(settings)

    def splits_for(forget: float) -> UnlearningSplits:
        return load_splits(settings["dataset"], forget=forget, seed=seed, **data)

    return Workload(name=f"profile {profile}: {settings['dataset']} / {settings['model']}", splits=prep.splits,
                    original=prep.original, gold=prep.gold, model=settings["model"],
                    model_kwargs=dict(settings.get("model_kwargs") or {}), device=prep.device, trained=True,
                    settings=settings, setup_seconds=setup, splits_for=splits_for)


def synthetic_splits(*, num_classes: int, image_size: int, train_per_class: int, heldout_per_class: int,
                     forget: float, seed: int = 0) -> UnlearningSplits:
    """Random ``uint8`` images (CIFAR normalisation) in the shapes of a real benchmark:
    ``train_per_class`` training images per class, a ``forget`` fraction of them per class the
    forget set, ``heldout_per_class`` images per class for each of val and test."""
    g = make_generator(seed, "bench/synthetic")
    k, s = int(num_classes), int(image_size)

    def make(per_class):
        labels = torch.arange(k).repeat_interleave(int(per_class))
        images = torch.randint(0, 256, (labels.numel(), 3, s, s), generator=g, dtype=torch.uint8)
        return TensorSplit(images, labels, num_classes=k, mean=(0.4914, 0.4822, 0.4465),
                           std=(0.2023, 0.1994, 0.2010), augment_mode="crop")

    train, val, test = make(train_per_class), make(heldout_per_class), make(heldout_per_class)
    n_forget = max(1, int(round(forget * train_per_class)))
    forget_idx = torch.sort(per_class_subset(train.labels, n_forget, g)).values
    keep = torch.ones(len(train), dtype=torch.bool)
    keep[forget_idx] = False
    retain_idx = keep.nonzero().flatten()
    return UnlearningSplits(dataset="synthetic", train=train, forget=train.subset(forget_idx),
                            retain=train.subset(retain_idx), val=val, test=test,
                            classes=[str(c) for c in range(k)], forget_indices=forget_idx,
                            retain_indices=retain_idx, forget_spec=str(float(forget)), seed=seed)


def synthetic_workload(spec: dict, *, device=None, seed: int = 0) -> Workload:
    """Untrained models on :func:`synthetic_splits` (``spec``: a ``workloads`` entry of a mode)."""
    dev = resolve_device(device)
    kw = dict(spec.get("model_kwargs") or {})
    size = dict(num_classes=spec["num_classes"], image_size=spec["image_size"],
                train_per_class=spec["train_per_class"], heldout_per_class=spec["heldout_per_class"])
    splits = synthetic_splits(forget=spec["forget"], seed=seed, **size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        original = create_model(spec["model"], spec["num_classes"], **kw).to(dev).eval()
        gold = create_model(spec["model"], spec["num_classes"], **kw).to(dev).eval()

    def splits_for(forget: float) -> UnlearningSplits:
        return synthetic_splits(forget=forget, seed=seed, **size)

    return Workload(name=f"synthetic {spec['model']} ({spec['image_size']} px, {spec['num_classes']} classes)",
                    splits=splits, original=original, gold=gold, model=spec["model"], model_kwargs=kw, device=dev,
                    trained=False, splits_for=splits_for)


def _capped(splits: UnlearningSplits, caps: dict | None, seed: int = 0) -> UnlearningSplits:
    """``splits`` with each split named in ``caps`` reduced to a random subset of at most that size."""
    if not caps:
        return splits
    g = make_generator(seed, "bench/caps")
    changes = {}
    for name, cap in caps.items():
        split = splits[name]
        if cap is not None and len(split) > cap:
            keep = torch.sort(torch.randperm(len(split), generator=g)[: int(cap)]).values
            changes[name] = split.subset(keep)
            if name in ("forget", "retain"):
                changes[f"{name}_indices"] = getattr(splits, f"{name}_indices")[keep]
    return dataclasses.replace(splits, **changes)


# ---------------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------------


def _timed(fn, device) -> tuple[float, object]:
    synchronize(device)
    t0 = time.perf_counter()
    out = fn()
    synchronize(device)
    return time.perf_counter() - t0, out


def _median(xs) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


class _Threads:
    """Run a block with ``n`` torch threads (``None``: unchanged)."""

    def __init__(self, n: int | None):
        self.n, self.old = n, None

    def __enter__(self):
        if self.n is not None:
            self.old = torch.get_num_threads()
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc):
        if self.old is not None:
            torch.set_num_threads(self.old)


# ---------------------------------------------------------------------------------------
# Section a: overhead of each method over the bare compute of its passes
# ---------------------------------------------------------------------------------------


def _batches(split, hp, generator, *, shuffle=True, augment=None, batch_size=None, device, labels=None):
    """The batches a method sees, made once before the clock starts: ``[(x, y, idx)]``."""
    aug = hp.get("augment", False) if augment is None else augment
    out = []
    for x, y, idx in split.batches(int(batch_size or hp["batch_size"]), shuffle=shuffle, augment=aug,
                                   generator=generator, device=device, with_index=True,
                                   channels_last=bool(hp.get("channels_last"))):
        out.append((x, labels[idx.cpu()].to(device) if labels is not None else y, idx))
    return out


def _sgd(model, hp):
    return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=hp["lr"],
                           momentum=hp.get("momentum", 0.9), weight_decay=hp.get("weight_decay", 0.0))


def _ce_epoch(model, opt, batches, amp, device, sign=1.0, hook=None):
    model.train()
    for x, y, _ in batches:
        with autocast(device, amp):
            logits = model(x)
        loss = sign * F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if hook is not None:
            hook()
        opt.step()


def _eval_pass(model, batches, amp, device) -> float:
    model.eval()
    correct = n = 0
    with torch.inference_mode():
        for x, y, _ in batches:
            with autocast(device, amp):
                logits = model(x)
            correct += int((logits.float().argmax(1) == y).sum())
            n += y.numel()
    return correct / max(n, 1)


def _bare(method: str, work: Workload, splits: UnlearningSplits, hp: dict, seed: int):
    """``(run, info)``: a function doing the bare compute of ``method``'s passes on batches made
    here (before the clock starts), and what it needs. The passes mirror the method's code:
    same batch sizes and counts, models, optimiser, loss and memory format."""
    dev, amp, epochs = work.device, bool(hp.get("amp", False)), int(hp["epochs"])
    g = make_generator(seed, "bench/bare", method)
    student = copy.deepcopy(work.original).to(dev)
    to_memory_format(bool(hp.get("channels_last")), student)
    teacher = copy.deepcopy(work.original).to(dev).eval()
    to_memory_format(bool(hp.get("channels_last")), teacher)
    for p in teacher.parameters():
        p.requires_grad_(False)
    evb = int(hp.get("eval_batch_size", 512))

    if method in ("lotus", "salun_lotus"):
        n_ret = int(hp.get("retain_fraction", 0.3) * len(splits.retain))
        data = concat_splits([splits.forget, splits.retain.subset(torch.randperm(len(splits.retain), generator=g)[:n_ret])])
        train_b = _batches(data, hp, g, device=dev)
        forget_eval = _batches(splits.forget, hp, g, shuffle=False, augment=False, batch_size=evb, device=dev)
        val_eval = _batches(splits.val, hp, g, shuffle=False, augment=False, batch_size=evb, device=dev)
        n_forget = len(splits.forget)
        cache_teacher = hp.get("teacher_cache") if hp.get("teacher_cache") is not None else not hp.get("augment")
        all_b = _batches(data, hp, g, shuffle=False, augment=False, batch_size=evb, device=dev) if cache_teacher else []
        noise = torch.Generator().manual_seed(seed)

        def run():
            opt = torch.optim.AdamW(student.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
            acc_t = _eval_pass(teacher, val_eval, amp, dev)
            cached = None
            if cache_teacher:
                with torch.no_grad():
                    cached = torch.cat([teacher(x).float() for x, _, _ in all_b])
            for _ in range(epochs):
                acc_f = _eval_pass(student, forget_eval, amp, dev)
                tau = math.exp(float(hp.get("alpha") or 2.0) * (acc_f - acc_t))
                student.train()
                for x, _, idx in train_b:
                    if cached is not None:
                        t = cached[idx]
                    else:
                        with torch.no_grad(), autocast(dev, amp):
                            t = teacher(x).float()
                    g1 = -torch.log(-torch.log(torch.rand(t.shape, generator=noise, dtype=torch.float64))).float().to(dev)
                    g2 = -torch.log(-torch.log(torch.rand(t.shape, generator=noise, dtype=torch.float64))).float().to(dev)
                    soft = torch.softmax((t + g1) / tau, dim=1)
                    hard = F.one_hot((t + g2).argmax(1), t.shape[1]).float()
                    target = torch.where((idx < n_forget)[:, None], soft, hard)
                    with autocast(dev, amp):
                        s = student(x)
                    loss = -(target * F.log_softmax(s.float(), dim=1)).sum(1).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()

        return run, {"train_images_per_epoch": len(data), "eval_images_per_epoch": n_forget}

    if method == "scrub":
        msteps = int(hp["msteps"]) if hp.get("msteps") is not None else max(0, min(max(1, epochs // 2), epochs - 1))
        forget_b = _batches(splits.forget, hp, g, batch_size=hp.get("forget_batch_size"), device=dev)
        retain_b = _batches(splits.retain, hp, g, device=dev)
        T, gamma, alpha = float(hp["temperature"]), float(hp["gamma"]), float(hp["alpha"])

        def kl(s, t):
            return F.kl_div(F.log_softmax(s.float() / T, 1), torch.softmax(t.float() / T, 1), reduction="batchmean") * T * T

        def run():
            opt = torch.optim.Adam(student.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
            student.train()
            for e in range(epochs):
                for x, y, _ in (forget_b if e < msteps else []):
                    with torch.no_grad(), autocast(dev, amp):
                        t = teacher(x)
                    with autocast(dev, amp):
                        s = student(x)
                    loss = -kl(s, t)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                for x, y, _ in retain_b:
                    with torch.no_grad(), autocast(dev, amp):
                        t = teacher(x)
                    with autocast(dev, amp):
                        s = student(x)
                    loss = gamma * F.cross_entropy(s.float(), y) + alpha * kl(s, t)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()

        return run, {"train_images_per_epoch": len(splits.retain) + len(splits.forget) * msteps / max(epochs, 1)}

    if method == "finetune":
        retain_b = _batches(splits.retain, hp, g, device=dev)

        def run():
            opt = _sgd(student, hp)
            for _ in range(epochs):
                _ce_epoch(student, opt, retain_b, amp, dev)

        return run, {"train_images_per_epoch": len(splits.retain)}

    if method in ("random_labeling", "salun"):
        fake = random_wrong_labels(splits.forget.labels, splits.num_classes, g)
        forget_b = _batches(splits.forget, hp, g, device=dev, labels=fake)
        retain_b = _batches(splits.retain, hp, g, device=dev)
        info = {"train_images_per_epoch": len(splits.retain) + len(splits.forget)}
        if method == "random_labeling":
            def run():
                opt = _sgd(student, hp)
                for _ in range(epochs):
                    _ce_epoch(student, opt, forget_b, amp, dev)
                    _ce_epoch(student, opt, retain_b, amp, dev)

            return run, info
        mask_b = _batches(splits.forget, hp, g, shuffle=False, augment=False, device=dev)
        wd = float(hp["weight_decay"])

        def run():
            params = [p for p in student.parameters() if p.requires_grad]
            acc = [torch.zeros_like(p) for p in params]
            student.eval()
            for x, y, _ in mask_b:
                with autocast(dev, amp):
                    loss = -F.cross_entropy(student(x).float(), y)
                for a, gr in zip(acc, torch.autograd.grad(loss, params)):
                    a.add_(gr)
            flat = torch.cat([a.abs().flatten() for a in acc])
            keep = torch.zeros_like(flat, dtype=torch.bool)
            keep[torch.topk(flat, int(round(float(hp["mask_ratio"]) * flat.numel())), sorted=False).indices] = True
            masks, start = [], 0
            for a in acc:
                masks.append(keep[start:start + a.numel()].view_as(a).float())
                start += a.numel()

            def hook():
                for p, m in zip(params, masks):
                    p.grad.add_(p.detach(), alpha=wd).mul_(m)

            opt = torch.optim.SGD(params, lr=hp["lr"], momentum=hp["momentum"], weight_decay=0.0)
            for _ in range(epochs):
                _ce_epoch(student, opt, forget_b, amp, dev, hook=hook)
                _ce_epoch(student, opt, retain_b, amp, dev, hook=hook)

        return run, info
    raise LotusError(f"the bench has no bare loop for method {method!r}; valid: lotus, scrub, finetune, "
                     "random_labeling, salun")


def _method_hp(work: Workload, method: str, **changes) -> dict:
    """The hyper-parameters the method runs with in the bench (the profile's, resolved)."""
    hp = dict(get_method(method).default_hparams(work.model, work.splits.dataset))
    hp.update(work.hparams(method))
    recipe = (getattr(work.original, "lotus_train_info", None) or {}).get("recipe") or {}
    if "augment" in hp and "augment" not in work.hparams(method) and "augment" in recipe:
        hp["augment"] = bool(recipe["augment"])
    hp.update(changes)
    if method == "scrub":
        if int(hp["epochs"]) < 2:
            hp["epochs"] = 2  # one max-step epoch and one min-step epoch
        if hp.get("msteps") is not None and int(hp["msteps"]) >= int(hp["epochs"]):
            hp["msteps"] = int(hp["epochs"]) - 1  # the profile's max steps, capped by the bench's shorter runs
    return resolve_speed_options(work.original, hp)


def section_overhead(work: Workload, p: dict) -> dict:
    """Each method's :func:`lotus.unlearn` time over the bare compute of the same passes."""
    splits = _capped(work.splits, {"retain": p["overhead_retain"]})
    rows = {}
    for method in p["methods"]:
        hp = _method_hp(work, method, epochs=1)
        ours, bare = [], []
        info = {}
        for r in range(int(p["repeats"])):
            run, info = _bare(method, work, splits, hp, seed=r)
            # alternate which goes first, so that neither always pays for new kernel shapes
            for first in ((True, False) if r % 2 == 0 else (False, True)):
                if first:
                    ours.append(unlearn(work.original, splits, method, device=work.device, seed=r, **hp)[1].seconds)
                else:
                    bare.append(_timed(run, work.device)[0])
        e = int(hp["epochs"])
        rows[method] = {"epochs": e, "seconds": _median(ours), "bare_seconds": _median(bare),
                        "seconds_per_epoch": _median(ours) / e, "bare_seconds_per_epoch": _median(bare) / e,
                        "ratio": _median(ours) / _median(bare), "all_seconds": ours, "all_bare_seconds": bare,
                        "images_per_second": info.get("train_images_per_epoch", 0) * e / _median(ours),
                        "hparams": {k: hp[k] for k in ("batch_size", "augment", "channels_last", "amp") if k in hp}}
        log.info("overhead %s: %.2fs vs bare %.2fs (%.3fx)", method, rows[method]["seconds"],
                 rows[method]["bare_seconds"], rows[method]["ratio"])
    return {"sizes": splits.sizes(), "methods": rows,
            "max_ratio": max(r["ratio"] for r in rows.values()) if rows else None}


# ---------------------------------------------------------------------------------------
# Section b: evaluation vs a batch-1 implementation in the authors' style
# ---------------------------------------------------------------------------------------


def _loader(split, batch_size: int):
    """A ``DataLoader`` over the split's normalised images (decoded once, not timed)."""
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.cat([b for b, _ in split.batches(1024)]) if len(split) else torch.empty(0)
    return DataLoader(TensorDataset(x, split.labels.clone()), batch_size=batch_size, shuffle=False)


def authors_style_evaluate(model, original, gold, loaders: dict, device) -> dict:
    """The paper's metrics computed the way the authors' evaluation code does (spec 4 and 9,
    items 20-22), for the bench's comparison: accuracies with batched loaders, the entropy
    attack on probabilities collected one image at a time, JSD to the gold model on the forget
    set one image at a time, RF-JSD against the test set with per-sample Python loops into
    per-class lists; JSD and RF-JSD with their formula (global normalisation, reversed KL).
    ``loaders``: ``{split: (batch-1 loader, batched loader)}``."""
    from sklearn.linear_model import LogisticRegression

    for m in (model, original, gold):
        m.eval()
    out = {}
    with torch.no_grad():
        for name in ("forget", "retain", "test", "val"):
            correct = n = 0
            for x, y in loaders[name][1]:
                pred = model(x.to(device)).argmax(1).cpu()
                correct += int((pred == y).sum())
                n += y.numel()
            out[f"acc_{name}"] = correct / max(n, 1)

        def collect_prob(loader, net):
            probs = []
            for x, _ in loader:  # batch size 1
                probs.append(F.softmax(net(x.to(device)), dim=-1).cpu())
            return torch.cat(probs)

        def entropy(p):
            p = p.double()
            return -torch.where(p > 0, p * p.log(), p.new_zeros(())).sum(dim=-1)

        retain_p = collect_prob(loaders["retain"][0], model)
        forget_p = collect_prob(loaders["forget"][0], model)
        test_p = collect_prob(loaders["test"][0], model)
        val_p = collect_prob(loaders["val"][0], model)
        x_r = torch.cat([entropy(retain_p), entropy(torch.cat([test_p, val_p]))]).numpy()[:, None]
        y_r = np.concatenate([np.ones(len(retain_p)), np.zeros(len(test_p) + len(val_p))])
        clf = LogisticRegression(class_weight="balanced", solver="lbfgs", random_state=42)
        clf.fit(x_r, y_r)
        out["mia"] = float(clf.predict(entropy(forget_p).numpy()[:, None]).mean())

        def jsdiv(p, q):
            p = p.clamp(1e-8, 1)
            q = q.clamp(1e-8, 1)
            p = p / p.sum()
            q = q / q.sum()
            m = 0.5 * (p + q)
            return float(0.5 * (F.kl_div(p.log(), m, reduction="batchmean") + F.kl_div(q.log(), m, reduction="batchmean")))

        p_un, p_gold = [], []
        for x, _ in loaders["forget"][0]:  # one image at a time, both models
            x = x.to(device)
            p_un.append(F.softmax(model(x), dim=1).cpu())
            p_gold.append(F.softmax(gold(x), dim=1).cpu())
        out["jsd_legacy"] = jsdiv(torch.cat(p_un), torch.cat(p_gold))

        def class_means(loader, net):
            per_class: dict[int, list] = {}
            for x, y in loader:
                probs = F.softmax(net(x.to(device)), dim=1).cpu()
                for i in range(len(y)):  # per-sample Python loop
                    per_class.setdefault(int(y[i]), []).append(probs[i])
            means = {}
            for c, rows in per_class.items():
                m = torch.stack(rows).mean(0)
                means[c] = m / m.sum()
            return means

        forget_means = class_means(loaders["forget"][2], model)
        test_means = class_means(loaders["test"][2], original)
        test_means = {c: v for c, v in test_means.items() if c in forget_means}
        keys = sorted(forget_means)
        out["rf_jsd_legacy"] = jsdiv(torch.stack([forget_means[c] for c in keys]),
                                     torch.stack([test_means[c] for c in keys]))
    return out


def section_evaluation(work: Workload, p: dict) -> dict:
    """:func:`lotus.evaluate` (legacy formulas, RF-JSD vs the test set) against
    :func:`authors_style_evaluate` on the same splits and models."""
    splits = _capped(work.splits, p["eval_caps"])
    model = work.original
    original = copy.deepcopy(work.original)  # a separate object: its reference pass is counted
    gold = work.gold
    kw = dict(original=original, gold=gold, device=work.device, legacy=True, rf_jsd_reference="test")
    ours, warm = [], []
    for _ in range(int(p["repeats"])):
        cache: dict = {}
        t, res = _timed(lambda: evaluate(model, splits, reference_cache=cache, **kw), work.device)
        ours.append(t)
        warm.append(_timed(lambda: evaluate(model, splits, reference_cache=cache, **kw), work.device)[0])
    # the floor under any implementation with the same batches: the forward passes alone
    # (the model on the four splits, the original on the RF-JSD reference, the gold on D_f)
    hp_eval = {"channels_last": uses_channels_last(model)}
    g = torch.Generator().manual_seed(0)
    passes = [(model, _batches(splits[name], hp_eval, g, shuffle=False, augment=False, batch_size=512,
                                device=work.device)) for name in ("forget", "retain", "test", "val")]
    passes += [(original, _batches(splits.test, hp_eval, g, shuffle=False, augment=False, batch_size=512,
                                   device=work.device)),
               (gold, _batches(splits.forget, hp_eval, g, shuffle=False, augment=False, batch_size=512,
                               device=work.device))]

    def forward_only():
        with torch.inference_mode():
            for net, batches in passes:
                net.eval()
                for x, _, _ in batches:
                    net(x)

    forward = [_timed(forward_only, work.device)[0] for _ in range(int(p["repeats"]))]
    rf_bs = 2048 if model_family(work.model) == "cnn" else 512
    loaders = {name: (_loader(splits[name], 1), _loader(splits[name], 128), _loader(splits[name], rf_bs))
               for name in ("forget", "retain", "test", "val")}
    t_theirs, theirs = _timed(lambda: authors_style_evaluate(model, original, gold, loaders, work.device), work.device)
    keys = ("acc_forget", "acc_retain", "acc_test", "acc_val", "mia", "jsd_legacy", "rf_jsd_legacy")
    diffs = {k: abs(float(res[k]) - float(theirs[k])) for k in keys}
    n_images = sum(len(splits[s]) for s in ("forget", "retain", "test", "val"))
    out = {"sizes": splits.sizes(), "seconds": _median(ours), "seconds_warm": _median(warm),
           "authors_style_seconds": t_theirs, "speedup": t_theirs / _median(ours),
           "speedup_warm": t_theirs / _median(warm), "ours": {k: float(res[k]) for k in keys}, "authors_style": theirs,
           "abs_differences": diffs, "max_abs_difference": max(diffs.values()),
           "images_per_second": n_images / _median(ours), "all_seconds": ours,
           "channels_last": uses_channels_last(model),
           # what stands between us and a larger speed-up: the forward passes themselves
           "forward_seconds": min(forward), "speedup_ceiling": t_theirs / min(forward),
           "overhead_over_forward": _median(ours) / min(forward)}
    log.info("evaluation: %.2fs vs authors' style %.2fs (%.1fx; forward passes alone %.2fs, at most %.1fx), "
             "max |diff| %.2e", out["seconds"], t_theirs, out["speedup"], out["forward_seconds"],
             out["speedup_ceiling"], out["max_abs_difference"])
    return out


# ---------------------------------------------------------------------------------------
# Section c: cost growth with the forget-set size
# ---------------------------------------------------------------------------------------


def section_growth(work: Workload, p: dict) -> dict:
    """LoTUS (one epoch) and evaluation time at each forget fraction, with linear fits."""
    rows = []
    hp = _method_hp(work, "lotus", epochs=1)
    reference = copy.deepcopy(work.original)  # a separate object: its reference pass is counted
    for frac in p["growth"]:
        splits = work.splits_for(float(frac))
        _, rep = unlearn(work.original, splits, "lotus", device=work.device, seed=0, **hp)
        t_eval, _ = _timed(lambda: evaluate(work.original, splits, original=reference, gold=work.gold,
                                            device=work.device), work.device)
        rows.append({"forget_fraction": float(frac), "forget_size": len(splits.forget),
                     "retain_size": len(splits.retain), "lotus_seconds": rep.seconds, "evaluate_seconds": t_eval,
                     "lotus_train_images": len(splits.forget) + int(hp["retain_fraction"] * len(splits.retain))})
        log.info("growth %.2f: lotus %.2fs, evaluate %.2fs", frac, rep.seconds, t_eval)
    out = {"rows": rows}
    n = np.array([r["forget_size"] for r in rows], dtype=float)
    for key in ("lotus_seconds", "evaluate_seconds"):
        t = np.array([r[key] for r in rows])
        if len(rows) >= 2 and np.ptp(n) > 0:
            slope, intercept = np.polyfit(n, t, 1)
            out[f"{key}_per_1000_forget"] = float(slope * 1000)
            out[f"{key}_intercept"] = float(intercept)
    return out


# ---------------------------------------------------------------------------------------
# Section d: RF-JSD at ImageNet scale, streamed, in a fresh process
# ---------------------------------------------------------------------------------------


def _proc_status_gb(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process in GB (Linux), else ``None``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024**2
    except (OSError, ValueError):
        pass
    return None


def _peak_gb() -> float:
    """The peak resident memory of this process in GB (``VmHWM``, else ``ru_maxrss``)."""
    hwm = _proc_status_gb("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024**3 if sys.platform == "darwin" else 1024**2)


def _reset_peak() -> bool:
    """Reset the peak-memory mark of this process (Linux ``clear_refs``); whether it worked."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def rf_jsd_child(rows: int, classes: int, reference_rows: int, batch: int, seed: int = 0) -> dict:
    """Stream ``rows`` forget and ``reference_rows`` reference predictions (softmax of random
    logits; labels cycling through the classes) over ``classes`` classes in batches of
    ``batch`` through :func:`lotus.metrics.rf_jsd_streamed`. Returns the time of the metric
    (``seconds``: the whole stream minus the making of the synthetic predictions, which an
    evaluation's inference pass does anyway), the total, and the peak resident memory of this
    process while streaming (GB; the peak mark is reset first where Linux allows it) beside its
    resident memory before."""
    g = torch.Generator().manual_seed(seed)
    making = [0.0]

    def stream(n, shift):
        for start in range(0, n, batch):
            t0 = time.perf_counter()
            b = min(batch, n - start)
            labels = (start + torch.arange(b)) % classes  # every class present on both sides
            logits = torch.randn(b, classes, generator=g) * 2.0
            logits[torch.arange(b), labels] += shift  # a confident-ish model
            probs = torch.softmax(logits, dim=1)
            making[0] += time.perf_counter() - t0
            yield probs, labels

    reset = _reset_peak()
    before = _proc_status_gb("VmRSS")
    t0 = time.perf_counter()
    value = rf_jsd_streamed(stream(rows, 4.0), stream(reference_rows, 3.0), classes)
    total = time.perf_counter() - t0
    return {"rows": rows, "reference_rows": reference_rows, "classes": classes, "batch": batch,
            "seconds": total - making[0], "seconds_with_making": total, "making_seconds": making[0],
            "peak_gb": _peak_gb(), "peak_reset": reset, "rss_before_gb": before, "rf_jsd": value,
            "threads": torch.get_num_threads(), "all_in_memory_gb": (rows + reference_rows) * classes * 4 / 1024**3}


def _child(function: str, kwargs: dict, timeout: float) -> dict:
    """Run ``lotus.bench.<function>(**kwargs)`` in a fresh Python process (own peak memory,
    a time limit); returns its JSON result or ``{"error": ...}``."""
    code = ("import json, sys, torch; from lotus import bench; "
            f"torch.set_num_threads({torch.get_num_threads()}); "
            f"print('LOTUS-BENCH ' + json.dumps(bench.{function}(**json.loads(sys.argv[1]))))")
    env = dict(os.environ)
    pkg_parent = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, *filter(None, [env.get("PYTHONPATH")])])
    try:
        proc = subprocess.run([sys.executable, "-c", code, json.dumps(kwargs)], capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("LOTUS-BENCH "):
            return json.loads(line[len("LOTUS-BENCH "):])
    return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or f"exit status {proc.returncode}"}


def section_rf_jsd(p: dict) -> dict:
    """:func:`rf_jsd_child` in a fresh process (so that its peak memory is its own)."""
    out = _child("rf_jsd_child", {"rows": int(p["rf_rows"]), "classes": int(p["rf_classes"]),
                                  "reference_rows": int(p["rf_reference_rows"]), "batch": int(p["rf_batch"])},
                 timeout=900)
    if "error" not in out:
        log.info("rf_jsd %d x %d: %.1fs (%.1fs with making the predictions), peak %.2f GB", out["rows"],
                 out["classes"], out["seconds"], out["seconds_with_making"], out["peak_gb"])
    return out


# ---------------------------------------------------------------------------------------
# Section e: speed options
# ---------------------------------------------------------------------------------------


def compile_child(model: str, model_kwargs: dict, num_classes: int, image_shape: list, batch_size: int, device: str,
                  channels_last: bool, steps: int) -> dict:
    """Images/s of the student's training step (soft-target cross-entropy, AdamW) eager and
    under ``torch.compile`` on random batches, and the compile time (the first compiled
    steps)."""
    dev = torch.device(device)
    torch.manual_seed(0)
    x = torch.randn(batch_size, *image_shape, device=dev)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    target = torch.softmax(torch.randn(batch_size, num_classes, device=dev), 1)
    out = {"batch_size": batch_size, "steps": steps}
    for label in ("eager", "compiled"):
        net = create_model(model, num_classes, **model_kwargs).to(dev)
        to_memory_format(channels_last, net)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        fwd = torch.compile(net) if label == "compiled" else net

        def step():
            loss = -(target * F.log_softmax(fwd(x).float(), 1)).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        t_first, _ = _timed(lambda: [step() for _ in range(2)], dev)
        t, _ = _timed(lambda: [step() for _ in range(steps)], dev)
        out[f"{label}_images_per_second"] = steps * batch_size / t
        out[f"{label}_first_steps_seconds"] = t_first
    out["speedup"] = out["compiled_images_per_second"] / out["eager_images_per_second"]
    return out


def _gap_metrics(scores: dict, gold_scores: dict | None) -> dict:
    keys = ("acc_forget", "acc_retain", "acc_test", "mia")
    out = {k: float(scores[k]) for k in keys}
    if gold_scores is not None:
        out["avg_gap"] = avg_gap(scores, gold_scores)
    return out


def section_options(work: Workload, p: dict) -> dict:
    """LoTUS + evaluation under each speed option and seed: images/s and metrics."""
    names = [o for o in p["options"] if o != "compile"]
    base_hp = _method_hp(work, "lotus", **({"epochs": p["option_epochs"]} if p["option_epochs"] else {}))
    gold_scores = (evaluate(work.gold, work.splits, original=work.original, gold=work.gold, device=work.device)
                   if work.trained else None)
    n_eval = sum(len(work.splits[s]) for s in ("forget", "retain", "test", "val"))
    runs: dict[str, list] = {o: [] for o in names}
    for seed in p["option_seeds"]:  # interleaved: every option once per seed
        for name in names:
            hp_change, eval_kw, threads = OPTIONS[name]
            hp = dict(base_hp, **hp_change)
            with _Threads(threads):
                model, rep = unlearn(work.original, work.splits, "lotus", device=work.device, seed=int(seed), **hp)
                t_eval, scores = _timed(lambda: evaluate(model, work.splits, original=work.original, gold=work.gold,
                                                         device=work.device, **eval_kw), work.device)
            n_train = (len(work.splits.forget) + rep.extra["retain_subset_size"]) * rep.epochs
            runs[name].append({"seed": int(seed), "seconds": rep.seconds, "seconds_per_epoch": rep.seconds / max(rep.epochs, 1),
                               "unlearn_images_per_second": n_train / rep.seconds, "evaluate_seconds": t_eval,
                               "evaluate_images_per_second": n_eval / t_eval, "speed": rep.extra["speed"],
                               "metrics": _gap_metrics(scores, gold_scores) if work.trained else None})
            log.info("option %s seed %s: %.2fs/epoch, evaluate %.2fs", name, seed, runs[name][-1]["seconds_per_epoch"],
                     t_eval)
    out = {"epochs": int(base_hp["epochs"]), "seeds": list(p["option_seeds"]), "options": {}}
    ref = runs.get("today")
    for name, rs in runs.items():
        row = {"text": _OPTION_TEXT[name], "runs": rs}
        for k in ("seconds_per_epoch", "unlearn_images_per_second", "evaluate_seconds", "evaluate_images_per_second"):
            row[k] = _median([r[k] for r in rs])
        if ref:
            row["unlearn_speedup_vs_today"] = _median([r["seconds_per_epoch"] for r in ref]) / row["seconds_per_epoch"]
            row["evaluate_speedup_vs_today"] = _median([r["evaluate_seconds"] for r in ref]) / row["evaluate_seconds"]
        if work.trained:
            row["metrics"] = _metric_effect(rs, ref or rs)
        out["options"][name] = row
    if "compile" in p["options"] and p.get("compile_steps"):
        hp = base_hp
        res = _child("compile_child", {"model": work.model, "model_kwargs": work.model_kwargs,
                                       "num_classes": work.splits.num_classes,
                                       "image_shape": list(work.splits.train.image_shape),
                                       "batch_size": int(hp["batch_size"]), "device": str(work.device),
                                       "channels_last": bool(hp.get("channels_last")),
                                       "steps": int(p["compile_steps"])}, timeout=600)
        out["options"]["compile"] = {"text": _OPTION_TEXT["compile"], **res}
    return out


def _metric_effect(runs: list, ref: list) -> dict:
    """Per metric: mean and std over seeds, the mean paired difference to ``ref`` (same seeds)
    and whether it lies within seed noise (|difference| <= 2 standard errors of the two sets)."""
    out = {}
    for k in runs[0]["metrics"]:
        a = np.array([r["metrics"][k] for r in runs])
        b = np.array([r["metrics"][k] for r in ref])
        diff = float(a.mean() - b.mean())
        se = math.sqrt((a.std(ddof=1) ** 2 + b.std(ddof=1) ** 2) / len(a)) if len(a) > 1 else 0.0
        out[k] = {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
                  "diff_vs_today": diff, "seed_std_today": float(b.std(ddof=1)) if len(b) > 1 else 0.0,
                  "within_seed_noise": bool(abs(diff) <= 2 * se + 1e-12)}
    return out


# ---------------------------------------------------------------------------------------
# Section f: reuse of the teacher's outputs
# ---------------------------------------------------------------------------------------


def section_teacher(work: Workload, p: dict) -> dict:
    """LoTUS without augmentation, the teacher's logits recomputed every epoch vs once."""
    hp = _method_hp(work, "lotus", epochs=int(p["teacher_epochs"]), augment=False)
    times: dict[str, list] = {"recompute": [], "cached": []}
    models = {}
    for r in range(int(p["repeats"])):
        for name, flag in (("recompute", False), ("cached", True)):
            model, rep = unlearn(work.original, work.splits, "lotus", device=work.device, seed=0,
                                 **dict(hp, teacher_cache=flag))
            times[name].append(rep.seconds)
            models[name] = (model, rep)
    (a, ra), (b, rb) = models["recompute"], models["cached"]
    sa, sb = a.state_dict(), b.state_dict()
    max_diff = max(float((sa[k].float() - sb[k].float()).abs().max()) if sa[k].numel() else 0.0 for k in sa)
    equal = all(torch.equal(sa[k], sb[k]) for k in sa) and ra.history == rb.history
    e = int(hp["epochs"])
    out = {"epochs": e, "seconds_per_epoch_recompute": _median(times["recompute"]) / e,
           "seconds_per_epoch_cached": _median(times["cached"]) / e,
           "saving": 1 - _median(times["cached"]) / _median(times["recompute"]),
           "speedup": _median(times["recompute"]) / _median(times["cached"]),
           "bit_for_bit_equal": bool(equal), "max_abs_weight_difference": max_diff, "all_seconds": times}
    log.info("teacher reuse: %.2f vs %.2f s/epoch, equal %s", out["seconds_per_epoch_recompute"],
             out["seconds_per_epoch_cached"], equal)
    return out


# ---------------------------------------------------------------------------------------
# The suite
# ---------------------------------------------------------------------------------------

#: the sections run on each workload; ``rf_jsd`` (synthetic predictions) runs once
WORKLOAD_SECTIONS = {
    "overhead": section_overhead,
    "evaluation": section_evaluation,
    "growth": section_growth,
    "options": section_options,
    "teacher": section_teacher,
}
SECTIONS = (*WORKLOAD_SECTIONS, "rf_jsd")


def _warm_up(work: Workload) -> None:
    """Pay the one-time costs of a process before any clock runs: the lazy imports of the first
    optimizer and of the membership attack, and one forward pass of the model."""
    import sklearn.linear_model  # noqa: F401
    import torch._dynamo  # noqa: F401

    batch = next(work.splits.forget.batches(8, device=work.device))[0]
    with torch.inference_mode():
        work.original.eval()(batch)


def machine_info(device) -> dict:
    """Where the bench ran: host, CPU, cores, memory, load, torch and its threads."""
    dev = torch.device(device)
    mem = None
    try:
        with open("/proc/meminfo") as fh:
            mem = int(fh.readline().split()[1]) / 1024**2
    except (OSError, ValueError, IndexError):
        pass
    return {"host": socket.gethostname(), "platform": platform.platform(terse=True), "python": platform.python_version(),
            "cpu": device_name("cpu"), "cpu_count": os.cpu_count(), "memory_gb": mem,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "device": str(dev), "device_name": device_name(dev), "torch_version": torch.__version__,
            "threads": torch.get_num_threads(), "lotus_version": VERSION, "git_commit": git_commit()}


def run_bench(profile: str | None = "cpu", *, mode: str = "full", device=None, sections=None,
              overrides: dict | None = None, threads: int | None = None, settings: dict | None = None) -> dict:
    """Run the suite and return its result (a JSON-ready dict; :func:`bench_table` formats it).

    ``profile``: the profile whose splits and models the CPU modes use (its models are trained
    once and cached); ignored by ``mode="gpu"``, which uses synthetic data. ``sections``: a
    subset of :data:`SECTIONS` (default: all). ``overrides``: changes to the mode's sizes
    (:data:`MODES`). ``threads``: torch threads for the whole run (default: unchanged).
    ``settings``: resolved settings to use instead of the profile's (a chapter passes its own).
    """
    if mode not in MODES:
        raise LotusError(f"unknown bench mode {mode!r}; valid: {', '.join(MODES)}")
    p = copy.deepcopy(MODES[mode])
    unknown = sorted(set(overrides or {}) - set(p))
    if unknown:
        raise LotusError(f"unknown bench size(s) {unknown}; valid: {', '.join(sorted(p))}")
    p.update(copy.deepcopy(overrides or {}))
    chosen = list(SECTIONS) if not sections else list(sections)
    bad = sorted(set(chosen) - set(SECTIONS))
    if bad:
        raise LotusError(f"unknown bench section(s) {bad}; valid: {', '.join(SECTIONS)}")
    if threads is not None:
        torch.set_num_threads(int(threads))
    dev = resolve_device(device if device is not None else ("cuda" if mode == "gpu" else settings.get("device")
                                                            if settings else "cpu") or "cpu")
    if mode == "gpu" and dev.type != "cuda":
        log.warning("gpu mode on %s: the sizes are the paper's, expect a long run", dev)
    t_start = time.perf_counter()
    result = {"format": BENCH_FORMAT, "mode": mode, "profile": profile if mode != "gpu" else None,
              "created": now_iso(), "machine": machine_info(dev), "sizes": p, "workloads": []}
    specs = p.get("workloads") if mode == "gpu" else [None]
    for spec in specs:
        if spec is not None:
            work = synthetic_workload(spec, device=dev)
        else:
            work = profile_workload(profile or "cpu", settings=settings, device=dev)
        _warm_up(work)
        wp = {**p, **((spec or {}).get("sizes") or {})}
        entry = {"workload": work.describe(), "sections": {}}
        for name in [c for c in chosen if c in WORKLOAD_SECTIONS]:
            t0 = time.perf_counter()
            log.info("bench section %s on %s", name, work.name)
            entry["sections"][name] = WORKLOAD_SECTIONS[name](work, wp)
            entry["sections"][name]["section_seconds"] = time.perf_counter() - t0
        result["workloads"].append(entry)
    if "rf_jsd" in chosen:
        t0 = time.perf_counter()
        result["rf_jsd"] = section_rf_jsd(p)
        result["rf_jsd"]["section_seconds"] = time.perf_counter() - t0
    result["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["seconds"] = time.perf_counter() - t_start
    result["targets"] = check_targets(result)
    return result


def check_targets(result: dict) -> list[dict]:
    """The issue's targets against the measurements of ``result`` (first workload)."""
    rows = []

    def add(key, value, where=""):
        text, op, bound = TARGETS[key]
        met = None if value is None or (isinstance(value, float) and math.isnan(value)) else \
            bool(value <= bound if op == "<=" else value >= bound if op == ">=" else value < bound)
        rows.append({"target": key, "text": text + where, "value": value, "goal": f"{op} {bound:g}", "met": met})

    for entry in result.get("workloads", []):
        s, where = entry["sections"], f" ({entry['workload']['model']})" if len(result["workloads"]) > 1 else ""
        if "overhead" in s:
            add("overhead", s["overhead"]["max_ratio"], where)
        if "evaluation" in s:
            add("evaluation_speedup", s["evaluation"]["speedup"], where)
            add("evaluation_equal", s["evaluation"]["max_abs_difference"], where)
        opts = (s.get("options") or {}).get("options", {})
        if "today" in opts and "default" in opts:
            add("lotus_epoch", opts["default"].get("unlearn_speedup_vs_today"), where)
    rf = result.get("rf_jsd")
    if rf and "error" not in rf and rf["rows"] >= IMAGENET_TRAIN:
        add("rf_jsd_seconds", rf["seconds"])
        add("rf_jsd_gb", rf["peak_gb"])
    return rows


def bench_table(result: dict):
    """The summary table of a bench result (a :class:`pandas.DataFrame`): one row per
    measurement with our time, the reference time and their ratio."""
    import pandas as pd

    rows = []

    def row(section, what, ours, reference, ratio, note=""):
        rows.append({"section": section, "measurement": what, "ours": ours, "reference": reference, "ratio": ratio,
                     "note": note})

    for entry in result.get("workloads", []):
        s = entry["sections"]
        tag = f" [{entry['workload']['model']}]" if len(result["workloads"]) > 1 else ""
        for m, r in (s.get("overhead") or {}).get("methods", {}).items():
            row("overhead" + tag, f"{m}: s/epoch (ours vs bare compute)", r["seconds_per_epoch"],
                r["bare_seconds_per_epoch"], r["ratio"], f"{r['images_per_second']:.0f} img/s")
        if "evaluation" in s:
            e = s["evaluation"]
            row("evaluation" + tag, "evaluate vs batch-1 authors' style, s", e["seconds"], e["authors_style_seconds"],
                e["speedup"], f"max |diff| {e['max_abs_difference']:.1e}; warm cache {e['speedup_warm']:.1f}x")
            if "forward_seconds" in e:
                row("evaluation" + tag, "its forward passes alone vs batch-1 authors' style, s", e["forward_seconds"],
                    e["authors_style_seconds"], e["speedup_ceiling"],
                    f"the most any batched evaluate can gain; ours takes {e['overhead_over_forward']:.2f}x the passes")
        if "growth" in s:
            for r in s["growth"]["rows"]:
                row("growth" + tag, f"forget {r['forget_fraction']:.0%} ({r['forget_size']}): LoTUS 1 epoch / evaluate, s",
                    r["lotus_seconds"], r["evaluate_seconds"], None)
            g = s["growth"]
            if "lotus_seconds_per_1000_forget" in g:
                row("growth" + tag, "slope, s per 1,000 forget images (LoTUS / evaluate)",
                    g["lotus_seconds_per_1000_forget"], g["evaluate_seconds_per_1000_forget"], None)
        for name, o in (s.get("options") or {}).get("options", {}).items():
            if name == "compile":
                if "error" in o:
                    row("options" + tag, "compile", None, None, None, str(o["error"])[:80])
                else:
                    row("options" + tag, "compile: training step img/s (compiled vs eager)",
                        o["compiled_images_per_second"], o["eager_images_per_second"], o["speedup"],
                        f"first steps {o['compiled_first_steps_seconds']:.0f} s")
                continue
            note = ""
            if o.get("metrics"):
                worst = max(o["metrics"].items(), key=lambda kv: abs(kv[1]["diff_vs_today"]))
                noise = all(v["within_seed_noise"] for v in o["metrics"].values())
                note = (f"Avg Gap {o['metrics'].get('avg_gap', {}).get('mean', float('nan')):.4f}; "
                        f"largest Δ {worst[0]} {worst[1]['diff_vs_today']:+.4f}; "
                        f"{'within' if noise else 'NOT within'} seed noise")
            row("options" + tag, f"{name}: LoTUS s/epoch (vs today)", o["seconds_per_epoch"],
                o["seconds_per_epoch"] * o.get("unlearn_speedup_vs_today", float("nan")),
                o.get("unlearn_speedup_vs_today"), f"{o['unlearn_images_per_second']:.0f} img/s; eval "
                f"{o['evaluate_images_per_second']:.0f} img/s; {note}".strip("; "))
        if "teacher" in s:
            t = s["teacher"]
            row("teacher" + tag, "LoTUS s/epoch, no augmentation (teacher once vs every epoch)",
                t["seconds_per_epoch_cached"], t["seconds_per_epoch_recompute"], t["speedup"],
                f"bit for bit equal: {t['bit_for_bit_equal']}")
    rf = result.get("rf_jsd")
    if rf:
        if "error" in rf:
            row("rf_jsd", "RF-JSD streamed", None, None, None, str(rf["error"])[:80])
        else:
            row("rf_jsd", f"RF-JSD {rf['rows']:,} x {rf['classes']:,} streamed: s / peak GB", rf["seconds"],
                rf["peak_gb"], None, f"{rf['seconds_with_making']:.0f} s with making the synthetic predictions; "
                f"process at {rf['rss_before_gb'] or float('nan'):.2f} GB before; all in memory: "
                f"{rf['all_in_memory_gb']:.1f} GB")
    return pd.DataFrame(rows, columns=["section", "measurement", "ours", "reference", "ratio", "note"])


def describe_machine(result: dict) -> str:
    """One line naming where a bench result was measured: device, cores, memory, torch,
    threads and the load average at the start and the end (a shared machine shows there)."""
    m = result["machine"]
    mem = f", {m['memory_gb']:.0f} GB" if m.get("memory_gb") else ""
    dev = m["device_name"] if str(m.get("device", "cpu")).startswith("cpu") else f"{m['device_name']} (CPU: {m['cpu']})"
    load = (f"; load average {m['load_average'][0]:.1f} at the start, {m['load_average_end'][0]:.1f} at the end"
            if m.get("load_average") and m.get("load_average_end") else "")
    return (f"{dev}, {m['cpu_count']} cores{mem}, torch {m['torch_version']} on {m['threads']} "
            f"thread{'s' if m['threads'] != 1 else ''}{load}")


def format_report(result: dict) -> str:
    """The printed report: machine, the table, the targets."""
    import pandas as pd

    head = (f"lotus bench ({result['mode']}, profile {result.get('profile')}) on {result['machine']['host']}: "
            f"{describe_machine(result)}; {result['seconds']:.0f} s in all")
    with pd.option_context("display.max_columns", None, "display.width", 250, "display.max_colwidth", 120,
                           "display.float_format", lambda v: f"{v:.4g}"):
        table = bench_table(result).to_string(index=False)
        targets = pd.DataFrame(result["targets"]).to_string(index=False) if result["targets"] else "(none measured)"
    return f"{head}\n\n{table}\n\ntargets:\n{targets}\n"


def default_output(mode: str, profile: str | None) -> Path:
    """``results/bench/bench-<profile>-<mode>.json``; the gpu mode writes under ``results/gpu/bench/``."""
    if mode == "gpu":
        return Path("results") / "gpu" / "bench" / "bench-gpu.json"
    return Path("results") / "bench" / f"bench-{Path(str(profile)).stem}-{mode}.json"


def save_bench(result: dict, path: str | os.PathLike) -> Path:
    """Write a bench result as JSON, atomically."""
    return atomic_write_json(path, to_plain(result))


def stored_results(folder: str | os.PathLike) -> list[dict]:
    """The bench results (``*.json``) in ``folder``, oldest first (none if it does not exist)."""
    folder = Path(folder)
    found = [read_bench(p) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return sorted(found, key=lambda r: r.get("created", ""))


def read_bench(path: str | os.PathLike) -> dict:
    """A bench JSON written by :func:`main` (a :class:`LotusError` if it is not one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LotusError(f"cannot read bench result {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != BENCH_FORMAT or "machine" not in data:
        raise LotusError(f"{path} is not a lotus bench result (format {BENCH_FORMAT})")
    return data


# ---------------------------------------------------------------------------------------
# Command line (``lotus bench`` and ``python -m lotus.bench``)
# ---------------------------------------------------------------------------------------

DESCRIPTION = ("Time every unlearning method against the bare compute of its passes, lotus.evaluate against a "
               "batch-1 implementation in the authors' style, the cost growth with the forget-set size, RF-JSD at "
               "ImageNet scale and the speed options, each as a ratio measured in the same run; print a table and "
               "write a JSON.")

EPILOG = textwrap.dedent("""\
    examples:
      lotus bench --quick --profile tiny        # a minute: the CI smoke run
      lotus bench                               # the cpu profile (its models cached), under 10 minutes
      lotus bench --only evaluation rf_jsd
      lotus bench --gpu                         # on a CUDA device: the paper's scale, images/s

    The JSON goes to --out (default results/bench/bench-<profile>-<mode>.json, or
    results/gpu/bench/bench-gpu.json with --gpu); the book's Performance chapter shows it.
    Timings on a shared machine are inflated; the ratios, measured interleaved, much less.
    """)


def add_arguments(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the quick mode (CI; under 3 minutes on two cores)")
    mode.add_argument("--gpu", action="store_true", help="the GPU mode: the paper's scale on a CUDA device, synthetic data")
    p.add_argument("--profile", default=None, help="profile whose splits and models are used (default: cpu; "
                   "tiny for a smoke run)")
    p.add_argument("--device", help="cpu, cuda, ... (default: cpu; cuda with --gpu)")
    p.add_argument("--only", nargs="+", metavar="SECTION", help=f"run only these sections: {', '.join(SECTIONS)}")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    p.add_argument("--set", dest="sizes", nargs="+", metavar="KEY=VALUE", default=[],
                   help="change a size of the mode, e.g. rf_rows=100000 repeats=1")
    p.add_argument("--out", metavar="PATH", help="where to write the JSON")


def run_from_args(args) -> tuple[dict, Path]:
    """Run the suite the parsed arguments of :func:`add_arguments` ask for and save its JSON;
    returns ``(result, path)``. The callers (``lotus bench``, ``python -m lotus.bench``) print
    :func:`final_report` of them."""
    mode = "quick" if args.quick else "gpu" if args.gpu else "full"
    profile = args.profile or "cpu"
    sizes = {}
    for item in args.sizes:
        if "=" not in item:
            raise LotusError(f"--set expects key=value, got {item!r}")
        k, _, v = item.partition("=")
        sizes[k.strip()] = yaml.safe_load(v)
    result = run_bench(profile, mode=mode, device=args.device, sections=args.only, overrides=sizes,
                       threads=args.threads)
    out = Path(args.out) if args.out else default_output(mode, profile)
    save_bench(result, out)
    return result, out


def final_report(result: dict, path: str | os.PathLike) -> str:
    """What ``lotus bench`` prints at the end: :func:`format_report` and where the JSON is."""
    return f"{format_report(result)}\nwritten to {path}"


def main(argv=None) -> int:
    """``python -m lotus.bench``: the same as ``lotus bench`` (an application entry point: it
    shows the ``lotus`` logger's progress on stderr and prints the table)."""
    parser = argparse.ArgumentParser(prog="python -m lotus.bench", description=DESCRIPTION,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    log = logging.getLogger("lotus")
    log.addHandler(logging.StreamHandler(sys.stderr))
    log.setLevel(logging.INFO)
    try:
        print(final_report(*run_from_args(args)))
    except LotusError as exc:
        print(f"lotus bench: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
