"""A small reader for CTranslate2's ``model.bin`` (the format some PyPI packages ship Whisper in).

Layout, all little-endian:

    u32 version (we read version 6)          string spec name          u32 revision
    u32 variable count, then per variable:
        string name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, raw bytes
    u32 alias count, then (alias, target) string pairs

A string is ``u16`` length (including a trailing NUL) then the bytes.

:func:`convert_ctranslate2` maps a Whisper model's variables onto openai-whisper's checkpoint.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import torch
from whisper.model import AudioEncoder, ModelDimensions, TextDecoder

__all__ = ["read_ctranslate2", "convert_ctranslate2", "SUPPORTED_VERSION", "DTYPES"]

SUPPORTED_VERSION = 6
DTYPES = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
}  # 5 = bf16, handled below
BF16 = 5


class _Cursor:
    def __init__(self, data: bytes, source: str):
        self.data, self.pos, self.source = memoryview(data), 0, source

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError(
                f"{self.source}: file ends at byte {len(self.data)}, wanted {n} bytes at {self.pos} (truncated?)"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        raw = bytes(self.take(self.u16()))
        return raw.rstrip(b"\0").decode("utf-8")


def read_ctranslate2(paths: str | Path | list[str | Path]) -> tuple[str, dict[str, np.ndarray]]:
    """Read a CTranslate2 model file (or the parts of one, concatenated in order).

    Returns ``(spec_name, {variable name: array})`` with aliases resolved to their targets.
    float16 and bfloat16 variables come back as float32.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    source = " + ".join(str(p) for p in paths)
    cur = _Cursor(b"".join(Path(p).read_bytes() for p in paths), source)
    version = cur.u32()
    if version != SUPPORTED_VERSION:
        raise ValueError(
            f"{source}: CTranslate2 format version {version}; this reader knows version {SUPPORTED_VERSION}"
        )
    spec = cur.string()
    cur.u32()  # revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(cur.u32()):
        name = cur.string()
        shape = tuple(cur.u32() for _ in range(cur.u8()))
        dtype_id = cur.u8()
        nbytes = cur.u32()
        raw = cur.take(nbytes)
        if dtype_id == BF16:
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            array = bits.view(np.float32)
        elif dtype_id in DTYPES:
            array = np.frombuffer(raw, dtype=DTYPES[dtype_id])
        else:
            raise ValueError(
                f"{source}: variable {name!r} has unknown dtype id {dtype_id} (known: 0-5)"
            )
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(
                f"{source}: variable {name!r} holds {array.size} values, its shape {shape} needs {np.prod(shape)}"
            )
        array = array.reshape(shape)
        variables[name] = array.astype(np.float32) if array.dtype in (np.float16,) else array
    for _ in range(cur.u32()):
        alias, target = cur.string(), cur.string()
        if target in variables:
            variables[alias] = variables[target]
    return spec, variables


def _split_qkv(weight: np.ndarray, bias: np.ndarray, prefix: str, sd: dict) -> None:
    q, k, v = np.split(weight, 3)
    bq, bk, bv = np.split(bias, 3)
    if np.any(bk):
        raise ValueError(
            f"{prefix}: the key's third of the fused bias should be zero (whisper's key has no bias)"
        )
    sd[f"{prefix}.query.weight"], sd[f"{prefix}.query.bias"] = q, bq
    sd[f"{prefix}.key.weight"] = k
    sd[f"{prefix}.value.weight"], sd[f"{prefix}.value.bias"] = v, bv


def _split_kv(weight: np.ndarray, bias: np.ndarray, prefix: str, sd: dict) -> None:
    k, v = np.split(weight, 2)
    bk, bv = np.split(bias, 2)
    sd[f"{prefix}.key.weight"] = k
    sd[f"{prefix}.value.weight"], sd[f"{prefix}.value.bias"] = v, bv


def _block(var, src: str, dst: str, sd: dict, cross: bool) -> None:
    _split_qkv(
        var(f"{src}/self_attention/linear_0/weight"),
        var(f"{src}/self_attention/linear_0/bias"),
        f"{dst}.attn",
        sd,
    )
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
        _split_kv(
            var(f"{src}/attention/linear_1/weight"),
            var(f"{src}/attention/linear_1/bias"),
            f"{dst}.cross_attn",
            sd,
        )
        sd[f"{dst}.cross_attn.out.weight"] = var(f"{src}/attention/linear_2/weight")
        sd[f"{dst}.cross_attn.out.bias"] = var(f"{src}/attention/linear_2/bias")
        for ct2, pt in ln.items():
            sd[f"{dst}.cross_attn_ln.{pt}"] = var(f"{src}/attention/layer_norm/{ct2}")


def convert_ctranslate2(paths: list[Path]) -> dict:
    """CTranslate2 Whisper variables -> openai-whisper's checkpoint ``{"dims", "model_state_dict"}``."""
    spec, variables = read_ctranslate2(paths)
    if spec != "WhisperSpec":
        raise ValueError(
            f"{paths[0]}: spec {spec!r} is not a Whisper model (expected 'WhisperSpec')"
        )

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
        for kind in ("weight", "bias"):
            sd[f"encoder.{part}.{kind}"] = var(f"encoder/{part}/{kind}")
    sd["encoder.positional_embedding"] = var("encoder/position_encodings/encodings")
    for i in range(dims.n_audio_layer):
        _block(var, f"encoder/layer_{i}", f"encoder.blocks.{i}", sd, cross=False)
    sd["decoder.token_embedding.weight"] = var("decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = var("decoder/position_encodings/encodings")
    for i in range(dims.n_text_layer):
        _block(var, f"decoder/layer_{i}", f"decoder.blocks.{i}", sd, cross=True)
    for dst, src in (("encoder.ln_post", "encoder"), ("decoder.ln", "decoder")):
        sd[f"{dst}.weight"] = var(f"{src}/layer_norm/gamma")
        sd[f"{dst}.bias"] = var(f"{src}/layer_norm/beta")

    # Check every key and shape against the architecture these dimensions define.
    with torch.device("meta"):  # the Whisper class itself cannot be built on meta (a sparse buffer)
        d = dims
        enc = AudioEncoder(
            d.n_mels, d.n_audio_ctx, d.n_audio_state, d.n_audio_head, d.n_audio_layer
        )
        dec = TextDecoder(d.n_vocab, d.n_text_ctx, d.n_text_state, d.n_text_head, d.n_text_layer)
    expected = {f"encoder.{k}": v for k, v in enc.state_dict().items()}
    expected |= {f"decoder.{k}": v for k, v in dec.state_dict().items()}
    persistent = set(expected)
    missing = sorted(persistent - sd.keys())
    extra = sorted(sd.keys() - persistent)
    if missing or extra:
        raise ValueError(
            f"{paths[0]}: converted weights do not fit Whisper{dims}: missing {missing[:5]}, unexpected {extra[:5]}"
        )
    state = {}
    for key, array in sd.items():
        if tuple(array.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"{paths[0]}: {key} has shape {tuple(array.shape)}, Whisper expects {tuple(expected[key].shape)}"
            )
        t = torch.from_numpy(np.array(array, dtype=np.float32))
        # OpenAI's checkpoints are float16; keep float16 wherever that loses nothing.
        state[key] = t.half() if torch.equal(t.half().float(), t) else t
    return {"dims": dims.__dict__, "model_state_dict": state}
