"""A phase-preserving stem for Whisper's encoder: whitened strain in, tokens out.

Whisper's stem reads an 80-bin log-mel image (|STFT|^2, every phase discarded) through two
convolutions: ``conv1`` (80 mel bins -> d channels) and ``conv2`` (d -> d, stride 2). This stem
replaces ``conv1`` with a learned bank of d signed 1-D filters that read the whitened strain
(``kernel`` samples long, one output every ``stride`` samples) and feeds Whisper's own,
pretrained ``conv2`` and blocks. With the defaults, 512-sample (0.25 s) filters every 160 samples
give 26 frames for 2 s at 2048 Hz: the frame rate of the ``compressed`` log-mel input, so both
inputs reach the blocks as the same 13 tokens. The filter bank is linear in the strain and holds
d x 26 = 9984 numbers for 4096 samples: nothing is lost before the first nonlinearity. It is new,
so it trains in full (as the head does).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from whisper.model import AudioEncoder

__all__ = ["StrainStem", "encode_strain", "stem_frames"]

KERNEL, STRIDE = 512, 160


def stem_frames(samples: int, kernel: int = KERNEL, stride: int = STRIDE) -> int:
    """Filter-bank frames for ``samples`` of strain (each filter centred, zero-padded)."""
    return (samples + 2 * (kernel // 2) - kernel) // stride + 1


class StrainStem(nn.Module):
    """(batch, samples) whitened strain -> (batch, d_model, frames): what ``conv1`` gives conv2."""

    def __init__(self, d_model: int, kernel: int = KERNEL, stride: int = STRIDE):
        super().__init__()
        for name, value in (("d_model", d_model), ("kernel", kernel), ("stride", stride)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.kernel, self.stride = kernel, stride
        self.filters = nn.Conv1d(1, d_model, kernel, stride=stride, padding=kernel // 2)

    def forward(self, strain: torch.Tensor) -> torch.Tensor:
        if strain.dim() != 2:
            raise ValueError(f"strain must be (batch, samples), got shape {tuple(strain.shape)}")
        if strain.shape[1] < self.kernel:
            raise ValueError(
                f"strain has {strain.shape[1]} samples, fewer than the filters' {self.kernel}"
            )
        return F.gelu(self.filters(strain[:, None]))


def encode_strain(encoder: AudioEncoder, stem: StrainStem, strain: torch.Tensor) -> torch.Tensor:
    """Whisper's ``conv2`` and blocks on the stem's frames, the positions cut to their number."""
    x = F.gelu(encoder.conv2(stem(strain))).permute(0, 2, 1)
    positions = encoder.positional_embedding
    if x.shape[1] > positions.shape[0]:
        raise ValueError(
            f"the stem gives {x.shape[1]} tokens, more than the encoder's {positions.shape[0]} "
            "positions: use a larger stride or a shorter input"
        )
    x = (x + positions[: x.shape[1]]).to(x.dtype)
    for block in encoder.blocks:
        x = block(x)
    return encoder.ln_post(x)
