"""save_adapter / load_adapter: round trip, size, and every mismatch a clear error."""

import re

import pytest
import torch
from helpers import tiny_encoder  # noqa: E402
from torch import nn

from lora_teach import add_lora, load_adapter, lora_layers, save_adapter
from lora_teach.whisper.targets import whisper_targets


def _trained(seed=0, rank=4, targets=("q", "v")):
    torch.manual_seed(seed)
    enc = tiny_encoder().eval()
    add_lora(enc, whisper_targets(targets), rank=rank, alpha=8)
    for layer in lora_layers(enc).values():
        with torch.no_grad():
            layer.lora_B.normal_(std=0.05)
    return enc


def _fresh():
    torch.manual_seed(0)
    return tiny_encoder().eval()


def test_round_trip_into_a_fresh_base_reproduces_outputs(tmp_path):
    enc = _trained()
    path = save_adapter(enc, tmp_path / "adapter.safetensors")
    fresh = load_adapter(_fresh(), path)
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), enc(x), rtol=0, atol=0)
    assert sorted(lora_layers(fresh)) == sorted(lora_layers(enc))
    assert all(
        p.requires_grad == n.endswith(("lora_A", "lora_B")) for n, p in fresh.named_parameters()
    )


def test_load_into_existing_lora_layers(tmp_path):
    enc = _trained()
    path = save_adapter(enc, tmp_path / "a.safetensors")
    other = _fresh()
    add_lora(other, whisper_targets(["q", "v"]), rank=4, alpha=8)
    load_adapter(other, path)
    for name, layer in lora_layers(other).items():
        assert torch.equal(layer.lora_B, lora_layers(enc)[name].lora_B)


def test_adapter_holds_only_lora_tensors(tmp_path):
    enc = _trained()
    path = save_adapter(enc, tmp_path / "a.safetensors")
    lora_bytes = sum(
        p.numel() * 4 for n, p in enc.named_parameters() if n.endswith(("lora_A", "lora_B"))
    )
    assert lora_bytes < path.stat().st_size < lora_bytes + 8192


def _snapshot(model):
    return {n: p.detach().clone() for n, p in model.state_dict().items()}


@pytest.mark.parametrize(
    "prepare, message",
    [
        (
            lambda m: add_lora(m, whisper_targets(["q", "v"]), rank=2, alpha=8),
            r"has rank=2 in the model but 4",
        ),
        (
            lambda m: add_lora(m, whisper_targets(["q", "v"]), rank=4, alpha=4),
            r"has alpha=4.0 in the model but 8",
        ),
        (
            lambda m: add_lora(m, whisper_targets(["q", "v"]), rank=4, alpha=8, rslora=True),
            r"has rslora=True in the model but False",
        ),
        (
            lambda m: add_lora(m, whisper_targets(["q", "v"]), rank=4, alpha=8, dropout=0.1),
            r"has dropout=0.1 in the model but 0",
        ),
        (
            lambda m: add_lora(m, whisper_targets(["q"]), rank=4, alpha=8),
            r"LoRA layers .* differ from the adapter",
        ),
    ],
)
def test_mismatch_is_an_error_and_model_unchanged(tmp_path, prepare, message):
    path = save_adapter(_trained(), tmp_path / "a.safetensors")
    model = _fresh()
    prepare(model)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=message):
        load_adapter(model, path)
    after = _snapshot(model)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_shape_and_model_mismatch(tmp_path):
    path = save_adapter(_trained(), tmp_path / "a.safetensors")
    from whisper.model import AudioEncoder

    wider = AudioEncoder(80, 20, 96, 4, 2)
    with pytest.raises(
        ValueError, match=r"layer 'blocks.0.attn.query' is \(96, 96\) .* but \(64, 64\)"
    ):
        load_adapter(wider, path)
    assert not lora_layers(wider)
    with pytest.raises(
        ValueError, match=r"saved from a AudioEncoder, but the model is a Sequential"
    ):
        load_adapter(nn.Sequential(nn.Linear(64, 64)), path)
    shallow = AudioEncoder(80, 20, 64, 4, 1)
    with pytest.raises(
        ValueError,
        match=r"adapter for layer 'blocks.1.attn.query', which AudioEncoder does not have",
    ):
        load_adapter(shallow, path)


def test_corrupt_and_truncated_files(tmp_path):
    path = save_adapter(_trained(), tmp_path / "a.safetensors")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a safetensors file at all")
    for bad in (truncated, garbage):
        model = _fresh()
        with pytest.raises(ValueError, match="not a readable adapter file"):
            load_adapter(model, bad)
        assert not lora_layers(model)
    with pytest.raises(FileNotFoundError, match="no adapter file"):
        load_adapter(_fresh(), tmp_path / "missing.safetensors")


def test_different_base_weights_warn(tmp_path):
    path = save_adapter(_trained(), tmp_path / "a.safetensors")
    torch.manual_seed(123)
    with pytest.warns(UserWarning, match="base weight differs"):
        load_adapter(tiny_encoder(), path)


def test_save_without_lora_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no LoRALinear layers"):
        save_adapter(_fresh(), tmp_path / "a.safetensors")
    assert not any(tmp_path.iterdir())


def test_mixed_ranks_round_trip(tmp_path):
    torch.manual_seed(0)
    enc = tiny_encoder().eval()
    add_lora(enc, [re.compile(r"blocks\.0\.attn\.query")], rank=2, alpha=2)
    add_lora(enc, [re.compile(r"blocks\.1\.mlp\.0")], rank=8, alpha=16)
    for layer in lora_layers(enc).values():
        with torch.no_grad():
            layer.lora_B.normal_()
    fresh = load_adapter(_fresh(), save_adapter(enc, tmp_path / "a.safetensors"))
    assert {n: l.rank for n, l in lora_layers(fresh).items()} == {
        "blocks.0.attn.query": 2,
        "blocks.1.mlp.0": 8,
    }
    assert all(l.lora_A.requires_grad for l in lora_layers(fresh).values())
