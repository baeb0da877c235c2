"""The fused LoRA layer (one autograd function, a hand-written backward) computes the plain layer's maths."""

import copy

import pytest
import torch
from helpers import tiny_encoder
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lora_teach import LoRALinear, add_lora, lora_layers
from lora_teach.fused_lora import _FusedLoRALinear, fused_lora_linear
from lora_teach.train.classifier import build_classifier
from lora_teach.train.config import TrainConfig


def _pair(d, k, r, alpha, seed, bias=True, **kwargs):
    """A plain LoRA layer with B != 0 and its fused copy."""
    g = torch.Generator().manual_seed(seed)
    base = nn.Linear(k, d, bias=bias)
    with torch.no_grad():
        base.weight.copy_(torch.randn(d, k, generator=g))
    plain = LoRALinear(base, r, alpha, **kwargs)
    with torch.no_grad():
        plain.lora_B.copy_(torch.randn(d, r, generator=g) * 0.5)
    fused = copy.deepcopy(plain)
    fused.fused = True
    return plain, fused


def _grads(layer, x, dy):
    x = x.detach().clone().requires_grad_(x.requires_grad)
    out = layer(x)
    out.backward(dy)
    grads = [layer.lora_A.grad, layer.lora_B.grad] + ([x.grad] if x.requires_grad else [])
    return out.detach(), grads


@settings(max_examples=30, deadline=None)
@given(
    d=st.integers(1, 20),
    k=st.integers(1, 20),
    rank=st.integers(1, 20),
    alpha=st.floats(0.1, 64.0),
    seed=st.integers(0, 2**16),
    bias=st.booleans(),
    x_grad=st.booleans(),
)
def test_fused_equals_plain_in_output_and_every_gradient(d, k, rank, alpha, seed, bias, x_grad):
    rank = min(rank, d, k)
    plain, fused = _pair(d, k, rank, alpha, seed, bias=bias)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(3, 4, k, generator=g).requires_grad_(x_grad)
    dy = torch.randn(3, 4, d, generator=g)
    out_plain, grads_plain = _grads(plain, x, dy)
    out_fused, grads_fused = _grads(fused, x, dy)
    assert type(fused(x).grad_fn).__name__ == "_FusedLoRALinearBackward"
    assert torch.equal(out_fused, out_plain)  # the same forward, operation for operation
    assert len(grads_fused) == len(grads_plain) == 2 + x_grad
    for a, b in zip(grads_fused, grads_plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_the_backward_is_the_forwards_derivative_in_float64():
    g = torch.Generator().manual_seed(0)

    def t(*shape, grad=True):
        return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(grad)

    # every input differentiable, the base weight and bias included
    inputs = (t(2, 3, 5), t(4, 5), t(4), t(2, 5), t(4, 2), 1.5)
    assert torch.autograd.gradcheck(_FusedLoRALinear.apply, inputs)
    frozen = (t(2, 3, 5), t(4, 5, grad=False), None, t(2, 5), t(4, 2), 0.25)
    assert torch.autograd.gradcheck(_FusedLoRALinear.apply, frozen)


@pytest.mark.parametrize("kwargs", [dict(rslora=True), dict(init="pissa"), dict(init="gaussian")])
def test_fused_follows_the_layers_variants(kwargs):
    plain, fused = _pair(12, 10, 3, 6.0, seed=1, **kwargs)
    x, dy = torch.randn(7, 10, requires_grad=True), torch.randn(7, 12)
    out_plain, grads_plain = _grads(plain, x, dy)
    out_fused, grads_fused = _grads(fused, x, dy)
    torch.testing.assert_close(out_fused, out_plain, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads_fused, grads_plain):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_off_merged_double_precision_and_autocast_take_the_plain_path_exactly():
    plain, fused = _pair(16, 8, 2, 4.0, seed=2)
    x = torch.randn(5, 8)

    def path(layer, x):  # which backward the output would run
        return type(layer(x).grad_fn).__name__

    assert path(fused, x) == "_FusedLoRALinearBackward"
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert path(fused, x) == path(plain, x) != "_FusedLoRALinearBackward"
        with torch.no_grad():
            assert torch.equal(fused(x), plain(x))
    with torch.no_grad():
        for layer in (plain, fused):
            layer.enabled = False
        assert torch.equal(fused(x), plain.base_layer(x))
        for layer in (plain, fused):
            layer.enabled = True
            layer.merge()
        assert torch.equal(fused(x), plain(x))
        for layer in (plain, fused):
            layer.unmerge()
    fused64, plain64 = fused.double(), plain.double()
    assert path(fused64, x.double()) == path(plain64, x.double()) != "_FusedLoRALinearBackward"
    with torch.no_grad():
        assert torch.equal(fused64(x.double()), plain64(x.double()))


def test_a_linear_subclass_keeps_its_own_forward():
    class Doubling(nn.Linear):
        def forward(self, x):
            return 2 * super().forward(x)

    layer = LoRALinear(Doubling(4, 3), 2, 2.0, fused=True)
    x = torch.randn(2, 4)
    assert type(layer(x).grad_fn).__name__ != "_FusedLoRALinearBackward"
    with torch.no_grad():
        torch.testing.assert_close(layer(x), 2 * nn.functional.linear(x, layer.weight, layer.bias))


def test_bad_input_names_the_value_and_changes_nothing():
    with pytest.raises(TypeError, match="fused must be True or False, got 'yes'"):
        LoRALinear(nn.Linear(4, 4), 2, 2.0, fused="yes")
    with pytest.raises(ValueError, match="dropout 0 and without DoRA, got dropout=0.1"):
        LoRALinear(nn.Linear(4, 4), 2, 2.0, dropout=0.1, fused=True)
    with pytest.raises(ValueError, match="dora=True"):
        LoRALinear(nn.Linear(4, 4), 2, 2.0, dora=True, fused=True)
    # set after construction, as the benchmark and chapter 6 do: checked the same way
    dora, dropped = (
        LoRALinear(nn.Linear(4, 4), 2, 2.0, dora=True),
        LoRALinear(nn.Linear(4, 4), 2, 2.0, dropout=0.1),
    )
    for layer in (dora, dropped):
        with pytest.raises(
            ValueError, match="fused=True is supported with dropout 0 and without DoRA"
        ):
            layer.fused = True
        assert layer.fused is False
    with pytest.raises(TypeError, match="float32 tensors, got x in torch.float64"):
        fused_lora_linear(
            torch.ones(1, 4, dtype=torch.float64),
            torch.ones(4, 4),
            None,
            torch.ones(2, 4),
            torch.ones(4, 2),
            1.0,
        )
    model = nn.Sequential(nn.Linear(4, 4))
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="got dropout=0.2"):
        add_lora(model, ["0"], rank=2, dropout=0.2, fused=True)
    assert isinstance(model[0], nn.Linear) and model[0].weight.requires_grad
    assert all(torch.equal(before[n], t) for n, t in model.state_dict().items())
    with pytest.raises(TypeError, match="fused must be True or False, got 1"):
        TrainConfig(fused=1)


