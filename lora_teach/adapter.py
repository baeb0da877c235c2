"""Save and load only the LoRA tensors, with their configuration, in one safetensors file.

Besides ``lora_A`` and ``lora_B`` a DoRA layer saves its magnitude (``lora_magnitude``), and a PiSSA
layer its starting factors (``pissa_A0``, ``pissa_B0``): loaded into a fresh base, the residual
``W0 - scaling B0 A0`` is rebuilt from them exactly as it was built at the start, with no SVD.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from lora_teach.files import atomic_write
from lora_teach.inject import add_lora, lora_layers

__all__ = ["save_adapter", "load_adapter", "FORMAT"]

FORMAT = "lora_teach.adapter/1"


def _layer_config(layer) -> dict:
    return {
        "rank": layer.rank,
        "alpha": layer.alpha,
        "dropout": layer.dropout_p,
        "init": layer.init,
        "rslora": layer.rslora,
        "dora": layer.dora,
        "in_features": layer.in_features,
        "out_features": layer.out_features,
        # A fingerprint of the frozen weight it was trained on (unmerged), to warn on a different base.
        # For PiSSA, the weight before its singular part was taken out.
        "base_norm": float(_pretrained_weight(layer).norm()),
    }


def _pretrained_weight(layer) -> torch.Tensor:
    """The layer's frozen weight before LoRA touched it (PiSSA adds its start back), in float32."""
    with torch.no_grad():
        weight = layer.base_weight().float()
        if layer.init == "pissa":
            weight = weight + (layer.scaling * layer.pissa_B0.float()) @ layer.pissa_A0.float()
        return weight


def _extra_tensors(layer) -> dict[str, torch.Tensor]:
    """The tensors a variant needs beyond A and B."""
    extra = {}
    if layer.dora:
        extra["lora_magnitude"] = layer.lora_magnitude
    if layer.init == "pissa":
        extra |= {"pissa_A0": layer.pissa_A0, "pissa_B0": layer.pissa_B0}
    return extra


