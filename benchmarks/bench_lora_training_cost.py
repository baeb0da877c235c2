"""Training cost of LoRA against full fine-tuning on the same batch (issue: fine-tuning Whisper).

    python benchmarks/bench_lora_training_cost.py

Whisper tiny.en (real weights) in the two-channel classifier, one batch of 32 events (cropped
inputs, 26 frames). For each variant: median training-step time (forward, backward, AdamW step),
measured interleaved with the others in one run, and the memory a step needs beyond the weights,
counted exactly: gradients + AdamW state + tensors autograd saves for backward (a saved-tensor
hook adds up their bytes, each storage once). Ratios are against full fine-tuning.

Levers measured: frozen weights need no gradient or optimiser state (every LoRA variant); LoRA only
in the upper blocks, so backward stops there and the lower blocks save nothing for it.
"""
from __future__ import annotations

import copy
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import interleaved_medians  # noqa: E402

from lora_teach import add_lora  # noqa: E402
from lora_teach.classifier import StrategyConfig, build_classifier  # noqa: E402
from lora_teach.whisper import load_whisper  # noqa: E402

torch.set_num_threads(2)


def variants(encoder):
    full = build_classifier(copy.deepcopy(encoder), StrategyConfig("full_finetune", head=(256,)))
    lora_all = build_classifier(copy.deepcopy(encoder), StrategyConfig("lora", head=(256,)))
    out = {"full fine-tune": full, "LoRA q,k,v,mlp, all blocks": lora_all}
    n = len(encoder.blocks)
    for first in (n // 2, n - 1):
        blocks = "|".join(str(i) for i in range(first, n))
        model = build_classifier(copy.deepcopy(encoder), StrategyConfig("frozen_encoder", head=(256,)))
        pattern = re.compile(rf"encoder\.blocks\.({blocks})\.(attn\.(query|key|value)|mlp\.(0|2))")
        add_lora(model, [pattern], rank=8, alpha=8, trainable=("head",))
        out[f"LoRA q,k,v,mlp, blocks {blocks.replace('|', ',')}"] = model
    out["frozen encoder (head only)"] = build_classifier(copy.deepcopy(encoder), StrategyConfig("frozen_encoder", head=(256,)))
    return out


def step_memory(model, h1, l1, y) -> int:
    """Bytes of gradients + optimiser state + saved activations for one step."""
    seen, saved = set(), [0]

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        params = {p.untyped_storage().data_ptr() for p in model.parameters()}
        if key[0] not in params and key not in seen:
            seen.add(key)
            saved[0] += key[1]
        return t

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(h1, l1), y)
    loss.backward()
    opt.step()
    trainable = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    return saved[0] + trainable * 3  # gradient + AdamW's two moments


def main():
    torch.manual_seed(0)
    encoder = load_whisper("tiny.en", device="cpu").encoder
    models = variants(encoder)
    h1, l1 = torch.randn(32, 80, 26), torch.randn(32, 80, 26)
    y = torch.randint(0, 2, (32,)).float()
    memory = {name: step_memory(m, h1, l1, y) for name, m in models.items()}
    fns = {}
    for name, model in models.items():
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

        def step(model=model, opt=opt):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.binary_cross_entropy_with_logits(model(h1, l1), y).backward()
            opt.step()
        fns[name] = step
    times = interleaved_medians(fns, repeats=15, warmup=3)
    base_t, base_m = times["full fine-tune"], memory["full fine-tune"]
    print(f"whisper tiny.en classifier, batch 32 x 2 detectors x 26 frames, torch {torch.__version__}, 2 threads")
    print(f"{'variant':34s} {'trainable':>10s} {'step ms':>8s} {'time/full':>9s} {'step MiB':>9s} {'mem/full':>8s}")
    for name, model in models.items():
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(f"{name:34s} {trainable:10,d} {times[name] * 1e3:8.1f} {times[name] / base_t:9.2f} "
              f"{memory[name] / 2**20:9.1f} {memory[name] / base_m:8.2f}")
    print("targets: time/full <= 0.5 and memory/full <= 0.5")


if __name__ == "__main__":
    main()
