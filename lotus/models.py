"""Model registry: ``create_model(name, num_classes, **kw)``, as in timm.

Registered models
-----------------
``resnet18``
    The paper's CIFAR-style ResNet-18 (spec 6.3): 3x3 stem (stride 1) + BN + ReLU + 3x3/2
    max-pool, four stages of two BasicBlocks (64/128/256/512 channels, strides 1/2/2/2),
    each block with an *unconditional* 1x1 convolution (no bias, no BN) on the identity
    path, global average pooling and a linear head. 11.52M parameters with 10 classes (the
    extra 1x1 convolutions add 0.35M to the usual 11.17M). Not torchvision-compatible.
``vit_b16``
    timm ``vit_base_patch16_224`` (ViT-B/16, 86M parameters); inputs of any size are resized
    to 224x224 inside the model. ``pretrained=True`` (default) loads the weights tagged
    ``weights`` (default ``"orig_in21k_ft_in1k"``: Google's ImageNet-21k pre-trained,
    ImageNet-1k fine-tuned ViT, i.e. the ``google/vit-base-patch16-224`` checkpoint the paper
    uses) from the Hugging Face hub (internet or a filled cache), or from ``pretrained_file``.
``vit_tiny``
    A small ViT for CPU profiles (timm ``VisionTransformer``, patch 4 at native resolution,
    width 192, depth 4, 3 heads; ~1.8M parameters). No pretrained weights.
``small_cnn``
    A four-stage convolutional network (~0.4M parameters) for CPU profiles and tests.

Any other classifier
--------------------
:func:`as_classifier` wraps any ``nn.Module`` (a torchvision, timm or Hugging Face model, a
model returning a tuple or a dict, a model that needs its own input size or normalisation)
into a :class:`Classifier` whose forward returns ``[B, K]`` logits. It is the one adapter:
:func:`lotus.unlearn`, :func:`lotus.evaluate`, :func:`lotus.metrics.predict` and every
unlearning method see a model through it (they take ``logits_fn=`` / ``preprocess=`` /
``input_size=`` and apply it). :func:`load_model_file` reads a saved model (a checkpoint of
``lotus train``, a state dict with an architecture, a TorchScript or ``torch.export`` file).
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import zipfile
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .utils import LotusError, resolve_device

__all__ = [
    "create_model",
    "list_models",
    "register_model",
    "model_info",
    "model_family",
    "ModelInfo",
    "CNN_RECIPE",
    "VIT_RECIPE",
    "ResNet18",
    "SmallCNN",
    "count_parameters",
    "Classifier",
    "as_classifier",
    "unwrap_classifier",
    "output_logits",
    "check_classifier",
    "model_device",
    "load_model_file",
    "CHECKPOINT_FORMAT",
]

#: format version of the checkpoints :func:`lotus.train.save_checkpoint` writes
#: (``{"format", "meta", "state_dict"}``); :func:`load_model_file` reads them too
CHECKPOINT_FORMAT = 1

#: the authors' training recipe for ResNet-18 (their scripts; the paper states none, spec 6.4):
#: SGD lr 0.1, momentum 0.9, wd 5e-4, batch 512, 150 epochs, 30 warm-up epochs then linear decay,
#: early stopping after 50 epochs without a better val loss, random-crop augmentation
CNN_RECIPE = {"epochs": 150, "batch_size": 512, "optimizer": "sgd", "lr": 0.1, "momentum": 0.9,
              "weight_decay": 5e-4, "scheduler": "warmup_linear", "warmup_epochs": 30, "patience": 50,
              "augment": True}
#: the authors' fine-tuning recipe for ViT-B/16 (their scripts, spec 6.4): SGD lr 1e-4, batch 64,
#: 30 epochs, no scheduler, early stopping patience 10, no augmentation
VIT_RECIPE = {"epochs": 30, "batch_size": 64, "optimizer": "sgd", "lr": 1e-4, "momentum": 0.9,
              "weight_decay": 5e-4, "scheduler": "none", "warmup_epochs": 0, "patience": 10, "augment": False}


@dataclass(frozen=True)
class ModelInfo:
    """What the package knows about a registered model, registered beside its factory.

    ``family``: ``"cnn"`` or ``"vit"``; it selects the paper's per-family unlearning defaults
    (CNNs: 10 epochs at batch 128 with augmentation; ViTs: 3 epochs at batch 32 without).
    ``recipe``: :class:`lotus.train.TrainRecipe` fields of the recipe that trains the model
    from scratch (:func:`lotus.train.paper_recipe`).
    """

    name: str
    factory: Callable[..., nn.Module]
    family: str
    recipe: dict = field(default_factory=dict)
    summary: str = ""


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(name: str, *, family: str = "cnn", recipe: dict | None = None, summary: str = ""):
    """Decorator: register a factory ``fn(num_classes, **kw) -> nn.Module`` under ``name``,
    with its metadata (:class:`ModelInfo`). ``recipe`` defaults to the family's recipe."""
    if family not in ("cnn", "vit"):
        raise LotusError(f"model family must be 'cnn' or 'vit', got {family!r}")

    def deco(fn):
        if name in _REGISTRY:
            raise LotusError(f"model {name!r} is already registered")
        rec = dict(recipe if recipe is not None else (VIT_RECIPE if family == "vit" else CNN_RECIPE))
        _REGISTRY[name] = ModelInfo(name, fn, family, rec, summary)
        return fn

    return deco


