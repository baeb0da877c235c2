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


def test_amplification_averages_random_draws():
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((24, 20))
    delta = rng.standard_normal((24, 20))
    one = amplification(delta, W0, r=2, seed=5)
    many = amplification(delta, W0, r=2, seed=5, draws=50)
    assert one["w0_on_delta_directions"] == many["w0_on_delta_directions"]
    # the mean over many draws is near the expected sqrt(r^2 ||W0||^2 / (d k))
    expected = 2 * np.linalg.norm(W0) / np.sqrt(24 * 20)
    assert many["w0_on_random_directions"] == pytest.approx(expected, rel=0.2)
    with pytest.raises(ValueError, match="draws must be an int >= 1, got 0"):
        amplification(delta, W0, r=2, draws=0)


def test_random_start_similarity_is_the_isotropic_level():
    from lora_teach.analysis import random_start_similarity

    phi = random_start_similarity(k=64, r1=4, r2=16, i=1, j=1, pairs=600, seed=0)
    assert phi.shape == (600,) and ((phi >= 0) & (phi <= 1)).all()
    assert phi.mean() == pytest.approx(1 / 64, rel=0.2)  # E[cos^2] of random unit vectors
    wide = random_start_similarity(k=64, r1=4, r2=16, i=1, j=8, pairs=600, seed=0)
    assert wide.mean() == pytest.approx(8 / 64, rel=0.15)
    again = random_start_similarity(k=64, r1=4, r2=16, i=1, j=1, pairs=600, seed=0)
    np.testing.assert_array_equal(phi, again)
    with pytest.raises(ValueError, match="pairs must be an int >= 1"):
        random_start_similarity(k=64, r1=4, r2=4, pairs=0)


def test_truncate_update_keeps_the_top_singular_triplets():
    from lora_teach.analysis import truncate_update

    rng = np.random.default_rng(4)
    u = np.linalg.qr(rng.standard_normal((30, 4)))[0]
    v = np.linalg.qr(rng.standard_normal((20, 4)))[0]
    s = np.array([5.0, 3.0, 2.0, 1.0])
    delta = u @ np.diag(s) @ v.T
    np.testing.assert_allclose(truncate_update(delta, 2), u[:, :2] * s[:2] @ v[:, :2].T, atol=1e-12)
    # Eckart-Young: the error of the best rank-r approximation is the norm of what is left out
    for r in range(5):
        error = np.linalg.norm(delta - truncate_update(delta, r))
        assert error == pytest.approx(np.sqrt(np.sum(s[r:] ** 2)), abs=1e-10)
    assert not truncate_update(delta, 0).any()
    full = rng.standard_normal((7, 5))
    np.testing.assert_allclose(truncate_update(full, 5), full, atol=1e-12)
    with pytest.raises(ValueError, match=r"r must be an int in \[0, 5\]"):
        truncate_update(full, 6)
    with pytest.raises(ValueError, match=r"got -1"):
        truncate_update(full, -1)


def test_low_rank_truncated_changes_only_the_named_weights():
    import copy

    import torch
    from torch import nn

    from lora_teach.analysis import low_rank_truncated

    torch.manual_seed(0)
    pretrained = nn.Sequential(nn.Linear(6, 5), nn.LayerNorm(5), nn.Linear(5, 3))
    finetuned = copy.deepcopy(pretrained)
    with torch.no_grad():
        for p in finetuned.parameters():
            p.add_(0.1 * torch.randn_like(p))
    before = copy.deepcopy(finetuned.state_dict())
    base = {"0.weight": pretrained[0].weight.detach().clone()}
    zero = low_rank_truncated(finetuned, base, r=0)
    torch.testing.assert_close(zero[0].weight, pretrained[0].weight, rtol=0, atol=1e-7)
    for name, value in zero.state_dict().items():  # everything else stays fine-tuned
        if name != "0.weight":
            torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    full = low_rank_truncated(finetuned, base, r=5)
    torch.testing.assert_close(full[0].weight, finetuned[0].weight, rtol=0, atol=1e-6)
    one = low_rank_truncated(finetuned, base, r=1)
    update = (one[0].weight - pretrained[0].weight).detach().double()
    assert torch.linalg.matrix_rank(update, atol=1e-6) == 1
    for name, value in finetuned.state_dict().items():  # the input model is left alone
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    with pytest.raises(KeyError, match="no parameters named"):
        low_rank_truncated(finetuned, {"9.weight": base["0.weight"]}, r=1)
    with pytest.raises(ValueError, match="W0 has shape"):
        low_rank_truncated(finetuned, {"0.weight": torch.zeros(5, 5)}, r=1)


def test_random_start_similarity_leaves_the_callers_random_state_alone():
    import torch

    from lora_teach.analysis import random_start_similarity

    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    random_start_similarity(k=32, r1=2, r2=4, pairs=5, seed=0)
    torch.testing.assert_close(torch.rand(3), expected)
