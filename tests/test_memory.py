"""Training memory counted by hand on tiny modules, saved activations, and the NF4 reference."""

import pytest
import torch
from torch import nn

from lora_teach import add_lora
from lora_teach.memory import (
    TrainingBytes,
    dequantize_nf4,
    nf4_bits_per_weight,
    nf4_codebook,
    quantize_nf4,
    saved_tensor_bytes,
    training_bytes,
)


def tiny():
    # Linear(3, 4): 12 weights + 4 biases; LayerNorm(4): 4 + 4. 24 parameters.
    return nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))


def test_full_training_is_16_bytes_per_parameter_in_float32():
    got = training_bytes(tiny())
    assert got == TrainingBytes(
        frozen_weights=0, trainable_weights=96, gradients=96, optimizer_states=192
    )
    assert got.weights == 96 and got.total == 24 * 16


def test_a_frozen_parameter_keeps_only_its_4_bytes():
    model = tiny()
    model[0].requires_grad_(False)  # 16 frozen, 8 trainable
    got = training_bytes(model)
    assert got == TrainingBytes(64, 32, 32, 64)
    assert got.total == 16 * 4 + 8 * 16


def test_precision_and_optimizer_change_the_count():
    model = tiny()
    assert training_bytes(model, bytes_per_weight=2).total == 24 * 8  # all in 16 bits
    assert training_bytes(model, optimizer_states=1).total == 24 * 12  # SGD with momentum
    assert training_bytes(model, optimizer_states=0).total == 24 * 8  # plain SGD


def test_frozen_linear_weights_at_4_bits_and_the_rest_as_before():
    model = tiny()
    model.requires_grad_(False)
    got = training_bytes(model, frozen_linear_bits=4)
    # 12 linear weights at half a byte; 4 biases and 8 LayerNorm parameters at 4 bytes
    assert got == TrainingBytes(12 / 2 + 4 * 4 + 8 * 4, 0, 0, 0)
    # a trainable linear weight is never quantised
    assert training_bytes(tiny(), frozen_linear_bits=4) == training_bytes(tiny())


def test_lora_layer_counted_by_hand():
    model = add_lora(nn.Sequential(nn.Linear(8, 6)), ["0"], rank=2, alpha=2)
    trainable = 2 * 8 + 6 * 2  # A (r x k) and B (d x r)
    frozen = 6 * 8 + 6
    assert training_bytes(model).total == frozen * 4 + trainable * 16
    assert training_bytes(model, frozen_linear_bits=4.127).frozen_weights == pytest.approx(
        48 * 4.127 / 8 + 6 * 4
    )


def test_shared_parameters_count_once_and_meta_works():
    with torch.device("meta"):
        a = nn.Linear(5, 5, bias=False)
        model = nn.Sequential(a, a)
    assert training_bytes(model).total == 25 * 16


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="optimizer_states must be an int >= 0, got -1"):
        training_bytes(tiny(), optimizer_states=-1)
    with pytest.raises(ValueError, match="bytes_per_weight must be > 0, got 0"):
        training_bytes(tiny(), bytes_per_weight=0)


def test_saved_tensor_bytes_counts_what_backward_needs():
    x = torch.randn(10, requires_grad=True)
    # exp saves its result (10 floats); the scalar multiply and the sum save nothing
    assert saved_tensor_bytes(lambda: (2 * x).exp().sum(), exclude=[x]) == 40


def test_a_frozen_linear_layer_does_not_keep_its_input():
    """Its input's gradient needs only the weight; a trainable layer also keeps the input."""
    x = torch.randn(5, 3, requires_grad=True)
    layer = nn.Linear(3, 4)
    assert saved_tensor_bytes(lambda: layer(x), exclude=layer.parameters()) == 5 * 3 * 4
    layer.requires_grad_(False)
    assert saved_tensor_bytes(lambda: layer(x), exclude=layer.parameters()) == 0


def test_nf4_codebook_is_qlora_s():
    # bitsandbytes' NF4 table (QLoRA's 4-bit NormalFloat), as published
    table = [-1.0, -0.6961928, -0.5250731, -0.3949175, -0.2844414, -0.1847734, -0.0910500, 0.0]
    table += [0.0795803, 0.1609302, 0.2461123, 0.3379152, 0.4407098, 0.5626170, 0.7229568, 1.0]
    torch.testing.assert_close(nf4_codebook(), torch.tensor(table), rtol=0, atol=1e-6)


def test_nf4_bits_per_weight():
    assert nf4_bits_per_weight(double_quant=False) == 4.5
    assert nf4_bits_per_weight() == 4 + 8 / 64 + 32 / (64 * 256)  # 4.127
    w = torch.randn(64 * 256 * 3)
    assert quantize_nf4(w).nbytes * 8 == pytest.approx(w.numel() * nf4_bits_per_weight() + 32)


def test_nf4_round_trip():
    torch.manual_seed(0)
    codebook = nf4_codebook()
    # every block holds each code value 4 times, scaled by the same absmax: stored exactly
    exact = codebook.repeat(4 * 256 * 2).reshape(2 * 256, 64) * 0.03
    torch.testing.assert_close(dequantize_nf4(quantize_nf4(exact)), exact, rtol=0, atol=1e-9)
    w = torch.randn(128, 256) * 0.02
    back = dequantize_nf4(quantize_nf4(w))
    assert back.shape == w.shape
    assert (back - w).norm() / w.norm() < 0.12  # about 0.09 for normal weights


def test_nf4_needs_whole_blocks():
    with pytest.raises(ValueError, match="must fill whole blocks of 64 x 256"):
        quantize_nf4(torch.randn(100))
