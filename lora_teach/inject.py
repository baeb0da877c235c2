"""Put ``LoRALinear`` into an existing model by the dotted names of its layers, and take it out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from re import Pattern

import torch
from torch import nn

from lora_teach._checks import check_lora_settings, check_rank
from lora_teach.lora import LoRALinear

__all__ = [
    "lora_disabled",
    "add_lora",
    "lora_layers",
    "merge_lora",
    "unmerge_lora",
    "remove_lora",
]

Target = str | Pattern[str]


def _expand(targets: Target | Iterable[Target]) -> list[Target]:
    """The targets as a non-empty list, each a non-empty str or a compiled regex."""
    if isinstance(targets, (str, re.Pattern)):
        targets = [targets]
    targets = list(targets)
    for t in targets:
        if not (isinstance(t, re.Pattern) or (isinstance(t, str) and t)):
            raise TypeError(f"a target must be a non-empty str or a compiled regex, got {t!r}")
    if not targets:
        raise ValueError("targets is empty: name at least one layer")
    return targets


def _label(target: Target) -> str:
    return f"re.compile({target.pattern!r})" if isinstance(target, re.Pattern) else target


def _matches(name: str, pattern: Target) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.fullmatch(name) is not None
    return name == pattern or name.endswith("." + pattern)


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """Every ``LoRALinear`` in ``model`` by dotted name (found by type, not by name)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def _find_targets(model: nn.Module, targets) -> list[str]:
    wrapped = lora_layers(model)
    inside_lora = {f"{n}.base_layer" for n in wrapped}
    linears = [
        n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n not in inside_lora
    ]
    chosen: list[str] = []
    for target in _expand(targets):
        hits = [n for n in linears if _matches(n, target)]
        already = [n for n in wrapped if _matches(n, target)]
        if already:
            raise ValueError(
                f"target {_label(target)} matches layers already wrapped by LoRALinear: {already[:5]}"
            )
        if not hits:
            raise ValueError(
                f"target {_label(target)} matches no nn.Linear in {type(model).__name__}. "
                f"The Linear layers are: {_summarise(linears)}"
            )
        chosen += [n for n in hits if n not in chosen]
    return chosen


def _summarise(names: list[str], limit: int = 40) -> str:
    if not names:
        return "(none)"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def add_lora(
    model: nn.Module,
    targets: Target | Iterable[Target],
    rank: int = 8,
    alpha: float = 8.0,
    *,
    trainable: Iterable[str] = (),
    dropout: float = 0.0,
    init: str = "kaiming",
    rslora: bool = False,
    dora: bool = False,
    fused: bool = False,
) -> nn.Module:
    """Wrap each ``nn.Linear`` of ``model`` whose dotted name matches a target; freeze the rest.

    A target is an exact dotted suffix (``"attn.query"`` matches ``blocks.0.attn.query`` but not
    ``blocks.0.cross_attn.query``) or a compiled regex matched against the full name with
    ``fullmatch``. (For Whisper's shorthands ``q, k, v, out, mlp`` see
    :func:`lora_teach.whisper.targets.whisper_targets`.)
    Parameters whose names start with a ``trainable`` prefix stay trainable (a new head, say).
    Everything is checked before the model is touched; on error the model is unchanged.
    """
    trainable = [trainable] if isinstance(trainable, str) else list(trainable)
    names = _find_targets(model, targets)
    modules = {n: model.get_submodule(n) for n in names}
    check_lora_settings(alpha, dropout, init, dora, fused)
    for n, m in modules.items():
        check_rank(
            rank,
            min(m.in_features, m.out_features),
            where=f" for layer {n} ({m.out_features} x {m.in_features})",
        )
    params = dict(model.named_parameters())
    for prefix in trainable:
        if not any(p == prefix or p.startswith(prefix + ".") for p in params):
            raise ValueError(
                f"trainable prefix {prefix!r} names no parameter of {type(model).__name__}"
            )

    flags = {n: p.requires_grad for n, p in params.items()}
    # PiSSA changes the base weights in place: keep them, to restore them if anything fails.
    saved = {n: m.weight.detach().clone() for n, m in modules.items()} if init == "pissa" else {}
    done: list[str] = []
    try:
        for n, m in modules.items():
            _set_submodule(
                model,
                n,
                LoRALinear(
                    m,
                    rank,
                    alpha,
                    dropout=dropout,
                    init=init,
                    rslora=rslora,
                    dora=dora,
                    fused=fused,
                ),
            )
            done.append(n)
        for name, p in model.named_parameters():
            is_lora = (
                name.endswith((".lora_A", ".lora_B", ".lora_magnitude"))
                and name.rsplit(".", 1)[0] in modules
            )
            keep = any(name == t or name.startswith(t + ".") for t in trainable)
            p.requires_grad_(is_lora or keep)
    except BaseException:
        for n in done:
            _set_submodule(model, n, modules[n])
        with torch.no_grad():
            for n, weight in saved.items():
                modules[n].weight.copy_(weight)
        for n, p in params.items():
            p.requires_grad_(flags[n])
        raise
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Merge every LoRA layer (see :meth:`LoRALinear.merge`)."""
    for layer in lora_layers(model).values():
        layer.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Unmerge every LoRA layer (see :meth:`LoRALinear.unmerge`)."""
    for layer in lora_layers(model).values():
        layer.unmerge()
    return model


def remove_lora(model: nn.Module) -> nn.Module:
    """Replace each ``LoRALinear`` by its base layer holding the merged weight (for export)."""
    for name, layer in lora_layers(model).items():
        if not layer.merged:
            layer.merge()
        _set_submodule(model, name, layer.base_layer)
    return model


@contextmanager
def lora_disabled(model: nn.Module) -> Iterator[nn.Module]:
    """Switch every LoRA update in ``model`` off inside the block, and back on after it.

    Inside, each LoRA layer returns its base layer's output itself, so the model computes what the
    pretrained model computes, bit for bit, and no weight is touched (PEFT: ``disable_adapter()``).
    A merged layer carries its update inside the base weight, where it cannot be switched off:
    unmerge first (``unmerge_lora``), or this raises and changes nothing. So does a PiSSA layer,
    whose base weight holds only W0's residual. A model with no LoRA
    layer raises too (there is nothing to switch). Nesting is allowed: an inner block changes
    nothing, and each block restores what it found.
    """
    layers = lora_layers(model)
    if not layers:
        raise ValueError(
            f"the {type(model).__name__} has no LoRA layers: there is no adapter to switch off"
        )
    pissa = [name for name, layer in layers.items() if layer.init == "pissa"]
    if pissa:
        raise ValueError(
            f"{len(pissa)} LoRA layer(s) started from PiSSA (e.g. {pissa[0]!r}): their base weight "
            "holds only W0's residual, so switching the adapter off would not give the pretrained model"
        )
    merged = [name for name, layer in layers.items() if layer.merged]
    if merged:
        raise ValueError(
            f"{len(merged)} LoRA layer(s) are merged (e.g. {merged[0]!r}): their update is part of "
            "the base weight and cannot be switched off; call unmerge_lora(model) first"
        )
    before = {name: layer.enabled for name, layer in layers.items()}
    for layer in layers.values():
        layer.enabled = False
    try:
        yield model
    finally:
        for name, layer in layers.items():
            layer.enabled = before[name]
