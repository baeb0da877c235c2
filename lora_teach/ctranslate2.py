"""A small reader for CTranslate2's ``model.bin`` (the format some PyPI packages ship Whisper in).

Layout, all little-endian:

    u32 version (we read version 6)          string spec name          u32 revision
    u32 variable count, then per variable:
        string name, u8 rank, u32 dims[rank], u8 dtype, u32 byte count, raw bytes
    u32 alias count, then (alias, target) string pairs

A string is ``u16`` length (including a trailing NUL) then the bytes.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["read_ctranslate2", "SUPPORTED_VERSION", "DTYPES"]

SUPPORTED_VERSION = 6
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}  # 5 = bf16, handled below
BF16 = 5


class _Cursor:
    def __init__(self, data: bytes, source: str):
        self.data, self.pos, self.source = memoryview(data), 0, source

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError(f"{self.source}: file ends at byte {len(self.data)}, wanted {n} bytes at {self.pos} (truncated?)")
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
        raise ValueError(f"{source}: CTranslate2 format version {version}; this reader knows version {SUPPORTED_VERSION}")
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
            raise ValueError(f"{source}: variable {name!r} has unknown dtype id {dtype_id} (known: 0-5)")
        if array.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{source}: variable {name!r} holds {array.size} values, its shape {shape} needs {np.prod(shape)}")
        array = array.reshape(shape)
        variables[name] = array.astype(np.float32) if array.dtype in (np.float16,) else array
    for _ in range(cur.u32()):
        alias, target = cur.string(), cur.string()
        if target in variables:
            variables[alias] = variables[target]
    return spec, variables
