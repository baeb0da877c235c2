"""LoRA+ (Hayou et al. 2024): train B with a learning rate ``ratio`` times A's.

With A and B on one learning rate, B (which starts at zero and multiplies a width-sized
activation) learns too slowly for wide layers; LoRA+ gives it ``lr_B = ratio * lr_A``, the paper
suggesting ratios around 16. The groups follow PEFT's ``create_loraplus_optimizer``: every
``lora_B`` and every other trainable 1-D parameter (biases, DoRA's magnitude) at ``ratio * lr``,
everything else trainable (``lora_A``, a head's weight matrices) at ``lr``.
"""

from __future__ import annotations

from torch import nn

from lora_teach._checks import is_real

__all__ = ["lora_plus_param_groups"]


def lora_plus_param_groups(
    model: nn.Module, lr: float, ratio: float = 16.0, weight_decay: float = 0.0
) -> list[dict]:
    """Optimiser parameter groups for LoRA+: pass them to any ``torch.optim`` optimiser.

    ``weight_decay`` applies to every parameter but biases and LayerNorm parameters (as in PEFT).
    """
    if not (is_real(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not (is_real(ratio) and ratio > 0):
        raise ValueError(f"ratio (lr_B / lr_A) must be a positive number, got {ratio!r}")
    if not (is_real(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")
    a, b, b_no_decay = [], [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if name == "lora_B" or p.ndim == 1:
                no_decay = name == "bias" or isinstance(module, nn.LayerNorm)
                (b_no_decay if no_decay else b).append(p)
            else:
                a.append(p)
    if not any(name.endswith("lora_B") and p.requires_grad for name, p in model.named_parameters()):
        raise ValueError(
            f"the {type(model).__name__} has no trainable lora_B: LoRA+ has nothing to speed up"
        )
    return [
        {"params": a, "lr": lr, "weight_decay": weight_decay},
        {"params": b, "lr": lr * ratio, "weight_decay": weight_decay},
        {"params": b_no_decay, "lr": lr * ratio, "weight_decay": 0.0},
    ]
