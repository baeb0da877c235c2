"""Known-signal oracles: the best a statistic can do when it knows the signal, on two inputs.

Whitened strain keeps phase; a spectrogram keeps only power. For one injection whose noise-free
whitened template ``s_k`` (per detector k) the oracle knows, and data ``d_k = n_k + rho s_k``:

- **coherent, phase unknown per detector**: ``sum_k |<d_k, s_k + i H(s_k)>|^2 / |S_k|^2``, the
  known-template matched filter with each detector's phase maximised (H: Hilbert transform);
  4 degrees of freedom on noise.
- **weighted excess power** on a power image ``P`` (mel power per pixel): ``sum_p w_p (P_p -
  mu_p)`` with ``w_p = P_p(s) / var_p``, the signal's own power over the noise's variance per
  pixel: the locally optimal statistic for a known power pattern.
- **per-pixel likelihood ratio** on ``P``: each pixel a gamma variable, moment-matched on noise
  (mean ``mu``, variance ``var``) and with the signal (mean ``mu + rho^2 P(s)``, variance ``var +
  2 (var / mu) rho^2 P(s)``, as for a non-central chi-squared), pixels treated as independent.

Each statistic can be maximised over a time shift (``max_lag``), so that a trials factor enters as
it does for a search. Thresholds come from noise windows, per template.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
from scipy.special import gammaln

__all__ = [
    "coherent_statistics",
    "coherent_statistic",
    "pixel_moments",
    "weighted_excess_power",
    "gamma_coefficients",
    "gamma_log_likelihood_ratio",
    "thresholds_at_fap",
]


def _positive_spectrum(x: np.ndarray, nfft: int) -> np.ndarray:
    return scipy.fft.rfft(x, n=nfft, axis=-1, workers=2)[..., 1:].astype(np.complex64)


def coherent_statistics(
    data: np.ndarray, templates: np.ndarray, max_lag: int = 0, block: int = 500
) -> np.ndarray:
    """(templates, n) coherent statistics of ``data`` (n, detectors, samples) for each of
    ``templates`` (m, detectors, samples), each detector's phase maximised; with ``max_lag``,
    also the maximum over a common shift of the template by up to that many samples either way.
    The data's spectrum is taken once, ``block`` windows at a time."""
    n_samples = data.shape[-1]
    nfft = 1 << int(np.ceil(np.log2(n_samples + max_lag + 1)))
    s = np.conj(_positive_spectrum(templates, nfft))
    norm = np.sum(np.abs(s) ** 2, axis=-1)  # (templates, detectors)
    lags = np.r_[0 : max_lag + 1, nfft - max_lag : nfft]
    out = np.empty((len(templates), len(data)))
    for start in range(0, len(data), block):
        d = _positive_spectrum(data[start : start + block], nfft)
        rows = slice(start, start + len(d))
        if max_lag == 0:
            z = np.einsum("bdf,mdf->mbd", d, s)
            out[:, rows] = np.sum(np.abs(z) ** 2 / norm[:, None, :], axis=-1)
            continue
        # z(tau) for every shift at once: the one-sided cross-spectrum, inverse-transformed
        spectrum = np.zeros((*d.shape[:-1], nfft), np.complex64)
        for j in range(len(templates)):
            spectrum[..., 1 : d.shape[-1] + 1] = d * s[j]
            z = scipy.fft.ifft(spectrum, axis=-1, workers=2)[..., lags]
            power = np.abs(z) ** 2 / norm[j][None, :, None]
            out[j, rows] = power.sum(axis=1).max(axis=-1) * nfft**2
    return out


def coherent_statistic(data: np.ndarray, template: np.ndarray, max_lag: int = 0) -> np.ndarray:
    """(n,) coherent statistics of ``data`` for one ``template`` (see
    :func:`coherent_statistics`)."""
    return coherent_statistics(data, template[None], max_lag)[0]


def pixel_moments(power: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel mean and variance of noise power images (n, detectors, mel, frames)."""
    return power.mean(axis=0), power.var(axis=0, ddof=1)


def _shifted(image: np.ndarray, shift: int) -> np.ndarray:
    """``image`` (..., frames) moved ``shift`` frames later, zeros where it moved from."""
    out = np.zeros_like(image)
    if shift >= 0:
        out[..., shift:] = image[..., : image.shape[-1] - shift]
    else:
        out[..., :shift] = image[..., -shift:]
    return out


def weighted_excess_power(
    power: np.ndarray,
    template_power: np.ndarray,
    mean: np.ndarray,
    var: np.ndarray,
    shifts=(0,),
) -> np.ndarray:
    """(n,) weighted excess power of images ``power`` (n, detectors, mel, frames) for one
    template's noise-free power image, in units of its noise standard deviation; the maximum
    over the template moved by each of ``shifts`` frames (the weights divide by the noise
    variance where the template lands: a spectrogram's edge frames are noisier)."""
    excess = (power - mean).reshape(len(power), -1)
    weights = np.stack([(_shifted(template_power, k) / var).ravel() for k in shifts])
    spread = np.sqrt(np.sum(weights**2 * var.ravel(), axis=1))
    return (excess @ weights.T / spread).max(axis=1)


def gamma_coefficients(
    template_power: np.ndarray, mean: np.ndarray, var: np.ndarray, snr: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """(a, b, c) such that the summed per-pixel gamma log-likelihood ratio of a power image
    ``P`` for the template at ``snr`` (``template_power`` at network SNR 1) is
    ``sum(a log P) + sum(b P) + c``: linear in (log P, P), so many templates score many images
    as two matrix products."""
    added = snr**2 * template_power
    scale0 = var / mean
    mean1, var1 = mean + added, var + 2 * scale0 * added
    scale1 = var1 / mean1
    shape0, shape1 = mean / scale0, mean1 / scale1
    a = shape1 - shape0
    b = 1 / scale0 - 1 / scale1
    c = np.sum(
        gammaln(shape0) + shape0 * np.log(scale0) - gammaln(shape1) - shape1 * np.log(scale1)
    )
    return a, b, float(c)


def gamma_log_likelihood_ratio(
    power: np.ndarray, template_power: np.ndarray, mean: np.ndarray, var: np.ndarray, snr: float
) -> np.ndarray:
    """(n,) summed per-pixel gamma log-likelihood ratios of ``power`` (n, ...) for the template
    at ``snr`` (see :func:`gamma_coefficients`)."""
    a, b, c = gamma_coefficients(template_power, mean, var, snr)
    flat = power.reshape(len(power), -1)
    return np.log(np.clip(flat, 1e-30, None)) @ a.ravel() + flat @ b.ravel() + c


def thresholds_at_fap(noise_statistics: np.ndarray, faps) -> dict[float, float]:
    """The value that a fraction ``fap`` of the noise statistics exceeds, per FAP; at least ten
    noise windows above each is required, so the threshold is measured, not extrapolated."""
    noise = np.sort(np.asarray(noise_statistics, float))
    out = {}
    for fap in faps:
        above = int(np.floor(fap * len(noise)))
        if above < 10:
            raise ValueError(
                f"FAP {fap:g} with {len(noise)} noise windows leaves {above} above the threshold; "
                "need at least 10"
            )
        out[fap] = float(noise[len(noise) - above - 1])
    return out