def test_a_fused_classifier_takes_the_plain_classifiers_training_step():
    torch.manual_seed(0)
    encoder = tiny_encoder(n_layer=2, n_state=64)
    plain = build_classifier(copy.deepcopy(encoder), TrainConfig(strategy="lora", head=(16,)))
    fused = build_classifier(
        copy.deepcopy(encoder), TrainConfig(strategy="lora", head=(16,), fused=True)
    )
    fused.load_state_dict(plain.state_dict())
    layers = lora_layers(fused)
    assert len(layers) == 10 and all(layer.fused for layer in layers.values())
    # Whisper's own Linear subclass takes the fused path (its forward is F.linear in float32)
    for layer in layers.values():
        out = layer(torch.randn(3, layer.in_features))
        assert type(out.grad_fn).__name__ == "_FusedLoRALinearBackward"
    assert all(type(layer.base_layer).__module__ == "whisper.model" for layer in layers.values())
    with torch.no_grad():  # B != 0, so the fused backward's every term matters
        for model in (plain, fused):
            for layer in lora_layers(model).values():
                layer.lora_B.fill_(0.05)
    h1, l1, y = torch.randn(4, 80, 20), torch.randn(4, 80, 20), torch.tensor([0.0, 1, 1, 0])
    for model in (plain, fused):
        nn.functional.binary_cross_entropy_with_logits(model(h1, l1), y).backward()
    trained = {n: p.grad for n, p in plain.named_parameters() if p.requires_grad}
    assert trained.keys() == {n for n, p in fused.named_parameters() if p.requires_grad}
    for name, p in fused.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.grad, trained[name], rtol=1e-4, atol=1e-6)
