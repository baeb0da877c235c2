"""Argument checks shared by the package: each error names the value and what was expected."""

from __future__ import annotations

import math
import numbers

INITS = ("kaiming", "gaussian", "pissa")


def check_rank(rank, max_rank: int | None = None, where: str = "") -> int:
    upper = "" if max_rank is None else f", {max_rank}"
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral):
        raise TypeError(f"rank must be an int in [1{upper}]{where}, got {rank!r}")
    if rank < 1 or (max_rank is not None and rank > max_rank):
        bound = f"in [1, {max_rank}] (min(d, k))" if max_rank is not None else ">= 1"
        raise ValueError(f"rank must be an int {bound}{where}, got {rank}")
    return int(rank)


def is_int(value) -> bool:
    """An integer (numpy's included), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    """A real number (numpy's included), but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_alpha(alpha) -> float:
    if not (is_real(alpha) and math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite positive number, got {alpha!r}")
    return float(alpha)


def check_dropout(dropout) -> float:
    if not (is_real(dropout) and 0.0 <= dropout < 1.0):
        raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
    return float(dropout)


def check_init(init) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    return init


def check_dora(dora: bool, dropout: float, init: str) -> None:
    """DoRA here supports neither dropout on the LoRA branch nor the PiSSA start."""
    if dora and (dropout > 0 or init == "pissa"):
        raise ValueError(
            "dora=True is supported with dropout 0 and a kaiming or gaussian init only, got "
            f"dropout={dropout:g}, init={init!r}"
        )


def check_fused(fused, dropout: float, dora: bool) -> bool:
    """The fused path merges W0 + scaling B A: no dropout on the LoRA branch, no DoRA."""
    if not isinstance(fused, bool):
        raise TypeError(f"fused must be True or False, got {fused!r}")
    if fused and (dropout > 0 or dora):
        raise ValueError(
            f"fused=True is supported with dropout 0 and without DoRA, got dropout={dropout:g}, dora={dora}"
        )
    return fused


def check_lora_settings(alpha, dropout, init, dora, fused) -> tuple[float, float, str]:
    """LoRA's settings besides the rank (which depends on the layer), checked together; returns
    (alpha, dropout, init) as the layers store them."""
    alpha, dropout, init = check_alpha(alpha), check_dropout(dropout), check_init(init)
    check_dora(bool(dora), dropout, init)
    check_fused(fused, dropout, bool(dora))
    return alpha, dropout, init
