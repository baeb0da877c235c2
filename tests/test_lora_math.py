"""Loop == vectorised == merged; B = 0 is exactly the base; merge/unmerge round-trips."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from lora_teach import LoRALinear
from lora_teach.pseudocode import delta_w_loop, lora_forward_loop

TOL = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-10, atol=1e-12)}


@st.composite
def lora_case(draw):
    d = draw(st.integers(1, 24))
    k = draw(st.integers(1, 24))
    r = draw(st.integers(1, min(d, k)))
    alpha = draw(st.floats(0.1, 64.0))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**16))
    return d, k, r, alpha, dtype, seed


def _layer(d, k, r, alpha, dtype, seed, rslora=False):
    g = torch.Generator().manual_seed(seed)
    base = nn.Linear(k, d, dtype=dtype)
    with torch.no_grad():
        base.weight.copy_(torch.randn(d, k, generator=g, dtype=dtype))
        base.bias.copy_(torch.randn(d, generator=g, dtype=dtype))
    layer = LoRALinear(base, r, alpha, rslora=rslora)
    with torch.no_grad():  # B != 0: the case that catches bugs
        layer.lora_A.copy_(torch.randn(r, k, generator=g, dtype=dtype))
        layer.lora_B.copy_(torch.randn(d, r, generator=g, dtype=dtype))
    x = torch.randn(5, k, generator=g, dtype=dtype)
    return layer, x


@settings(max_examples=40, deadline=None)
@given(lora_case())
def test_loop_equals_vectorised_equals_merged(case):
    d, k, r, alpha, dtype, seed = case
    layer, x = _layer(d, k, r, alpha, dtype, seed)
    A, B, W0, b = (
        layer.lora_A.detach(),
        layer.lora_B.detach(),
        layer.weight.detach().clone(),
        layer.bias.detach(),
    )
    torch.testing.assert_close(delta_w_loop(A, B), B @ A, **TOL[dtype])
    looped = torch.stack([lora_forward_loop(W0, A, B, alpha, xi) for xi in x]) + b
    vectorised = layer(x).detach()
    torch.testing.assert_close(vectorised, looped, **TOL[dtype])
    layer.merge()
    torch.testing.assert_close(layer(x).detach(), vectorised, **TOL[dtype])


@settings(max_examples=40, deadline=None)
@given(lora_case())
def test_zero_B_gives_exactly_the_base_output(case):
    d, k, r, alpha, dtype, seed = case
    base = nn.Linear(k, d, dtype=dtype)
    x = torch.randn(3, k, dtype=dtype)
    expected = base(x).detach()
    layer = LoRALinear(base, r, alpha)
    assert torch.equal(layer(x).detach(), expected)


@settings(max_examples=40, deadline=None)
@given(lora_case())
def test_merge_then_unmerge_restores_the_weight(case):
    d, k, r, alpha, dtype, seed = case
    layer, _ = _layer(d, k, r, alpha, dtype, seed)
    original = layer.weight.detach().clone()
    layer.merge()
    assert layer.merged
    layer.unmerge()
    assert not layer.merged
    scale = max(1.0, float(layer.delta_weight().detach().abs().max()))
    torch.testing.assert_close(
        layer.weight.detach(), original, rtol=0, atol=TOL[dtype]["atol"] * 10 * scale
    )


@settings(max_examples=40, deadline=None)
@given(lora_case())
def test_trainable_count_is_r_times_d_plus_k(case):
    d, k, r, alpha, dtype, seed = case
    layer = LoRALinear(nn.Linear(k, d, dtype=dtype), r, alpha)
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert trainable == r * (d + k)
    assert not layer.weight.requires_grad and not layer.bias.requires_grad


def test_scaling_alpha_over_r_and_rslora():
    base = nn.Linear(16, 16)
    assert LoRALinear(base, 4, 8).scaling == 2.0
    assert LoRALinear(nn.Linear(16, 16), 4, 8, rslora=True).scaling == pytest.approx(
        8 / math.sqrt(4)
    )


def test_wraps_without_copying_and_follows_dtype():
    base = nn.Linear(8, 6, dtype=torch.float64)
    layer = LoRALinear(base, 2, 2)
    assert layer.base_layer is base
    assert layer.lora_A.dtype == torch.float64 and layer.lora_A.shape == (2, 8)
    assert layer.lora_B.shape == (6, 2) and torch.count_nonzero(layer.lora_B) == 0


@pytest.mark.parametrize("init", ["kaiming", "gaussian"])
def test_init_scale_depends_on_fan_in_not_orientation(init):
    torch.manual_seed(0)
    stds = [
        LoRALinear(nn.Linear(k, 64), 16, 16, init=init).lora_A.std().item() * math.sqrt(k)
        for k in (64, 1024)
    ]
    # std * sqrt(k) is a constant: 1/sqrt(3) for the uniform bound 1/sqrt(k), 1 for the Gaussian.
    expected = 1 / math.sqrt(3) if init == "kaiming" else 1.0
    assert stds == pytest.approx([expected, expected], rel=0.05)


def test_dropout_only_touches_the_lora_branch():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(8, 8), 4, 4, dropout=0.5)
    x = torch.randn(4, 8)
    layer.eval()
    with torch.no_grad():
        layer.lora_B.normal_()
    a, b = layer(x), layer(x)
    assert torch.equal(a, b)  # eval: no dropout
    layer.train()
    assert not torch.equal(layer(x), layer(x))


def test_extra_repr_shows_rank_and_alpha():
    text = repr(LoRALinear(nn.Linear(8, 8), 4, 16))
    assert "rank=4" in text and "alpha=16" in text and "scaling=4" in text


def test_gradients_reach_only_A_and_B():
    layer = LoRALinear(nn.Linear(8, 8), 2, 2)
    with torch.no_grad():
        layer.lora_B.normal_()
    layer(torch.randn(3, 8)).sum().backward()
    assert layer.lora_A.grad is not None and layer.lora_B.grad is not None
    assert layer.weight.grad is None and layer.bias.grad is None


# Half precisions (the gpu profile trains under bf16 or fp16 autocast; weights may be stored in
# them too). Tolerances are relative to the output's scale: a few units of the format's epsilon.
HALF = {torch.bfloat16: 2**-8, torch.float16: 2**-11}


@settings(max_examples=25, deadline=None)
@given(lora_case(), st.sampled_from(list(HALF)))
def test_half_precision_layers_match_float32_and_b_zero_is_exact(case, half):
    d, k, r, alpha, _, seed = case
    layer, x = _layer(d, k, r, alpha, torch.float32, seed)
    reference = layer(x).detach()
    low = LoRALinear(nn.Linear(k, d, dtype=half), r, alpha)
    with torch.no_grad():
        for name in ("lora_A", "lora_B"):
            getattr(low, name).copy_(getattr(layer, name))
        low.base_layer.weight.copy_(layer.weight)
        low.base_layer.bias.copy_(layer.bias)
    out = low(x.to(half))
    assert out.dtype == half and out.shape == reference.shape
    # Each product and partial sum rounds to the format: bound the error by the size of the terms
    # (|W0| |x| and scaling |B| |A| |x|, not |B A x|, which may cancel), times the sums' lengths.
    A, B = layer.lora_A.detach().abs(), layer.lora_B.detach().abs()
    terms = layer.weight.detach().abs() @ x.abs().T + layer.scaling * B @ (A @ x.abs().T)
    scale = terms.T + layer.bias.detach().abs() + 1
    assert ((out.float() - reference).abs() <= (2 * k + 2 * r + 8) * HALF[half] * scale).all()
    w0 = low.weight.detach().float().clone()
    low.merge()
    low.unmerge()  # two roundings of W0 + dW, each within one unit of the format
    bound = 2 * HALF[half] * (w0.abs() + low.delta_weight().float().abs())
    assert ((low.weight.float() - w0).abs() <= bound).all()
    with torch.no_grad():
        low.lora_B.zero_()
    assert torch.equal(low(x.to(half)), low.base_layer(x.to(half)))  # B = 0: exactly the base layer


@settings(max_examples=15, deadline=None)
@given(lora_case(), st.sampled_from(list(HALF)))
def test_half_precision_merge_rounds_once(case, half):
    """merge() sums W0 + scaling B A in float32 and rounds once to W0's dtype (unmerge too)."""
    d, k, r, alpha, _, seed = case
    layer = LoRALinear(nn.Linear(k, d, dtype=half), r, alpha)
    with torch.no_grad():
        layer.lora_B.normal_(generator=torch.Generator().manual_seed(seed))
    w0 = layer.weight.detach().clone()
    delta = (layer.lora_B.float() @ layer.lora_A.float()) * layer.scaling
    layer.merge()
    assert torch.equal(layer.weight, (w0.float() + delta).to(half))
    merged = layer.weight.detach().clone()
    layer.unmerge()
    assert torch.equal(layer.weight, (merged.float() - delta).to(half))


def test_bfloat16_merge_differs_from_summing_in_bfloat16():
    """The case the single rounding is for: a small update on a large bfloat16 weight."""
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(384, 384, dtype=torch.bfloat16), 8, 8)
    with torch.no_grad():
        layer.lora_B.normal_(std=0.02)
    w0 = layer.weight.detach().clone()
    twice = w0 + layer.delta_weight()  # delta rounded to bfloat16, then the sum rounded again
    layer.merge()
    once = layer.weight.detach()
    exact = w0.double() + (layer.lora_B.double() @ layer.lora_A.double()) * layer.scaling
    assert (once.double() - exact).abs().le((twice.double() - exact).abs()).all()
    assert (once != twice).any()
