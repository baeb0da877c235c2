"""Saving what a training run learned, and rebuilding the trained classifier from it.

A run folder holds ``results.json`` (its config among the rest) and what the strategy trained:
adapter + head (LoRA), head (frozen encoder), or the whole model (full fine-tuning).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from lora_teach.adapter import load_adapter, save_adapter
from lora_teach.files import atomic_write
from lora_teach.inject import lora_layers
from lora_teach.train.classifier import build_classifier
from lora_teach.train.config import TrainConfig
from lora_teach.whisper.load import load_whisper

__all__ = ["save_trained", "load_trained", "trained_files"]


def trained_files(model: str) -> list[str]:
    """The files a run of strategy ``model`` saves, in its folder."""
    if model == "lora":
        return ["best_adapter.safetensors", "best_head.safetensors"]
    return ["best_head.safetensors" if model == "frozen_encoder" else "best_model.safetensors"]


def save_trained(model: nn.Module, config: TrainConfig, out: str | os.PathLike) -> list[str]:
    """Write what ``config.strategy`` trained into folder ``out``; return the file names."""
    out = Path(out)
    files = trained_files(config.strategy)
    if config.strategy == "lora":
        save_adapter(model, out / files[0])
    state = model.state_dict() if config.strategy == "full_finetune" else model.head.state_dict()
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    atomic_write(out / files[-1], lambda tmp: save_file(tensors, tmp))
    return files


def load_trained(run: str | os.PathLike, into: nn.Module | None = None) -> nn.Module:
    """The classifier a run in folder ``run`` trained, in eval mode: the inverse of :func:`save_trained`.

    By default a fresh classifier is built on freshly loaded pretrained Whisper weights. With
    ``into`` (a classifier built for the same config), the run's weights are loaded into it instead:
    swapping one LoRA adapter and head for another in an already loaded model takes milliseconds.
    """
    run = Path(run)
    if not (run / "results.json").is_file():
        raise FileNotFoundError(
            f"{run} holds no results.json: is it a training run's output folder?"
        )
    stored = json.loads((run / "results.json").read_text())["config"]
    config = TrainConfig.from_record(stored, device="cpu")
    missing = [f for f in trained_files(config.strategy) if not (run / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{run} lacks {missing}: the run saved no best checkpoint (was out= given?)"
        )
    model = into
    if model is not None and config.strategy != "lora" and lora_layers(model):
        raise ValueError(
            f"{run} is a {config.strategy} run, but the model to load it into has LoRA layers, whose "
            "update would stay active: load it into a model without LoRA (or omit into=)"
        )
    if model is None:
        encoder = load_whisper(config.whisper, device="cpu").encoder
        model = build_classifier(encoder, dataclasses.replace(config, strategy="frozen_encoder"))
    if config.strategy == "full_finetune":
        model.load_state_dict(load_file(run / "best_model.safetensors"))
    else:
        if config.strategy == "lora":
            load_adapter(model, run / "best_adapter.safetensors")
        model.head.load_state_dict(load_file(run / "best_head.safetensors"))
    return model.eval()
