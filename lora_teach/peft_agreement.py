"""How closely each LoRA variant of this package agrees with PEFT's, on the same weights and inputs.

:func:`variant_agreement` wraps the same layers of a model with this package and with PEFT
(``peft.inject_adapter_in_model``), gives both the same A, B (and DoRA magnitude), and returns the
largest absolute differences of their outputs and gradients. For PiSSA, whose start is computed
rather than drawn, it compares that start (A, B and the residual weight) instead of copying it.
:func:`lora_plus_agreement` compares LoRA+ optimiser groups with PEFT's
``create_loraplus_optimizer``. PEFT is an optional dependency (the ``book`` extra).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from lora_teach.inject import add_lora, lora_layers
from lora_teach.lora_plus import lora_plus_param_groups

__all__ = ["PEFT_OPTIONS", "variant_agreement", "lora_plus_agreement"]

# This package's options (``add_lora``) and PEFT's ``LoraConfig`` for the same variant.
PEFT_OPTIONS: dict[str, tuple[dict, dict]] = {
    "LoRA": ({}, {}),
    "rsLoRA": ({"rslora": True}, {"use_rslora": True}),
    "DoRA": ({"dora": True}, {"use_dora": True}),
    "PiSSA": ({"init": "pissa"}, {"init_lora_weights": "pissa"}),
}


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).abs().max())


def variant_agreement(
    base: nn.Module, targets: list[str], x: torch.Tensor, variant: str, rank: int = 8, alpha=8.0
) -> dict[str, float]:
    """Max |ours - PEFT's| for ``variant`` on ``base``'s layers ``targets`` (dotted suffixes).

    Keys: ``output`` (the model's output on ``x``), ``gradient`` (of mean(output**2) with respect
    to every A, B and magnitude) and, for PiSSA, ``start`` (A, B and the residual W0 - s B A).
    """
    import peft

    if variant not in PEFT_OPTIONS:
        raise ValueError(f"variant must be one of {list(PEFT_OPTIONS)}, got {variant!r}")
    options, peft_options = PEFT_OPTIONS[variant]
    ours = add_lora(copy.deepcopy(base), targets, rank=rank, alpha=alpha, **options)
    config = peft.LoraConfig(
        r=rank, lora_alpha=alpha, target_modules=targets, lora_dropout=0.0, **peft_options
    )
    theirs = peft.inject_adapter_in_model(config, copy.deepcopy(base))
    pairs = {name: (layer, theirs.get_submodule(name)) for name, layer in lora_layers(ours).items()}
    found: dict[str, float] = {}
    if variant == "PiSSA":  # the start is the variant: compare it as each computed it
        found["start"] = max(
            max(
                _max_diff(mine.lora_A, other.lora_A["default"].weight),
                _max_diff(mine.lora_B, other.lora_B["default"].weight),
                _max_diff(mine.weight, other.get_base_layer().weight),
            )
            for mine, other in pairs.values()
        )
    else:  # random A, B (B != 0 tests more than the zero start) and magnitudes, in both
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for mine, other in pairs.values():
                for param, peft_param in (
                    (mine.lora_A, other.lora_A["default"].weight),
                    (mine.lora_B, other.lora_B["default"].weight),
                ):
                    value = 0.1 * torch.randn(param.shape, generator=g)
                    param.copy_(value)
                    peft_param.copy_(value)
                if mine.dora:
                    value = mine.lora_magnitude * (
                        1 + 0.1 * torch.randn(mine.out_features, generator=g)
                    )
                    mine.lora_magnitude.copy_(value)
                    other.lora_magnitude_vector["default"].weight.copy_(value)
    out, peft_out = ours(x), theirs(x)
    found["output"] = _max_diff(out, peft_out)
    out.square().mean().backward()
    peft_out.square().mean().backward()
    gradients = []
    for mine, other in pairs.values():
        gradients += [
            _max_diff(mine.lora_A.grad, other.lora_A["default"].weight.grad),
            _max_diff(mine.lora_B.grad, other.lora_B["default"].weight.grad),
        ]
        if mine.dora:
            gradients.append(
                _max_diff(
                    mine.lora_magnitude.grad, other.lora_magnitude_vector["default"].weight.grad
                )
            )
    found["gradient"] = max(gradients)
    return found


def lora_plus_agreement(
    base: nn.Module, targets: list[str], lr: float = 1e-3, ratio: float = 16.0, rank: int = 8
) -> dict[str, object]:
    """This package's LoRA+ groups beside those of PEFT's ``create_loraplus_optimizer``.

    Returns ``same`` (every group holds the same parameter shapes with the same learning rate and
    weight decay) and ``learning_rates`` (sorted, ours).
    """
    import peft
    from peft.optimizers import create_loraplus_optimizer

    ours = add_lora(copy.deepcopy(base), targets, rank=rank, alpha=rank)
    config = peft.LoraConfig(r=rank, lora_alpha=rank, target_modules=targets, lora_dropout=0.0)
    theirs = peft.get_peft_model(copy.deepcopy(base), config)
    optimiser = create_loraplus_optimizer(
        theirs, torch.optim.AdamW, lr=lr, loraplus_lr_ratio=ratio, loraplus_weight_decay=0.0
    )

    def summary(groups):  # (lr, weight decay, parameter shapes) of each non-empty group
        return sorted(
            (g["lr"], g["weight_decay"], sorted(tuple(p.shape) for p in g["params"]))
            for g in groups
            if g["params"]
        )

    mine = summary(lora_plus_param_groups(ours, lr=lr, ratio=ratio))
    return {"same": mine == summary(optimiser.param_groups), "learning_rates": [g[0] for g in mine]}
