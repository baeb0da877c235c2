"""The Hanley-McNeil standard error agrees with a bootstrap of the same AUC."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from lora_teach.detection.metrics import auc_standard_error


@pytest.mark.slow
def test_standard_error_matches_a_bootstrap():
    rng = np.random.default_rng(0)
    labels = np.r_[np.ones(200), np.zeros(200)]
    scores = np.r_[rng.normal(1.2, 1, 200), rng.normal(0, 1, 200)]
    auc = roc_auc_score(labels, scores)
    boot = []
    for _ in range(2000):
        pos = rng.integers(0, 200, 200)
        neg = rng.integers(200, 400, 200)
        idx = np.r_[pos, neg]
        boot.append(roc_auc_score(labels[idx], scores[idx]))
    assert auc_standard_error(auc, 200, 200) == pytest.approx(np.std(boot), rel=0.1)


def test_perfect_and_bad_inputs():
    assert auc_standard_error(1.0, 10, 10) == 0.0
    with pytest.raises(ValueError, match="auc must be in"):
        auc_standard_error(1.2, 10, 10)
    with pytest.raises(ValueError, match="n_pos=0"):
        auc_standard_error(0.8, 0, 10)


# Detection at a fixed false-alarm probability, against known answers: noise scores N(0, 1) and
# signal scores N(mu, 1) (a known-signal matched filter at SNR mu) give efficiency Phi(mu - z_fap).

from scipy import stats  # noqa: E402

from lora_teach.detection.metrics import (  # noqa: E402
    ceiling_efficiency,
    efficiency,
    efficiency_curve,
    false_alarms_per_month,
    fit_sensitive_snr,
    sensitive_snr,
    sensitive_snr_ratio,
    threshold_at_fap,
)

RNG = np.random.default_rng(42)
NOISE = RNG.standard_normal(200_000)


@pytest.mark.parametrize("fap", [1e-2, 1e-3, 1e-4])
def test_threshold_lets_through_at_most_the_fap(fap):
    threshold = threshold_at_fap(NOISE, fap)
    assert np.mean(NOISE > threshold) <= fap
    assert threshold == pytest.approx(stats.norm.isf(fap), abs=0.05 + 0.1 * (fap < 1e-3))


@pytest.mark.parametrize("mu, fap", [(2.0, 1e-2), (3.5, 1e-3), (4.0, 1e-4)])
def test_efficiency_of_gaussian_scores_is_phi_of_mu_minus_z(mu, fap):
    signal = mu + RNG.standard_normal(50_000)
    expected = stats.norm.cdf(mu - threshold_at_fap(NOISE, fap))  # exact for this threshold
    assert efficiency(NOISE, signal, fap) == pytest.approx(expected, abs=4 * np.sqrt(0.25 / 50_000))
    # against the exact ceiling, within the spread of an empirical threshold set by FAP x 200,000
    # noise windows (only 20 of them above it at 1e-4)
    slack = 0.02 if fap >= 1e-3 else 0.08
    assert expected == pytest.approx(ceiling_efficiency(mu, fap, phase="known"), abs=slack)


@pytest.mark.slow
def test_efficiency_curve_and_sensitive_snr_on_a_known_detector():
    snr = RNG.uniform(0, 8, 20_000)
    signal = snr + RNG.standard_normal(len(snr))
    fap = 1e-3
    curve = efficiency_curve(NOISE, signal, snr, fap, bins=np.arange(0, 9, 1.0))
    assert curve["n"].sum() == len(snr) and (curve["lower"] <= curve["efficiency"]).all()
    assert (curve["efficiency"] <= curve["upper"]).all()
    truth = ceiling_efficiency(curve["snr"], fap, phase="known")
    assert np.abs(curve["efficiency"] - truth).max() < 0.06  # bins 1 wide: truth varies inside
    z = stats.norm.isf(fap)
    sens = sensitive_snr(NOISE[:20_000], signal, snr, fap, n_boot=30)
    (rho50, lo50, hi50), (rho90, lo90, hi90) = sens[0.5], sens[0.9]
    assert rho50 == pytest.approx(z, abs=0.15) and lo50 <= rho50 <= hi50
    assert rho90 == pytest.approx(z + stats.norm.ppf(0.9), abs=0.15) and lo90 <= rho90 <= hi90


def test_paired_ratio_of_sensitive_snrs():
    rng = np.random.default_rng(7)
    snr = rng.uniform(0, 8, 4000)
    noise, shared = NOISE[:5000], rng.standard_normal(len(snr))
    a = snr + shared  # detector a: a known-signal statistic
    b = 0.8 * snr + shared + 0.2 * rng.standard_normal(len(snr))  # b: weaker, sharing a's noise
    noise_b = noise + 0.05 * rng.standard_normal(len(noise))
    same = sensitive_snr_ratio(noise, a, noise, a, snr, 1e-2, n_boot=50)
    assert same == (1.0, 1.0, 1.0)  # a detector against itself: exactly 1, on every resampling
    ratio, low, high = sensitive_snr_ratio(noise_b, b, noise, a, snr, 1e-2, n_boot=100)
    rho = {
        name: sensitive_snr(n, s, snr, 1e-2, levels=(0.5,), n_boot=100)[0.5]
        for name, n, s in (("a", noise, a), ("b", noise_b, b))
    }
    assert ratio == pytest.approx(rho["b"][0] / rho["a"][0], rel=1e-9)
    assert 1.1 < low < ratio < high  # b needs louder signals
    unpaired = rho["b"][2] / rho["a"][1] - rho["b"][1] / rho["a"][2]
    assert high - low < 0.5 * unpaired  # what the two share cancels
    with pytest.raises(ValueError, match="same windows and injections"):
        sensitive_snr_ratio(noise[:10], a, noise, a, snr, 1e-2)
    with pytest.raises(ValueError, match="level must lie in"):
        sensitive_snr_ratio(noise, a, noise, a, snr, 1e-2, level=1.0)
    with pytest.raises(ValueError, match="n_boot must be an int >= 1, got 0"):
        sensitive_snr_ratio(noise, a, noise, a, snr, 1e-2, n_boot=0)
    with pytest.raises(ValueError, match="detector b: 0 of 4000 signals are detected"):
        sensitive_snr_ratio(noise, a, noise, a - 100, snr, 1e-2)


def test_unknown_phase_ceiling_matches_a_simulation():
    snr, fap = 4.0, 1e-2
    noise = np.abs(RNG.standard_normal(400_000) + 1j * RNG.standard_normal(400_000)) ** 2
    signal = np.abs(snr + RNG.standard_normal(100_000) + 1j * RNG.standard_normal(100_000)) ** 2
    simulated = np.mean(signal > np.quantile(noise, 1 - fap))
    assert ceiling_efficiency(snr, fap) == pytest.approx(simulated, abs=0.01)
    assert ceiling_efficiency(snr, fap) < ceiling_efficiency(
        snr, fap, phase="known"
    )  # the phase costs


def test_false_alarms_per_month():
    # one window a second at FAP 1e-4: 2.63 million windows a month, 263 false alarms
    assert false_alarms_per_month(1e-4, 1.0) == pytest.approx(263.0, rel=1e-3)
    assert false_alarms_per_month(1e-4, 2.0) == pytest.approx(131.5, rel=1e-3)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: threshold_at_fap(NOISE, 0.0), r"fap must be in \(0, 1\), got 0.0"),
        (lambda: threshold_at_fap(NOISE, 1.5), r"fap must be in \(0, 1\), got 1.5"),
        (
            lambda: threshold_at_fap(NOISE[:999], 1e-2),
            r"needs at least 1000 noise windows .*, got 999",
        ),
        (lambda: threshold_at_fap(NOISE[:99_999], 1e-4), r"needs at least 100000 noise windows"),
        (lambda: efficiency(NOISE, [], 1e-2), "signal_scores must be a non-empty 1-D array"),
        (lambda: threshold_at_fap(np.r_[NOISE, np.nan], 1e-2), "noise_scores must be .* finite"),
        (lambda: ceiling_efficiency(5.0, 1e-3, phase="half"), "phase must be 'known' or 'unknown'"),
        (lambda: false_alarms_per_month(1e-3, 0), "stride_seconds must be positive, got 0"),
    ],
)
def test_bad_input_names_the_numbers(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_paired_auc_difference_cancels_what_two_detectors_share():
    from lora_teach.detection.metrics import paired_auc_difference

    rng = np.random.default_rng(1)
    noise, signal = rng.normal(size=3000), rng.normal(1.0, 1.0, size=600)
    # b is a with a little extra noise: nearly the same detector, slightly worse
    noise_b, signal_b = noise + 0.3 * rng.normal(size=3000), signal + 0.3 * rng.normal(size=600)
    diff, low, high = paired_auc_difference(noise, signal, noise_b, signal_b, n_boot=300)
    auc_a = roc_auc_score(np.r_[np.zeros(3000), np.ones(600)], np.r_[noise, signal])
    auc_b = roc_auc_score(np.r_[np.zeros(3000), np.ones(600)], np.r_[noise_b, signal_b])
    assert diff == pytest.approx(auc_a - auc_b, abs=1e-12) and low < diff < high
    unpaired = 1.645 * np.hypot(
        auc_standard_error(auc_a, 600, 3000), auc_standard_error(auc_b, 600, 3000)
    )
    assert high - low < 0.5 * (2 * unpaired)  # pairing makes the interval much narrower
    assert paired_auc_difference(noise, signal, noise, signal, n_boot=20) == (0.0, 0.0, 0.0)


def test_paired_auc_difference_refuses_scores_of_different_events():
    from lora_teach.detection.metrics import paired_auc_difference

    with pytest.raises(ValueError, match="paired scores must cover the same events"):
        paired_auc_difference(np.zeros(10), np.ones(5), np.zeros(11), np.ones(5))


def test_fit_sensitive_snr_recovers_a_known_efficiency_curve():
    rng = np.random.default_rng(0)
    snr = np.broadcast_to(np.arange(2.0, 12.0), (400, 10))
    found = rng.uniform(size=snr.shape) < stats.norm.cdf((snr - 6.0) / 1.5)
    estimate, low, high = fit_sensitive_snr(snr, found, level=0.5, n_boot=50)
    assert low < 6.0 < high and abs(estimate - 6.0) < 0.2
    rho90 = fit_sensitive_snr(snr, found, level=0.9, n_boot=10)[0]
    assert rho90 == pytest.approx(6.0 + 1.5 * stats.norm.ppf(0.9), abs=0.3)
    with pytest.raises(ValueError, match="2-D of one shape"):
        fit_sensitive_snr(snr[0], found[0])
