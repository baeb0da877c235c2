"""Gravitational-wave data: the config, detector noise and whitening, lal's signals, simulation, the cache and the test split.

Re-exports only; the package's own modules import from the defining module."""

from lora_teach.gw.cache import (
    cache_root,
    load_dataset,
    load_or_generate,
    load_or_make,
    save_dataset,
)
from lora_teach.gw.config import O3_GPS, SPLITS, GWConfig
from lora_teach.gw.lal import import_lal
from lora_teach.gw.noise import band_mask, optimal_snr, psd_curve, whiten
from lora_teach.gw.signals import (
    antenna_response,
    draw_params,
    place_fft,
    polarisations,
    signal_fft,
    trim_and_taper,
)
from lora_teach.gw.simulation import GWDataset, crop, generate_dataset, simulate, simulate_many
from lora_teach.gw.test_split import (
    BACKGROUND_CHUNK,
    DEFAULT_SNRS,
    background,
    background_chunks,
    injections,
)

__all__ = [
    "GWConfig",
    "SPLITS",
    "O3_GPS",
    "psd_curve",
    "band_mask",
    "optimal_snr",
    "whiten",
    "antenna_response",
    "draw_params",
    "polarisations",
    "trim_and_taper",
    "place_fft",
    "signal_fft",
    "GWDataset",
    "generate_dataset",
    "simulate",
    "simulate_many",
    "crop",
    "cache_root",
    "load_or_generate",
    "load_or_make",
    "save_dataset",
    "load_dataset",
    "DEFAULT_SNRS",
    "BACKGROUND_CHUNK",
    "injections",
    "background",
    "background_chunks",
    "import_lal",
]
