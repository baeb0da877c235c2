"""Detector noise: the PSD lal models, the analysis band, optimal SNR and whitening."""

from __future__ import annotations

import functools
import math

import numpy as np

from lora_teach.gw.config import GWConfig
from lora_teach.gw.lal import import_lal

__all__ = ["psd_curve", "band_mask", "optimal_snr", "whiten"]


@functools.lru_cache(maxsize=8)
def psd_curve(config: GWConfig) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, one-sided PSD) on the rfft grid of ``noise_seconds``; zero outside the band lal fills.

    Cached per config (``simulate`` needs it for every sample); the arrays are read-only.
    """
    config.check_lal_names()
    lal, lalsimulation = import_lal()
    n_freq = config.n_noise // 2 + 1
    df = 1.0 / config.noise_seconds
    series = lal.CreateREAL8FrequencySeries("psd", 0, 0.0, df, lal.DimensionlessUnit, n_freq)
    getattr(lalsimulation, "SimNoisePSD" + config.psd)(series, config.f_lower * 0.5)
    freqs = np.arange(n_freq) * df
    psd = np.array(series.data.data, dtype=np.float64)
    psd[~np.isfinite(psd)] = 0.0
    freqs.setflags(write=False)
    psd.setflags(write=False)
    return freqs, psd


def band_mask(config: GWConfig, freqs: np.ndarray, psd: np.ndarray) -> np.ndarray:
    """The frequency bins in ``f_lower``..``f_upper`` where the PSD is set (lal leaves some zero)."""
    return (freqs >= config.f_lower) & (freqs <= config.f_upper) & (psd > 0)


def optimal_snr(
    signal_fft: np.ndarray, psd: np.ndarray, band: np.ndarray, config: GWConfig
) -> np.ndarray:
    """rho = sqrt(4 df sum |H(f)|^2 / S(f)) over the band; H is the continuous FT (rfft / fs)."""
    df = 1.0 / config.noise_seconds
    h = signal_fft[..., band] / config.sample_rate
    return np.sqrt(4.0 * df * np.sum(np.abs(h) ** 2 / psd[band], axis=-1))


def whiten(data_fft: np.ndarray, psd: np.ndarray, band: np.ndarray, config: GWConfig) -> np.ndarray:
    """Whitened, band-limited time series with unit variance for noise drawn from ``psd``."""
    out = np.zeros_like(data_fft)
    out[..., band] = data_fft[..., band] / np.sqrt(config.sample_rate * psd[band] / 2.0)
    keep = band.sum() / (len(band) - 1)  # fraction of the (two-sided) spectrum kept
    return np.fft.irfft(out, n=config.n_noise, axis=-1) / math.sqrt(keep)
