"""Ship a trained detector to Hugging Face transformers + PEFT, where most Whisper users run it.

:func:`export_transformers_adapter` writes a PEFT adapter directory whose tensors and
``target_modules`` carry transformers' names (``encoder.layers.N.self_attn.q_proj``, ``fc1``, ...;
:mod:`lora_teach.whisper.transformers_model`), loadable with ``PeftModel.from_pretrained`` onto a
``WhisperModel``. DoRA and rsLoRA travel as PEFT stores them; PiSSA as PEFT converts it for
sharing (a plain LoRA of rank 2r on the untouched weights).

The classifier's head (the two detectors' pooled tokens, concatenated, through an MLP) has no
counterpart in any transformers Whisper class, so PEFT's ``modules_to_save`` has no module to put
it in: it travels beside the adapter as ``head.safetensors`` (``nn.Sequential`` keys: ``0.weight``,
...), described by ``classifier.json`` (pooling, widths, the Whisper dimensions and input length
it was trained for). :func:`transformers_classifier` puts the pieces together and checks the
dimensions before PEFT touches the model.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from whisper.model import AudioEncoder

from lora_teach.files import atomic_write
from lora_teach.gw.config import GWConfig
from lora_teach.inject import lora_layers
from lora_teach.peft_format import export_peft_adapter
from lora_teach.train.checkpoint import load_trained
from lora_teach.train.classifier import TwoChannelClassifier
from lora_teach.train.config import TrainConfig
from lora_teach.train.features import n_frames as mel_frames
from lora_teach.whisper.transformers_model import shorten_encoder_inputs, transformers_name

__all__ = [
    "export_transformers_adapter",
    "export_run_to_transformers",
    "transformers_classifier",
    "TransformersTwoChannel",
]

FORMAT = "lora_teach.transformers_adapter/1"


def _dims(encoder: AudioEncoder, n_frames: int) -> dict:
    return {
        "num_mel_bins": encoder.conv1.in_channels,
        "d_model": encoder.ln_post.normalized_shape[0],
        "encoder_layers": len(encoder.blocks),
        "encoder_attention_heads": encoder.blocks[0].attn.n_head,
        "max_source_positions": n_frames // 2,
    }


def export_transformers_adapter(
    model: nn.Module,
    directory: str | os.PathLike,
    n_frames: int,
    whisper: str | None = None,
    inputs: dict | None = None,
) -> Path:
    """Write ``model``'s LoRA (a :class:`TwoChannelClassifier`, an openai-whisper ``Whisper`` or its
    ``AudioEncoder``) as a PEFT adapter for transformers' ``WhisperModel``, with the classifier's
    head beside it. ``n_frames``: the mel frames of the inputs it was trained on; ``whisper``: its
    size (``tiny.en``), recorded as ``openai/whisper-<size>``; ``inputs``: how the inputs are made,
    recorded in ``classifier.json`` for whoever scores with it. Everything is checked before a
    file is written."""
    encoder = model.encoder if hasattr(model, "encoder") else model
    if getattr(model, "stem", None) is not None:
        raise ValueError(
            "the classifier reads strain through a learned stem (representation='strain'), which "
            "transformers' Whisper does not have: only a log-mel classifier ships as an adapter"
        )
    if not isinstance(encoder, AudioEncoder):
        raise ValueError(
            f"{type(model).__name__} is neither a Whisper model, its AudioEncoder, nor a classifier on one"
        )
    most = 2 * encoder.positional_embedding.shape[0]
    if n_frames % 2 or not 2 <= n_frames <= most:
        raise ValueError(f"n_frames must be even, in [2, {most}], got {n_frames}")
    prefix = "encoder." if model is encoder else ""
    names = list(lora_layers(model))
    unmapped = []
    for name in names:
        try:
            transformers_name(prefix + name)
        except KeyError:
            unmapped.append(name)
    if unmapped:
        raise ValueError(
            f"LoRA layers with no transformers counterpart: {unmapped} (transformers' Whisper has "
            "attention projections, fc1 and fc2 in its encoder and decoder layers)"
        )
    head = model.head if isinstance(model, TwoChannelClassifier) else None
    described = {
        "format": FORMAT,
        "whisper": _dims(encoder, n_frames),
        "inputs": inputs,
        "head": None
        if head is None
        else {
            "file": "head.safetensors",
            "pooling": model.pooling,
            "widths": [layer.out_features for layer in head if isinstance(layer, nn.Linear)],
            "activation": "relu",
            "input": "pooled encoder tokens of H1 then L1, concatenated (2 d_model)",
        },
    }
    directory = Path(directory)
    base = f"openai/whisper-{whisper}" if whisper else None
    # classifier.json goes first and comes last: a failed export into an old one's folder leaves
    # no description, so the mix of old and new files is refused, never loaded
    (directory / "classifier.json").unlink(missing_ok=True)
    export_peft_adapter(model, directory, lambda name: transformers_name(prefix + name), base)
    if head is not None:
        tensors = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
        atomic_write(directory / "head.safetensors", lambda tmp: save_file(tensors, tmp))
    atomic_write(
        directory / "classifier.json",
        lambda tmp: Path(tmp).write_text(json.dumps(described, indent=2)),
    )
    return directory


def input_frames(config: TrainConfig) -> int:
    """The mel frames of the inputs a run of ``config`` trains on."""
    if config.pad_to_30s:
        return 3000
    gw = GWConfig()
    return mel_frames(gw.n_segment, gw.sample_rate, config.representation)


def export_run_to_transformers(run: str | os.PathLike, directory: str | os.PathLike) -> Path:
    """:func:`export_transformers_adapter` for the best checkpoint of a LoRA training run in
    folder ``run`` (what ``python -m lora_teach.train --export-transformers DIR`` does)."""
    stored = json.loads((Path(run) / "results.json").read_text())["config"]
    config = TrainConfig.from_record(stored, device="cpu")
    if config.strategy != "lora":
        raise ValueError(f"{run} is a {config.strategy} run: only a LoRA run ships as an adapter")
    if config.representation == "strain":
        raise ValueError(
            f"{run} reads strain through a learned stem, which transformers' Whisper does not "
            "have: only a log-mel LoRA run ships as an adapter"
        )
    model, frames, gw = load_trained(run), input_frames(config), GWConfig()
    inputs = {
        "made_by": "lora_teach.train.log_mel_batch (each detector's whitened strain on its own)",
        "detectors": list(gw.detectors),
        "sample_rate": gw.sample_rate,
        "seconds": gw.segment_seconds,
        "representation": config.representation,
        "pad_to_30s": config.pad_to_30s,
        "n_frames": frames,
    }
    return export_transformers_adapter(model, directory, frames, config.whisper, inputs)


class TransformersTwoChannel(nn.Module):
    """The book's classifier on a transformers Whisper encoder: one logit per event from the H1
    and L1 log-mel inputs, each (batch, n_mels, frames)."""

    def __init__(self, encoder: nn.Module, head: nn.Sequential, pooling: str):
        super().__init__()
        self.encoder, self.head, self.pooling = encoder, head, pooling

    def forward(self, h1: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(input_features=torch.cat([h1, l1])).last_hidden_state
        pooled = tokens.mean(dim=1) if self.pooling == "mean" else tokens[:, -1]
        h, l = pooled.chunk(2)
        return self.head(torch.cat([h, l], dim=-1)).squeeze(-1)


def transformers_classifier(
    whisper_model: nn.Module, directory: str | os.PathLike
) -> TransformersTwoChannel:
    """Load the classifier in ``directory`` onto transformers Whisper model ``whisper_model`` (a
    ``WhisperModel``, or a ``WhisperForConditionalGeneration``, whose ``.model`` is one) with
    ``PeftModel.from_pretrained``, its head beside it.

    The model is changed in place: one built for longer inputs (``from_pretrained``'s 30 s) is cut
    to the input length the adapter was trained on
    (:func:`~lora_teach.whisper.transformers_model.shorten_encoder_inputs`), and PEFT adds its LoRA
    layers; pass a copy to keep the original for transcription. Inputs are made as
    ``classifier.json``'s ``inputs`` says (:func:`lora_teach.train.log_mel_batch`).
    Raises ValueError, naming them, if the model's dimensions differ from the adapter's, or if the
    head file does not fit; the model is not touched then.
    """
    from peft import PeftModel
    from transformers import WhisperModel

    directory = Path(directory)
    try:
        described = json.loads((directory / "classifier.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{directory} holds no readable classifier.json: {err}") from err
    if described.get("format") != FORMAT or described.get("head") is None:
        raise ValueError(f"{directory} is not a classifier exported by export_transformers_adapter")
    model = getattr(whisper_model, "model", whisper_model)  # ForConditionalGeneration wraps one
    if not isinstance(model, WhisperModel):
        raise ValueError(
            f"{type(whisper_model).__name__} is not a transformers WhisperModel (or a model holding "
            "one as .model): the adapter's names are WhisperModel's"
        )
    config, wanted = model.config, described["whisper"]
    differ = [
        f"{k} {v} (adapter) vs {getattr(config, k, None)} (model)"
        for k, v in wanted.items()
        if k != "max_source_positions" and getattr(config, k, None) != v
    ]
    if config.max_source_positions < wanted["max_source_positions"]:
        differ.append(
            f"max_source_positions {wanted['max_source_positions']} (adapter) vs "
            f"{config.max_source_positions} (model, too few)"
        )
    if differ:
        raise ValueError(
            f"the adapter in {directory} was trained on another Whisper: " + "; ".join(differ)
        )
    head = _head(described["head"], config.d_model, directory)  # checked before PEFT runs
    _check_targets(directory, model)
    shorten_encoder_inputs(model, 2 * wanted["max_source_positions"])
    with warnings.catch_warnings():  # transformers' deprecation notice, raised inside PEFT
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
        peft_model = PeftModel.from_pretrained(model, str(directory))
    weight = next(model.parameters())
    head = head.to(device=weight.device, dtype=weight.dtype)
    return TransformersTwoChannel(
        peft_model.base_model.model.encoder, head, described["head"]["pooling"]
    ).eval()


def _check_targets(directory: Path, model: nn.Module) -> None:
    """Every tensor of the adapter must name a layer of ``model``: PEFT itself would only warn."""
    try:
        keys = load_file(directory / "adapter_model.safetensors").keys()
    except Exception as err:  # OSError or safetensors' own error types
        raise ValueError(f"{directory}/adapter_model.safetensors is unreadable: {err}") from err
    names = dict(model.named_modules())
    layers = {key.removeprefix("base_model.model.").split(".lora_")[0] for key in keys}
    missing = sorted(layer for layer in layers if layer not in names)
    if missing:
        raise ValueError(f"the adapter's layers {missing[:3]} are not in {type(model).__name__}")


def _head(spec: dict, d_model: int, directory: Path) -> nn.Sequential:
    width, layers = 2 * d_model, []
    for out in spec["widths"]:
        layers += [nn.Linear(width, out), nn.ReLU()]
        width = out
    head = nn.Sequential(*layers[:-1])  # no activation after the logit
    try:
        head.load_state_dict(load_file(directory / spec["file"]))
    except Exception as err:  # OSError, safetensors' errors, or load_state_dict's RuntimeError
        raise ValueError(
            f"{directory}/{spec['file']} does not hold the head classifier.json describes: {err}"
        ) from err
    return head
