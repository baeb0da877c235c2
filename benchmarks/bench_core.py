"""Core LoRA benchmark (issue: lora_teach core). Prints ratios measured side by side in one run.

    python benchmarks/bench_core.py

1. pseudocode loop ``delta_w_loop`` vs ``B @ A`` at d = k = 768, r = 8;
2. inference latency of a Whisper-tiny-shaped encoder: merged LoRA / base and unmerged / base;
3. training step time of lora_teach vs PEFT on the same encoder and targets.
"""

from __future__ import annotations

import copy

import torch

from lora_teach import add_lora, lora_layers, merge_lora
from lora_teach.pseudocode import delta_w_loop
from lora_teach.timing import interleaved_medians
from lora_teach.whisper.targets import whisper_targets

torch.set_num_threads(2)
torch.manual_seed(0)


def tiny_encoder(frames: int):
    from whisper.model import AudioEncoder

    # whisper tiny's encoder (d = 384, 4 layers, 6 heads) on a `frames`-long input
    return AudioEncoder(n_mels=80, n_ctx=frames // 2, n_state=384, n_head=6, n_layer=4)


def loop_vs_vectorised():
    d = k = 768
    r = 8
    A, B = torch.randn(r, k), torch.randn(d, r)
    torch.testing.assert_close(delta_w_loop(A, B), B @ A, rtol=1e-4, atol=1e-4)
    t = interleaved_medians(
        {"loop": lambda: delta_w_loop(A, B), "vectorised": lambda: B @ A}, repeats=5, warmup=1
    )
    return [
        (
            "delta_w_loop / B@A (d=k=768, r=8)",
            t["loop"],
            t["vectorised"],
            t["loop"] / t["vectorised"],
            "thousands",
        )
    ]


def _inference_fns(models: dict, x: torch.Tensor) -> dict:
    fns = {}
    for name, model in models.items():

        def run(model=model):
            with torch.inference_mode():
                model(x)

        fns[name] = run
    return fns


def _with_random_B(model):
    for layer in lora_layers(model).values():
        torch.nn.init.normal_(layer.lora_B, std=0.02)
    return model


def _ratio_rows(t: dict, what: str, merged_target: str, unmerged_target: str) -> list[tuple]:
    """Merged and unmerged latency over the base's, as report rows."""
    return [
        (f"{kind} / base, {what}", t[kind], t["base"], t[kind] / t["base"], target)
        for kind, target in (("merged", merged_target), ("unmerged", unmerged_target))
    ]


def inference_latency():
    """At d = k = 768, r = 8 (the target's setting): one layer on 4096 tokens, then a whole encoder."""
    rows = []
    layer = torch.nn.Sequential(torch.nn.Linear(768, 768))
    unmerged = _with_random_B(add_lora(copy.deepcopy(layer), ["0"], rank=8, alpha=8))
    merged = merge_lora(copy.deepcopy(unmerged))
    t = interleaved_medians(
        _inference_fns(
            {"base": layer, "unmerged": unmerged, "merged": merged}, torch.randn(4096, 768)
        ),
        repeats=41,
    )
    rows += _ratio_rows(t, "Linear 768x768, 4096 tok", "<= 1.02", "<= 1.10")
    frames = 200
    base = tiny_encoder(frames).eval()
    unmerged = _with_random_B(
        add_lora(
            copy.deepcopy(base), whisper_targets(["q", "k", "v", "out", "mlp"]), rank=8, alpha=8
        ).eval()
    )
    merged = merge_lora(copy.deepcopy(unmerged))
    t = interleaved_medians(
        _inference_fns(
            {"base": base, "unmerged": unmerged, "merged": merged}, torch.randn(16, 80, frames)
        ),
        repeats=21,
    )
    rows += _ratio_rows(t, "tiny encoder (all 6 targets)", "(info)", "(info)")
    return rows


def training_step_vs_peft():
    import peft

    frames = 200
    base = tiny_encoder(frames)
    ours = add_lora(copy.deepcopy(base), whisper_targets(["q", "k", "v", "mlp"]), rank=8, alpha=8)
    cfg = peft.LoraConfig(
        r=8, lora_alpha=8, target_modules=["attn.query", "attn.key", "attn.value", "mlp.0", "mlp.2"]
    )
    theirs = peft.inject_adapter_in_model(cfg, copy.deepcopy(base))
    for name, p in theirs.named_parameters():
        p.requires_grad_("lora_" in name)
    x = torch.randn(16, 80, frames)
    fns = {}
    for name, model in (("lora_teach", ours), ("peft", theirs)):
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4)

        def step(model=model, opt=opt):
            opt.zero_grad(set_to_none=True)
            model(x).pow(2).mean().backward()
            opt.step()

        fns[name] = step
    assert sum(p.numel() for p in ours.parameters() if p.requires_grad) == sum(
        p.numel() for p in theirs.parameters() if p.requires_grad
    )
    t = interleaved_medians(fns, repeats=11)
    return [
        (
            "train step lora_teach / PEFT",
            t["lora_teach"],
            t["peft"],
            t["lora_teach"] / t["peft"],
            "<= 1.0",
        )
    ]


def main():
    rows = loop_vs_vectorised() + inference_latency() + training_step_vs_peft()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of interleaved repeats"
    )
    print(f"{'measurement':46s} {'numerator':>12s} {'denominator':>12s} {'ratio':>10s}  target")
    for name, num, den, ratio, target in rows:
        print(f"{name:46s} {num * 1e3:10.3f}ms {den * 1e3:10.3f}ms {ratio:10.3f}  {target}")


if __name__ == "__main__":
    main()
