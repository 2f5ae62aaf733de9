"""Tests of lotus.models: output shapes of every registry entry, the paper's ResNet-18
structure, offline behaviour of the pretrained ViT-B/16, and input validation."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from lotus.models import ResNet18, count_parameters, create_model, list_models, register_model
from lotus.utils import LotusError

# (name, kwargs) for every registered model; vit_b16 only without pretrained weights
CASES = {
    "small_cnn": {"width": 8},
    "resnet18": {},
    "vit_tiny": {},
    "vit_b16": {"pretrained": False},
}


@pytest.fixture(autouse=True)
def _one_thread():
    """One intra-op thread: much faster than two on a shared, busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_registry_lists_all_models():
    assert set(list_models()) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_shapes(name):
    torch.manual_seed(0)
    model = create_model(name, 7, **CASES[name]).eval()
    assert model.lotus_config == {"name": name, "num_classes": 7, **CASES[name]}
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        out = model(x)
    assert out.shape == (2, 7) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    if name != "vit_b16":  # other input sizes (MUFAC 128, Tiny-ImageNet 64) work as well
        with torch.inference_mode():
            assert model(torch.randn(1, 3, 64, 64)).shape == (1, 7)


def _expected_resnet18_params(k: int) -> int:
    """Parameter count of the spec-6.3 ResNet-18, counted from the architecture description."""
    conv = lambda cin, cout, ks: cin * cout * ks * ks  # noqa: E731 - no bias anywhere
    bn = lambda c: 2 * c  # noqa: E731
    total = conv(3, 64, 3) + bn(64)
    cin = 64
    for w in (64, 128, 256, 512):
        for b in range(2):
            c_in = cin if b == 0 else w
            total += conv(c_in, w, 3) + bn(w) + conv(w, w, 3) + bn(w) + conv(c_in, w, 1)  # 1x1 shortcut, no BN
        cin = w
    return total + 512 * k + k


def test_resnet18_structure():
    model = create_model("resnet18", 10)
    assert isinstance(model, ResNet18)
    assert count_parameters(model) == _expected_resnet18_params(10) == 11_524_426  # ~11.5M
    # stem: 3x3 stride-1 conv without bias, then BN, ReLU and a 3x3/2 max-pool (kept)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1) and model.conv1.bias is None
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 1 and pools[0].kernel_size == 3 and pools[0].stride == 2 and pools[0].padding == 1
    blocks = [m for m in model.modules() if type(m).__name__ == "BasicBlock"]
    assert len(blocks) == 8
    strides = [b.conv1.stride[0] for b in blocks]
    assert strides == [1, 1, 2, 1, 2, 1, 2, 1]
    for b in blocks:  # an unconditional 1x1 conv on the identity path, no bias, no BN
        sc = b.shortcut
        assert isinstance(sc, nn.Conv2d), type(sc)
        assert sc.kernel_size == (1, 1) and sc.bias is None and sc.stride == b.conv1.stride
        assert sc.in_channels == b.conv1.in_channels and sc.out_channels == b.conv2.out_channels
    assert model.fc.in_features == 512 and model.fc.out_features == 10


def test_resnet18_block_forward_uses_the_shortcut():
    torch.manual_seed(0)
    model = create_model("resnet18", 10).eval()
    block = model.layer1[1]  # a block whose shapes match: torchvision would use a plain identity
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():
        main = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
        expected = torch.relu(main + block.shortcut(x))
        torch.testing.assert_close(block(x), expected)
        assert not torch.allclose(block(x), torch.relu(main + x))
    # the stem downsamples 32 -> 16 through the max-pool; layer4 ends at 2x2 for CIFAR inputs
    feats = {}
    model.layer4.register_forward_hook(lambda m, i, o: feats.update(l4=tuple(o.shape)))
    model.layer1.register_forward_hook(lambda m, i, o: feats.update(l1=tuple(o.shape)))
    with torch.no_grad():
        model(torch.randn(1, 3, 32, 32))
    assert feats["l1"] == (1, 64, 16, 16) and feats["l4"] == (1, 512, 2, 2)


def test_small_models_are_small():
    assert count_parameters(create_model("small_cnn", 10, width=16)) < 200_000
    assert 1_000_000 < count_parameters(create_model("vit_tiny", 10)) < 3_000_000


def test_create_model_is_deterministic_under_a_seed():
    torch.manual_seed(3)
    a = create_model("small_cnn", 5, width=8)
    torch.manual_seed(3)
    b = create_model("small_cnn", 5, width=8)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_vit_b16_pretrained_offline_is_a_clear_error(monkeypatch, tmp_path):
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    with pytest.raises(LotusError, match="pretrained.*(HF_HUB_OFFLINE|internet).*pretrained=False"):
        create_model("vit_b16", 10)  # pretrained=True is the default
    with pytest.raises(LotusError, match="does not exist"):
        create_model("vit_b16", 10, pretrained_file=str(tmp_path / "missing.safetensors"))


def test_bad_inputs():
    with pytest.raises(LotusError, match="unknown model 'resnet50'.*resnet18.*small_cnn.*vit_b16.*vit_tiny"):
        create_model("resnet50", 10)
    with pytest.raises(LotusError, match="num_classes"):
        create_model("small_cnn", 1)
    with pytest.raises(LotusError, match="num_classes"):
        create_model("small_cnn", 10.0)
    with pytest.raises(LotusError, match=r"unknown option\(s\) \['widht'\].*width"):
        create_model("small_cnn", 10, widht=8)
    with pytest.raises(LotusError, match="already registered"):
        register_model("resnet18")(lambda k: nn.Linear(1, k))
    import numpy as np

    assert create_model("small_cnn", np.int64(4), width=8).fc.out_features == 4


def test_model_metadata_is_registered_beside_the_factory():
    from lotus.models import model_family, model_info, register_model
    from lotus.train import paper_recipe

    assert model_info("vit_b16").family == model_info("vit_tiny").family == "vit"
    assert model_info("resnet18").family == model_info("small_cnn").family == "cnn"
    assert paper_recipe("vit_tiny").lr == 1e-4 and paper_recipe("resnet18").epochs == 150

    # a model registered with its own family and recipe: the name says nothing ("vit" absent)
    @register_model("_test_transformer", family="vit", recipe={"epochs": 7, "lr": 0.5})
    def _factory(num_classes: int):
        return torch.nn.Linear(4, num_classes)

    try:
        assert model_family("_test_transformer") == "vit"
        assert model_family(create_model("_test_transformer", 3)) == "vit"
        r = paper_recipe("_test_transformer")
        assert (r.epochs, r.lr) == (7, 0.5)
    finally:
        import lotus.models as m

        m._REGISTRY.pop("_test_transformer")
    assert model_family(None) == model_family(torch.nn.Linear(2, 2)) == "cnn"
    with pytest.raises(LotusError, match="unknown model 'nosuch'"):
        model_info("nosuch")
