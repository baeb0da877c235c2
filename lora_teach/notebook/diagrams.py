"""Diagrams drawn from the objects they show, so that the shapes they print stay true.

- :func:`lora_layer_diagram`: one ``LoRALinear``, the frozen W0 beside the r-wide path A, B.
- :func:`whisper_block_diagram`: one Whisper encoder block, its Linear layers with their shapes,
  the LoRA targets marked.
- :func:`pipeline_diagram`: strain in two detectors to one logit, with the shape at each stage as
  :func:`pipeline_shapes` measures it by running the stages.
- :func:`stem_diagram`: Whisper's log-mel stem beside the phase-preserving strain stem, both
  feeding Whisper's conv2 and blocks, with the shapes measured by running both.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyBboxPatch

from lora_teach.gw.config import GWConfig
from lora_teach.lora import LoRALinear
from lora_teach.train.features import log_mel
from lora_teach.whisper.encoder import encode
from lora_teach.whisper.strain_stem import encode_strain

__all__ = [
    "lora_layer_diagram",
    "whisper_block_diagram",
    "pipeline_shapes",
    "pipeline_diagram",
    "stem_shapes",
    "stem_diagram",
]

FROZEN, TRAINED, DATA = "#d9d9d9", "#fdb863", "#ffffff"


def _box(ax, x, y, w, h, text, colour, fontsize=9):
    """A rounded box centred at (x, y) with ``text`` inside."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.05",
            facecolor=colour,
            edgecolor="black",
            linewidth=0.8,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=None):
    ax.annotate(
        "", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", linewidth=0.9, color="black")
    )
    if text:
        ax.text(
            (start[0] + end[0]) / 2,
            (start[1] + end[1]) / 2 + 0.12,
            text,
            ha="center",
            va="bottom",
            fontsize=8,
            color="dimgray",
        )


def _canvas(width, height, title):
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return fig, ax


def _legend(ax, x, y, entries):
    for i, (colour, label) in enumerate(entries):
        _box(ax, x, y - 0.35 * i, 0.25, 0.2, "", colour)
        ax.text(x + 0.22, y - 0.35 * i, label, va="center", fontsize=8)


def lora_layer_diagram(layer):
    """The layer h = W0 x + s B A x of a ``LoRALinear``, with its shapes and scale."""
    d, k, r = layer.out_features, layer.in_features, layer.rank
    rule = "α/√r" if layer.rslora else "α/r"
    fig, ax = _canvas(9.0, 3.4, f"One LoRA layer, as built: d = {d}, k = {k}, r = {r}")
    _box(ax, 0.7, 1.7, 0.9, 0.6, f"x\n({k})", DATA)
    _box(ax, 3.4, 2.6, 2.0, 0.7, f"W₀  (frozen)\n{d} × {k}", FROZEN)
    _box(ax, 2.6, 0.8, 1.1, 0.6, f"A\n{r} × {k}", TRAINED)
    _box(ax, 4.2, 0.8, 1.1, 0.6, f"B\n{d} × {r}", TRAINED)
    _box(ax, 5.7, 0.8, 1.2, 0.6, f"× s = {rule}\n= {layer.scaling:g}", DATA, fontsize=8)
    _box(ax, 6.9, 1.7, 0.5, 0.5, "+", DATA, fontsize=12)
    _box(ax, 8.2, 1.7, 0.9, 0.6, f"h\n({d})", DATA)
    _arrow(ax, (1.15, 1.9), (2.4, 2.5))
    _arrow(ax, (1.15, 1.5), (2.05, 0.9))
    _arrow(ax, (3.15, 0.8), (3.65, 0.8), f"({r})")
    _arrow(ax, (4.75, 0.8), (5.1, 0.8))
    _arrow(ax, (4.4, 2.5), (6.7, 1.85), "W₀x")
    _arrow(ax, (6.3, 0.95), (6.75, 1.5))
    _arrow(ax, (7.15, 1.7), (7.75, 1.7))
    _legend(ax, 0.4, 3.05, [(FROZEN, "frozen"), (TRAINED, "trained")])
    return fig


