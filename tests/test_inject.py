"""add_lora on Whisper's encoder: target matching, freezing, bad input leaves the model untouched."""

import re

import pytest
import torch
from helpers import tiny_encoder  # noqa: E402
from torch import nn

from lora_teach import (
    LoRALinear,
    add_lora,
    count_parameters,
    lora_layers,
    merge_lora,
    remove_lora,
    unmerge_lora,
)
from lora_teach.whisper.targets import whisper_targets


def _snapshot(model):
    return {n: (p.detach().clone(), p.requires_grad) for n, p in model.named_parameters()}, repr(
        model
    )


def _assert_unchanged(model, snap):
    params, text = snap
    now = dict(model.named_parameters())
    assert now.keys() == params.keys()
    for n, (value, grad) in params.items():
        assert torch.equal(now[n].detach(), value) and now[n].requires_grad == grad, n
    assert repr(model) == text


def test_shorthands_wrap_whisper_linear_subclass():
    enc = tiny_encoder()
    add_lora(enc, whisper_targets(["q", "k", "v", "out", "mlp"]), rank=4, alpha=4)
    names = sorted(lora_layers(enc))
    assert len(names) == 2 * 6
    assert "blocks.0.attn.query" in names and "blocks.1.mlp.2" in names
    assert all(isinstance(m, LoRALinear) for m in lora_layers(enc).values())


def test_suffix_does_not_match_cross_attention():
    from whisper.model import ModelDimensions, Whisper

    dims = ModelDimensions(80, 20, 64, 4, 1, 100, 10, 64, 4, 1)
    model = Whisper(dims)
    add_lora(model, ["attn.query"], rank=2, alpha=2)
    assert sorted(lora_layers(model)) == [
        "decoder.blocks.0.attn.query",
        "encoder.blocks.0.attn.query",
    ]
    model = Whisper(dims)
    add_lora(model, whisper_targets(["q"]), rank=2, alpha=2)  # shorthand: encoder only
    assert sorted(lora_layers(model)) == ["encoder.blocks.0.attn.query"]


def test_regex_uses_fullmatch():
    enc = tiny_encoder()
    add_lora(enc, [re.compile(r"blocks\.1\.attn\.(query|value)")], rank=2, alpha=2)
    assert sorted(lora_layers(enc)) == ["blocks.1.attn.query", "blocks.1.attn.value"]
    enc = tiny_encoder()
    with pytest.raises(ValueError, match="matches no nn.Linear"):
        add_lora(enc, [re.compile(r"attn\.query")], rank=2, alpha=2)  # not a full name


def test_freezes_everything_but_lora_and_named_trainables():
    model = nn.Sequential()
    model.add_module("encoder", tiny_encoder())
    model.add_module("classifier", nn.Linear(64, 1))
    add_lora(model, whisper_targets(["q", "v"]), rank=4, alpha=8, trainable=("classifier",))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "classifier.weight" in trainable and "classifier.bias" in trainable
    assert all(n.startswith("classifier") or n.endswith(("lora_A", "lora_B")) for n in trainable)
    assert count_parameters(model).trainable == 2 * 2 * 4 * (64 + 64) + 65


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(rank=0), ValueError, r"rank must be an int in \[1, 64\].*got 0"),
        (dict(rank=65), ValueError, r"rank must be an int in \[1, 64\].*got 65"),
        (dict(rank=2.5), TypeError, r"rank must be an int.*got 2.5"),
        (dict(rank=True), TypeError, r"rank must be an int"),
        (dict(alpha=0), ValueError, r"alpha must be a finite positive number, got 0"),
        (dict(alpha=float("nan")), ValueError, r"alpha must be a finite positive number, got nan"),
        (dict(alpha="8"), ValueError, r"alpha must be a finite positive number, got '8'"),
        (dict(dropout=1.0), ValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
        (dict(dropout=-0.1), ValueError, r"dropout must be a number in \[0, 1\)"),
        (
            dict(init="xavier"),
            ValueError,
            r"init must be one of \('kaiming', 'gaussian', 'pissa'\), got 'xavier'",
        ),
        (dict(targets=["attn.qry"]), ValueError, r"matches no nn.Linear.*blocks.0.attn.query"),
        (dict(targets=[]), ValueError, r"targets is empty"),
        (dict(targets=[3]), TypeError, r"a target must be"),
        (dict(trainable=("head",)), ValueError, r"trainable prefix 'head' names no parameter"),
    ],
)
def test_bad_input_is_a_clear_error_and_leaves_the_model_untouched(kwargs, error, message):
    enc = tiny_encoder()
    snap = _snapshot(enc)
    args = dict(targets=whisper_targets(["q", "mlp"]), rank=4, alpha=4) | kwargs
    with pytest.raises(error, match=message):
        add_lora(enc, **args)
    _assert_unchanged(enc, snap)


