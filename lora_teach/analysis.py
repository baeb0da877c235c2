"""What a learned update looks like: spectra, subspace overlap and amplification (LoRA paper, section 7)."""

from __future__ import annotations

import numpy as np
from torch import nn

from .inject import lora_layers

__all__ = [
    "lora_deltas",
    "effective_rank",
    "subspace_similarity",
    "amplification",
    "intruder_dimensions",
]


def lora_deltas(model: nn.Module) -> dict[str, np.ndarray]:
    """``scaling * B A`` of every LoRA layer, as float64 arrays (d x k)."""
    return {
        n: layer.delta_weight().detach().double().cpu().numpy()
        for n, layer in lora_layers(model).items()
    }


def effective_rank(delta: np.ndarray, energy: float = 0.9) -> int:
    """How many singular directions hold ``energy`` of the update's squared Frobenius norm."""
    s2 = np.linalg.svd(delta, compute_uv=False) ** 2
    return int(np.searchsorted(np.cumsum(s2) / s2.sum(), energy) + 1)


def subspace_similarity(A1: np.ndarray, A2: np.ndarray, i: int, j: int) -> float:
    """The paper's phi(A1, A2, i, j) = ||V1[:, :i]^T V2[:, :j]||_F^2 / min(i, j), in [0, 1].

    ``A1``, ``A2`` are LoRA down-projections (r x k); V are their right-singular vectors (k x r):
    the input directions each adapter reads. 1 means the top-i and top-j directions coincide.
    """
    v1 = np.linalg.svd(A1, full_matrices=False)[2].T
    v2 = np.linalg.svd(A2, full_matrices=False)[2].T
    if not (1 <= i <= v1.shape[1] and 1 <= j <= v2.shape[1]):
        raise ValueError(
            f"i must be in [1, {v1.shape[1]}] and j in [1, {v2.shape[1]}], got i={i}, j={j}"
        )
    return float(np.linalg.norm(v1[:, :i].T @ v2[:, :j]) ** 2 / min(i, j))


def amplification(delta: np.ndarray, W0: np.ndarray, r: int, seed: int = 0) -> dict[str, float]:
    """How strongly ``delta`` amplifies directions of ``W0`` (the paper's table 7).

    Project W0 onto delta's top-r singular directions, ||U_r^T W0 V_r||_F, and compare with
    ||delta||_F (the amplification factor) and with the same projection on random directions.
    """
    u, _, vt = np.linalg.svd(delta, full_matrices=False)
    projected = np.linalg.norm(u[:, :r].T @ W0 @ vt[:r].T)
    rng = np.random.default_rng(seed)
    qu = np.linalg.qr(rng.standard_normal((W0.shape[0], r)))[0]
    qv = np.linalg.qr(rng.standard_normal((W0.shape[1], r)))[0]
    return {
        "delta_norm": float(np.linalg.norm(delta)),
        "w0_on_delta_directions": float(projected),
        "w0_on_random_directions": float(np.linalg.norm(qu.T @ W0 @ qv)),
        "w0_on_top_w0_directions": float(np.linalg.norm(np.linalg.svd(W0, compute_uv=False)[:r])),
        "amplification_factor": float(np.linalg.norm(delta) / projected),
    }


def intruder_dimensions(
    W0: np.ndarray, W: np.ndarray, top: int = 10, threshold: float = 0.5
) -> int:
    """How many of ``W``'s top-``top`` left singular vectors are "intruders" (Shuttleworth et al.
    2024): new directions whose largest |cosine similarity| with every singular vector of the
    pre-trained ``W0`` is below ``threshold``. Fine-tuning that refines ``W0`` rotates its
    directions a little and creates none; an update that writes a strong new direction does.
    """
    if W0.shape != W.shape:
        raise ValueError(f"W0 and W must have the same shape, got {W0.shape} and {W.shape}")
    if not (1 <= top <= min(W.shape)) or not (0.0 < threshold < 1.0):
        raise ValueError(
            f"need 1 <= top <= {min(W.shape)} and 0 < threshold < 1, got top={top}, "
            f"threshold={threshold}"
        )
    u0 = np.linalg.svd(W0, full_matrices=False)[0]
    u = np.linalg.svd(W, full_matrices=False)[0][:, :top]
    best = np.abs(u.T @ u0).max(axis=1)  # each new direction's closest pre-trained one
    return int(np.sum(best < threshold))
