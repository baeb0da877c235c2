"""The same A and B (B != 0) in PEFT's LoRA and lora_teach's give the same Whisper encoder."""

import copy

import pytest
import torch

peft = pytest.importorskip("peft")

from helpers import tiny_encoder  # noqa: E402

from lora_teach import add_lora, lora_layers, merge_lora  # noqa: E402
from lora_teach.whisper.targets import whisper_targets  # noqa: E402

SUFFIXES = ["attn.query", "attn.key", "attn.value", "mlp.0", "mlp.2"]


def _pair(rank, alpha, rslora=False, fused=False):
    torch.manual_seed(0)
    base = tiny_encoder(n_layer=2, n_state=64).eval()
    ours = add_lora(
        copy.deepcopy(base),
        whisper_targets(["q", "k", "v", "mlp"]),
        rank=rank,
        alpha=alpha,
        rslora=rslora,
        fused=fused,
    )
    config = peft.LoraConfig(
        r=rank, lora_alpha=alpha, target_modules=SUFFIXES, lora_dropout=0.0, use_rslora=rslora
    )
    theirs = peft.inject_adapter_in_model(config, copy.deepcopy(base))
    g = torch.Generator().manual_seed(1)
    for name, layer in lora_layers(ours).items():
        peft_layer = theirs.get_submodule(name)
        A = torch.randn(layer.lora_A.shape, generator=g) * 0.1
        B = torch.randn(layer.lora_B.shape, generator=g) * 0.1
        with torch.no_grad():
            layer.lora_A.copy_(A)
            layer.lora_B.copy_(B)
            peft_layer.lora_A["default"].weight.copy_(A)
            peft_layer.lora_B["default"].weight.copy_(B)
    return ours, theirs.eval()


@pytest.mark.parametrize("rank, alpha, rslora", [(8, 8, False), (4, 16, False), (4, 16, True)])
def test_outputs_and_merged_weights_agree_with_peft(rank, alpha, rslora):
    ours, theirs = _pair(rank, alpha, rslora)
    assert len(lora_layers(ours)) == 10
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
        for name, layer in lora_layers(ours).items():
            torch.testing.assert_close(layer.scaling, theirs.get_submodule(name).scaling["default"])
    merge_lora(ours)
    for name, layer in lora_layers(ours).items():
        theirs.get_submodule(name).merge()
        torch.testing.assert_close(
            layer.weight, theirs.get_submodule(name).get_base_layer().weight, rtol=1e-6, atol=1e-6
        )


def test_trainable_counts_agree_with_peft():
    ours, theirs = _pair(8, 8)
    count = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)  # noqa: E731
    assert count(ours) == count(theirs) > 0


@pytest.mark.parametrize("fused", [False, True])
def test_gradients_agree_with_peft(fused):
    """The training step's gradients (A, B and the input's), plain and fused, against PEFT's."""
    ours, theirs = _pair(4, 16, fused=fused)
    theirs.train()
    x = torch.randn(2, 80, 40)
    grads = []
    for model in (ours, theirs):
        xi = x.clone().requires_grad_(True)
        model(xi).square().mean().backward()
        grads.append(xi.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)
    for name, layer in lora_layers(ours).items():
        peft_layer = theirs.get_submodule(name)
        for mine, key in ((layer.lora_A, "lora_A"), (layer.lora_B, "lora_B")):
            peers = getattr(peft_layer, key)["default"].weight.grad
            torch.testing.assert_close(mine.grad, peers, rtol=1e-4, atol=1e-6)
