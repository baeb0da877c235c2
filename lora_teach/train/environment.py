"""What a run needs of the machine it starts on, checked there (not in the config, so that a
GPU run's record still reads back on a CPU machine)."""

from __future__ import annotations

import torch
import whisper

from lora_teach.train.config import TrainConfig
from lora_teach.whisper.load import OFFLINE_PACKAGES

__all__ = ["check_environment"]


def check_environment(config: TrainConfig) -> None:
    """Raise ValueError if ``config.whisper`` is no Whisper model this package can load or
    ``config.device`` is a CUDA device this machine does not have."""
    known = set(whisper.available_models()) | set(OFFLINE_PACKAGES)
    if config.whisper not in known:
        raise ValueError(
            f"whisper must be a Whisper model name ({', '.join(sorted(known))}), "
            f"got {config.whisper!r}"
        )
    if config.on_cuda and not torch.cuda.is_available():
        raise ValueError(
            f"device {config.device!r} asked for, but CUDA is not available on this machine"
        )
