"""Counting parameters: total, trainable, and where they live."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

__all__ = ["ParameterCount", "count_parameters", "parameter_table"]


@dataclass(frozen=True)
class ParameterCount:
    total: int
    trainable: int

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / self.total if self.total else 0.0

    def __str__(self) -> str:
        return f"trainable {self.trainable:,} of {self.total:,} ({self.percent:.2f}%)"


def count_parameters(model: nn.Module) -> ParameterCount:
    """Total and trainable parameter counts (works on the meta device: only shapes are read)."""
    total = trainable = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return ParameterCount(total, trainable)


def parameter_table(model: nn.Module, depth: int = 1) -> list[tuple[str, int, int]]:
    """``(module name, total, trainable)`` for each submodule ``depth`` levels below the root."""
    rows: dict[str, list[int]] = {}
    for name, p in model.named_parameters():
        module_path = name.split(".")[:-1] or ["(root)"]
        key = ".".join(module_path[:depth])
        row = rows.setdefault(key, [0, 0])
        row[0] += p.numel()
        row[1] += p.numel() if p.requires_grad else 0
    return [(k, t, tr) for k, (t, tr) in rows.items()]
