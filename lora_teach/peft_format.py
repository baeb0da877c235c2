"""Exchange adapters with PEFT: its directory layout, ``adapter_config.json`` + ``adapter_model.safetensors``.

Both libraries use the same shapes (``lora_A`` r x k, ``lora_B`` d x r) and scaling (alpha / r, or
alpha / sqrt(r) with rsLoRA), so an adapter moves between them by renaming tensors:
``{layer}.lora_A`` here is ``base_model.model.{layer}.lora_A.weight`` there, and DoRA's
``lora_magnitude`` is ``lora_magnitude_vector`` (with ``use_dora``).

A PiSSA adapter is exported as PEFT itself converts one for sharing: as a plain LoRA of rank 2r
that applies to the original W0, ``A' = [A; A0]`` and ``B' = [B, -B0]`` with the same scaling
(W0 + s B' A' = (W0 - s B0 A0) + s B A), so PEFT loads it onto an untouched base model.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from lora_teach.files import atomic_write
from lora_teach.inject import add_lora, lora_layers

__all__ = ["export_peft_adapter", "import_peft_adapter"]

PREFIX = "base_model.model."
UNSUPPORTED = {
    "fan_in_fan_out": False,
    "rank_pattern": {},
    "alpha_pattern": {},
    "bias": "none",
}


def export_peft_adapter(
    model: nn.Module,
    directory: str | os.PathLike,
    rename: Callable[[str], str] | None = None,
    base_model: str | None = None,
) -> Path:
    """Write ``model``'s LoRA layers as a PEFT adapter directory (loadable with ``PeftModel.from_pretrained``).

    ``rename`` maps each layer's name in ``model`` to its name in the model PEFT will load the
    adapter onto (default: the same); ``base_model`` is recorded as ``base_model_name_or_path``.
    """
    rename = rename or (lambda name: name)
    layers = {rename(name): layer for name, layer in lora_layers(model).items()}
    if not layers:
        raise ValueError(f"{type(model).__name__} has no LoRALinear layers: nothing to export")
    settings = {
        (layer.rank, layer.alpha, layer.rslora, layer.dropout_p, layer.dora, layer.init == "pissa")
        for layer in layers.values()
    }
    if len(settings) > 1:
        raise ValueError(
            "PEFT export needs one rank/alpha/rsLoRA/dropout/DoRA/PiSSA for all layers, found "
            f"{sorted(settings)}"
        )
    rank, alpha, rslora, dropout, dora, pissa = settings.pop()
    if pissa:  # rank 2r at the same scaling: alpha / r -> 2 alpha / 2r, alpha / sqrt(r) -> sqrt 2 alpha / sqrt(2r)
        rank, alpha = 2 * rank, alpha * (2**0.5 if rslora else 2)
    config = {
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": alpha,
        "use_rslora": rslora,
        "use_dora": dora,
        "lora_dropout": dropout,
        "target_modules": sorted(layers),
        "init_lora_weights": True,
        "task_type": None,
        "base_model_name_or_path": base_model,
        "modules_to_save": None,
        **UNSUPPORTED,
    }
    tensors = {}
    for name, layer in layers.items():
        A, B = layer.lora_A.detach().cpu(), layer.lora_B.detach().cpu()
        if pissa:
            A = torch.cat([A, layer.pissa_A0.cpu()])
            B = torch.cat([B, -layer.pissa_B0.cpu()], dim=1)
        tensors[f"{PREFIX}{name}.lora_A.weight"] = A.contiguous()
        tensors[f"{PREFIX}{name}.lora_B.weight"] = B.contiguous()
        if dora:
            tensors[f"{PREFIX}{name}.lora_magnitude_vector"] = (
                layer.lora_magnitude.detach().cpu().contiguous()
            )
    # Each file is written atomically; the weights first, so a config never names missing weights.
    directory = Path(directory)
    atomic_write(
        directory / "adapter_model.safetensors",
        lambda tmp: save_file(tensors, tmp, metadata={"format": "pt"}),
    )
    atomic_write(
        directory / "adapter_config.json",
        lambda tmp: Path(tmp).write_text(json.dumps(config, indent=2)),
    )
    return directory


def import_peft_adapter(model: nn.Module, directory: str | os.PathLike) -> nn.Module:
    """Add LoRA to ``model`` from a PEFT adapter directory, with the adapter's values.

    Checks everything before touching the model: the config must be a LoRA or DoRA (no
    per-layer rank or alpha patterns, no trained biases) and every tensor must fit its layer.
    """
    directory = Path(directory)
    try:
        config = json.loads((directory / "adapter_config.json").read_text())
        tensors = load_file(str(directory / "adapter_model.safetensors"))
    except Exception as err:  # OSError, JSONDecodeError, or safetensors' own error types
        raise ValueError(f"{directory} is not a readable PEFT adapter directory: {err}") from err
    missing = [key for key in ("r", "lora_alpha") if key not in config]
    if missing:
        raise ValueError(
            f"{directory}/adapter_config.json lacks {missing}: a LoRA config needs r and lora_alpha"
        )
    if config.get("peft_type") != "LORA":
        raise ValueError(
            f"{directory}: peft_type is {config.get('peft_type')!r}, only 'LORA' is supported"
        )
    for key, plain in UNSUPPORTED.items():
        if config.get(key, plain) not in (plain, None):
            raise ValueError(
                f"{directory}: {key}={config[key]!r} is not supported (expected {plain!r})"
            )
    dora = bool(config.get("use_dora"))
    pattern = re.compile(
        rf"^{re.escape(PREFIX)}(.+)\.(?:lora_([AB])(?:\.default)?\.weight|lora_magnitude_vector(?:\.default)?(?:\.weight)?)$"
    )
    factors: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        m = pattern.match(key)
        if not m or (m[2] is None and not dora):
            raise ValueError(f"{directory}: unexpected tensor {key!r} in the adapter")
        factors.setdefault(m[1], {})[m[2] or "m"] = value
    modules = dict(model.named_modules())
    rank = int(config["r"])
    for name, ab in factors.items():
        layer = modules.get(name)
        if not isinstance(layer, nn.Linear):
            raise ValueError(
                f"{directory}: adapter for {name!r}, which is not an nn.Linear of {type(model).__name__}"
            )
        expected = {"A": (rank, layer.in_features), "B": (layer.out_features, rank)}
        if dora:
            expected["m"] = (layer.out_features,)
        for part, shape in expected.items():
            if part not in ab or tuple(ab[part].shape) != shape:
                got = tuple(ab[part].shape) if part in ab else None
                what = "lora_magnitude_vector" if part == "m" else f"lora_{part}"
                raise ValueError(f"{directory}: {name}.{what} should be {shape}, found {got}")
    exact = [re.compile(re.escape(n)) for n in factors]
    add_lora(
        model,
        exact,
        rank=rank,
        alpha=float(config["lora_alpha"]),
        dropout=float(config.get("lora_dropout") or 0.0),
        rslora=bool(config.get("use_rslora")),
        dora=dora,
    )
    with torch.no_grad():
        for name, layer in lora_layers(model).items():
            if name in factors:
                layer.lora_A.copy_(factors[name]["A"])
                layer.lora_B.copy_(factors[name]["B"])
                if dora:
                    layer.lora_magnitude.copy_(factors[name]["m"])
    return model