def list_models() -> list[str]:
    """Names accepted by :func:`create_model`."""
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of the registered model ``name`` (a :class:`LotusError` names
    the valid models otherwise)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise LotusError(f"unknown model {name!r}; valid: {', '.join(list_models())}")
    return _REGISTRY[name]


def model_family(model: "str | nn.Module | None") -> str:
    """``"vit"`` or ``"cnn"`` for a registered model name, or a model made by
    :func:`create_model` (read from its ``lotus_config``). Anything else (``None``, a model of
    the user's own) counts as ``"cnn"``."""
    if isinstance(model, nn.Module):
        model = (getattr(model, "lotus_config", None) or {}).get("name")
    info = _REGISTRY.get(model) if isinstance(model, str) else None
    return info.family if info is not None else "cnn"


def create_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    """Build the registered model ``name`` with a ``num_classes``-way head.

    The returned module carries ``lotus_config`` (``{"name", "num_classes", **kwargs}``),
    which checkpoints record so that a mismatched checkpoint is detected on load.
    """
    factory = model_info(name).factory
    if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 2:
        raise LotusError(f"num_classes must be an int >= 2, got {num_classes!r}")
    num_classes = int(num_classes)
    params = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - (set(params) - {"num_classes"}))
        if unknown:
            valid = ", ".join(p for p in params if p != "num_classes") or "none"
            raise LotusError(f"unknown option(s) {unknown} for model {name!r}; valid: {valid}")
    model = factory(num_classes, **kwargs)
    model.lotus_config = {"name": name, "num_classes": num_classes, **kwargs}
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------
# ResNet-18 (paper variant)
# ---------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """conv3x3(stride)-BN-ReLU-conv3x3-BN, plus a 1x1 conv (stride, no bias, no BN) on the
    identity path in *every* block, then add and ReLU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride, 0, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths, strides = (64, 128, 256, 512), (1, 2, 2, 2)
        layers, cin = [], 64
        for w, s in zip(widths, strides):
            layers.append(nn.Sequential(BasicBlock(cin, w, s), BasicBlock(w, w, 1)))
            cin = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


@register_model("resnet18", family="cnn", summary="the paper's CIFAR-style ResNet-18 (11.5M parameters)")
def _resnet18(num_classes: int, in_channels: int = 3) -> nn.Module:
    return ResNet18(num_classes, in_channels)


# ---------------------------------------------------------------------------------------
# Small CNN
# ---------------------------------------------------------------------------------------


