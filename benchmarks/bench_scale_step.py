"""Where a training step's time goes, LoRA against full fine-tuning, at the scale profile's batch.

    python benchmarks/bench_scale_step.py

Whisper tiny.en (real weights) in the two-channel classifier, one batch of 64 events (the
``scale`` profile's), cropped inputs. First the side-by-side medians of whole steps (forward,
backward, AdamW; timed in alternation, so machine noise hits both alike) with the ratio LoRA/full
(target <= 0.75; the FLOP bound is about 2/3: LoRA skips the frozen weights' gradients but not
the input gradients). Then a profile of each step, its self CPU time grouped by kind of work:
the matrix products, attention's softmax, the elementwise rest, and AdamW; the difference between
the two columns is where LoRA saves time and where it does not. LoRA's own products (those with
a dimension of size r: x A^T, (.) B^T and their gradients) are a kind of their own. The
profiler's per-operator overhead inflates a model of many small operators (LoRA has five more per
adapted layer), so its totals are for where time goes, not for the ratio. The floor is timed
instead, beside the other two: LoRA on block 0's query alone, which back-propagates through every
frozen layer exactly as LoRA does but has almost no adapter work; LoRA's own work is the
difference between the LoRA step and that floor. Fourth, the same LoRA with ``fused=True``
(:mod:`lora_teach.fused_lora`: the same forward, a hand-written backward that takes LoRA's thin
products in the orientations the matrix library runs fast and the input gradient as one product
with the merged weight), timed in the same alternation; its gradients agree with the plain path's
to float32 rounding (``tests/test_fused_lora.py``).
"""

from __future__ import annotations

import collections
import copy

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from lora_teach.inject import lora_layers
from lora_teach.train.classifier import build_classifier
from lora_teach.train.config import TrainConfig
from lora_teach.train.cost import adaptation_variants, measure_step_costs
from lora_teach.whisper.load import load_whisper

BATCH, FRAMES = 64, 26
# adaptation_variants' LoRA rank: no other tensor in the step has a dimension this size
RANK = TrainConfig().rank
KINDS = {  # profiler op name -> kind of work (anything else: "elementwise and other")
    "aten::mm": "matrix products",
    "aten::addmm": "matrix products",
    "aten::bmm": "matrix products",
    "aten::convolution_backward": "convolutions",
    "aten::mkldnn_convolution": "convolutions",
    "aten::_softmax": "softmax",
    "aten::_softmax_backward_data": "softmax",
    "aten::_scaled_dot_product_flash_attention_for_cpu": "attention kernel",
    "aten::_scaled_dot_product_flash_attention_for_cpu_backward": "attention kernel",
}


def step_fn(model: nn.Module, h1, l1, y):
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)

    def step():
        optimiser.zero_grad(set_to_none=True)
        logits = model(h1, l1)
        nn.functional.binary_cross_entropy_with_logits(logits, y).backward()
        optimiser.step()

    return step


def profile_by_kind(step, repeats: int = 5) -> dict[str, float]:
    """Self CPU milliseconds per step, summed by kind of work."""
    for _ in range(2):
        step()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for _ in range(repeats):
            step()
    totals: dict[str, float] = collections.Counter()
    for event in prof.key_averages(group_by_input_shape=True):
        name = event.key
        if name.startswith("Optimizer.step") or name.startswith("aten::_foreach"):
            kind = "AdamW" if name.startswith("aten::_foreach") else None
        elif KINDS.get(name) == "matrix products" and any(
            RANK in shape for shape in event.input_shapes if shape
        ):
            kind = "LoRA's own rank-r products"
        else:
            kind = KINDS.get(name, "elementwise and other")
        if kind:
            totals[kind] += event.self_cpu_time_total / 1e3 / repeats
    return dict(totals)


if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.manual_seed(0)
    variants = adaptation_variants(load_whisper("tiny.en", device="cpu").encoder)
    models = {name: variants[name] for name in ("full fine-tune", "LoRA, all blocks")}
    fused = copy.deepcopy(variants["LoRA, all blocks"])
    for layer in lora_layers(fused).values():
        layer.fused = True
    models["LoRA, fused"] = fused
    floor = build_classifier(
        copy.deepcopy(variants["frozen encoder"].encoder),
        TrainConfig(strategy="lora", targets=("q",), blocks=(0,)),
    )
    h1, l1 = torch.randn(BATCH, 80, FRAMES), torch.randn(BATCH, 80, FRAMES)
    y = torch.randint(0, 2, (BATCH,)).float()
    timed = models | {"floor": floor}
    costs = {c.name: c for c in measure_step_costs(timed, h1, l1, y, repeats=21)}
    full, lora, floor_cost = costs["full fine-tune"], costs["LoRA, all blocks"], costs["floor"]
    fused_cost = costs["LoRA, fused"]
    print(
        f"whisper tiny.en classifier, batch {BATCH} x 2 detectors x {FRAMES} frames, torch {torch.__version__}, 2 threads"
    )
    print(
        f"step time: full {full.seconds * 1e3:.1f} ms, LoRA {lora.seconds * 1e3:.1f} ms, LoRA/full {lora.seconds / full.seconds:.3f} (target <= 0.75)"
    )
    print(
        f"floor (backward through the frozen encoder, LoRA on block 0's query only): "
        f"{floor_cost.seconds * 1e3:.1f} ms, floor/full {floor_cost.seconds / full.seconds:.3f}; "
        f"LoRA's own work is {(lora.seconds - floor_cost.seconds) / lora.seconds:.0%} of its step"
    )
    print(
        f"fused LoRA (one autograd function, hand-written backward): {fused_cost.seconds * 1e3:.1f} ms, "
        f"fused/full {fused_cost.seconds / full.seconds:.3f} (target <= 0.75), "
        f"fused/plain LoRA {fused_cost.seconds / lora.seconds:.3f}; "
        f"its own work is {(fused_cost.seconds - floor_cost.seconds) / fused_cost.seconds:.0%} of its step"
    )
    print(
        f"step memory beyond the weights: LoRA/full {lora.memory_bytes / full.memory_bytes:.3f}, "
        f"fused/full {fused_cost.memory_bytes / full.memory_bytes:.3f}"
    )
    by_kind = {name: profile_by_kind(step_fn(m, h1, l1, y)) for name, m in models.items()}
    kinds = sorted(
        set().union(*by_kind.values()), key=lambda k: -by_kind["full fine-tune"].get(k, 0)
    )
    print(
        f"\n{'self CPU ms per step':28s} {'full':>8s} {'LoRA':>8s} {'LoRA - full':>12s} {'fused':>8s}"
    )
    for kind in kinds:
        f, lo, fu = (by_kind[n].get(kind, 0.0) for n in models)
        print(f"{kind:28s} {f:8.1f} {lo:8.1f} {lo - f:12.1f} {fu:8.1f}")
    f_total, l_total, fu_total = (sum(by_kind[n].values()) for n in models)
    print(
        f"{'total (profiled)':28s} {f_total:8.1f} {l_total:8.1f} {l_total - f_total:12.1f} {fu_total:8.1f}"
    )
