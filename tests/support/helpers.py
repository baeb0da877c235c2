"""Small builders shared by the unit tests."""

import torch


def tiny_encoder(n_layer: int = 2, n_state: int = 64, n_head: int = 4, device=None):
    """A small Whisper AudioEncoder with random weights (architecture tests only)."""
    from whisper.model import AudioEncoder

    with torch.device(device or "cpu"):
        return AudioEncoder(n_mels=80, n_ctx=20, n_state=n_state, n_head=n_head, n_layer=n_layer)
