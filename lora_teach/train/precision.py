"""Mixed precision that fits the device: bf16 where the GPU has it, fp16 with a gradient scaler
where it does not (Colab's free T4), float32 on the CPU.

| device                                   | ``choose_precision`` | autocast dtype | gradient scaler |
|------------------------------------------|----------------------|----------------|-----------------|
| CPU                                      | ``fp32``             | none           | no              |
| CUDA, compute capability >= 8.0 (A100..) | ``bf16``             | bfloat16       | no              |
| CUDA, compute capability < 8.0 (T4, V100)| ``fp16``             | float16        | yes             |

bfloat16 keeps float32's exponent range, so gradients need no scaling; float16 does not, so small
gradients would underflow to zero without a scaler. (``torch.cuda.is_bf16_supported()`` says True
on a T4 too, where bf16 is only emulated and slow: the compute capability is the honest test.)
"""

from __future__ import annotations

import contextlib

import torch

__all__ = ["PRECISIONS", "choose_precision", "resolve_precision", "autocast", "grad_scaler"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def choose_precision(device: str, capability: tuple[int, int] | None = None) -> str:
    """``fp32``, ``bf16`` or ``fp16`` for ``device``; ``capability`` overrides the GPU's own."""
    if torch.device(device).type != "cuda":
        return "fp32"
    if capability is None:
        capability = torch.cuda.get_device_capability(device)
    return "bf16" if tuple(capability) >= (8, 0) else "fp16"


def resolve_precision(precision: str, device: str) -> str:
    """``precision`` itself, or for ``"auto"`` what :func:`choose_precision` picks for ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return choose_precision(device) if precision == "auto" else precision


def autocast(device: str, precision: str):
    """Autocast to the precision's dtype on ``device`` (a no-op context for ``fp32``)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision])


def grad_scaler(device: str, precision: str) -> torch.amp.GradScaler:
    """A gradient scaler, enabled for ``fp16`` only (elsewhere its calls pass straight through)."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=precision == "fp16")
