"""Generated GW data sets cached on disk, keyed by everything that defines them, verified on load."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from lora_teach._paths import DATA
from lora_teach.files import atomic_write
from lora_teach.gw.config import GWConfig
from lora_teach.gw.simulation import GWDataset, generate_dataset

__all__ = ["cache_root", "load_or_generate", "load_or_make", "save_dataset", "load_dataset"]

FORMAT = 1


def cache_root() -> Path:
    """``$LORA_TEACH_DATA_CACHE``, else the repository's ``data/cache`` (git-ignored), else ~/.cache."""
    if os.environ.get("LORA_TEACH_DATA_CACHE"):
        return Path(os.environ["LORA_TEACH_DATA_CACHE"])
    if DATA.is_dir():
        return DATA / "cache"
    return Path.home() / ".cache" / "lora_teach" / "gw"


def _digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(arrays):
        h.update(key.encode())
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    return h.hexdigest()


def save_dataset(ds: GWDataset, path: Path) -> Path:
    """Write ``ds`` to ``path`` (.npz) atomically, with its config and a checksum of every array."""
    arrays = {
        "strain": ds.strain,
        "label": ds.label,
        "snr": ds.snr,
        **{f"param_{k}": v for k, v in ds.params.items()},
    }
    meta = {"format": FORMAT, "config": dataclasses.asdict(ds.config), "sha256": _digest(arrays)}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)

    return atomic_write(path, write)


def load_dataset(path: Path) -> GWDataset:
    """Read a data set written by :func:`save_dataset`; raise ValueError if it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            arrays = {k: f[k] for k in f.files if k != "meta"}
    except Exception as err:
        raise ValueError(f"{path} is not a readable data set: {err}") from err
    if meta.get("format") != FORMAT or meta.get("sha256") != _digest(arrays):
        raise ValueError(f"{path} failed verification (format or checksum mismatch)")
    cfg = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()}
    params = {k[len("param_") :]: v for k, v in arrays.items() if k.startswith("param_")}
    return GWDataset(GWConfig(**cfg), arrays["strain"], arrays["label"], arrays["snr"], params)


def load_or_make(path: Path, make, what: str = "data set") -> GWDataset:
    """The data set cached at ``path``; ``make()`` generates (and caches) it if missing or corrupt."""
    path = Path(path)
    if path.is_file():
        try:
            return load_dataset(path)
        except ValueError as err:
            warnings.warn(f"regenerating the {what}: {err}", stacklevel=3)
    ds = make()
    save_dataset(ds, path)
    return ds


def load_or_generate(
    config: GWConfig, n: int, seed: int, split: str, root: Path | None = None, progress: bool = True
) -> GWDataset:
    """The cached data set for (config, n, seed, split), generated and cached if missing or corrupt."""
    path = Path(root or cache_root()) / f"gw-{config.key()}-{split}-seed{seed}-n{n}.npz"
    return load_or_make(path, lambda: generate_dataset(config, n, seed, split, progress=progress))
