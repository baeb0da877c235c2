"""The gravitational-wave classifier: H1 and L1 through one shared Whisper encoder, then an MLP.

And the three adaptation strategies the training chapter compares, set up from a ``TrainConfig``.
"""

from __future__ import annotations

import torch
from torch import nn
from whisper.model import AudioEncoder

from lora_teach._checks import is_int
from lora_teach.inject import add_lora
from lora_teach.train.config import TrainConfig
from lora_teach.train.profiles import DEFAULT_HEAD, POOLINGS
from lora_teach.whisper.encoder import encode

__all__ = ["TwoChannelClassifier", "build_classifier", "REFERENCE_HEAD"]

REFERENCE_HEAD = (1024, 512, 256)  # the presentation's head: 2d -> 1024 -> 512 -> 256 -> 1


class TwoChannelClassifier(nn.Module):
    """One logit per event from the H1 and L1 log-mel inputs, each (batch, 80, frames).

    ``pooling="last"`` takes the last token (the reference's choice; with 30 s padding that token
    lies in the padding, with cropped inputs it lies in the signal); ``"mean"`` averages all tokens.
    """

    def __init__(
        self, encoder: AudioEncoder, pooling: str = "mean", head: tuple[int, ...] = DEFAULT_HEAD
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not head or not all(is_int(h) and h > 0 for h in head):
            raise ValueError(f"head must be a tuple of positive ints (hidden widths), got {head!r}")
        self.encoder = encoder
        self.pooling = pooling
        width = 2 * encoder.ln_post.normalized_shape[0]
        layers: list[nn.Module] = []
        for hidden in head:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)

    def embed(self, mel: torch.Tensor) -> torch.Tensor:
        tokens = encode(self.encoder, mel)  # (batch, frames / 2, d)
        return tokens.mean(dim=1) if self.pooling == "mean" else tokens[:, -1]

    def forward(self, h1: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
        if h1.shape != l1.shape:
            raise ValueError(
                f"H1 and L1 inputs must have the same shape, got {tuple(h1.shape)} and {tuple(l1.shape)}"
            )
        both = self.embed(torch.cat([h1, l1]))  # one pass through the shared encoder
        h, l = both.chunk(2)
        return self.head(torch.cat([h, l], dim=-1)).squeeze(-1)


def build_classifier(encoder: AudioEncoder, config: TrainConfig) -> TwoChannelClassifier:
    """Wrap ``encoder`` in a classifier and set what trains, as ``config.strategy`` says.

    - ``full_finetune``: every parameter trains;
    - ``frozen_encoder``: only the head trains;
    - ``lora``: LoRA on ``config.targets`` (in ``config.blocks``) plus the head, as a variant if
      ``config`` asks (``init="pissa"``, ``rslora``, ``dora``); the encoder's own weights are frozen.
    """
    model = TwoChannelClassifier(encoder, pooling=config.pooling, head=config.head)
    if config.strategy == "full_finetune":
        model.requires_grad_(True)
    elif config.strategy == "frozen_encoder":
        model.encoder.requires_grad_(False)
        model.head.requires_grad_(True)
    else:
        add_lora(
            model,
            config.lora_targets(),
            rank=config.rank,
            alpha=config.alpha,
            trainable=("head",),
            init=config.init,
            rslora=config.rslora,
            dora=config.dora,
            fused=config.fused,
        )
    return model
