"""The training and validation sets of a run, as the inputs its classifier reads (log-mel
features, or the whitened strain itself)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lora_teach.gw.cache import load_or_generate
from lora_teach.gw.config import GWConfig
from lora_teach.train.config import TrainConfig
from lora_teach.train.features import classifier_inputs

__all__ = ["TrainingData", "prepare_data"]


@dataclass(frozen=True)
class TrainingData:
    """Inputs (n, 2, 80, frames) log-mel or (n, 2, samples) strain, labels and network SNRs (0 for noise) of both splits,
    read by name."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    snr_val: torch.Tensor
    snr_train: torch.Tensor


def prepare_data(
    config: TrainConfig, progress: bool = True, gw: GWConfig | None = None
) -> TrainingData:
    """The training and validation sets of ``config``, as its classifier's inputs (:class:`TrainingData`).

    The events come from ``gw`` if given (a harder variant, say), else from the default simulation
    at ``config.snr_range``.
    """
    gw = gw if gw is not None else GWConfig(snr_range=tuple(config.snr_range))
    fields = {}
    for split, n in (("train", config.n_train), ("val", config.n_val)):
        ds = load_or_generate(gw, n, config.data_seed, split, progress=progress)
        fields[f"x_{split}"] = classifier_inputs(
            ds.strain,
            sample_rate=gw.sample_rate,
            representation=config.representation,
            pad_to_30s=config.pad_to_30s,
        )
        fields[f"y_{split}"] = torch.from_numpy(ds.label).float()
        fields[f"snr_{split}"] = torch.from_numpy(ds.snr)
    return TrainingData(**fields)
