"""Whisper's encoder on short inputs: the same weights, the positional embedding cut to length."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from whisper.model import AudioEncoder

__all__ = ["encode"]


def encode(encoder: AudioEncoder, mel: torch.Tensor) -> torch.Tensor:
    """Run Whisper's ``AudioEncoder`` on ``mel`` (batch, 80, frames) with frames <= 3000, even.

    Whisper asserts a 30 s (3000-frame) input. The encoder itself works on any length: its
    positional embedding is added token by token, so using only the first ``frames / 2``
    positions runs the same weights on the short input, 15-30x cheaper for 1-2 s signals.
    For a 3000-frame input this is exactly ``encoder(mel)``.
    """
    if mel.dim() != 3:
        raise ValueError(f"mel must be (batch, n_mels, frames), got shape {tuple(mel.shape)}")
    n_mels = encoder.conv1.in_channels
    if mel.shape[1] != n_mels:
        raise ValueError(f"mel has {mel.shape[1]} mel bins, this encoder expects {n_mels}")
    frames = mel.shape[2]
    full = encoder.positional_embedding
    max_frames = 2 * full.shape[0]
    if frames > max_frames or frames < 2 or frames % 2:
        raise ValueError(
            f"mel must have an even number of frames in [2, {max_frames}], got {frames}"
        )
    # AudioEncoder.forward, with the positional embedding cut to the input's length.
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = (x + full[: x.shape[1]]).to(x.dtype)
    for block in encoder.blocks:
        x = block(x)
    return encoder.ln_post(x)
