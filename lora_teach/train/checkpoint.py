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


def trained_files(model: str, stem: bool = False) -> list[str]:
    """The files a run of strategy ``model`` saves, in its folder (``stem``: it reads strain
    through a learned stem, saved beside the head)."""
    if model in ("full_finetune", "cnn"):
        return ["best_model.safetensors"]
    files = ["best_adapter.safetensors"] if model == "lora" else []
    return files + ["best_head.safetensors"] + (["best_stem.safetensors"] if stem else [])


def _save_state(module: nn.Module, path: Path) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp))


def save_trained(model: nn.Module, config: TrainConfig, out: str | os.PathLike) -> list[str]:
    """Write what ``config.strategy`` trained into folder ``out``; return the file names."""
    out = Path(out)
    files = trained_files(config.strategy, stem=config.representation == "strain")
    if config.strategy in ("full_finetune", "cnn"):
        _save_state(model, out / files[0])
        return files
    if config.strategy == "lora":
        save_adapter(model, out / files[0])
    _save_state(model.head, out / "best_head.safetensors")
    if model.stem is not None:
        _save_state(model.stem, out / "best_stem.safetensors")
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
    files = trained_files(config.strategy, stem=config.representation == "strain")
    missing = [f for f in files if not (run / f).is_file()]
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
    if model is None and config.strategy == "cnn":
        model = build_classifier(None, config)
    elif model is None:
        encoder = load_whisper(config.whisper, device="cpu").encoder
        # the weights come from the run: the blocks' pretrained or random start does not matter
        plain = dataclasses.replace(config, strategy="frozen_encoder", pretrained=True)
        model = build_classifier(encoder, plain)
    if config.strategy in ("full_finetune", "cnn"):
        model.load_state_dict(load_file(run / "best_model.safetensors"))
    else:
        if config.strategy == "lora":
            load_adapter(model, run / "best_adapter.safetensors")
        model.head.load_state_dict(load_file(run / "best_head.safetensors"))
        if model.stem is not None:
            model.stem.load_state_dict(load_file(run / "best_stem.safetensors"))
    return model.eval()
