"""Run records: provenance (package versions, git commit, device) and atomic file writes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from lora_teach._paths import REPO

__all__ = [
    "atomic_write",
    "write_json_atomic",
    "load_json_cache",
    "versions",
    "git_commit",
    "device_name",
]

PACKAGES = ("torch", "openai-whisper", "lalsuite", "numpy", "scikit-learn", "lora_teach")


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


def versions() -> dict[str, str | None]:
    """Python's version and those of the packages a result depends on (None: not installed)."""
    import importlib.metadata as md

    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = md.version(package)
        except md.PackageNotFoundError:
            found[package] = None
    return found


def git_commit() -> str | None:
    """The repository's HEAD commit, or None outside a git checkout."""
    root = REPO
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def device_name(device: str, threads: int) -> str:
    """A readable name of the device a run used: the GPU's name, or the CPU and its threads."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {threads} threads)"
