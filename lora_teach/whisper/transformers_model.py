"""openai-whisper's module tree in Hugging Face transformers' names, and the same model built there.

The two implementations hold the same weights under different names (``encoder.blocks.N.attn.query``
is ``encoder.layers.N.self_attn.q_proj``), and differ where it matters for this book in one
place: transformers' encoder accepts only inputs of ``2 * max_source_positions`` mel frames (30 s),
while :func:`lora_teach.whisper.encoder.encode` runs any even length with the positional
embedding cut to it. :func:`transformers_whisper` therefore builds the model for a given input
length, with the pretrained embedding's first rows; :func:`shorten_encoder_inputs` does the same
to a model loaded the usual way (``WhisperModel.from_pretrained("openai/whisper-tiny.en")``). The rest is alike: both leave the key
projection without a bias, use exact GELU and layer norms with eps 1e-5, and scale attention by
1/sqrt(head width) (openai-whisper splits it as d^-1/4 on both queries and keys: a rounding
difference only).
"""

from __future__ import annotations

import re

import torch
from whisper.model import Whisper

__all__ = [
    "transformers_name",
    "transformers_state_dict",
    "transformers_config",
    "transformers_whisper",
]

_BLOCK_PARTS = {
    "attn.query": "self_attn.q_proj",
    "attn.key": "self_attn.k_proj",
    "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj",
    "attn_ln": "self_attn_layer_norm",
    "cross_attn.query": "encoder_attn.q_proj",
    "cross_attn.key": "encoder_attn.k_proj",
    "cross_attn.value": "encoder_attn.v_proj",
    "cross_attn.out": "encoder_attn.out_proj",
    "cross_attn_ln": "encoder_attn_layer_norm",
    "mlp.0": "fc1",
    "mlp.2": "fc2",
    "mlp_ln": "final_layer_norm",
}
_MODULES = {
    "encoder.conv1": "encoder.conv1",
    "encoder.conv2": "encoder.conv2",
    "encoder.ln_post": "encoder.layer_norm",
    "decoder.ln": "decoder.layer_norm",
    "decoder.token_embedding": "decoder.embed_tokens",
}
_BLOCK = re.compile(r"^(encoder|decoder)\.blocks\.(\d+)\.(.+)$")


def transformers_name(name: str) -> str:
    """The transformers ``WhisperModel`` name of openai-whisper module ``name`` (relative to a
    ``Whisper`` model: ``encoder.blocks.0.attn.query`` -> ``encoder.layers.0.self_attn.q_proj``).
    Raises KeyError for a module transformers has no counterpart of."""
    if name in _MODULES:
        return _MODULES[name]
    match = _BLOCK.match(name)
    if match and match[3] in _BLOCK_PARTS:
        return f"{match[1]}.layers.{match[2]}.{_BLOCK_PARTS[match[3]]}"
    raise KeyError(name)


def transformers_config(model: Whisper, n_frames: int):
    """A ``WhisperConfig`` with ``model``'s dimensions, for inputs of ``n_frames`` mel frames."""
    from transformers import WhisperConfig

    dims = model.dims
    if n_frames % 2 or not 2 <= n_frames <= 2 * dims.n_audio_ctx:
        raise ValueError(f"n_frames must be even, in [2, {2 * dims.n_audio_ctx}], got {n_frames}")
    return WhisperConfig(
        vocab_size=dims.n_vocab,
        num_mel_bins=dims.n_mels,
        d_model=dims.n_audio_state,
        encoder_layers=dims.n_audio_layer,
        encoder_attention_heads=dims.n_audio_head,
        encoder_ffn_dim=4 * dims.n_audio_state,
        decoder_layers=dims.n_text_layer,
        decoder_attention_heads=dims.n_text_head,
        decoder_ffn_dim=4 * dims.n_text_state,
        max_source_positions=n_frames // 2,
        max_target_positions=dims.n_text_ctx,
        activation_function="gelu",
        scale_embedding=False,
    )


def transformers_state_dict(model: Whisper, n_frames: int) -> dict[str, torch.Tensor]:
    """``model``'s weights under ``WhisperModel``'s names, the encoder's positional embedding cut
    to ``n_frames / 2`` positions."""
    out = {
        "encoder.embed_positions.weight": model.encoder.positional_embedding[: n_frames // 2],
        "decoder.embed_positions.weight": model.decoder.positional_embedding,
    }
    for key, value in model.state_dict().items():
        if key.endswith("positional_embedding") or key.startswith("decoder.mask"):
            continue
        module, _, kind = key.rpartition(".")
        out[f"{transformers_name(module)}.{kind}"] = value
    return {k: v.detach().clone() for k, v in out.items()}


def transformers_whisper(model: Whisper, n_frames: int):
    """A transformers ``WhisperModel`` holding ``model``'s weights, for ``n_frames``-frame inputs
    (eval mode, float32). Checked: every weight placed, none left at its random start."""
    from transformers import WhisperModel

    hf = WhisperModel(transformers_config(model, n_frames))
    missing, unexpected = hf.load_state_dict(transformers_state_dict(model, n_frames), strict=False)
    if missing or unexpected:
        raise RuntimeError(f"weights not placed: missing {missing}, unexpected {unexpected}")
    return hf.eval()


def shorten_encoder_inputs(whisper_model, n_frames: int):
    """Make transformers Whisper model ``whisper_model`` (in place) take ``n_frames``-frame inputs,
    as :func:`lora_teach.whisper.encoder.encode` runs openai-whisper: its encoder's positional
    embedding keeps its first ``n_frames / 2`` rows. Returns the model."""
    encoder = whisper_model.get_encoder()
    positions = encoder.embed_positions.weight.shape[0]
    if n_frames % 2 or not 2 <= n_frames <= 2 * positions:
        raise ValueError(f"n_frames must be even, in [2, {2 * positions}], got {n_frames}")
    kept = encoder.embed_positions.weight.detach()[: n_frames // 2].clone()
    encoder.embed_positions = torch.nn.Embedding.from_pretrained(kept, freeze=True)
    for config in {id(c): c for c in (whisper_model.config, encoder.config)}.values():
        config.max_source_positions = n_frames // 2
    encoder.max_source_positions = n_frames // 2
    return whisper_model