def save_adapter(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write every LoRA layer's ``lora_A``/``lora_B`` and config to ``path`` (atomically)."""
    layers = lora_layers(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no LoRALinear layers: nothing to save")
    tensors, config = {}, {}
    for name, layer in layers.items():
        tensors[f"{name}.lora_A"] = layer.lora_A.detach().to("cpu").contiguous()
        tensors[f"{name}.lora_B"] = layer.lora_B.detach().to("cpu").contiguous()
        for part, t in _extra_tensors(layer).items():
            tensors[f"{name}.{part}"] = t.detach().to("cpu").contiguous()
        config[name] = _layer_config(layer)
    meta = {"format": FORMAT, "model_class": type(model).__name__, "layers": json.dumps(config)}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


def _read(path: Path) -> tuple[dict, dict[str, torch.Tensor], dict]:
    if not path.is_file():
        raise FileNotFoundError(f"no adapter file at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for damaged files
        raise ValueError(
            f"{path} is not a readable adapter file (corrupt or truncated?): {err}"
        ) from err
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} has format {meta.get('format')!r}, expected {FORMAT!r}")
    try:
        config = json.loads(meta["layers"])
    except (KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} has no readable layer configuration in its metadata") from err
    return meta, tensors, config


# The settings a loaded adapter must share with the model's existing LoRA layers.
SETTINGS = ("rank", "alpha", "rslora", "dropout", "dora")


def load_adapter(
    model: nn.Module, path: str | os.PathLike, trainable: tuple[str, ...] = ()
) -> nn.Module:
    """Load an adapter written by :func:`save_adapter` into ``model``.

    If ``model`` has no LoRA layers yet, they are added at the saved layer names with the saved
    configuration, through :func:`~lora_teach.inject.add_lora`, which (as for any LoRA model)
    freezes every parameter except the LoRA factors and those under the ``trainable`` prefixes.
    Otherwise its LoRA layers must match the file's names, shapes, rank, alpha, rsLoRA and
    dropout, and only their values are replaced. Everything is checked before any weight
    changes; on error the model is unchanged.
    """
    path = Path(path)
    meta, tensors, config = _read(path)
    if meta.get("model_class") != type(model).__name__:
        raise ValueError(
            f"{path} was saved from a {meta.get('model_class')}, but the model is a {type(model).__name__}"
        )
    _check_fits(model, path, tensors, config)
    existing = lora_layers(model)
    if existing:
        _check_existing(existing, path, tensors, config)
    else:
        existing = _add_layers(model, tensors, config, trainable)
    _copy_values(existing, tensors, config)
    return model


def _check_fits(model: nn.Module, path: Path, tensors: dict, config: dict) -> None:
    """Every saved layer is a Linear of the model with the saved shape, every tensor there."""
    modules = dict(model.named_modules())
    for name, cfg in config.items():
        target = modules.get(name)
        if target is None:
            raise ValueError(
                f"{path} has an adapter for layer {name!r}, which {type(model).__name__} does not have"
            )
        shape = (
            (target.out_features, target.in_features) if hasattr(target, "in_features") else None
        )
        if shape != (cfg["out_features"], cfg["in_features"]):
            raise ValueError(
                f"layer {name!r} is {shape} (out x in) in the model but "
                f"({cfg['out_features']}, {cfg['in_features']}) in {path}"
            )
        parts = [
            ("lora_A", (cfg["rank"], cfg["in_features"])),
            ("lora_B", (cfg["out_features"], cfg["rank"])),
        ]
        if cfg.get("dora", False):
            parts.append(("lora_magnitude", (cfg["out_features"],)))
        if cfg["init"] == "pissa":
            parts += [
                (f"pissa_{p}0", shape) for p, shape in (("A", parts[0][1]), ("B", parts[1][1]))
            ]
        for part, expect in parts:
            t = tensors.get(f"{name}.{part}")
            if t is None or tuple(t.shape) != expect:
                got = None if t is None else tuple(t.shape)
                raise ValueError(f"{path}: {name}.{part} should have shape {expect}, found {got}")


def _check_existing(existing: dict, path: Path, tensors: dict, config: dict) -> None:
    """The model's LoRA layers are the file's, with the same settings, unmerged."""
    if set(existing) != set(config):
        raise ValueError(
            f"the model's LoRA layers {sorted(existing)[:5]}... differ from the adapter's {sorted(config)[:5]}..."
        )
    for name, layer in existing.items():
        for setting in SETTINGS:
            ours = getattr(layer, "dropout_p" if setting == "dropout" else setting)
            if ours != config[name].get(setting, False):
                raise ValueError(
                    f"layer {name!r} has {setting}={ours!r} in the model but {config[name][setting]!r} in {path}"
                )
        if layer.merged:
            raise RuntimeError(
                f"layer {name!r} is merged: unmerge the model before loading an adapter"
            )
        if (layer.init == "pissa") != (config[name]["init"] == "pissa") or (
            layer.init == "pissa"
            and not torch.equal(layer.pissa_A0.cpu(), tensors[f"{name}.pissa_A0"])
        ):
            raise ValueError(
                f"layer {name!r}: a PiSSA adapter loads only into a model without LoRA layers "
                "(or one that started from the same PiSSA factors), and a PiSSA model takes only "
                "PiSSA adapters"
            )


def _add_layers(model: nn.Module, tensors: dict, config: dict, trainable) -> dict:
    """Add LoRA at the saved layers with the saved settings (one add_lora per setting group)."""
    groups: dict[tuple, list[str]] = {}
    for name, cfg in config.items():
        key = (
            cfg["rank"],
            cfg["alpha"],
            cfg["dropout"],
            cfg["init"],
            cfg["rslora"],
            cfg.get("dora", False),
        )
        groups.setdefault(key, []).append(name)
    keep = list(trainable)  # and the LoRA parameters added by earlier groups stay trainable
    for (rank, alpha, dropout, init, rslora, dora), names in groups.items():
        exact = [re.compile(re.escape(n)) for n in names]
        # A PiSSA layer is wrapped plainly, then given the saved start (no SVD): see below.
        start = "kaiming" if init == "pissa" else init
        add_lora(
            model,
            exact,
            rank,
            alpha,
            dropout=dropout,
            init=start,
            rslora=rslora,
            dora=dora,
            trainable=keep,
        )
        parts = ("lora_A", "lora_B") + (("lora_magnitude",) if dora else ())
        keep += [f"{n}.{part}" for n in names for part in parts]
    existing = lora_layers(model)
    for name, layer in existing.items():
        if config[name]["init"] == "pissa":
            layer.adopt_pissa_start(tensors[f"{name}.pissa_A0"], tensors[f"{name}.pissa_B0"])
    return existing


def _copy_values(existing: dict, tensors: dict, config: dict) -> None:
    """Copy the saved factors in; warn if a base weight is not the one they were trained on."""
    with torch.no_grad():
        for name, layer in existing.items():
            layer.lora_A.copy_(tensors[f"{name}.lora_A"])
            layer.lora_B.copy_(tensors[f"{name}.lora_B"])
            if layer.dora:
                layer.lora_magnitude.copy_(tensors[f"{name}.lora_magnitude"])
            base_norm = float(_pretrained_weight(layer).norm())
            saved = config[name]["base_norm"]
            if abs(base_norm - saved) > 1e-3 * max(saved, 1e-12):
                warnings.warn(
                    f"layer {name!r}: the base weight differs from the one the adapter was trained on "
                    f"(norm {base_norm:.6g} vs {saved:.6g}); is this the same pretrained model?",
                    stacklevel=3,  # the caller of load_adapter
                )
