"""Adapters move between lora_teach and PEFT, both ways, with identical outputs."""

import copy
import json

import pytest
import torch

peft = pytest.importorskip("peft")

from helpers import tiny_encoder  # noqa: E402

from lora_teach import add_lora, lora_layers  # noqa: E402
from lora_teach.peft_format import export_peft_adapter, import_peft_adapter  # noqa: E402
from lora_teach.whisper.targets import whisper_targets  # noqa: E402


def _base():
    torch.manual_seed(0)
    return tiny_encoder().eval()


def test_export_loads_in_peft_with_identical_outputs(tmp_path):
    ours = add_lora(_base(), whisper_targets(["q", "v", "mlp"]), rank=4, alpha=8)
    for layer in lora_layers(ours).values():
        torch.nn.init.normal_(layer.lora_B, std=0.05)
    export_peft_adapter(ours, tmp_path)
    theirs = peft.PeftModel.from_pretrained(_base(), str(tmp_path)).eval()
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), ours(x), rtol=1e-5, atol=1e-5)


def test_peft_saved_adapter_imports_with_identical_outputs(tmp_path):
    config = peft.LoraConfig(
        r=4, lora_alpha=16, target_modules=["attn.query", "attn.key", "mlp.0"], use_rslora=True
    )
    theirs = peft.get_peft_model(_base(), config)
    for name, p in theirs.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.05)
    theirs.save_pretrained(str(tmp_path))
    ours = import_peft_adapter(_base(), tmp_path)
    assert len(lora_layers(ours)) == 6 and all(layer.rslora for layer in lora_layers(ours).values())
    x = torch.randn(2, 80, 40)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs.eval()(x), rtol=1e-5, atol=1e-5)


def test_unsupported_or_mismatched_adapters_are_refused_and_model_unchanged(tmp_path):
    ours = add_lora(_base(), whisper_targets(["q"]), rank=4, alpha=8)
    export_peft_adapter(ours, tmp_path)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    (tmp_path / "adapter_config.json").write_text(json.dumps(config | {"fan_in_fan_out": True}))
    fresh = _base()
    before = copy.deepcopy(fresh.state_dict())
    with pytest.raises(ValueError, match="fan_in_fan_out=True is not supported"):
        import_peft_adapter(fresh, tmp_path)
    (tmp_path / "adapter_config.json").write_text(json.dumps(config | {"use_dora": True}))
    with pytest.raises(
        ValueError, match=r"blocks.0.attn.query.lora_magnitude_vector should be \(64,\), found None"
    ):
        import_peft_adapter(fresh, tmp_path)
    (tmp_path / "adapter_config.json").write_text(json.dumps(config | {"r": 8}))
    with pytest.raises(
        ValueError, match=r"blocks.0.attn.query.lora_A should be \(8, 64\), found \(4, 64\)"
    ):
        import_peft_adapter(fresh, tmp_path)
    assert not lora_layers(fresh) and all(
        torch.equal(before[k], v) for k, v in fresh.state_dict().items()
    )
    with pytest.raises(ValueError, match="not a readable PEFT adapter directory"):
        import_peft_adapter(fresh, tmp_path / "missing")
    for key in ("r", "lora_alpha"):
        lacking = {k: v for k, v in config.items() if k != key}
        (tmp_path / "adapter_config.json").write_text(json.dumps(lacking))
        with pytest.raises(
            ValueError, match=rf"lacks \['{key}'\]: a LoRA config needs r and lora_alpha"
        ):
            import_peft_adapter(fresh, tmp_path)
    assert not lora_layers(fresh)


def test_mixed_ranks_cannot_be_exported(tmp_path):
    import re

    model = add_lora(_base(), [re.compile(r"blocks\.0\.attn\.query")], rank=2, alpha=2)
    add_lora(model, [re.compile(r"blocks\.1\.attn\.query")], rank=4, alpha=4)
    with pytest.raises(ValueError, match="one rank/alpha/rsLoRA/dropout/DoRA/PiSSA for all layers"):
        export_peft_adapter(model, tmp_path)
