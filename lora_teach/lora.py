"""``LoRALinear``: a frozen ``nn.Linear`` plus a trainable low-rank update.

Shapes follow ``nn.Linear``: the frozen weight ``W0`` is (d x k) = (out x in),
``lora_A`` is (r x k), ``lora_B`` is (d x r), and

    h = W0 x + b + scaling * B A x,   scaling = alpha / r   (alpha / sqrt(r) with rsLoRA).

``B`` starts at zero, so a freshly wrapped layer computes exactly what the base layer did.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_alpha, check_dropout, check_init, check_rank

__all__ = ["LoRALinear"]


class LoRALinear(nn.Module):
    """Wrap (not copy) ``base`` and freeze it; train ``lora_A`` and ``lora_B`` instead.

    Args:
        base: the layer to adapt; any ``nn.Linear``, subclasses included.
        rank: r, an int in [1, min(d, k)].
        alpha: the scale numerator; the update is multiplied by ``alpha / r``.
        dropout: dropout applied to the input of the LoRA branch only.
        init: how ``lora_A`` starts. ``"kaiming"``: uniform with bound 1/sqrt(k) (PEFT's and
            loralib's default); ``"gaussian"``: normal with std 1/sqrt(k). Both read the
            fan-in from ``k``, so the scale does not depend on the tensor's orientation.
        rslora: scale by ``alpha / sqrt(r)`` (rank-stabilised LoRA) instead of ``alpha / r``.
    """

    def __init__(
        self,
        base: nn.Linear,
        rank: int,
        alpha: float,
        dropout: float = 0.0,
        init: str = "kaiming",
        rslora: bool = False,
    ):
        super().__init__()
        if isinstance(base, LoRALinear):
            raise ValueError(
                "this layer is already wrapped by LoRALinear; wrap its base_layer or remove LoRA first"
            )
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        d, k = base.out_features, base.in_features
        self.rank = check_rank(rank, min(d, k))
        self.alpha = check_alpha(alpha)
        self.dropout_p = check_dropout(dropout)
        self.init = check_init(init)
        self.rslora = bool(rslora)
        self.scaling = self.alpha / (math.sqrt(self.rank) if self.rslora else self.rank)

        self.base_layer = base
        for p in base.parameters():
            p.requires_grad_(False)
        # new_* keeps the base weight's dtype and device.
        self.lora_A = nn.Parameter(base.weight.new_empty(self.rank, k))
        self.lora_B = nn.Parameter(base.weight.new_zeros(d, self.rank))
        self.lora_dropout = nn.Dropout(self.dropout_p) if self.dropout_p > 0 else nn.Identity()
        self.merged = False
        self.enabled = True  # False: compute exactly what the base layer computes (lora_disabled)
        self.reset_lora_parameters()

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    @property
    def weight(self) -> torch.Tensor:
        return self.base_layer.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base_layer.bias

    def reset_lora_parameters(self) -> None:
        """A random with fan-in ``k``, B zero: the update ``B A`` starts at exactly zero."""
        k = self.in_features
        with torch.no_grad():
            if self.init == "kaiming":
                nn.init.uniform_(self.lora_A, -1 / math.sqrt(k), 1 / math.sqrt(k))
            else:
                nn.init.normal_(self.lora_A, std=1 / math.sqrt(k))
            nn.init.zeros_(self.lora_B)

    def delta_weight(self) -> torch.Tensor:
        """``scaling * B A`` (d x k), computed in at least float32 and cast once to the weight's dtype."""
        compute = torch.promote_types(self.lora_A.dtype, torch.float32)
        delta = self.lora_B.to(compute) @ self.lora_A.to(compute)
        return (delta * self.scaling).to(self.base_layer.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged or not self.enabled:
            return out
        x = self.lora_dropout(x).to(self.lora_A.dtype)
        down = F.linear(x, self.lora_A).reshape(-1, self.rank)  # (tokens x r)
        # out + scaling * down @ B^T in one GEMM (beta = 1): no separate pass to scale and add.
        flat = torch.addmm(
            out.reshape(-1, self.out_features).to(down.dtype),
            down,
            self.lora_B.t(),
            alpha=self.scaling,
        )
        return flat.reshape(out.shape).to(out.dtype)

    @torch.no_grad()
    def merge(self) -> None:
        """Add the update into the base weight: inference then costs what the base costs.

        Merging a merged layer (or unmerging an unmerged one) warns and changes nothing, as in PEFT.
        """
        if self.merged:
            warnings.warn(
                "LoRALinear.merge() called on a layer that is already merged; nothing changed",
                stacklevel=2,
            )
            return
        if not self.enabled:
            raise RuntimeError("cannot merge a LoRA layer while its update is switched off")
        self.base_layer.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Subtract the update again, restoring the base weight (up to rounding)."""
        if not self.merged:
            warnings.warn(
                "LoRALinear.unmerge() called on a layer that is not merged; nothing changed",
                stacklevel=2,
            )
            return
        self.base_layer.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        rs = ", rslora=True" if self.rslora else ""
        drop = f", dropout={self.dropout_p:g}" if self.dropout_p else ""
        off = "" if self.enabled else ", enabled=False"
        return (
            f"rank={self.rank}, alpha={self.alpha:g}, scaling={self.scaling:.4g}{rs}{drop}, "
            f"init={self.init}, merged={self.merged}{off}"
        )
