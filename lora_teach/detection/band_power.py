"""A non-learned detector: the most band power in any short window, summed over detectors."""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

__all__ = ["band_power_score"]


def band_power_score(
    strain: np.ndarray,
    sample_rate: int = 2048,
    band: tuple[float, float] = (30.0, 350.0),
    window_s: float = 0.25,
) -> np.ndarray:
    """Score each event (n, detectors, samples) of whitened strain: higher means more signal-like.

    Band-pass to ``band``, square, sum over detectors, take the largest mean over any
    ``window_s``-long window. Needs no training: the floor for any learned model.
    """
    if strain.ndim != 3:
        raise ValueError(f"strain must be (events, detectors, samples), got shape {strain.shape}")
    sos = butter(4, band, btype="bandpass", fs=sample_rate, output="sos")
    power = (sosfiltfilt(sos, strain, axis=-1) ** 2).sum(axis=1)
    width = int(window_s * sample_rate)
    kernel = np.ones(width) / width
    windowed = np.stack([np.convolve(p, kernel, mode="valid") for p in power])
    return windowed.max(axis=1)
