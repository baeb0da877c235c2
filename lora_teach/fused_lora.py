"""A LoRA layer as one autograd function with a hand-written backward, for a faster training step.

The forward is the plain ``LoRALinear``'s, operation for operation (same result, bit for bit):

    y = W0 x + b + scaling B a,   a = A x.

Left to autograd, the backward of those products costs more than their FLOPs suggest, on CPU:
the products with a dimension of size r come out in orientations the matrix library handles
slowly (``x^T g`` for A's gradient: a tall (k x tokens) times (tokens x r)), and the input
gradient is two products and a sum (``W0^T dy`` and ``A^T g``, the second an outer product as
large as ``x``). ``benchmarks/bench_scale_step.py`` profiles both. The backward here computes:

    g^T = scaling B^T dy^T              (r x tokens)
    dA  = g^T x,   dB = scaling (a^T dy)^T
    dx  = dy (W0 + scaling B A)         (one product with the merged weight)

Same maths, other rounding: the gradients agree with the plain path's to float32 rounding, not
bit for bit. The merged weight is (d x k), rebuilt in the backward rather than kept, so memory is
the plain path's. float32 only: in half precision it would round the small update away.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = ["fused_lora_linear", "computes_plain_linear", "full_float32"]

# Linear subclasses whose forward, in float32, is F.linear(x, weight, bias): Whisper's casts the
# weight to the input's dtype, which for a float32 weight and input changes nothing.
_PLAIN_LINEARS = {("whisper.model", "Linear")}


def computes_plain_linear(layer: torch.nn.Linear) -> bool:
    """Whether ``layer``'s forward is ``F.linear(x, weight, bias)`` (for float32 input), so that
    the fused function may stand in for it; a subclass with its own forward keeps it. (The fused
    function calls no forward hooks registered on ``layer``.)"""
    cls = type(layer)
    return (
        cls.forward is torch.nn.Linear.forward
        or (cls.__module__, cls.__qualname__) in _PLAIN_LINEARS
    )


def _autocast_enabled(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        if device_type == "cpu":
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


def full_float32(x: torch.Tensor, *weights: torch.Tensor) -> bool:
    """Whether products of ``x`` and ``weights`` run in full float32: float32 tensors, no autocast,
    and on CUDA no TF32 (whose 10-bit mantissa would round the merged weight's small update away)."""
    tf32 = x.device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32
    return (
        all(t.dtype == torch.float32 for t in (x, *weights))
        and not _autocast_enabled(x.device.type)
        and not tf32
    )


class _FusedLoRALinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, lora_A, lora_B, scaling: float):
        out = F.linear(x, weight, bias)
        down = F.linear(x, lora_A)
        ctx.save_for_backward(x, weight, lora_A, lora_B, down)
        ctx.scaling = scaling
        flat = torch.addmm(
            out.reshape(-1, out.shape[-1]),
            down.reshape(-1, down.shape[-1]),
            lora_B.t(),
            alpha=scaling,
        )
        return flat.reshape(out.shape)

    @staticmethod
    @once_differentiable  # a clear error, not a wrong answer, if asked for a second derivative
    def backward(ctx, grad_out):
        x, weight, lora_A, lora_B, down = ctx.saved_tensors
        need_x, need_w, need_b, need_A, need_B, _ = ctx.needs_input_grad
        scaling = ctx.scaling
        dy = grad_out.reshape(-1, grad_out.shape[-1])  # (tokens x d)
        flat_x = x.reshape(-1, x.shape[-1])  # (tokens x k)
        grad_x = grad_w = grad_b = grad_A = grad_B = None
        if need_A:
            # B^T copied contiguous (it is small): the product then runs faster than on the view
            g_t = (lora_B.t().contiguous() @ dy.t()).mul_(scaling)  # (r x tokens)
            grad_A = g_t @ flat_x  # (r x k)
        if need_B:
            grad_B = (down.reshape(-1, down.shape[-1]).t() @ dy).mul_(scaling).t().contiguous()
        if need_x:
            merged = torch.addmm(weight, lora_B, lora_A, alpha=scaling)  # W0 + scaling B A
            grad_x = (dy @ merged).reshape(x.shape)
        if need_w:  # only if the caller unfroze the base weight
            grad_w = dy.t() @ flat_x
        if need_b:
            grad_b = dy.sum(0)
        return grad_x, grad_w, grad_b, grad_A, grad_B, None


def fused_lora_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    lora_A: torch.Tensor,
    lora_B: torch.Tensor,
    scaling: float,
) -> torch.Tensor:
    """``x W0^T + b + scaling (x A^T) B^T`` with the backward above; every tensor float32."""
    for name, t in (("x", x), ("weight", weight), ("lora_A", lora_A), ("lora_B", lora_B)):
        if t.dtype != torch.float32:
            raise TypeError(f"fused_lora_linear takes float32 tensors, got {name} in {t.dtype}")
    return _FusedLoRALinear.apply(x, weight, bias, lora_A, lora_B, float(scaling))
