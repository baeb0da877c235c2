"""Files written whole or not at all: atomic writes of any file, JSON and npz, and reading a
recorded-results cache back with its format checked."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

__all__ = ["atomic_write", "write_json_atomic", "write_npz_atomic", "load_json_cache"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it onto ``path``.

    A crash or an exception inside ``write`` leaves ``path`` as it was and no temp file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide results from other users
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_json_atomic(obj: dict, path: str | os.PathLike) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically (see :func:`atomic_write`)."""

    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1)

    return atomic_write(path, write)


def write_npz_atomic(arrays: Mapping[str, np.ndarray], path: str | os.PathLike, dtype=None) -> Path:
    """Write ``arrays`` as a compressed npz to ``path`` atomically, each cast to ``dtype`` if given
    (the recorded scores are float32)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, **{k: v if dtype is None else np.asarray(v, dtype) for k, v in arrays.items()}
            )

    return atomic_write(path, write)


def load_json_cache(path: str | os.PathLike, fmt: str, what: str, module: str) -> dict:
    """A recorded-results cache at ``path`` whose ``"format"`` must be ``fmt``; the errors name
    the cache (``what``) and the command that writes it (``python -m <module>``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} cache at {path}: run python -m {module} --out {path}")
    cache = json.loads(path.read_text())
    if cache.get("format") != fmt:
        raise ValueError(
            f"{path} is not a {what} cache (format {cache.get('format')!r}, expected {fmt!r})"
        )
    return cache
