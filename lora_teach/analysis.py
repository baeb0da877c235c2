"""What a learned update looks like: spectra, subspace overlap and amplification (LoRA paper,
section 7), and how many of its directions a task needs (the update truncated by SVD)."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from lora_teach._checks import is_int
from lora_teach.inject import lora_layers
from lora_teach.lora import LoRALinear

__all__ = [
    "lora_deltas",
    "effective_rank",
    "subspace_similarity",
    "random_start_similarity",
    "amplification",
    "intruder_dimensions",
    "truncate_update",
    "low_rank_truncated",
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


def random_start_similarity(
    k: int, r1: int, r2: int, i: int = 1, j: int = 1, pairs: int = 2000, seed: int = 0
) -> np.ndarray:
    """phi(A1, A2, i, j) for ``pairs`` pairs of independent starts of this package's ``lora_A``.

    Each A is drawn by :class:`~lora_teach.lora.LoRALinear`'s own initialisation (r x k, fan-in
    ``k``), A1 at rank ``r1`` and A2 at rank ``r2``: the level phi takes between two adapters that
    learned nothing in common. For isotropic random subspaces its mean is max(i, j) / k.
    """
    if not (is_int(pairs) and pairs >= 1):
        raise ValueError(f"pairs must be an int >= 1, got {pairs!r}")

    values = np.empty(pairs)
    # its own seed, leaving the caller's random state as it was; thousands of small SVDs
    # run fastest on one thread
    with torch.random.fork_rng(devices=[]), threadpool_limits(1):
        torch.manual_seed(seed)
        first = LoRALinear(nn.Linear(k, r1, bias=False), rank=r1, alpha=r1)
        second = LoRALinear(nn.Linear(k, r2, bias=False), rank=r2, alpha=r2)
        for n in range(pairs):
            first.reset_lora_parameters()
            second.reset_lora_parameters()
            a1 = first.lora_A.detach().double().numpy()
            a2 = second.lora_A.detach().double().numpy()
            values[n] = subspace_similarity(a1, a2, i, j)
    return values


def amplification(
    delta: np.ndarray, W0: np.ndarray, r: int, seed: int = 0, draws: int = 1
) -> dict[str, float]:
    """How strongly ``delta`` amplifies directions of ``W0`` (the paper's table 7).

    Project W0 onto delta's top-r singular directions, ||U_r^T W0 V_r||_F, and compare with
    ||delta||_F (the amplification factor) and with the same projection on random directions
    (orthonormal r-frames, averaged over ``draws`` draws).
    """
    if not (is_int(draws) and draws >= 1):
        raise ValueError(f"draws must be an int >= 1, got {draws!r}")
    u, _, vt = np.linalg.svd(delta, full_matrices=False)
    projected = np.linalg.norm(u[:, :r].T @ W0 @ vt[:r].T)
    rng = np.random.default_rng(seed)
    on_random = []
    for _ in range(draws):
        qu = np.linalg.qr(rng.standard_normal((W0.shape[0], r)))[0]
        qv = np.linalg.qr(rng.standard_normal((W0.shape[1], r)))[0]
        on_random.append(np.linalg.norm(qu.T @ W0 @ qv))
    return {
        "delta_norm": float(np.linalg.norm(delta)),
        "w0_on_delta_directions": float(projected),
        "w0_on_random_directions": float(np.mean(on_random)),
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


def truncate_update(delta: np.ndarray, r: int) -> np.ndarray:
    """The best rank-``r`` approximation of ``delta`` (Eckart-Young): its top ``r`` singular
    triplets, U_r S_r V_r^T. ``r`` is an int in [0, min(d, k)]: rank 0 is the zero matrix (no
    update), full rank gives ``delta`` back."""
    full = min(delta.shape)
    if not is_int(r) or not 0 <= r <= full:
        raise ValueError(f"r must be an int in [0, {full}] (min(d, k)), got {r!r}")
    u, s, vt = np.linalg.svd(delta, full_matrices=False)
    return (u[:, :r] * s[:r]) @ vt[:r]


@torch.no_grad()
def low_rank_truncated(finetuned: nn.Module, base: Mapping[str, torch.Tensor], r: int) -> nn.Module:
    """A copy of ``finetuned`` whose weights named in ``base`` become W0 + the rank-``r``
    truncation of their update W_ft - W0 (``base`` maps a parameter name of ``finetuned`` to its
    pretrained value W0). Every other parameter and buffer (the other weights, biases, layer
    norms, the head) stays as fine-tuned. The sum is formed in float64 and rounded once."""
    model = copy.deepcopy(finetuned)
    params = dict(model.named_parameters())
    missing = sorted(set(base) - set(params))
    if missing:
        raise KeyError(f"no parameters named {missing} in the model")
    for name, w0 in base.items():
        weight = params[name]
        if tuple(w0.shape) != tuple(weight.shape):
            raise ValueError(
                f"{name}: W0 has shape {tuple(w0.shape)}, the weight {tuple(weight.shape)}"
            )
        w0 = w0.detach().double().cpu().numpy()
        delta = weight.detach().double().cpu().numpy() - w0
        new = torch.from_numpy(w0 + truncate_update(delta, r))
        weight.copy_(new.to(dtype=weight.dtype, device=weight.device))
    return model