class SmallCNN(nn.Module):
    """Four conv-BN-ReLU stages (widths ``w, 2w, 4w, 8w``) with max-pooling, GAP, linear."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32):
        super().__init__()
        chans = [in_channels, width, 2 * width, 4 * width, 8 * width]
        blocks = []
        for i in range(4):
            blocks += [nn.Conv2d(chans[i], chans[i + 1], 3, 1, 1, bias=False), nn.BatchNorm2d(chans[i + 1]), nn.ReLU(inplace=True)]
            if i < 3:
                blocks.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(chans[-1], num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


@register_model("small_cnn", family="cnn", summary="a four-stage CNN for CPU profiles (0.1-1.6M parameters)")
def _small_cnn(num_classes: int, in_channels: int = 3, width: int = 32) -> nn.Module:
    return SmallCNN(num_classes, in_channels, width)


# ---------------------------------------------------------------------------------------
# Vision transformers (timm)
# ---------------------------------------------------------------------------------------


class ResizeTo(nn.Module):
    """Wrap a model that needs a fixed input size; resizes ``[B, C, H, W]`` inputs bilinearly."""

    def __init__(self, model: nn.Module, size: int):
        super().__init__()
        self.model = model
        self.size = int(size)

    def forward(self, x):
        return self.model(resize_batch(x, self.size))


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` (``[B, C, H, W]``) resized bilinearly to ``size x size`` (unchanged if it is already)."""
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    return x


def _hf_offline() -> bool:
    """Whether Hugging Face hub access is switched off (``HF_HUB_OFFLINE``)."""
    env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        from huggingface_hub import constants

        return env or bool(constants.HF_HUB_OFFLINE)
    except Exception:  # noqa: BLE001 - no huggingface_hub: timm cannot use the hub anyway
        return env


