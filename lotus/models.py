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
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from numbers import Integral
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .utils import LotusError

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
]

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
    import inspect

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
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=False)
        return self.model(x)


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