def whisper_block_diagram(block, targets=None, block_name: str = "blocks.0"):
    """One encoder block: which of its Linear layers are ``q, k, v, out, mlp`` and which get LoRA.

    With ``targets`` (regexes matched against full names, as ``whisper_targets`` gives), a layer is
    marked when ``<block_name>.<its name>`` matches one; without, when it is already a LoRA layer.
    """
    names = ["attn.query", "attn.key", "attn.value", "attn.out", "mlp.0", "mlp.2"]
    modules = dict(block.named_modules())
    missing = [n for n in names if not hasattr(modules.get(n), "weight")]
    if missing:
        raise ValueError(f"not a Whisper encoder block: it has no Linear layers {missing}")
    shorthand = {
        "attn.query": "q",
        "attn.key": "k",
        "attn.value": "v",
        "attn.out": "out",
        "mlp.0": "mlp",
        "mlp.2": "mlp",
    }

    def label(name):
        layer = modules[name]
        w = layer.weight  # (out, in); a LoRA layer's is its frozen W0
        if targets is None:
            hit = isinstance(layer, LoRALinear)
        else:
            hit = any(re.fullmatch(t, f"{block_name}.{name}") for t in targets)
        text = f"{name}  ({shorthand[name]})\n{w.shape[1]} → {w.shape[0]}" + (
            "  + LoRA" if hit else ""
        )
        return text, TRAINED if hit else FROZEN

    fig, ax = _canvas(9.0, 5.6, "One Whisper encoder block: its Linear layers and the LoRA targets")
    y = 3.5  # the attention row
    _box(ax, 0.7, y, 0.9, 0.6, "tokens\n(T × d)", DATA)
    _box(ax, 1.95, y, 1.0, 0.5, "LayerNorm", FROZEN, fontsize=8)
    for yy, name in zip((y + 1.2, y, y - 1.2), ("attn.query", "attn.key", "attn.value")):
        text, colour = label(name)
        _box(ax, 3.5, yy, 1.7, 0.75, text, colour, fontsize=8)
        _arrow(ax, (2.45, y), (2.65, yy))
        _arrow(ax, (4.35, yy), (4.7, y))
    _box(ax, 5.2, y, 1.0, 0.9, "softmax\n(qkᵀ/√d) v", DATA, fontsize=8)
    text, colour = label("attn.out")
    _box(ax, 6.65, y, 1.5, 0.75, text, colour, fontsize=8)
    _arrow(ax, (5.7, y), (5.9, y))
    _box(ax, 7.85, y, 0.45, 0.45, "+", DATA, fontsize=11)
    _arrow(ax, (7.4, y), (7.62, y))
    ax.annotate(  # the residual connection around attention
        "",
        xy=(7.85, y + 0.23),
        xytext=(0.7, y + 0.3),
        arrowprops=dict(
            arrowstyle="->", linewidth=0.7, color="gray", connectionstyle="arc3,rad=-0.3"
        ),
    )
    row = 0.9  # the MLP row
    mlp = [label("mlp.0"), ("GELU", DATA), label("mlp.2")]
    for x, (text, colour) in zip((3.0, 4.85, 6.6), mlp):
        _box(ax, x, row, 1.75 if colour != DATA else 0.8, 0.7, text, colour, fontsize=8)
    _arrow(ax, (7.85, y - 0.23), (3.0, row + 0.36), "LayerNorm, then the MLP")
    _arrow(ax, (3.88, row), (4.45, row))
    _arrow(ax, (5.25, row), (5.72, row))
    _box(ax, 8.25, row, 0.85, 0.55, "+ (residual)\n→ next block", DATA, fontsize=7)
    _arrow(ax, (7.48, row), (7.82, row))
    _legend(ax, 0.4, 5.3, [(FROZEN, "frozen"), (TRAINED, "LoRA target")])
    return fig


def pipeline_shapes(classifier, gw_config=None, representation: str = "compressed") -> list:
    """(stage, shape) for one event, measured by running each stage on a noise-only sample of the
    right length: strain, whitened strain, crop, log-mel, encoder tokens, pooled, concatenated, logit.

    The first three are the simulation's array shapes (``GWConfig``); from the log-mel on, each
    shape is that of the tensor the stage returns."""
    gw = gw_config if gw_config is not None else GWConfig()
    n_detectors = len(gw.detectors)
    segment = np.random.default_rng(0).standard_normal(gw.n_segment)  # whitened noise
    mel = log_mel(segment, sample_rate=gw.sample_rate, representation=representation)
    with torch.no_grad():
        tokens = encode(classifier.encoder, mel[None])
        pooled = classifier.embed(mel[None])
        logit = classifier(mel[None], mel[None])
    hidden = [m.out_features for m in classifier.head if isinstance(m, torch.nn.Linear)]
    return [
        (
            "strain",
            f"{n_detectors} × {gw.n_noise} samples ({gw.noise_seconds:g} s at {gw.sample_rate} Hz)",
        ),
        ("whitened", f"{n_detectors} × {gw.n_noise}"),
        ("cropped", f"{n_detectors} × {gw.n_segment} ({gw.segment_seconds:g} s)"),
        ("log-mel", f"{n_detectors} × {mel.shape[0]} × {mel.shape[1]} (mels × frames)"),
        ("encoder", f"{n_detectors} × {tokens.shape[1]} × {tokens.shape[2]} (tokens × d)"),
        ("pooled", f"{n_detectors} × {pooled.shape[1]} (mean over tokens)"),
        ("concatenated", f"{n_detectors * pooled.shape[1]}"),
        ("head", " → ".join(str(h) for h in hidden[:-1]) + f" → {logit.shape[-1]} logit"),
    ]


