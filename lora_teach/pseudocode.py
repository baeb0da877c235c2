"""LoRA's Eq. 3 written as loops, run as written.

Hu et al. give the adapted layer as one equation, Eq. 3: ``h = W0 x + ΔW x = W0 x + B A x``
(with the update scaled by ``alpha / r``, section 4.1); the paper has no algorithm block. The loop
form below is that equation spelled out index by index, as the presentation this book grew from
wrote it. Chapter 2 lists it as four steps: (1) ``ΔW <- 0``; (2) add the ``r`` outer products
``B[:, i] A[i, :]`` column by column; (3) ``W <- W0 + (alpha / r) ΔW``; (4) ``h <- W x``.

Convention (the one used throughout this package, as in ``nn.Linear``):
``W0`` is (d x k), ``x`` is in R^k, ``h`` is in R^d, ``A`` is (r x k), ``B`` is (d x r),
and ``h = W0 x + (alpha / r) B A x``.

These functions loop in plain Python on purpose: they are the equation a reader can follow
index by index, and the reference the vectorised :class:`lora_teach.LoRALinear` is checked
against. They are slow, and meant for reading and checking only.
"""

from __future__ import annotations

import torch

__all__ = ["delta_w_loop", "lora_forward_loop"]


def _check_factors(A: torch.Tensor, B: torch.Tensor) -> tuple[int, int, int]:
    if A.dim() != 2 or B.dim() != 2:
        raise ValueError(
            f"A and B must be matrices, got A with shape {tuple(A.shape)} and B with shape {tuple(B.shape)}"
        )
    r, k = A.shape
    d, r_b = B.shape
    if r != r_b:
        raise ValueError(
            f"A must be (r x k) and B (d x r) with the same r, got A {tuple(A.shape)} and B {tuple(B.shape)}"
        )
    return d, r, k


def delta_w_loop(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Build ``ΔW = B A`` (d x k) column by column: steps 1-2 of the loop form of Eq. 3.

    1. ``ΔW <- 0``
    2. for ``i = 1..r``, for ``j = 1..k``: ``ΔW[:, j] <- ΔW[:, j] + B[:, i] * A[i, j]``
    """
    d, r, k = _check_factors(A, B)
    delta_w = A.new_zeros(d, k)
    for i in range(r):
        for j in range(k):
            delta_w[:, j] += B[:, i] * A[i, j]
    return delta_w


def lora_forward_loop(
    W0: torch.Tensor, A: torch.Tensor, B: torch.Tensor, alpha: float, x: torch.Tensor
) -> torch.Tensor:
    """Steps 3-4 of the loop form of Eq. 3: ``W <- W0 + (alpha / r) ΔW``; return ``h = W x``.

    ``W0`` is (d x k), ``x`` a vector in R^k; the result ``h`` is in R^d.
    """
    d, r, k = _check_factors(A, B)
    if tuple(W0.shape) != (d, k):
        raise ValueError(f"W0 must be (d x k) = ({d} x {k}) to match B A, got {tuple(W0.shape)}")
    if x.shape != (k,):
        raise ValueError(f"x must be a vector in R^k with k = {k}, got shape {tuple(x.shape)}")
    W = W0 + (alpha / r) * delta_w_loop(A, B)
    return W @ x
