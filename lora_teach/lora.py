"""``LoRALinear``: a frozen ``nn.Linear`` plus a trainable low-rank update, and two descendants.

Shapes follow ``nn.Linear``: the frozen weight ``W0`` is (d x k) = (out x in),
``lora_A`` is (r x k), ``lora_B`` is (d x r), and

    h = W0 x + b + scaling * B A x,   scaling = alpha / r   (alpha / sqrt(r) with rsLoRA).

``B`` starts at zero, so a freshly wrapped layer computes exactly what the base layer did.

- **DoRA** (``dora=True``, Liu et al. 2024) splits the adapted weight into a trainable magnitude
  ``m`` (one number per output row, starting at W0's row norms) and a direction:

      W' = m * (W0 + scaling B A) / ||W0 + scaling B A||_row,   h = W' x + b.

  As the paper suggests (its section 4.3) and PEFT does, the norm is treated as a constant in
  the backward pass.
- **PiSSA** (``init="pissa"``, Meng et al. 2024) starts ``B A`` at the top-r singular part of W0,
  ``scaling B0 A0 = U_r S_r V_r^T``, and leaves the residual ``W0 - scaling B0 A0`` in the frozen
  weight (the wrapped layer's weight is changed in place), so the layer still starts exactly
  where W0 was, up to rounding, and training moves W0's principal directions first.

``fused=True`` computes the same layer in one autograd function with a hand-written backward
(:mod:`lora_teach.fused_lora`): the same forward, a backward of fewer and faster products, so a
faster training step; the gradients equal the plain path's up to float32 rounding. It applies in
float32 without autocast; otherwise (half precision, autocast) the plain path runs.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from lora_teach._checks import check_fused, check_lora_settings, check_rank
from lora_teach.fused_lora import computes_plain_linear, full_float32, fused_lora_linear

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
            ``"pissa"``: A and B from W0's top-r singular triplets, W0 keeps the residual.
        rslora: scale by ``alpha / sqrt(r)`` (rank-stabilised LoRA) instead of ``alpha / r``.
        dora: train a magnitude vector and normalise the direction (DoRA); not with dropout or
            PiSSA.
        fused: the same layer with a hand-written, faster backward (see the module's docstring);
            not with dropout or DoRA.
    """

    def __init__(
        self,
        base: nn.Linear,
        rank: int,
        alpha: float,
        dropout: float = 0.0,
        init: str = "kaiming",
        rslora: bool = False,
        dora: bool = False,
        fused: bool = False,
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
        settings = check_lora_settings(alpha, dropout, init, dora, fused)
        self.alpha, self.dropout_p, self.init = settings
        self.rslora, self.dora = bool(rslora), bool(dora)
        self.fused = fused  # also checked by the property's setter, whenever it is set
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
        self._merged_norm: torch.Tensor | None = None  # DoRA: the row norms a merge divided by
        if self.init == "pissa":
            self._init_pissa()
        else:
            self.reset_lora_parameters()
        if self.dora:  # m = ||W0 + scaling B A||_row, which is ||W0||_row while B is zero
            self.lora_magnitude = nn.Parameter(self._row_norm())

    @property
    def fused(self) -> bool:
        """Whether training takes the fused path (see the module's docstring); settable, and
        checked whenever it is set."""
        return self._fused

    @fused.setter
    def fused(self, value: bool) -> None:
        self._fused = check_fused(value, self.dropout_p, self.dora)

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
        if self.init == "pissa":
            raise RuntimeError(
                "a PiSSA layer's start is W0's singular part, taken out of the base weight once "
                "when the layer was built; build a new layer to start again"
            )
        k = self.in_features
        with torch.no_grad():
            if self.init == "kaiming":
                nn.init.uniform_(self.lora_A, -1 / math.sqrt(k), 1 / math.sqrt(k))
            else:
                nn.init.normal_(self.lora_A, std=1 / math.sqrt(k))
            nn.init.zeros_(self.lora_B)

    @torch.no_grad()
    def _init_pissa(self) -> None:
        """A0 = sqrt(S_r / scaling) V_r^T, B0 = U_r sqrt(S_r / scaling) from W0's SVD (in float32),
        then W0 -= scaling B0 A0. A0 and B0 are kept (``pissa_A0``, ``pissa_B0``) so that a saved
        adapter can rebuild this residual exactly, without an SVD."""
        U, S, Vh = torch.linalg.svd(self.base_layer.weight.float(), full_matrices=False)
        root = torch.sqrt(S[: self.rank] / self.scaling)
        A0 = (root[:, None] * Vh[: self.rank]).to(self.lora_A.dtype)
        B0 = (U[:, : self.rank] * root).to(self.lora_B.dtype)
        self.adopt_pissa_start(A0, B0)

    @torch.no_grad()
    def adopt_pissa_start(self, A0: torch.Tensor, B0: torch.Tensor) -> None:
        """Start from (A0, B0) and take ``scaling B0 A0`` out of the (untouched) base weight."""
        self.register_buffer("pissa_A0", A0.detach().clone(), persistent=False)
        self.register_buffer("pissa_B0", B0.detach().clone(), persistent=False)
        self.lora_A.copy_(A0)
        self.lora_B.copy_(B0)
        start = (self.scaling * B0.float()) @ A0.float()  # PEFT's order of operations
        self.base_layer.weight -= start.to(self.base_layer.weight.dtype)
        self.init = "pissa"

    def _row_norm(self) -> torch.Tensor:
        """||W0 + scaling B A|| of each output row (DoRA's denominator), without gradient."""
        with torch.no_grad():
            return torch.linalg.norm(self.base_weight() + self.delta_weight(), dim=1)

    def base_weight(self) -> torch.Tensor:
        """The frozen weight W0 as it is when unmerged (recovered from the merged weight if merged)."""
        weight = self.base_layer.weight
        if not self.merged:
            return weight
        if self.dora:
            merged = weight.to(self._compute_dtype())
            factor = (self.lora_magnitude / self._merged_norm)[:, None]
            return (merged / factor - self._delta_weight_exact()).to(weight.dtype)
        return self._weight_plus(-self._delta_weight_exact())

    def _compute_dtype(self) -> torch.dtype:
        """At least float32: the precision the update is formed and added in."""
        return torch.promote_types(self.lora_A.dtype, torch.float32)

    def _delta_weight_exact(self) -> torch.Tensor:
        """``scaling * B A`` in at least float32, not yet rounded to the weight's dtype."""
        compute = self._compute_dtype()
        return (self.lora_B.to(compute) @ self.lora_A.to(compute)) * self.scaling

    def _weight_plus(self, delta: torch.Tensor) -> torch.Tensor:
        """``W + delta`` summed in ``delta``'s precision, then rounded ONCE to W's dtype.

        Casting delta first and adding in bfloat16 would round twice (delta, then the sum).
        """
        weight = self.base_layer.weight
        return (weight.to(delta.dtype) + delta).to(weight.dtype)

    def delta_weight(self) -> torch.Tensor:
        """``scaling * B A`` (d x k), computed in at least float32 and cast once to the weight's dtype."""
        return self._delta_weight_exact().to(self.base_layer.weight.dtype)

    def _takes_fused_path(self, x: torch.Tensor) -> bool:
        """``fused`` is set, the update is on and unmerged, the base is a plain linear, and the
        arithmetic is full float32."""
        return (
            self.fused
            and self.enabled
            and not self.merged
            and computes_plain_linear(self.base_layer)
            and full_float32(x, self.lora_A, self.base_layer.weight)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._takes_fused_path(x):  # the same forward, a faster hand-written backward
            return fused_lora_linear(
                x, self.base_layer.weight, self.bias, self.lora_A, self.lora_B, self.scaling
            )
        out = self.base_layer(x)
        if self.merged or not self.enabled:
            return out
        if self.dora:
            return self._dora_forward(x, out)
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

    def _dora_forward(self, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """m / ||W0 + s B A||_row * (W0 x + s B A x) + b, the norm held constant (no gradient)."""
        base = out if self.bias is None else out - self.bias  # W0 x
        x = x.to(self.lora_A.dtype)
        lora = F.linear(F.linear(x, self.lora_A), self.lora_B) * self.scaling
        scale = self.lora_magnitude / self._row_norm()
        result = scale * (base.to(lora.dtype) + lora)
        if self.bias is not None:
            result = result + self.bias
        return result.to(out.dtype)

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
        weight = self.base_layer.weight
        if self.dora:  # W = m / ||W0 + dW||_row * (W0 + dW); the norm is kept for unmerge
            self._merged_norm = self._row_norm()
            factor = (self.lora_magnitude / self._merged_norm)[:, None]
            summed = weight.to(self._compute_dtype()) + self._delta_weight_exact()
            weight.copy_((factor * summed).to(weight.dtype))
        else:  # W0 + dW in float32, rounded once to W0's dtype
            weight.copy_(self._weight_plus(self._delta_weight_exact()))
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
        if self.dora:
            self.base_layer.weight.copy_(self.base_weight())
            self._merged_norm = None
        else:  # W - dW in float32, rounded once
            self.base_layer.weight.copy_(self._weight_plus(-self._delta_weight_exact()))
        self.merged = False

    def extra_repr(self) -> str:
        rs = (", rslora=True" if self.rslora else "") + (", dora=True" if self.dora else "")
        rs += ", fused=True" if self.fused else ""
        drop = f", dropout={self.dropout_p:g}" if self.dropout_p else ""
        off = "" if self.enabled else ", enabled=False"
        return (
            f"rank={self.rank}, alpha={self.alpha:g}, scaling={self.scaling:.4g}{rs}{drop}, "
            f"init={self.init}, merged={self.merged}{off}"
        )
