"""Simulated binary black-hole signals in coloured LIGO noise, whitened, from lalsuite.

One sample = ``segment_seconds`` of whitened strain in each detector (H1, L1 by default) at
``sample_rate``. Half the samples hold an IMRPhenomD signal scaled to a drawn network SNR.

The pipeline, per sample and detector:

1. Gaussian noise coloured by the PSD S(f), built in the frequency domain over ``noise_seconds``:
   each rfft coefficient is complex Gaussian with E|X|^2 = N fs S(f) / 2.
2. The signal: h = F+ h+ + Fx hx with lal's antenna patterns at the event's sky position and GPS
   time, delayed by the arrival time at the detector, merger inside ``merger_window`` of the segment.
   Its optimal SNR, rho^2 = 4 df sum |H(f)|^2 / S(f), sets the scale that gives the drawn network SNR.
3. Whitening: divide by sqrt(fs S(f) / 2), keep ``f_lower``..``f_upper``, renormalise so the
   whitened noise has unit variance; crop the central ``segment_seconds``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import welch
from tqdm.auto import tqdm

from lora_teach.gw.config import SPLITS, GWConfig
from lora_teach.gw.noise import band_mask, optimal_snr, psd_curve, whiten
from lora_teach.gw.signals import draw_params, signal_fft

__all__ = ["GWDataset", "generate_dataset", "simulate", "simulate_many", "crop"]


@dataclass
class GWDataset:
    """Whitened strain per detector, labels, injected network SNR (0 for noise) and event parameters."""

    config: GWConfig
    strain: np.ndarray  # (n, n_detectors, n_segment) float32, whitened
    label: np.ndarray  # (n,) int64, 1 = signal present
    snr: np.ndarray  # (n,) float32, the injection's network optimal SNR (0 for noise)
    params: dict[str, np.ndarray]

    @property
    def h1(self) -> np.ndarray:
        return self.strain[:, self.config.detectors.index("H1")]

    @property
    def l1(self) -> np.ndarray:
        return self.strain[:, self.config.detectors.index("L1")]

    def __len__(self) -> int:
        return len(self.label)


def _welch_psd(series: np.ndarray, config: GWConfig, freqs: np.ndarray) -> np.ndarray:
    f, pxx = welch(series, fs=config.sample_rate, nperseg=config.sample_rate, axis=-1)
    return np.stack([np.interp(freqs, f, row) for row in np.atleast_2d(pxx)])


def _glitch(config: GWConfig, rng: np.random.Generator) -> np.ndarray:
    """A sine-Gaussian in whitened units, with a whitened SNR in U(5, 20), somewhere in the segment."""
    fs, n = config.sample_rate, config.n_noise
    t = np.arange(n) / fs
    f0 = rng.uniform(max(30.0, config.f_lower), min(400.0, config.f_upper))
    q = rng.uniform(3, 20)
    tau = q / (np.sqrt(2) * np.pi * f0)
    start = (n - config.n_segment) / 2 / fs
    tc = start + rng.uniform(0.1, 0.9) * config.segment_seconds
    g = np.exp(-((t - tc) ** 2) / tau**2) * np.sin(
        2 * np.pi * f0 * (t - tc) + rng.uniform(0, 2 * np.pi)
    )
    return g * rng.uniform(5, 20) / np.linalg.norm(g)


def simulate(
    config: GWConfig, params: dict, index: int, has_signal: bool, rng: np.random.Generator
) -> dict:
    """One sample over the whole noise buffer: coloured strain, whitened strain, whitened signal alone."""
    freqs, psd = psd_curve(config)
    band = band_mask(config, freqs, psd)
    n_det, n = len(config.detectors), config.n_noise
    scale = (
        np.exp(rng.normal(0.0, config.psd_jitter, (n_det, 1)))
        if config.psd_jitter
        else np.ones((n_det, 1))
    )
    sigma = np.sqrt(n * config.sample_rate * psd * scale / 4.0)
    noise = (
        rng.standard_normal((n_det, len(freqs))) + 1j * rng.standard_normal((n_det, len(freqs)))
    ) * sigma
    noise[:, 0] = noise[:, -1] = 0.0
    signal = np.zeros_like(noise)
    snr = 0.0
    if has_signal:
        signal = signal_fft(config, params, index)
        network = np.sqrt(np.sum(optimal_snr(signal, psd, band, config) ** 2))
        snr = float(params["target_snr"][index])
        signal *= snr / network
    data = noise + signal
    whitening_psd = psd
    if config.estimate_psd:
        whitening_psd = _welch_psd(np.fft.irfft(data, n=n, axis=-1), config, freqs)
        whitening_psd[:, ~band] = 0.0
    if whitening_psd.ndim == 1:
        white = whiten(data, psd, band, config)
        white_signal = whiten(signal, psd, band, config)
    else:
        white = np.stack(
            [
                whiten(data[d], whitening_psd[d], band & (whitening_psd[d] > 0), config)
                for d in range(n_det)
            ]
        )
        white_signal = np.stack(
            [
                whiten(signal[d], whitening_psd[d], band & (whitening_psd[d] > 0), config)
                for d in range(n_det)
            ]
        )
    for d in range(n_det):
        if config.glitch_prob and rng.uniform() < config.glitch_prob:
            white[d] += _glitch(config, rng)
    return {
        "strain": np.fft.irfft(data, n=n, axis=-1),
        "whitened": white,
        "whitened_signal": white_signal,
        "snr": snr,
    }


def crop(config: GWConfig, series: np.ndarray) -> np.ndarray:
    """The central ``segment_seconds`` of a noise-buffer-long series."""
    start = (config.n_noise - config.n_segment) // 2
    return series[..., start : start + config.n_segment]


def generate_dataset(
    config: GWConfig, n: int, seed: int, split: str = "train", progress: bool = True
) -> GWDataset:
    """``n`` samples, half with a signal, deterministic for (config, n, seed, split).

    Different splits draw from disjoint random streams (``numpy.random.SeedSequence([seed, split])``),
    so train and validation never share noise or events.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2, got {n!r}")
    if split not in SPLITS or split == "test":
        raise ValueError(
            f"split must be one of {sorted(set(SPLITS) - {'test'})}, got {split!r} (the held-out "
            "test split is lora_teach.gw.test_split's injections and background)"
        )
    config.check_lal_names()
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS[split]]))
    label = np.zeros(n, dtype=np.int64)
    label[: n // 2] = 1
    rng.shuffle(label)
    params = draw_params(config, n, rng)
    return simulate_many(config, label, params, rng, desc=f"GW {split} data", progress=progress)


def simulate_many(
    config: GWConfig,
    label: np.ndarray,
    params: dict[str, np.ndarray],
    rng: np.random.Generator,
    desc: str = "GW data",
    progress: bool = False,
) -> GWDataset:
    """Simulate event ``i`` with a signal where ``label[i]`` is 1, each cropped to the segment."""
    n = len(label)
    strain = np.empty((n, len(config.detectors), config.n_segment), dtype=np.float32)
    snr = np.zeros(n, dtype=np.float32)
    for i in tqdm(range(n), desc=desc, disable=not progress, leave=False):
        sample = simulate(config, params, i, bool(label[i]), rng)
        strain[i] = crop(config, sample["whitened"])
        snr[i] = sample["snr"]
    params["target_snr"] = np.where(label == 1, params["target_snr"], 0.0)
    return GWDataset(config, strain, label, snr, params)
