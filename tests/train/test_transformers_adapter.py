"""Adapters exported in transformers' names load with PEFT onto transformers' WhisperModel (the
same pretrained weights, converted offline) and give this package's outputs; bad input is refused."""

import dataclasses
import json

import numpy as np
import pytest
import torch

peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from lora_teach.gw import GWConfig, crop, draw_params, simulate  # noqa: E402
from lora_teach.inject import add_lora, lora_layers  # noqa: E402
from lora_teach.train import TrainConfig, build_classifier, log_mel_batch, save_trained  # noqa: E402
from lora_teach.train.transformers_adapter import (  # noqa: E402
    export_run_to_transformers,
    export_transformers_adapter,
    input_frames,
    transformers_classifier,
)
from lora_teach.whisper import encode, load_whisper  # noqa: E402
from lora_teach.whisper.transformers_model import transformers_name, transformers_whisper  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # transformers' own deprecations
CPU = TrainConfig.from_profile("cpu")


@pytest.fixture(scope="module")
def whisper_model():
    return load_whisper("tiny.en", device="cpu")


@pytest.fixture(scope="module")
def features():
    """Log-mel features of four simulated events (signals in H1 and L1 noise), as training sees them."""
    config = GWConfig()
    params = draw_params(config, 4, np.random.default_rng(5))
    rng = np.random.default_rng(6)
    strain = np.stack(
        [crop(config, simulate(config, params, i, i % 2 == 0, rng)["whitened"]) for i in range(4)]
    )
    return log_mel_batch(strain, sample_rate=config.sample_rate, representation=CPU.representation)


def _classifier(**variant):
    torch.manual_seed(0)
    config = dataclasses.replace(CPU, strategy="lora", **variant)
    model = build_classifier(load_whisper("tiny.en", device="cpu").encoder, config).eval()
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora_B.normal_(0, 0.05)
            if layer.dora:  # away from its start (the weight's norm), so a lost magnitude shows
                layer.lora_magnitude.mul_(1 + 0.1 * torch.rand_like(layer.lora_magnitude))
    return model


def test_names_map_every_weight_of_whisper(whisper_model):
    assert transformers_name("encoder.blocks.3.attn.key") == "encoder.layers.3.self_attn.k_proj"
    assert transformers_name("encoder.blocks.0.mlp.2") == "encoder.layers.0.fc2"
    assert (
        transformers_name("decoder.blocks.1.cross_attn.query")
        == "decoder.layers.1.encoder_attn.q_proj"
    )
    with pytest.raises(KeyError):
        transformers_name("head.0")


def test_converted_model_gives_openai_whispers_outputs(whisper_model, features):
    frames = features.shape[-1]
    assert frames == input_frames(CPU)
    hf = transformers_whisper(whisper_model, frames)
    mel = features.flatten(0, 1)  # (events x detectors, 80, frames)
    tokens = torch.tensor([[50257, 50362, 440, 2068, 7586]])
    with torch.no_grad():
        ours = encode(whisper_model.encoder, mel)
        theirs = hf.encoder(input_features=mel).last_hidden_state
        torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-5)
        audio = ours[:1]
        logits = whisper_model.decoder(tokens, audio)
        hidden = hf.decoder(input_ids=tokens, encoder_hidden_states=audio).last_hidden_state
        torch.testing.assert_close(
            hidden @ hf.decoder.embed_tokens.weight.T, logits, rtol=0, atol=1e-4
        )
    with pytest.raises(ValueError, match="length 26"):  # transformers' own check: one input length
        hf.encoder(input_features=torch.zeros(1, 80, 40))


@pytest.mark.parametrize(
    "variant",
    [{}, {"dora": True}, {"rslora": True}, {"init": "pissa"}],
    ids=["lora", "dora", "rslora", "pissa"],
)
def test_exported_classifier_loads_with_peft_and_matches(
    whisper_model, features, tmp_path, variant
):
    ours = _classifier(**variant)
    frames = features.shape[-1]
    export_transformers_adapter(ours, tmp_path, frames, "tiny.en")
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "openai/whisper-tiny.en"
    assert "encoder.layers.0.self_attn.q_proj" in config["target_modules"]
    assert config["use_dora"] == bool(variant.get("dora")) and config["use_rslora"] == bool(
        variant.get("rslora")
    )
    theirs = transformers_classifier(transformers_whisper(whisper_model, frames), tmp_path)
    with torch.no_grad():
        expected = ours(features[:, 0], features[:, 1])
        torch.testing.assert_close(
            theirs(features[:, 0], features[:, 1]), expected, rtol=0, atol=1e-5
        )
        assert expected.std() > 1e-3  # the events are told apart: a real comparison