def _hub_weights_cached(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds weights of ``repo_id`` (no network access)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except Exception:  # noqa: BLE001
        return False
    for fname in ("model.safetensors", "pytorch_model.bin"):
        try:
            if isinstance(try_to_load_from_cache(repo_id, fname), str):
                return True
        except Exception:  # noqa: BLE001 - a malformed cache counts as missing
            continue
    return False


@register_model("vit_b16", family="vit", summary="timm ViT-B/16 at 224 px, ImageNet-21k pre-trained (86M parameters)")
def _vit_b16(num_classes: int, pretrained: bool = True, img_size: int = 224, weights: str = "orig_in21k_ft_in1k",
             pretrained_file: str | None = None) -> nn.Module:
    import timm

    arch = f"vit_base_patch16_224.{weights}" if weights else "vit_base_patch16_224"
    kw = {}
    if pretrained and pretrained_file is not None:
        if not os.path.isfile(pretrained_file):
            raise LotusError(f"pretrained_file {pretrained_file!r} does not exist")
        kw["pretrained_cfg_overlay"] = {"file": str(pretrained_file)}
    elif pretrained and _hf_offline() and not _hub_weights_cached(f"timm/{arch}"):
        # fail fast (before building the 86M-parameter model) with an actionable message
        raise LotusError(
            f"pretrained weights of timm {arch!r} are not in the Hugging Face cache and HF_HUB_OFFLINE "
            "is set (no internet). Download them once on a machine with internet (create the model "
            "there without HF_HUB_OFFLINE), pass pretrained_file='/path/to/model.safetensors', or "
            "pretrained=False to train from scratch.")
    try:
        net = timm.create_model(arch, pretrained=pretrained, num_classes=num_classes, img_size=img_size, **kw)
    except Exception as exc:  # noqa: BLE001 - turned into an actionable message
        if not pretrained:
            raise
        raise LotusError(
            f"could not load the pretrained weights of timm {arch!r} (no internet access and no "
            "cached copy?). Run once on a machine with internet so the Hugging Face cache holds "
            "them, pass pretrained_file=..., or pretrained=False to train from scratch. "
            f"Cause: {type(exc).__name__}: {exc}"
        ) from exc
    return ResizeTo(net, img_size)


@register_model("vit_tiny", family="vit", summary="a 1.8M-parameter ViT for CPU profiles, no pretrained weights")
def _vit_tiny(num_classes: int, img_size: int = 32, patch_size: int = 4, embed_dim: int = 192,
              depth: int = 4, num_heads: int = 3) -> nn.Module:
    from timm.models.vision_transformer import VisionTransformer

    net = VisionTransformer(img_size=img_size, patch_size=patch_size, num_classes=num_classes,
                            embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=4.0)
    return ResizeTo(net, img_size)


# ---------------------------------------------------------------------------------------
# Any classifier: the one adapter every entry point applies
# ---------------------------------------------------------------------------------------


def output_logits(out) -> torch.Tensor:
    """The logits in a model's output: a tensor as is, the first entry of a tuple or list,
    ``out["logits"]`` of a mapping, ``out.logits`` of an object (a Hugging Face
    ``ModelOutput``). Anything else is a :class:`LotusError` asking for a ``logits_fn``."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    if isinstance(out, dict) or hasattr(out, "keys"):
        try:
            if "logits" in out:
                return out["logits"]
        except TypeError:
            pass
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    keys = f" with keys {list(out.keys())}" if hasattr(out, "keys") else ""
    raise LotusError(
        f"cannot find the logits in the model's output ({type(out).__name__}{keys}); pass "
        "logits_fn=... (e.g. logits_fn=lambda out: out['scores']) to lotus.unlearn / lotus.evaluate, "
        "or wrap the model with lotus.models.as_classifier(model, logits_fn=...)")


class Classifier(nn.Module):
    """A model seen as a classifier of the normalised image batches of a split.

    ``forward(x)``: ``x`` is ``float32 [B, C, H, W]`` (from :meth:`lotus.data.ImageSplit.batches`);
    it is resized to ``input_size x input_size`` (if given), passed through ``preprocess`` (if
    given, any callable on the batch, e.g. a change of normalisation), then through ``model``;
    ``logits_fn(output)`` (default :func:`output_logits`) picks the ``[B, K]`` logits. The
    wrapped model is ``self.model``: its parameters are the classifier's, so training the
    classifier trains it. ``lotus_config`` is the wrapped model's (if it has one), and so is any
    other attribute the wrapper lacks (``clf.fc``).
    """

    def __init__(self, model: nn.Module, *, logits_fn: Callable | None = None, preprocess: Callable | None = None,
                 input_size: int | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise LotusError(f"a classifier must be a torch.nn.Module, got {type(model).__name__}")
        for name, fn in (("logits_fn", logits_fn), ("preprocess", preprocess)):
            if fn is not None and not callable(fn):
                raise LotusError(f"{name} must be callable, got {type(fn).__name__}")
        if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, Integral)
                                       or input_size < 1):
            raise LotusError(f"input_size must be an int >= 1 or None, got {input_size!r}")
        self.model = model
        self.training = model.training  # the wrapper starts in the mode of the model it wraps
        self.logits_fn = logits_fn
        self.preprocess = preprocess
        self.input_size = int(input_size) if input_size is not None else None

    @property
    def lotus_config(self) -> dict | None:
        return getattr(self.model, "lotus_config", None)

    def __getattr__(self, name: str):
        # anything the wrapper lacks is the wrapped model's (``clf.fc``, ``clf.features``), so
        # that a method written for the plain model works on the wrapper too
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "model":
                raise
            return getattr(super().__getattr__("model"), name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_size is not None:
            x = resize_batch(x, self.input_size)
        if self.preprocess is not None:
            x = self.preprocess(x)
        out = self.model(x)
        logits = self.logits_fn(out) if self.logits_fn is not None else output_logits(out)
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
            what = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise LotusError(f"the classifier's logits must be a [batch, classes] tensor, got {what}")
        return logits

    def rewrap(self, model: nn.Module) -> "Classifier":
        """``model`` wrapped the same way (a fresh copy of the architecture, say)."""
        return Classifier(model, logits_fn=self.logits_fn, preprocess=self.preprocess, input_size=self.input_size)

    def extra_repr(self) -> str:
        parts = [f"{k}={getattr(v, '__name__', type(v).__name__)}" for k, v in
                 (("logits_fn", self.logits_fn), ("preprocess", self.preprocess)) if v is not None]
        if self.input_size is not None:
            parts.append(f"input_size={self.input_size}")
        return ", ".join(parts)


def as_classifier(model: nn.Module, *, logits_fn: Callable | None = None, preprocess: Callable | None = None,
                  input_size: int | None = None) -> Classifier:
    """``model`` as a :class:`Classifier` (a model already wrapped is returned as is).

    ``logits_fn(output) -> logits [B, K]`` picks the logits out of what ``model`` returns
    (default :func:`output_logits`: tensors, tuples, ``{"logits": ...}``, ``.logits``);
    ``preprocess(x) -> x`` adapts the normalised batch to what the model expects (another
    normalisation, say); ``input_size`` resizes the batch bilinearly first. Example::

        clf = lotus.models.as_classifier(hf_model, logits_fn=lambda out: out.logits, input_size=224)
    """
    if isinstance(model, Classifier):
        if logits_fn is not None or preprocess is not None or input_size is not None:
            raise LotusError("the model is already a lotus.models.Classifier; give logits_fn / preprocess / "
                             "input_size to as_classifier once, not again")
        return model
    return Classifier(model, logits_fn=logits_fn, preprocess=preprocess, input_size=input_size)


def unwrap_classifier(model: nn.Module) -> nn.Module:
    """The model inside a :class:`Classifier` (any other module is returned as is)."""
    return model.model if isinstance(model, Classifier) else model


def model_device(model: nn.Module, device=None) -> torch.device:
    """The device to run ``model`` on: ``device`` if given; else the device of its parameters
    when they sit on an accelerator (a model the caller put on ``cuda:1`` stays there); else
    the default device (CUDA if available, else MPS, else CPU)."""
    if device is not None:
        return resolve_device(device)
    for t in (*model.parameters(), *model.buffers()):
        if t.device.type not in ("cpu", "meta"):
            return t.device
        break
    return resolve_device(None)


def check_classifier(model: nn.Module, x: torch.Tensor, num_classes: int, *, what: str = "model") -> None:
    """Run ``model`` (a :class:`Classifier`) once on the batch ``x`` in eval mode and check that it
    gives ``[B, num_classes]`` logits; a :class:`LotusError` says what is wrong otherwise.
    The model's train / eval mode is restored; nothing is learned."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(x)
    except LotusError:
        raise
    except Exception as exc:  # noqa: BLE001 - turned into an actionable message
        raise LotusError(
            f"the {what} fails on a batch of shape {tuple(x.shape)} from the splits: {type(exc).__name__}: {exc}. "
            "If it needs another input size or normalisation, pass input_size=... or preprocess=... "
            "(lotus.models.as_classifier)") from exc
    finally:
        model.train(was_training)
    if out.shape != (x.shape[0], num_classes):
        raise LotusError(f"the {what} gives logits of shape {tuple(out.shape)} for a batch of {x.shape[0]}, "
                         f"but the data have {num_classes} classes; does its head fit the data?")


# ---------------------------------------------------------------------------------------
# Model files: lotus checkpoints, state dicts, TorchScript, torch.export
# ---------------------------------------------------------------------------------------


class ExportedClassifier(nn.Module):
    """A ``torch.export`` program as a module: ``train()`` / ``eval()`` do not reach the
    exported graph (it cannot switch mode), and a program exported with a fixed batch size
    runs any batch in chunks of that size (the last chunk padded)."""

    def __init__(self, program, batch_size: int | None):
        super().__init__()
        self.program = program
        self.batch_size = batch_size

    def train(self, mode: bool = True):
        """Set the mode flag only: an exported program has no train mode to switch to."""
        self.training = mode
        return self

    def forward(self, x):
        b = self.batch_size
        if b is None or x.shape[0] == b:
            return self.program(x)
        outs = []
        for s in range(0, x.shape[0], b):
            chunk = x[s:s + b]
            n = chunk.shape[0]
            if n < b:
                chunk = torch.cat([chunk, chunk[-1:].expand(b - n, *chunk.shape[1:])])
            outs.append(output_logits(self.program(chunk))[:n])
        return torch.cat(outs)


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _build(model, num_classes: int | None, model_kwargs: dict) -> nn.Module:
    """A freshly built architecture: a registered name, ``"package.module:factory"``, or a module (copied)."""
    if isinstance(model, nn.Module):
        return copy.deepcopy(model)
    if not isinstance(model, str) or not model:
        raise LotusError(f"model must be a registered name, 'package.module:factory' or an nn.Module, got {model!r}")
    if ":" in model:
        mod_name, _, fn_name = model.partition(":")
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except (ImportError, AttributeError) as exc:
            raise LotusError(f"cannot import the model factory {model!r}: {exc}") from exc
        kw = dict(model_kwargs)
        try:  # torchvision's builders take num_classes through **kwargs
            params = inspect.signature(fn).parameters
            accepts = "num_classes" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
        except (TypeError, ValueError):
            accepts = False
        if accepts and "num_classes" not in kw and num_classes is not None:
            kw["num_classes"] = int(num_classes)
        return fn(**kw)
    if num_classes is None:
        raise LotusError(f"building model {model!r} needs num_classes")
    return create_model(model, int(num_classes), **model_kwargs)


def load_model_file(path: str | os.PathLike, *, model=None, num_classes: int | None = None,
                    model_kwargs: dict | None = None) -> nn.Module:
    """Load a saved classifier, in eval mode on the CPU.

    ``path`` may hold

    * a checkpoint written by ``lotus train`` / :func:`lotus.train.save_checkpoint`
      (``{"format", "meta", "state_dict"}``): the architecture is read from its metadata
      (``model`` overrides it), ``num_classes`` from the data;
    * a state dict (or ``{"state_dict": ...}``): ``model`` gives the architecture, a registered
      name (``"resnet18"``), a factory ``"package.module:function"`` (e.g.
      ``"torchvision.models:resnet18"``, called with ``model_kwargs`` and ``num_classes`` if it
      takes one, as torchvision builders do) or an ``nn.Module`` to load the weights into (a copy is made);
    * a TorchScript archive (``torch.jit.save``) or a ``torch.export`` program
      (``torch.export.save``, ``.pt2``): the file holds its architecture.

    Pickled files are read with ``torch.load(..., weights_only=True)``; no code in them runs.
    Errors (a missing, corrupt or unknown file, weights that do not fit, non-finite weights)
    are :class:`LotusError` s naming the file.
    """
    path = Path(path)
    kw = dict(model_kwargs or {})
    if not path.is_file():
        raise LotusError(f"model file {path} does not exist")
    names = _zip_names(path)
    if any(n.endswith("/constants.pkl") or "/code/__torch__/" in n for n in names):
        try:
            net = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001
            raise LotusError(f"cannot load the TorchScript archive {path}: {type(exc).__name__}: {exc}") from exc
        return net.eval()
    if any(n.endswith("/archive_format") for n in names):
        try:
            program = torch.export.load(str(path))
        except Exception as exc:  # noqa: BLE001
            raise LotusError(f"cannot load the torch.export program {path}: {type(exc).__name__}: {exc}") from exc
        user = set(program.graph_signature.user_inputs)
        shapes = [n.meta["val"].shape for n in program.graph.nodes
                  if n.op == "placeholder" and n.name in user and "val" in n.meta]
        batch = shapes[0][0] if shapes and len(shapes[0]) else None
        return ExportedClassifier(program.module(), int(batch) if isinstance(batch, int) else None)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure: not a file we can read safely
        raise LotusError(
            f"{path} is not a model file lotus can read safely (a lotus checkpoint, a state dict, a TorchScript "
            f"or torch.export file): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from exc
    if isinstance(obj, nn.Module):  # pragma: no cover - weights_only=True never returns modules
        return obj.eval()
    if not isinstance(obj, dict):
        raise LotusError(f"{path} holds a {type(obj).__name__}, not a state dict or a checkpoint")
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else None
    state = obj.get("state_dict", obj)
    if meta is not None:
        if obj.get("format") != CHECKPOINT_FORMAT:
            raise LotusError(f"{path} has checkpoint format {obj.get('format')!r}, expected {CHECKPOINT_FORMAT}")
        key = meta.get("key") if isinstance(meta.get("key"), dict) else {}
        if model is None:
            model = key.get("model")
            kw = {**(key.get("model_kwargs") or {}), **kw}
        if model is None:
            raise LotusError(f"checkpoint {path} does not name its model; pass model=... (CLI: --model)")
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise LotusError(f"{path} holds no state dict (a mapping of parameter names to tensors)")
    if model is None:
        raise LotusError(f"{path} is a plain state dict: pass the architecture, model='resnet18' or "
                         "model='torchvision.models:resnet18' (CLI: --model), or save a TorchScript / torch.export file")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise LotusError(f"{path} holds non-finite weights ({', '.join(bad[:5])})")
    net = _build(model, num_classes, kw)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise LotusError(f"the weights in {path} do not fit the model {model if isinstance(model, str) else type(model).__name__}: "
                         f"{' '.join(str(exc).split())[:600]}") from exc
    return net.eval()
