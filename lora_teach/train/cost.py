"""What one training step costs: time, and memory beyond the weights, for several ways to adapt.

Memory is counted exactly rather than sampled from the process: gradients + AdamW's two moments
(three copies of every trainable parameter) + every tensor autograd saves for the backward pass
(a saved-tensor hook adds up their storages, each once, leaving out the parameters themselves).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from lora_teach.timing import interleaved_medians
from lora_teach.train.classifier import build_classifier
from lora_teach.train.config import TrainConfig
from lora_teach.train.profiles import DEFAULT_HEAD

__all__ = ["StepCost", "adaptation_variants", "step_memory_bytes", "measure_step_costs"]


@dataclass
class StepCost:
    name: str
    trainable: int
    seconds: float
    memory_bytes: int


def adaptation_variants(
    encoder: nn.Module, head: tuple[int, ...] = DEFAULT_HEAD
) -> dict[str, nn.Module]:
    """Full fine-tuning, LoRA (q, k, v, mlp) on all blocks, on the upper half, on the last block, frozen."""

    def make(strategy, blocks=None):
        return build_classifier(
            copy.deepcopy(encoder), TrainConfig(strategy=strategy, head=head, blocks=blocks)
        )

    variants = {"full fine-tune": make("full_finetune"), "LoRA, all blocks": make("lora")}
    n = len(encoder.blocks)
    for first in sorted({n // 2, n - 1}):
        blocks = tuple(range(first, n))
        name = (
            f"LoRA, blocks {blocks[0]}-{blocks[-1]}"
            if len(blocks) > 1
            else f"LoRA, block {blocks[0]}"
        )
        variants[name] = make("lora", blocks)
    variants["frozen encoder"] = make("frozen_encoder")
    return variants


def _loss(model, h1, l1, y):
    return nn.functional.binary_cross_entropy_with_logits(model(h1, l1), y)


def step_memory_bytes(model: nn.Module, h1: torch.Tensor, l1: torch.Tensor, y: torch.Tensor) -> int:
    """Gradients + AdamW state + saved activations of one training step, in bytes."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: set[tuple[int, int]] = set()

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key[0] not in params:
            seen.add(key)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = _loss(model, h1, l1, y)
    loss.backward()
    model.zero_grad(set_to_none=True)
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return sum(n for _, n in seen) + 3 * trainable


def measure_step_costs(
    models: dict[str, nn.Module], h1, l1, y, repeats: int = 11, warmup: int = 2
) -> list[StepCost]:
    """Median step time of each model, timed in alternation (machine noise hits all alike)."""
    optimisers = {
        n: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-5)
        for n, m in models.items()
    }

    def step(name):
        opt = optimisers[name]
        opt.zero_grad(set_to_none=True)
        _loss(models[name], h1, l1, y).backward()
        opt.step()

    medians = interleaved_medians(
        {name: (lambda name=name: step(name)) for name in models}, repeats, warmup
    )
    return [
        StepCost(
            name,
            sum(p.numel() for p in m.parameters() if p.requires_grad),
            medians[name],
            step_memory_bytes(m, h1, l1, y),
        )
        for name, m in models.items()
    ]