def test_a_training_run_exports_from_its_folder(whisper_model, features, tmp_path):
    model = _classifier()
    config = dataclasses.replace(CPU, strategy="lora")
    save_trained(model, config, tmp_path / "run")
    (tmp_path / "run" / "results.json").write_text(json.dumps({"config": config.record()}))
    export_run_to_transformers(tmp_path / "run", tmp_path / "hf")
    inputs = json.loads((tmp_path / "hf" / "classifier.json").read_text())["inputs"]
    assert inputs["representation"] == CPU.representation and inputs["n_frames"] == 26
    theirs = transformers_classifier(
        transformers_whisper(whisper_model, features.shape[-1]), tmp_path / "hf"
    )
    with torch.no_grad():
        torch.testing.assert_close(
            theirs(features[:, 0], features[:, 1]),
            model(features[:, 0], features[:, 1]),
            rtol=0,
            atol=1e-5,
        )
    frozen = dataclasses.replace(CPU, strategy="frozen_encoder")
    (tmp_path / "run" / "results.json").write_text(json.dumps({"config": frozen.record()}))
    with pytest.raises(ValueError, match="frozen_encoder run: only a LoRA run ships as an adapter"):
        export_run_to_transformers(tmp_path / "run", tmp_path / "hf2")
    assert not (tmp_path / "hf2").exists()


def test_targets_without_a_counterpart_are_refused_and_nothing_written(tmp_path):
    model = _classifier()
    add_lora(model, ["head.0"], rank=2, alpha=2)
    with pytest.raises(ValueError, match=r"no transformers counterpart: \['head.0'\]"):
        export_transformers_adapter(model, tmp_path / "out", 26, "tiny.en")
    assert not (tmp_path / "out").exists()


def test_another_whisper_size_or_input_length_is_refused_before_peft_touches_it(
    whisper_model, tmp_path
):
    export_transformers_adapter(_classifier(), tmp_path, 26, "tiny.en")
    wider = transformers.WhisperModel(
        transformers.WhisperConfig(
            d_model=512,
            encoder_layers=6,
            encoder_attention_heads=8,
            decoder_attention_heads=8,
            max_source_positions=13,
        )
    )
    before = {k: v.clone() for k, v in wider.state_dict().items()}
    with pytest.raises(
        ValueError,
        match=r"another Whisper: d_model 384 \(adapter\) vs 512 \(model\); encoder_layers 4",
    ):
        transformers_classifier(wider, tmp_path)
    assert all(torch.equal(v, before[k]) for k, v in wider.state_dict().items())
    assert not any("lora" in name for name, _ in wider.named_modules())
    with pytest.raises(
        ValueError, match=r"max_source_positions 13 \(adapter\) vs 10 \(model, too few\)"
    ):
        transformers_classifier(transformers_whisper(whisper_model, 20), tmp_path)
    (tmp_path / "head.safetensors").write_bytes(b"not a tensor file")
    short = transformers_whisper(whisper_model, 26)
    with pytest.raises(ValueError, match="does not hold the head classifier.json describes"):
        transformers_classifier(short, tmp_path)
    assert not any("lora" in name for name, _ in short.named_modules())


def test_a_model_loaded_the_usual_way_is_cut_to_the_adapters_inputs(
    whisper_model, features, tmp_path
):
    """What a transformers user holds: a 30 s WhisperForConditionalGeneration from a checkpoint."""
    transformers_whisper(whisper_model, 3000).save_pretrained(tmp_path / "whisper")
    ours = _classifier()
    export_transformers_adapter(ours, tmp_path / "adapter", features.shape[-1], "tiny.en")
    for kind in (transformers.WhisperModel, transformers.WhisperForConditionalGeneration):
        loaded = kind.from_pretrained(tmp_path / "whisper")
        assert loaded.config.max_source_positions == 1500
        theirs = transformers_classifier(loaded, tmp_path / "adapter")
        with torch.no_grad():
            torch.testing.assert_close(
                theirs(features[:, 0], features[:, 1]),
                ours(features[:, 0], features[:, 1]),
                rtol=0,
                atol=1e-5,
            )


@pytest.mark.slow
def test_training_command_ships_the_adapter(tmp_path, capsys):
    from lora_teach.train.cli import main

    argv = ["--model", "lora", "--n-train", "16", "--n-val", "16", "--snr-range", "20,30"]
    argv += ["--epochs", "1", "--out", str(tmp_path / "run"), "--no-progress"]
    assert main(argv + ["--export-transformers", str(tmp_path / "hf")]) == 0
    assert "adapter for transformers' WhisperModel ->" in capsys.readouterr().out
    shipped = sorted(p.name for p in (tmp_path / "hf").iterdir())
    assert shipped == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "classifier.json",
        "head.safetensors",
    ]
