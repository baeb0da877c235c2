"""Uncertainty of a validation AUC."""

from __future__ import annotations

__all__ = ["auc_standard_error"]


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982): the standard error of an ROC AUC measured on n_pos and n_neg events."""
    if not 0.0 <= auc <= 1.0:
        raise ValueError(f"auc must be in [0, 1], got {auc}")
    if n_pos < 1 or n_neg < 1:
        raise ValueError(f"need at least one event of each class, got n_pos={n_pos}, n_neg={n_neg}")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return (
        (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2))
        / (n_pos * n_neg)
    ) ** 0.5