def pipeline_diagram(shapes):
    """The data pipeline as boxes, one per stage of :func:`pipeline_shapes`, with its shape."""
    what = {
        "strain": "simulated strain\nH1, L1",
        "whitened": "whitening\n(divide by √PSD)",
        "cropped": "crop the\ncentral segment",
        "log-mel": "Whisper's\nlog-mel",
        "encoder": "shared encoder\n(same weights\nfor H1 and L1)",
        "pooled": "pooling",
        "concatenated": "concatenate\nH1 | L1",
        "head": "MLP head",
    }
    fig, ax = _canvas(12.0, 3.3, "From strain to one logit, with the shapes of one event")
    xs = [0.85 + 1.47 * i for i in range(len(shapes))]
    for i, (x, (stage, shape)) in enumerate(zip(xs, shapes)):
        colour = FROZEN if stage == "encoder" else (TRAINED if stage == "head" else DATA)
        _box(ax, x, 2.05, 1.3, 0.95, what.get(stage, stage), colour, fontsize=7.5)
        ax.text(
            x, 1.4 - 0.5 * (i % 2), shape.replace(" (", "\n("), ha="center", va="top", fontsize=7.5
        )
        if i:
            _arrow(ax, (xs[i - 1] + 0.66, 2.05), (x - 0.66, 2.05))
    _legend(
        ax, 0.4, 3.0, [(FROZEN, "pretrained (LoRA goes here)"), (TRAINED, "trained from scratch")]
    )
    return fig


def stem_shapes(classifier, gw_config=None) -> dict[str, tuple[int, ...]]:
    """The shapes of one detector's 2 s along both stems, measured by running them on noise:
    ``classifier`` reads strain (it has a ``stem``); its encoder's own conv1 reads the log-mel."""
    gw = gw_config if gw_config is not None else GWConfig()
    segment = np.random.default_rng(0).standard_normal(gw.n_segment)
    strain = torch.from_numpy(segment).float()[None]
    encoder, stem = classifier.encoder, classifier.stem
    with torch.no_grad():
        mel = log_mel(segment, sample_rate=gw.sample_rate)[None]
        conv1 = encoder.conv1(mel)
        filtered = stem(strain)
        tokens = encode_strain(encoder, stem, strain)
    return {
        "strain": tuple(strain.shape[1:]),
        "log-mel": tuple(mel.shape[1:]),
        "conv1": tuple(conv1.shape[1:]),
        "filters": tuple(filtered.shape[1:]),
        "tokens": tuple(tokens.shape[1:]),
        "kernel": (stem.kernel,),
        "stride": (stem.stride,),
    }


def stem_diagram(shapes: dict[str, tuple[int, ...]], sample_rate: int = 2048):
    """Two stems into one encoder: log-mel and Whisper's conv1 (top), the learned filter bank
    (bottom), then Whisper's conv2, blocks and the head; shapes from :func:`stem_shapes`."""
    (n,) = shapes["strain"]
    (kernel,), (stride,) = shapes["kernel"], shapes["stride"]
    channels, frames = shapes["filters"]
    tokens, width = shapes["tokens"]
    fig, ax = _canvas(12.0, 3.7, "Two ways into Whisper's blocks, with the shapes of one detector")
    top, bottom, middle = 2.75, 0.85, 1.8
    _box(
        ax, 1.0, middle, 1.5, 0.9, f"whitened strain\n{n} samples\n({n / sample_rate:g} s)", DATA, 8
    )
    mels, mel_frames = shapes["log-mel"]
    _box(
        ax,
        3.2,
        top,
        2.0,
        0.9,
        f"log-mel: |STFT|², mel,\nlog → {mels} × {mel_frames}\n(phase discarded)",
        DATA,
        8,
    )
    _box(
        ax,
        5.6,
        top,
        1.8,
        0.9,
        f"Whisper's conv1\n{mels} → {shapes['conv1'][0]}, GELU\n{shapes['conv1'][0]} × {shapes['conv1'][1]}",
        FROZEN,
        8,
    )
    seconds = kernel / sample_rate
    bank = f"filter bank: {channels} signed\nfilters of {kernel} samples\n({seconds:g} s) every {stride},\nGELU → {channels} × {frames}"
    _box(ax, 4.4, bottom, 3.0, 1.05, bank, TRAINED, 8)
    _box(
        ax, 8.0, middle, 1.7, 0.9, f"Whisper's conv2\nstride 2, GELU\n{width} × {tokens}", FROZEN, 8
    )
    _box(
        ax,
        9.9,
        middle,
        1.6,
        0.9,
        f"+ positions,\n{tokens} tokens through\nthe blocks (LoRA)",
        FROZEN,
        8,
    )
    _box(ax, 11.35, middle, 1.0, 0.9, "mean,\nhead", TRAINED, 8)
    _arrow(ax, (1.75, middle + 0.2), (2.2, top))
    _arrow(ax, (1.75, middle - 0.2), (2.9, bottom))
    _arrow(ax, (4.2, top), (4.7, top))
    _arrow(ax, (6.5, top), (7.15, middle + 0.2))
    _arrow(ax, (5.9, bottom), (7.15, middle - 0.2))
    _arrow(ax, (8.85, middle), (9.1, middle))
    _arrow(ax, (10.7, middle), (10.85, middle))
    _legend(ax, 0.4, 3.45, [(FROZEN, "pretrained (Whisper's)"), (TRAINED, "new, trained in full")])
    return fig