def test_rank_above_a_layers_min_dim_fails_before_any_wrap():
    model = nn.Sequential(nn.Linear(32, 32), nn.Linear(32, 4))
    snap = _snapshot(model)
    with pytest.raises(
        ValueError, match=r"rank must be an int in \[1, 4\].*for layer 1 \(4 x 32\).*got 8"
    ):
        add_lora(model, [re.compile(r"\d")], rank=8, alpha=8)
    _assert_unchanged(model, snap)


def test_failure_part_way_restores_the_model(monkeypatch):
    model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8))
    snap = _snapshot(model)
    calls = {"n": 0}
    original = LoRALinear.reset_lora_parameters

    def flaky(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated failure on the second layer")
        original(self)

    monkeypatch.setattr(LoRALinear, "reset_lora_parameters", flaky)
    with pytest.raises(RuntimeError, match="simulated"):
        add_lora(model, [re.compile(r"\d")], rank=2, alpha=2)
    _assert_unchanged(model, snap)
    assert not lora_layers(model)


def test_wrapping_twice_is_refused():
    enc = tiny_encoder()
    add_lora(enc, whisper_targets(["q"]), rank=2, alpha=2)
    snap = _snapshot(enc)
    with pytest.raises(ValueError, match="already wrapped"):
        add_lora(enc, whisper_targets(["q"]), rank=2, alpha=2)
    with pytest.raises(ValueError, match="already wrapped"):
        LoRALinear(enc.blocks[0].attn.query, 2, 2)
    _assert_unchanged(enc, snap)


def test_merge_twice_and_unmerge_unmerged_both_warn_and_change_nothing():
    layer = LoRALinear(nn.Linear(8, 8), 2, 2)
    with torch.no_grad():
        layer.lora_B.normal_()
    base = layer.weight.detach().clone()
    with pytest.warns(UserWarning, match="not merged; nothing changed"):
        layer.unmerge()
    assert torch.equal(layer.weight.detach(), base) and not layer.merged
    layer.merge()
    merged = layer.weight.detach().clone()
    with pytest.warns(UserWarning, match="already merged"):
        layer.merge()
    assert torch.equal(layer.weight.detach(), merged)


def test_model_level_merge_unmerge_remove():
    enc = tiny_encoder().eval()
    add_lora(enc, whisper_targets(["q", "v", "mlp"]), rank=4, alpha=4)
    for layer in lora_layers(enc).values():
        with torch.no_grad():
            layer.lora_B.normal_(std=0.02)
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        expected = enc(x)
        merge_lora(enc)
        torch.testing.assert_close(enc(x), expected, rtol=1e-4, atol=1e-4)
        unmerge_lora(enc)
        torch.testing.assert_close(enc(x), expected, rtol=1e-4, atol=1e-4)
        with pytest.warns(UserWarning, match="not merged"):
            unmerge_lora(enc)
        remove_lora(enc)
        assert not lora_layers(enc)
        assert type(enc.blocks[0].attn.query).__name__ == "Linear"
        torch.testing.assert_close(enc(x), expected, rtol=1e-4, atol=1e-4)


def test_lora_disabled_nests_and_refuses_a_model_without_lora():
    from lora_teach import add_lora, lora_disabled

    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="Sequential has no LoRA layers"):
        with lora_disabled(model):
            pass
    add_lora(model, ["0"], rank=2, alpha=2)
    layer = model[0]
    with lora_disabled(model):
        with lora_disabled(model):  # nested: a no-op inside, and the outer state comes back
            assert not layer.enabled
        assert not layer.enabled
    assert layer.enabled
