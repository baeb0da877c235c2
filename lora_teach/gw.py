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

import dataclasses
import functools
import hashlib
import json
import math
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from .gw_signal import draw_params, import_lal, signal_fft

__all__ = [
    "GWConfig",
    "GWDataset",
    "generate_dataset",
    "simulate",
    "simulate_many",
    "crop",
    "psd_curve",
    "band_mask",
    "optimal_snr",
    "whiten",
]

# O3: 2019-04-01 to 2020-03-27 in GPS seconds.
O3_GPS = (1238166018.0, 1269363618.0)
SPLITS = {"train": 0, "val": 1, "test": 2, "sample": 3}


@dataclass(frozen=True)
class GWConfig:
    """Everything that defines a data set. Changing any field changes the cache key.

    Harder variants (all off by default): ``glitch_prob`` adds a sine-Gaussian glitch to each
    detector with that probability in both classes; ``psd_jitter`` scales each sample's true PSD by
    exp(N(0, psd_jitter)) per detector, while whitening still uses the nominal PSD unless
    ``estimate_psd`` is set, which whitens with a Welch estimate from the sample itself.
    """

    sample_rate: int = 2048
    segment_seconds: float = 2.0
    noise_seconds: float = 8.0
    detectors: tuple[str, ...] = ("H1", "L1")
    psd: str = "aLIGOO3LowT1800545"
    approximant: str = "IMRPhenomD"
    f_lower: float = 20.0
    f_upper: float = 500.0
    mass_range: tuple[float, float] = (10.0, 50.0)
    spin_range: tuple[float, float] = (-0.5, 0.5)
    distance_range_mpc: tuple[float, float] = (100.0, 2000.0)
    snr_range: tuple[float, float] = (5.0, 15.0)
    merger_window: tuple[float, float] = (0.55, 0.85)
    gps_range: tuple[float, float] = O3_GPS
    glitch_prob: float = 0.0
    psd_jitter: float = 0.0
    estimate_psd: bool = False

    def __post_init__(self):
        # Ranges only, in plain Python: lal's names are looked up when the physics runs (check_lal_names).
        def pair(name, lo, hi, unit=""):
            a, b = getattr(self, name)
            if not (lo <= a <= b <= hi):
                raise ValueError(
                    f"{name} must satisfy {lo} <= min <= max <= {hi}{unit}, got {getattr(self, name)}"
                )

        pair("mass_range", 1.0, 200.0, " solar masses")
        pair("spin_range", -0.99, 0.99)
        pair("distance_range_mpc", 1.0, 1e5, " Mpc")
        pair("snr_range", 0.0, 1000.0)
        pair("merger_window", 0.0, 1.0, " (fractions of the segment)")
        pair("gps_range", 0.0, 2e10)
        if not self.detectors or not all(isinstance(d, str) for d in self.detectors):
            raise ValueError(
                f"detectors must be a non-empty tuple of names such as 'H1', got {self.detectors!r}"
            )
        if not (0 < self.f_lower < self.f_upper):
            raise ValueError(
                f"need 0 < f_lower < f_upper, got f_lower={self.f_lower}, f_upper={self.f_upper}"
            )
        if self.sample_rate < 2 * self.f_upper:
            raise ValueError(
                f"sample_rate {self.sample_rate} Hz is below twice the band's upper edge f_upper={self.f_upper} Hz"
            )
        if self.segment_seconds < 0.25:
            raise ValueError(f"segment_seconds must be >= 0.25 s, got {self.segment_seconds}")
        if self.noise_seconds < self.segment_seconds + 4.0:
            raise ValueError(
                f"noise_seconds must leave >= 2 s on each side of the segment for the waveform and whitening "
                f"filter: need >= {self.segment_seconds + 4.0}, got {self.noise_seconds}"
            )
        if not (0.0 <= self.glitch_prob <= 1.0) or self.psd_jitter < 0:
            raise ValueError(
                f"glitch_prob must be in [0, 1] and psd_jitter >= 0, got {self.glitch_prob}, {self.psd_jitter}"
            )

    def check_lal_names(self) -> None:
        """Raise ValueError unless lal knows the detectors, the PSD and the approximant."""
        lal, lalsimulation = import_lal()
        unknown = [d for d in self.detectors if d not in lal.cached_detector_by_prefix]
        if unknown:
            raise ValueError(
                f"unknown detector(s) {unknown}; known: {sorted(lal.cached_detector_by_prefix)}"
            )
        if not hasattr(lalsimulation, "SimNoisePSD" + self.psd):
            names = dir(lalsimulation)
            known = sorted(
                n[len("SimNoisePSD") :]
                for n in names
                if n.startswith("SimNoisePSDaLIGO") and not n.endswith("Ptr")
            )
            raise ValueError(f"unknown PSD {self.psd!r}; lalsimulation has e.g. {known[:8]}")
        if not hasattr(lalsimulation, self.approximant):
            raise ValueError(f"unknown approximant {self.approximant!r}")

    @property
    def n_noise(self) -> int:
        return int(round(self.noise_seconds * self.sample_rate))

    @property
    def n_segment(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))

    def key(self) -> str:
        return hashlib.sha256(
            json.dumps(dataclasses.asdict(self), sort_keys=True).encode()
        ).hexdigest()[:16]


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


def _welch_psd(series: np.ndarray, config: GWConfig, freqs: np.ndarray) -> np.ndarray:
    from scipy.signal import welch

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
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
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
