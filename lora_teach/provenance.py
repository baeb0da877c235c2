"""Where a result came from: package versions, the git commit and the device that computed it."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess

import torch

from lora_teach._paths import REPO

__all__ = ["versions", "git_commit", "device_name", "provenance"]

PACKAGES = ("torch", "openai-whisper", "lalsuite", "numpy", "scikit-learn", "lora_teach")


def versions() -> dict[str, str | None]:
    """Python's version and those of the packages a result depends on (None: not installed)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = None
    return found


def git_commit() -> str | None:
    """The repository's HEAD commit, or None outside a git checkout."""
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
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
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {threads} threads)"


def provenance(device: str = "cpu", threads: int = 2) -> dict:
    """A record's provenance: ``device``, ``versions`` and ``git_commit``."""
    return {
        "device": device_name(device, threads),
        "versions": versions(),
        "git_commit": git_commit(),
    }
