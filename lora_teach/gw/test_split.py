"""The held-out test split for detection, which no training or model selection touches.

Two parts, each from its own random stream, disjoint from the train and validation streams:

- **injections**: ``per_snr`` signals at each network SNR of a grid (4, 5, ..., 16 by default),
  every other parameter drawn from the config's priors, for efficiency curves by SNR;
- **background**: noise-only windows, in chunks of ``BACKGROUND_CHUNK`` with a seed each, so a
  small background (what a chapter can afford) is the first chunks of a large one (the recorded
  evaluation's 100,000 windows, which support a false-alarm probability of 1e-4).

The injections come from the stream every recorded detector was scored on (``[seed, test]``,
which ``SeedSequence`` also reaches as ``[seed, test, 0]``); ``generate_dataset`` therefore
refuses ``split="test"``, and the background's chunks use parts from 1 up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lora_teach.gw.cache import cache_root, load_or_make
from lora_teach.gw.config import SPLITS, GWConfig
from lora_teach.gw.signals import draw_params
from lora_teach.gw.simulation import GWDataset, simulate_many

__all__ = ["DEFAULT_SNRS", "BACKGROUND_CHUNK", "injections", "background", "background_chunks"]

DEFAULT_SNRS = tuple(float(s) for s in range(4, 17))
BACKGROUND_CHUNK = 1000
# Stream keys: SeedSequence pads short keys with zeros, so [seed, test, 0] is [seed, test]. The
# injections keep that stream (the records were scored on it; a change to [seed, test, 1] once
# made fresh caches disagree with them); the background's chunks are [seed, test, 2, i + 1].
_INJECTIONS, _BACKGROUND = 0, 2
STREAM_VERSION = (
    "stream0"  # in the injections' cache name: a cache from the other stream is not read
)


def _stream(seed: int, *parts: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS["test"], *parts]))


def _check_count(name: str, value, least: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")


def injections(
    config: GWConfig,
    snrs=DEFAULT_SNRS,
    per_snr: int = 100,
    seed: int = 0,
    root: Path | None = None,
    progress: bool = False,
) -> GWDataset:
    """``per_snr`` signals at each network SNR in ``snrs``, cached like the training data."""
    _check_count("per_snr", per_snr)
    snrs = np.asarray(snrs, dtype=float)
    if snrs.ndim != 1 or len(snrs) == 0 or not np.all(np.isfinite(snrs) & (snrs > 0)):
        raise ValueError(f"snrs must be a non-empty 1-D list of positive SNRs, got {snrs.tolist()}")
    grid = "_".join(f"{s:g}" for s in snrs)
    name = f"gw-{config.key()}-test-injections-{STREAM_VERSION}-seed{seed}-snr{grid}-x{per_snr}.npz"

    def make() -> GWDataset:
        config.check_lal_names()
        rng = _stream(seed, _INJECTIONS)
        n = len(snrs) * per_snr
        params = draw_params(config, n, rng)
        params["target_snr"] = np.repeat(snrs, per_snr)
        label = np.ones(n, dtype=np.int64)
        return simulate_many(config, label, params, rng, "GW test injections", progress)

    return load_or_make(Path(root or cache_root()) / name, make, "test injections")


def _chunk(config: GWConfig, seed: int, index: int, progress: bool) -> GWDataset:
    config.check_lal_names()
    rng = _stream(seed, _BACKGROUND, index + 1)
    label = np.zeros(BACKGROUND_CHUNK, dtype=np.int64)
    params = draw_params(config, BACKGROUND_CHUNK, rng)
    return simulate_many(config, label, params, rng, f"GW background {index}", progress)


def background_chunks(
    config: GWConfig, n: int, seed: int = 0, cache: bool = True, progress: bool = False
) -> Iterator[GWDataset]:
    """The background's first ``n`` windows, chunk by chunk (cached unless ``cache=False``)."""
    _check_count("n", n)
    root = cache_root()
    for index in range(-(-n // BACKGROUND_CHUNK)):
        if cache:
            name = f"gw-{config.key()}-test-background-seed{seed}-{index}x{BACKGROUND_CHUNK}.npz"
            chunk = load_or_make(
                root / name, lambda i=index: _chunk(config, seed, i, progress), "background"
            )
        else:
            chunk = _chunk(config, seed, index, progress)
        keep = min(BACKGROUND_CHUNK, n - index * BACKGROUND_CHUNK)
        yield chunk if keep == BACKGROUND_CHUNK else _head(chunk, keep)


def _head(ds: GWDataset, n: int) -> GWDataset:
    params = {k: v[:n] for k, v in ds.params.items()}
    return GWDataset(ds.config, ds.strain[:n], ds.label[:n], ds.snr[:n], params)


def background(config: GWConfig, n: int, seed: int = 0, progress: bool = False) -> GWDataset:
    """The background's first ``n`` noise windows as one cached data set."""
    chunks = list(background_chunks(config, n, seed, progress=progress))
    params = {k: np.concatenate([c.params[k] for c in chunks]) for k in chunks[0].params}
    return GWDataset(
        config,
        np.concatenate([c.strain for c in chunks]),
        np.concatenate([c.label for c in chunks]),
        np.concatenate([c.snr for c in chunks]),
        params,
    )
