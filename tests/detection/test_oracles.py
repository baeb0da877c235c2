"""Known-signal oracles: the coherent statistic's noise law, shifts found, power statistics."""

import numpy as np
import pytest
from scipy import stats

from lora_teach.detection.oracles import (
    coherent_statistic,
    gamma_coefficients,
    gamma_log_likelihood_ratio,
    pixel_moments,
    thresholds_at_fap,
    weighted_excess_power,
)


def _chirp(n=1024, f0=40.0, f1=200.0, rate=1024.0, phase=0.0):
    t = np.arange(n) / rate
    f = f0 + (f1 - f0) * t / t[-1]
    return np.sin(2 * np.pi * np.cumsum(f) / rate + phase) * np.hanning(n)


def test_coherent_statistic_is_chi_squared_with_four_degrees_on_white_noise():
    rng = np.random.default_rng(0)
    template = np.stack([_chirp(), _chirp(phase=1.0)])
    stat = coherent_statistic(rng.standard_normal((4000, 2, 1024)), template)
    stat /= np.mean(stat) / 4  # white noise: |z|^2 / |S|^2 has mean 2 per detector up to scale
    assert stats.kstest(stat, "chi2", args=(4,)).pvalue > 0.01


def test_the_phase_is_maximised_and_a_shift_is_found():
    template = np.stack([_chirp(), _chirp()])
    rotated = np.stack([_chirp(phase=np.pi / 2), _chirp(phase=2.0)])
    assert coherent_statistic(rotated[None], template)[0] == pytest.approx(
        coherent_statistic(template[None], template)[0], rel=0.02
    )
    moved = np.roll(template, 40, axis=-1)
    at_zero = coherent_statistic(moved[None], template)[0]
    shifted = coherent_statistic(moved[None], template, max_lag=50)[0]
    assert shifted > 5 * at_zero
    assert shifted == pytest.approx(coherent_statistic(template[None], template)[0], rel=0.05)


def test_power_statistics_prefer_the_template_and_agree_on_the_noise_mean():
    rng = np.random.default_rng(1)
    noise = rng.gamma(3.0, 1.0, (5000, 2, 8, 10))
    mean, var = pixel_moments(noise)
    template = np.zeros((2, 8, 10))
    template[:, 2, 4:6] = 4.0
    signal = noise + template
    assert weighted_excess_power(signal, template, mean, var).mean() > 3 * np.std(
        weighted_excess_power(noise, template, mean, var)
    )
    wide = weighted_excess_power(noise, template, mean, var, shifts=range(-2, 3))
    assert np.all(wide >= weighted_excess_power(noise, template, mean, var) - 1e-9)
    llr = gamma_log_likelihood_ratio(signal, template, mean, var, snr=1.0)
    assert llr.mean() > gamma_log_likelihood_ratio(noise, template, mean, var, 1.0).mean()
    a, b, _ = gamma_coefficients(template, mean, var, 0.0)
    assert np.allclose(a, 0) and np.allclose(b, 0)


def test_thresholds_need_ten_noise_windows_above():
    noise = np.arange(1000.0)
    assert thresholds_at_fap(noise, [1e-2]) == {1e-2: 989.0}
    with pytest.raises(ValueError, match="leaves 1 above the threshold"):
        thresholds_at_fap(noise, [1e-3])
