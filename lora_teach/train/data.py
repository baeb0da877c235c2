"""The training and validation sets of a run, as the log-mel features its classifier reads."""

from __future__ import annotations

from typing import NamedTuple

import torch

from lora_teach.gw.cache import load_or_generate
from lora_teach.gw.config import GWConfig
from lora_teach.train.config import TrainConfig
from lora_teach.train.features import log_mel_batch

__all__ = ["TrainingData", "prepare_data"]


class TrainingData(NamedTuple):
    """Log-mel features (n, 2, 80, frames), labels and network SNRs (0 for noise) of both splits."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    snr_val: torch.Tensor
    snr_train: torch.Tensor


def prepare_data(
    config: TrainConfig, progress: bool = True, gw: GWConfig | None = None
) -> TrainingData:
    """The training and validation sets of ``config``, as log-mel features (:class:`TrainingData`).

    The events come from ``gw`` if given (a harder variant, say), else from the default simulation
    at ``config.snr_range``.
    """
    gw = gw if gw is not None else GWConfig(snr_range=tuple(config.snr_range))
    out = []
    for split, n in (("train", config.n_train), ("val", config.n_val)):
        ds = load_or_generate(gw, n, config.data_seed, split, progress=progress)
        mels = log_mel_batch(
            ds.strain,
            sample_rate=gw.sample_rate,
            representation=config.representation,
            pad_to_30s=config.pad_to_30s,
        )
        out.append((mels, torch.from_numpy(ds.label).float(), torch.from_numpy(ds.snr)))
    (x_train, y_train, snr_train), (x_val, y_val, snr_val) = out
    return TrainingData(x_train, y_train, x_val, y_val, snr_val, snr_train)
