"""The gravitational-wave classifier: H1 and L1 through one shared Whisper encoder, then an MLP.

And the adaptation strategies the training chapter compares, set up from a ``TrainConfig``; the
encoder reads log-mel images through Whisper's stem, or whitened strain through a learned one
(``representation="strain"``).
"""

from __future__ import annotations

import torch
from torch import nn
from whisper.model import AudioEncoder

from lora_teach._checks import is_int
from lora_teach.gw.config import GWConfig
from lora_teach.inject import add_lora
from lora_teach.train.cnn import build_cnn
from lora_teach.train.config import TrainConfig
from lora_teach.train.features import n_frames
from lora_teach.train.profiles import DEFAULT_HEAD, POOLINGS
from lora_teach.whisper.encoder import encode
from lora_teach.whisper.strain_stem import StrainStem, encode_strain

__all__ = ["TwoChannelClassifier", "build_classifier", "input_shape", "REFERENCE_HEAD"]

REFERENCE_HEAD = (1024, 512, 256)  # the presentation's head: 2d -> 1024 -> 512 -> 256 -> 1


class TwoChannelClassifier(nn.Module):
    """One logit per event from the H1 and L1 inputs: log-mel images (batch, 80, frames), or,
    with a ``stem``, whitened strain (batch, samples).

    ``pooling="last"`` takes the last token (the reference's choice; with 30 s padding that token
    lies in the padding, with cropped inputs it lies in the signal); ``"mean"`` averages all tokens.
    """

    def __init__(
        self,
        encoder: AudioEncoder,
        pooling: str = "mean",
        head: tuple[int, ...] = DEFAULT_HEAD,
        stem: StrainStem | None = None,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not head or not all(is_int(h) and h > 0 for h in head):
            raise ValueError(f"head must be a tuple of positive ints (hidden widths), got {head!r}")
        self.encoder = encoder
        self.stem = stem
        self.pooling = pooling
        width = 2 * encoder.ln_post.normalized_shape[0]
        layers: list[nn.Module] = []
        for hidden in head:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        if self.stem is None:
            tokens = encode(self.encoder, x)  # (batch, frames / 2, d)
        else:
            tokens = encode_strain(self.encoder, self.stem, x)
        return tokens.mean(dim=1) if self.pooling == "mean" else tokens[:, -1]

    def forward(self, h1: torch.Tensor, l1: torch.Tensor) -> torch.Tensor:
        if h1.shape != l1.shape:
            raise ValueError(
                f"H1 and L1 inputs must have the same shape, got {tuple(h1.shape)} and {tuple(l1.shape)}"
            )
        both = self.embed(torch.cat([h1, l1]))  # one pass through the shared encoder
        h, l = both.chunk(2)
        return self.head(torch.cat([h, l], dim=-1)).squeeze(-1)


def input_shape(config: TrainConfig, gw: GWConfig | None = None) -> tuple[int, ...]:
    """One detector's input: (samples,) of strain, or (80, frames) of log-mel."""
    gw = gw if gw is not None else GWConfig(snr_range=config.snr_range)
    if config.representation == "strain":
        return (gw.n_segment,)
    if config.pad_to_30s:
        return (80, 3000)
    return (80, n_frames(gw.n_segment, gw.sample_rate, config.representation))


def _randomise(encoder: AudioEncoder) -> None:
    """Every learned weight drawn afresh, as PyTorch initialises a new layer (the control that
    asks whether the pretraining helps); the sinusoidal positions are not learned and stay."""
    for module in encoder.modules():
        if module is not encoder and hasattr(module, "reset_parameters"):
            module.reset_parameters()


def build_classifier(encoder: AudioEncoder | None, config: TrainConfig) -> nn.Module:
    """Wrap ``encoder`` in a classifier and set what trains, as ``config.strategy`` says.

    - ``full_finetune``: every parameter trains (from random blocks if ``config.pretrained`` is
      False);
    - ``frozen_encoder``: only the head (and a strain stem) trains;
    - ``lora``: LoRA on ``config.targets`` (in ``config.blocks``) plus the head and a strain stem,
      which are new and train in full (PEFT's ``modules_to_save``), as a variant if ``config`` asks
      (``init="pissa"``, ``rslora``, ``dora``); the encoder's own weights are frozen;
    - ``cnn``: no encoder (pass None); a small CNN from scratch on the same input
      (:mod:`lora_teach.train.cnn`).
    """
    if config.strategy == "cnn":
        return build_cnn(input_shape(config))
    stem = None
    if config.representation == "strain":
        stem = StrainStem(encoder.ln_post.normalized_shape[0])
    if not config.pretrained:
        _randomise(encoder)
    model = TwoChannelClassifier(encoder, pooling=config.pooling, head=config.head, stem=stem)
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
            trainable=("head", "stem") if stem is not None else ("head",),
            init=config.init,
            rslora=config.rslora,
            dora=config.dora,
            fused=config.fused,
        )
    return model
