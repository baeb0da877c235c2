"""A LoRA training step on the phase-preserving strain input against one on log-mel, side by side.

    python benchmarks/bench_strain_step.py

Whisper tiny.en (real weights) in the two-channel classifier, one batch of 64 events (the
``scale`` profile's), LoRA r = 8 on q, k, v and the MLP, the fused LoRA layer (the recorded runs'
float32 path is the plain one; both are timed). Inputs: the compressed log-mel image (80 x 26
frames per detector, Whisper's stem) and 2 s of whitened strain at 2048 Hz (the strain stem:
512-sample filters every 160 samples, then Whisper's conv2). Both reach the blocks as 13 tokens,
so the stem's own work is the difference. A third column asks what a finer frame rate would
cost: the same stem every 80 samples, 26 tokens. Whole steps (forward, backward, AdamW), timed in
alternation (lora_teach.timing), medians; the target is strain / log-mel <= 2. Writes
``data/results/detection/strain_step.json``, which chapter 7 prints.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from lora_teach._paths import DETECTION
from lora_teach.files import write_json_atomic
from lora_teach.provenance import provenance
from lora_teach.timing import interleaved_medians
from lora_teach.train.classifier import build_classifier
from lora_teach.train.config import TrainConfig
from lora_teach.whisper.load import load_whisper
from lora_teach.whisper.strain_stem import StrainStem

BATCH, SAMPLES, FRAMES = 64, 4096, 26


def step_fn(model: nn.Module, h1: torch.Tensor, l1: torch.Tensor):
    trained = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=1e-5)
    y = torch.randint(0, 2, (len(h1),)).float()

    def step():
        optimiser.zero_grad(set_to_none=True)
        nn.functional.binary_cross_entropy_with_logits(model(h1, l1), y).backward()
        optimiser.step()

    return step


def classifier(encoder, fused: bool, representation: str, stride: int | None = None):
    config = TrainConfig(fused=fused, representation=representation)
    model = build_classifier(copy.deepcopy(encoder), config)
    if stride is not None:  # the finer-frame alternative, not the recorded design
        model.stem = StrainStem(model.stem.filters.out_channels, stride=stride)
    return model


if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.manual_seed(0)
    encoder = load_whisper("tiny.en", device="cpu").encoder
    mel = torch.randn(2, BATCH, 80, FRAMES)
    strain = torch.randn(2, BATCH, SAMPLES)
    steps = {}
    for fused in (False, True):
        tag = "fused" if fused else "plain"
        steps[f"log-mel {tag}"] = step_fn(classifier(encoder, fused, "compressed"), *mel)
        steps[f"strain {tag}"] = step_fn(classifier(encoder, fused, "strain"), *strain)
    steps["strain fused, every 80"] = step_fn(classifier(encoder, True, "strain", 80), *strain)
    times = interleaved_medians(steps, repeats=15)
    print(f"whisper tiny.en, batch {BATCH} x 2 detectors, LoRA r = 8 on q,k,v,mlp, 2 threads")
    ratios = {}
    for name, seconds in times.items():
        base = times["log-mel " + ("fused" if "fused" in name else "plain")]
        ratios[name] = seconds / base
        print(f"  {name:24s} {1e3 * seconds:7.1f} ms/step  {seconds / base:5.2f}x log-mel")
    record = {
        "batch": BATCH,
        "step_ms": {k: round(1e3 * v, 1) for k, v in times.items()},
        "ratio_to_log_mel": {k: round(v, 3) for k, v in ratios.items()},
    }
    write_json_atomic(record | provenance("cpu", 2), DETECTION / "strain_step.json")
