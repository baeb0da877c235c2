"""What each LoRA variant costs per training step, and DoRA's cost at inference, merged or not.

    python benchmarks/bench_variants_step.py

Whisper tiny.en (real weights) in the two-channel classifier, one batch of 32 events (cropped
inputs), LoRA r = 8 on q, k, v and the MLP. Training: median step time (forward, backward,
AdamW), all variants timed in alternation in one run, and the step's memory beyond the weights,
counted exactly (lora_teach.train.cost). DoRA's extra work is one row norm of W0 + s B A per adapted
layer and step (with the norm held constant in backward). Inference: DoRA unmerged recomputes that
norm at every call; merged, W = m / ||W0 + s B A|| (W0 + s B A) is computed once and the model
costs what the base costs.
"""

from __future__ import annotations

import copy

import torch

from lora_teach import add_lora, merge_lora
from lora_teach.timing import interleaved_medians
from lora_teach.train.classifier import build_classifier
from lora_teach.train.config import TrainConfig
from lora_teach.train.cost import measure_step_costs
from lora_teach.whisper.load import load_whisper

VARIANTS = {
    "LoRA": {},
    "rsLoRA": dict(rslora=True),
    "PiSSA": dict(init="pissa"),
    "DoRA": dict(dora=True),
}

if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.manual_seed(0)
    encoder = load_whisper("tiny.en", device="cpu").encoder
    config = TrainConfig()
    models = {}
    for name, options in VARIANTS.items():
        model = build_classifier(copy.deepcopy(encoder), TrainConfig(strategy="frozen_encoder"))
        models[name] = add_lora(
            model, config.lora_targets(), rank=8, alpha=8, trainable=("head",), **options
        )
    h1, l1 = torch.randn(32, 80, 26), torch.randn(32, 80, 26)
    y = torch.randint(0, 2, (32,)).float()
    costs = {c.name: c for c in measure_step_costs(models, h1, l1, y, repeats=21)}
    lora = costs["LoRA"]
    print(
        f"whisper tiny.en classifier, batch 32 x 2 x 26 frames, r = 8 on q,k,v,mlp, torch {torch.__version__}, 2 threads"
    )
    print(
        f"{'variant':8s} {'trainable':>10s} {'step ms':>8s} {'time/LoRA':>9s} {'step MiB':>9s} {'mem/LoRA':>8s}"
    )
    for c in costs.values():
        print(
            f"{c.name:8s} {c.trainable:10,d} {c.seconds * 1e3:8.1f} {c.seconds / lora.seconds:9.3f} "
            f"{c.memory_bytes / 2**20:9.1f} {c.memory_bytes / lora.memory_bytes:8.3f}"
        )

    dora = models["DoRA"].eval()
    with torch.no_grad():  # a trained-looking DoRA: B and the magnitude away from their start
        for name, p in dora.named_parameters():
            if name.endswith(("lora_B", "lora_magnitude")):
                p.add_(0.01 * torch.randn_like(p))
    merged = merge_lora(copy.deepcopy(dora))
    base = build_classifier(copy.deepcopy(encoder), TrainConfig(strategy="frozen_encoder")).eval()
    with torch.inference_mode():
        torch.testing.assert_close(merged(h1, l1), dora(h1, l1), rtol=1e-4, atol=1e-4)
        medians = interleaved_medians(
            {
                "base": lambda: base(h1, l1),
                "DoRA unmerged": lambda: dora(h1, l1),
                "DoRA merged": lambda: merged(h1, l1),
            },
            repeats=21,
        )
    print("\ninference, batch 32:")
    for name, seconds in medians.items():
        print(f"{name:14s} {seconds * 1e3:7.1f} ms   {seconds / medians['base']:.3f} x base")
