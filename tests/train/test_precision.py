"""Mixed-precision selection: which precision each device gets, and what it produces (on the CPU)."""

import pytest
import torch
from torch import nn

from lora_teach import LoRALinear
from lora_teach.train.precision import autocast, choose_precision, grad_scaler, resolve_precision


@pytest.mark.parametrize(
    "device, capability, expected",
    [
        ("cpu", None, "fp32"),
        ("cuda", (7, 5), "fp16"),  # T4: Colab's free GPU, no native bf16
        ("cuda", (7, 0), "fp16"),  # V100
        ("cuda:0", (8, 0), "bf16"),  # A100
        ("cuda", (9, 0), "bf16"),  # H100 / H200
    ],
)
def test_choose_precision_by_device(device, capability, expected):
    assert choose_precision(device, capability) == expected


def test_resolve_precision_keeps_an_explicit_choice_and_names_a_bad_one():
    assert resolve_precision("auto", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    with pytest.raises(
        ValueError, match=r"precision must be one of \('auto', 'fp32', 'bf16', 'fp16'\), got 'fp8'"
    ):
        resolve_precision("fp8", "cpu")


@pytest.mark.parametrize("capability", [(7, 5), (8, 0)])
def test_the_chosen_precision_runs_a_lora_step(capability):
    """What a T4 and an A100 would get, run on the CPU: output dtype, shapes, and a scaled step."""
    precision = choose_precision("cuda", capability)
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(16, 8), rank=4, alpha=4)
    optimiser = torch.optim.AdamW([layer.lora_A, layer.lora_B], lr=1e-2)
    scaler = grad_scaler("cpu", precision)
    assert scaler.is_enabled() == (precision == "fp16")
    x = torch.randn(5, 16)
    with autocast("cpu", precision):
        out = layer(x)
    assert (
        out.shape == (5, 8)
        and out.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    )
    scaler.scale(out.float().pow(2).mean()).backward()
    scaler.step(optimiser)
    scaler.update()
    assert (
        layer.lora_B.dtype == torch.float32 and layer.lora_B.abs().sum() > 0
    )  # master weights stay fp32


def test_fp32_autocast_is_a_no_op():
    layer = nn.Linear(4, 4)
    with autocast("cpu", "fp32"):
        assert layer(torch.randn(2, 4)).dtype == torch.float32
