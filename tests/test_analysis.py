"""Checks of the ΔW analysis on matrices whose answers are known."""

import numpy as np
import pytest

from lora_teach.analysis import amplification, effective_rank, subspace_similarity


def test_effective_rank_of_a_rank_3_matrix():
    rng = np.random.default_rng(0)
    u = np.linalg.qr(rng.standard_normal((40, 3)))[0]
    v = np.linalg.qr(rng.standard_normal((50, 3)))[0]
    delta = u @ np.diag([3.0, 2.0, 1.0]) @ v.T  # squared singular values 9, 4, 1 of 14
    assert effective_rank(delta, energy=0.5) == 1  # 9/14 = 0.64
    assert effective_rank(delta, energy=0.9) == 2  # 13/14 = 0.93
    assert effective_rank(delta, energy=0.95) == 3


def test_subspace_similarity_extremes():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((8, 64))
    assert subspace_similarity(A, A, 8, 8) == pytest.approx(1.0)
    # rows spanning orthogonal subspaces: no overlap
    basis = np.linalg.qr(rng.standard_normal((64, 16)))[0].T
    assert subspace_similarity(basis[:8], basis[8:], 8, 8) == pytest.approx(0.0, abs=1e-12)
    # a larger adapter containing the smaller one's row space: top directions overlap fully
    assert subspace_similarity(basis[:4], basis[:16], 4, 16) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"i must be in \[1, 8\]"):
        subspace_similarity(A, A, 9, 1)


def test_amplification_sees_a_weight_direction_amplified():
    rng = np.random.default_rng(2)
    W0 = rng.standard_normal((32, 32))
    u, s, vt = np.linalg.svd(W0)
    weak = np.outer(u[:, -1], vt[-1])  # W0's weakest direction
    result = amplification(10 * weak, W0, r=1)
    assert result["w0_on_delta_directions"] == pytest.approx(s[-1])
    assert result["amplification_factor"] == pytest.approx(10 / s[-1])
    assert result["w0_on_top_w0_directions"] == pytest.approx(s[0])


def test_intruder_dimensions_count_strong_new_directions_only():
    from lora_teach.analysis import intruder_dimensions

    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((64, 48)) / 8
    assert intruder_dimensions(W0, W0) == 0
    # a small refinement rotates directions slightly: no intruder
    assert intruder_dimensions(W0, W0 + 1e-3 * rng.standard_normal(W0.shape)) == 0
    # two strong directions outside W0's top subspace: each becomes a top singular vector with low
    # similarity to every pre-trained one (W0's left singular vectors span only 48 of 64 dims)
    u0 = np.linalg.svd(W0)[0]
    new = u0[:, 48:50]  # orthogonal to every left singular vector W0 uses
    W = W0 + 5.0 * new @ rng.standard_normal((2, 48)) / np.sqrt(48)
    assert intruder_dimensions(W0, W, top=5) == 2
    with pytest.raises(ValueError, match="same shape"):
        intruder_dimensions(W0, W0.T)
    with pytest.raises(ValueError, match="top=0"):
        intruder_dimensions(W0, W0, top=0)
