"""The memory of a training step: weights, gradients, optimiser states, saved activations.

Full fine-tuning with AdamW in float32 keeps, for every trainable parameter, its weight (4 bytes),
its gradient (4) and the optimiser's two moments (8): 16 bytes. A frozen parameter keeps only its
weight: 4 bytes. :func:`training_bytes` counts these from a model's parameters (on the meta device
too: only shapes are read). :func:`saved_tensor_bytes` measures the fourth part, the activations
autograd keeps for the backward pass, which depend on the input, not on what trains.

A frozen base can also be stored in 4 bits (QLoRA): :func:`quantize_nf4` and
:func:`dequantize_nf4` are a small reference of NF4 with blockwise absmax scaling and double
quantisation, and :func:`nf4_bits_per_weight` is what it costs per weight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

__all__ = [
    "TrainingBytes",
    "training_bytes",
    "saved_tensor_bytes",
    "nf4_bits_per_weight",
    "nf4_codebook",
    "NF4Tensor",
    "quantize_nf4",
    "dequantize_nf4",
]


@dataclass(frozen=True)
class TrainingBytes:
    """Bytes a training step keeps for the parameters, by kind (activations not included)."""

    frozen_weights: float
    trainable_weights: float
    gradients: float
    optimizer_states: float

    @property
    def weights(self) -> float:
        return self.frozen_weights + self.trainable_weights

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer_states


def training_bytes(
    model: nn.Module,
    bytes_per_weight: float = 4,
    optimizer_states: int = 2,
    frozen_linear_bits: float | None = None,
) -> TrainingBytes:
    """Weights, gradients and optimiser states of training ``model``, in bytes.

    Every parameter is stored at ``bytes_per_weight`` (4: float32); a trainable one also has a
    gradient and ``optimizer_states`` moments of the same size (AdamW: 2; SGD with momentum: 1).
    ``frozen_linear_bits`` stores the weight matrices of frozen ``nn.Linear`` layers at that many
    bits instead (4.127 for NF4 with double quantisation, :func:`nf4_bits_per_weight`); their
    biases and every other frozen parameter keep ``bytes_per_weight``.
    """
    if bytes_per_weight <= 0:
        raise ValueError(f"bytes_per_weight must be > 0, got {bytes_per_weight}")
    if not isinstance(optimizer_states, int) or optimizer_states < 0:
        raise ValueError(f"optimizer_states must be an int >= 0, got {optimizer_states!r}")
    if frozen_linear_bits is not None and frozen_linear_bits <= 0:
        raise ValueError(f"frozen_linear_bits must be > 0 or None, got {frozen_linear_bits}")
    quantized = set()
    if frozen_linear_bits is not None:
        quantized = {
            id(m.weight)
            for m in model.modules()
            if isinstance(m, nn.Linear) and not m.weight.requires_grad
        }
    frozen = trainable = 0.0
    for p in model.parameters():  # each shared parameter once
        if p.requires_grad:
            trainable += p.numel() * bytes_per_weight
        elif id(p) in quantized:
            frozen += p.numel() * frozen_linear_bits / 8
        else:
            frozen += p.numel() * bytes_per_weight
    return TrainingBytes(frozen, trainable, trainable, optimizer_states * trainable)


def saved_tensor_bytes(fn: Callable[[], object], exclude: Iterable[torch.Tensor] = ()) -> int:
    """Bytes of the tensors autograd saves for the backward pass while ``fn()`` runs.

    Each storage counts once (views share one); the storages of ``exclude`` (a model's parameters,
    which are kept anyway) are left out. Real tensors only: the meta device has no storages to
    tell apart.
    """
    kept = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in kept:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()  # held until counted, so no saved storage is freed and its address reused
    total = sum(seen.values())
    del out
    return total


def nf4_bits_per_weight(
    block: int = 64, double_quant: bool = True, block2: int = 256, constant_bits: int = 32
) -> float:
    """Storage per weight of 4-bit codes with one absmax constant per ``block`` weights.

    Without double quantisation each block's constant is a 32-bit float: 4 + 32/64 = 4.5 bits.
    With it, the constants are themselves quantised to 8 bits in blocks of ``block2``, each block
    keeping one 32-bit constant: 4 + 8/64 + 32/(64 * 256) = 4.127 bits (Dettmers et al. 2023).
    """
    if double_quant:
        return 4 + 8 / block + constant_bits / (block * block2)
    return 4 + constant_bits / block


def nf4_codebook() -> torch.Tensor:
    """The 16 values of 4-bit NormalFloat, in [-1, 1], sorted.

    Quantiles of a standard normal: 8 for the positive half and 7 for the negative half, each
    normalised to a largest magnitude of 1, plus an exact zero (QLoRA's asymmetric construction,
    as in bitsandbytes' ``create_normal_map`` with offset 0.9677083).
    """
    offset = 0.9677083
    positive = torch.special.ndtri(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -torch.special.ndtri(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    values = torch.cat([positive, negative, torch.zeros(1, dtype=torch.float64)])
    return (values / values.max()).sort().values.float()


@dataclass(frozen=True)
class NF4Tensor:
    """A tensor in NF4: packed 4-bit codes, and its block constants quantised once more to 8 bits."""

    codes: torch.Tensor  # uint8, two 4-bit codes per byte
    absmax_codes: torch.Tensor  # int8, one per block of weights
    absmax_scales: torch.Tensor  # float32, one per block of constants
    absmax_mean: torch.Tensor  # float32 scalar
    shape: tuple[int, ...]
    block: int

    @property
    def nbytes(self) -> int:
        parts = (self.codes, self.absmax_codes, self.absmax_scales, self.absmax_mean)
        return sum(t.numel() * t.element_size() for t in parts)


def quantize_nf4(w: torch.Tensor, block: int = 64, block2: int = 256) -> NF4Tensor:
    """Quantise ``w`` to NF4 in blocks of ``block`` weights, each scaled by its absolute maximum.

    The block maxima (one float per block) are quantised again (double quantisation): their mean
    is subtracted and the rest stored as int8, scaled by one float32 per ``block2`` of them.
    (QLoRA stores these as 8-bit floats; linear int8 is this reference's simpler choice.)
    """
    if w.numel() % block or (w.numel() // block) % block2:
        raise ValueError(
            f"w's {w.numel()} elements must fill whole blocks of {block} x {block2} weights"
        )
    blocks = w.detach().float().reshape(-1, block)
    absmax = blocks.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny)
    codebook = nf4_codebook()
    codes = (blocks / absmax[:, None]).unsqueeze(-1).sub(codebook).abs().argmin(-1)
    codes = codes.to(torch.uint8).reshape(-1)
    mean = absmax.mean()
    centred = (absmax - mean).reshape(-1, block2)
    scales = centred.abs().amax(dim=1).clamp_min(torch.finfo(torch.float32).tiny) / 127
    absmax_codes = torch.round(centred / scales[:, None]).to(torch.int8).reshape(-1)
    return NF4Tensor(
        codes=codes[0::2] << 4 | codes[1::2],
        absmax_codes=absmax_codes,
        absmax_scales=scales,
        absmax_mean=mean,
        shape=tuple(w.shape),
        block=block,
    )


def dequantize_nf4(q: NF4Tensor) -> torch.Tensor:
    """The float32 tensor ``q`` stands for: codebook value times its block's absmax."""
    codes = torch.stack([q.codes >> 4, q.codes & 15], dim=1).reshape(-1).long()
    centred = q.absmax_codes.float().reshape(q.absmax_scales.numel(), -1)
    absmax = (centred * q.absmax_scales[:, None]).reshape(-1) + q.absmax_mean
    values = nf4_codebook()[codes].reshape(-1, q.block) * absmax[:, None]
    return values.reshape(q.shape)
