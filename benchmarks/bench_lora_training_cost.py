"""Training cost of LoRA against full fine-tuning on the same batch (issue: fine-tuning Whisper).

    python benchmarks/bench_lora_training_cost.py

Whisper tiny.en (real weights) in the two-channel classifier, one batch of 32 events (cropped
inputs, 26 frames). Per variant: median training-step time (forward, backward, AdamW), timed in
alternation with the others in one run, and the memory a step needs beyond the weights, counted
exactly (lora_teach.train.cost). Ratios are against full fine-tuning; targets: both <= 0.5.

Levers: frozen weights need no gradient or optimiser state (every LoRA variant); LoRA only in the
upper blocks, so backward stops there and the lower blocks save nothing for it.
"""

import torch

from lora_teach.train.cost import adaptation_variants, measure_step_costs
from lora_teach.whisper.load import load_whisper

if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.manual_seed(0)
    models = adaptation_variants(load_whisper("tiny.en", device="cpu").encoder)
    h1, l1, y = torch.randn(32, 80, 26), torch.randn(32, 80, 26), torch.randint(0, 2, (32,)).float()
    costs = measure_step_costs(models, h1, l1, y, repeats=15)
    full = costs[0]
    print(
        f"whisper tiny.en classifier, batch 32 x 2 detectors x 26 frames, torch {torch.__version__}, 2 threads"
    )
    print(
        f"{'variant':22s} {'trainable':>10s} {'step ms':>8s} {'time/full':>9s} {'step MiB':>9s} {'mem/full':>8s}"
    )
    for c in costs:
        print(
            f"{c.name:22s} {c.trainable:10,d} {c.seconds * 1e3:8.1f} {c.seconds / full.seconds:9.2f} "
            f"{c.memory_bytes / 2**20:9.1f} {c.memory_bytes / full.memory_bytes:8.2f}"
        )
    print("targets: time/full <= 0.5 and memory/full <= 0.5")
