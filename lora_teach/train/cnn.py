"""The from-scratch controls: small CNNs that read the same inputs as the Whisper classifiers.

- :class:`StrainCNN`: the field's standard learned search (after Gabbard et al. 2018, "Matching
  matched filtering with deep networks"): 1-D convolutions and max-pooling over the two
  detectors' whitened strain, stacked as channels, so it can line up H1 and L1 coherently.
- :class:`LogMelCNN`: 2-D convolutions over the two log-mel images, stacked as channels: does
  Whisper's pretraining help on its own input?

Both take ``(h1, l1)`` and return one logit per event, as the Whisper classifier does. Each
convolution is followed by batch normalisation: without it the log-mel CNN's first run at the
shared learning rate (1e-3) collapsed to a constant output within its first 8000 samples
(validation AUC 0.5 at every validation) and never recovered.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["StrainCNN", "LogMelCNN", "build_cnn"]


class StrainCNN(nn.Module):
    """(batch, samples) per detector -> one logit; filters of 64, 32, 16 samples, each followed by
    batch normalisation, ReLU and max-pooling by 4."""

    def __init__(self, samples: int, channels: tuple[int, ...] = (16, 32, 64), hidden: int = 64):
        super().__init__()
        layers, width, length = [], 2, samples
        for out, kernel in zip(channels, (64, 32, 16)):
            layers += [nn.Conv1d(width, out, kernel), nn.BatchNorm1d(out), nn.ReLU()]
            layers += [nn.MaxPool1d(4)]
            width, length = out, (length - kernel + 1) // 4
        if length < 1:
            raise ValueError(f"{samples} samples are too few for StrainCNN's three stages")
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(width * length, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, h1: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(torch.stack([h1, l1], dim=1))).squeeze(-1)


class LogMelCNN(nn.Module):
    """(batch, 80, frames) per detector -> one logit; 3x3 convolutions with batch normalisation
    and ReLU, max-pooling by 2 after the first two."""

    def __init__(self, mels: int, frames: int, channels=(16, 32, 64), hidden: int = 64):
        super().__init__()
        layers, width = [], 2
        for i, out in enumerate(channels):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            layers += [nn.MaxPool2d(2)] if i < len(channels) - 1 else []
            width = out
        pooled = 2 ** (len(channels) - 1)
        if mels < pooled or frames < pooled:
            raise ValueError(f"a ({mels}, {frames}) log-mel image is too small for LogMelCNN")
        self.features = nn.Sequential(*layers, nn.Flatten())
        size = width * (mels // pooled) * (frames // pooled)
        self.head = nn.Sequential(nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, h1: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(torch.stack([h1, l1], dim=1))).squeeze(-1)


def build_cnn(input_shape: tuple[int, ...]) -> nn.Module:
    """The control for one detector's input shape: (samples,) strain or (mels, frames) log-mel."""
    if len(input_shape) == 1:
        return StrainCNN(input_shape[0])
    if len(input_shape) == 2:
        return LogMelCNN(*input_shape)
    raise ValueError(f"input_shape must be (samples,) or (mels, frames), got {input_shape}")
