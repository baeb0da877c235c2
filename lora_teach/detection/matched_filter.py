"""The matched-filter search: the optimal detector for a known signal, made a search by a bank.

For whitened data d and a whitened template T (see :mod:`lora_teach.detection.template_bank`), the
matched-filter SNR at a time shift tau is the correlation of d with T shifted by tau, divided by
its standard deviation in noise. With the phase unknown the two quadratures of the template are
filtered at once: the complex SNR

    z(tau) = (2 / L) sum_{f > 0} D(f) T*(f) exp(2 pi i f tau) * sqrt(keep) / sigma(tau)

has Re z the correlation with T, Im z the correlation with T shifted by 90 degrees, and |z|^2 is a
chi-squared with 2 degrees of freedom in Gaussian noise. ``keep`` is the fraction of the spectrum
in band (whitened noise has unit variance spread over that fraction) and sigma(tau)^2 the energy
of the part of the template that overlaps the 2 s segment at that shift (the segment cuts off the
early inspiral, and the filter is normalised for what it can see).

The search statistic of one sample: for every template, |z_H1(t)|^2 plus the largest |z_L1|^2
within the light travel time between the sites plus ``COINCIDENCE_MARGIN_S`` of t, maximised over
t in the injections' merger window and over the bank; returned as its square root, a network SNR.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import scipy.fft
import torch
from scipy.ndimage import maximum_filter1d

from lora_teach.detection.template_bank import (
    TEMPLATE_TAIL_SECONDS,
    TemplateBank,
    check_bank_fits,
    default_bank,
    segment_templates,
)
from lora_teach.gw.config import GWConfig
from lora_teach.gw.lal import import_lal
from lora_teach.gw.noise import band_mask, psd_curve

__all__ = ["search", "snr_series", "light_travel_time", "COINCIDENCE_MARGIN_S"]

COINCIDENCE_MARGIN_S = 0.005  # timing error allowed beyond the light travel time between sites
# The merger window is widened by this much: the Earth-centre delay (<= 21 ms) plus a margin.
ARRIVAL_MARGIN_S = 0.03


def light_travel_time(a: str, b: str) -> float:
    """Seconds light takes between the vertices of detectors ``a`` and ``b`` (H1-L1: 10.0 ms)."""
    lal, _ = import_lal()
    la = np.array(lal.cached_detector_by_prefix[a].location)
    lb = np.array(lal.cached_detector_by_prefix[b].location)
    return float(np.linalg.norm(la - lb) / lal.C_SI)


class _Filters:
    """The bank's templates on the correlation grid, their per-shift norms, and the shifts searched."""

    def __init__(self, bank: TemplateBank, step: int, merger_window: tuple[float, float]):
        config = bank.config
        n = config.n_segment
        self.fft_length = 2 * n  # zero-padded: no wrap-around between positive and negative shifts
        top = int(math.floor(config.f_upper * self.fft_length / config.sample_rate)) + 1
        self.n_freq = top
        steps = [s for s in range(1, self.fft_length // top + 1) if self.fft_length % s == 0]
        if isinstance(step, bool) or not isinstance(step, int) or step not in steps:
            raise ValueError(f"step must be one of {steps} samples for this band, got {step!r}")
        self.n_time = self.fft_length // step  # the inverse FFT evaluates every step-th shift
        templates = segment_templates(bank)  # (K, n)
        spectra = np.fft.rfft(templates, n=self.fft_length, axis=-1)[:, :top]
        self.conj_templates = spectra.conj().astype(np.complex64)

        # shift tau: template sample t lines up with data sample t + tau; its merger with data
        # sample tau + merger_in_template
        j = np.arange(self.n_time)
        shift = np.where(j < self.n_time // 2, j, j - self.n_time) * step
        self.merger_in_template = n - TEMPLATE_TAIL_SECONDS * config.sample_rate
        self.all_shifts = np.argsort(shift)
        self.shift = shift
        energy = np.concatenate([np.zeros((len(templates), 1)), np.cumsum(templates**2, -1)], -1)
        hi = np.clip(n - shift, 0, n)
        lo = np.clip(-shift, 0, n)
        sigma2 = energy[:, hi] - energy[:, lo]  # (K, n_time): template energy inside the segment
        freqs, psd = psd_curve(config)
        band = band_mask(config, freqs, psd)
        keep = band.sum() / (len(band) - 1)
        scale = (2.0 / self.fft_length) * self.n_time
        with np.errstate(divide="ignore"):
            norm = np.where(sigma2 > 1e-6 * sigma2.max(), scale * np.sqrt(keep / sigma2), 0.0)
        self.norm = norm.astype(np.float32)
        seconds = (shift + self.merger_in_template) / config.sample_rate
        lo_s = merger_window[0] * config.segment_seconds - ARRIVAL_MARGIN_S
        hi_s = merger_window[1] * config.segment_seconds + ARRIVAL_MARGIN_S
        inside = np.flatnonzero((seconds >= lo_s) & (seconds <= hi_s))
        self.searched = inside[np.argsort(shift[inside])]
        self.step_seconds = step / config.sample_rate

    def snr2(self, strain: np.ndarray, shifts: np.ndarray) -> np.ndarray:
        """|z|^2 for a batch (b, detectors, n): (b, detectors, K, len(shifts)), float32."""
        workers = torch.get_num_threads()  # the thread count the book fixes for torch
        data = scipy.fft.rfft(np.asarray(strain, np.float32), n=self.fft_length, workers=workers)
        product = data[..., None, : self.n_freq] * self.conj_templates
        z = scipy.fft.ifft(product, n=self.n_time, workers=workers)[..., shifts]
        return (z.real**2 + z.imag**2) * self.norm[:, shifts] ** 2


_FILTERS: dict[str, _Filters] = {}


def _filters(bank: TemplateBank, step: int, config: GWConfig) -> _Filters:
    """The filters for ``bank`` at ``step``, searching ``config``'s merger window; the last two kept."""
    digest = hashlib.sha256(repr((bank.config, step, config.merger_window)).encode())
    for k in sorted(bank.params):
        digest.update(np.ascontiguousarray(bank.params[k]).tobytes())
    key = digest.hexdigest()
    if key not in _FILTERS:
        while len(_FILTERS) >= 2:  # filters for 300 templates take ~20 MB
            _FILTERS.pop(next(iter(_FILTERS)))
        _FILTERS[key] = _Filters(bank, step, config.merger_window)
    return _FILTERS[key]


def _check(strain, config: GWConfig, bank: TemplateBank | None) -> tuple[np.ndarray, TemplateBank]:
    strain = np.asarray(strain)
    expected = (len(config.detectors), config.n_segment)
    if strain.ndim != 3 or strain.shape[1:] != expected:
        raise ValueError(
            f"strain must be (n, {expected[0]} detectors, {expected[1]} samples) for this config, "
            f"got shape {strain.shape}"
        )
    bank = default_bank(config) if bank is None else bank
    if len(bank) == 0:
        raise ValueError("the template bank is empty: it holds no template to filter with")
    check_bank_fits(bank, config)
    return strain, bank


def search(
    strain,
    config: GWConfig,
    bank: TemplateBank | None = None,
    step: int = 2,
    batch_size: int = 1,
) -> np.ndarray:
    """The matched-filter network SNR of each sample of ``strain`` ``(n, detectors, n_segment)``.

    ``strain`` is a :class:`~lora_teach.gw.simulation.GWDataset`'s whitened strain; ``bank`` defaults to
    :func:`~lora_teach.detection.template_bank.default_bank`. Larger means more signal-like. Shifts are
    searched every ``step`` samples: 2 (1 ms here) halves the cost of every sample and loses at
    most about 1% of a loud high-mass signal's SNR between grid points.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    strain, bank = _check(strain, config, bank)
    filters = _filters(bank, step, config)
    # half-width, in shift steps, of the window the other detectors' peaks may fall in
    widths = [
        math.ceil(
            (light_travel_time(config.detectors[0], det) + COINCIDENCE_MARGIN_S)
            / filters.step_seconds
        )
        for det in config.detectors[1:]
    ]
    out = np.empty(len(strain))
    for start in range(0, len(strain), batch_size):
        power = filters.snr2(strain[start : start + batch_size], filters.searched)
        network = power[:, 0]
        for d, w in enumerate(widths, start=1):
            network = network + maximum_filter1d(power[:, d], 2 * w + 1, axis=-1, mode="nearest")
        out[start : start + batch_size] = np.sqrt(network.reshape(len(network), -1).max(axis=1))
    return out


def snr_series(
    strain, config: GWConfig, template: int, bank: TemplateBank | None = None, step: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """|z(t)| of one sample ``(detectors, n_segment)`` against template ``template`` of the bank.

    Returns (merger times in s within the segment, |z| per detector ``(detectors, times)``), over
    every shift at which the template's merger lies inside the segment.
    """
    strain, bank = _check(np.asarray(strain)[None], config, bank)
    if not 0 <= template < len(bank):
        raise ValueError(f"template must be in [0, {len(bank)}), got {template}")
    filters = _filters(bank, step, config)
    seconds = (filters.shift + filters.merger_in_template) / config.sample_rate
    order = filters.all_shifts[
        (seconds[filters.all_shifts] >= 0) & (seconds[filters.all_shifts] < config.segment_seconds)
    ]
    power = filters.snr2(strain, order)[0, :, template]
    return seconds[order], np.sqrt(power.astype(np.float64))
