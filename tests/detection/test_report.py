"""A detector's test-split record: AUC and its error, efficiency by SNR bin, rho50 and rho90 per FAP."""

import numpy as np
import pytest

from lora_teach.detection.report import detection_summary


def _scores(seed=0, n_noise=2000, per_snr=200):
    rng = np.random.default_rng(seed)
    snr = np.repeat(np.arange(4.0, 17.0), per_snr)
    # A known-phase statistic 3 SNR units weaker than the ideal one: N(0, 1) on noise, N(snr - 3,
    # 1) on signals, so half the signals pass the threshold z where snr = z + 3.
    return rng.normal(size=n_noise), snr - 3 + rng.normal(size=len(snr)), snr


def test_rho50_of_a_known_statistic_is_where_its_mean_meets_the_threshold():
    noise, signal, snr = _scores(n_noise=20_000)
    record = detection_summary(noise, signal, snr, faps=(1e-2, 1e-3), n_boot=20)
    assert record["background_windows"] == 20_000 and record["injections"] == len(snr)
    for key, fap in (("0.01", 1e-2), ("0.001", 1e-3)):
        threshold = np.sort(noise)[::-1][int(fap * len(noise))]
        rho50, low, high = record["fap"][key]["rho50"]
        assert rho50 == pytest.approx(threshold + 3, abs=0.15) and low <= rho50 <= high
        assert record["fap"][key]["rho90"][0] > rho50
    curve = record["fap"]["0.001"]["efficiency"]
    assert curve["snr"][0] == 4.0 and curve["n"] == [200] * 13
    assert curve["efficiency"][0] < 0.1 and curve["efficiency"][-1] == 1.0
    assert 0.9 < record["auc"] < 1.0 and record["auc_se"] > 0


def test_a_detector_that_finds_everything_has_no_rho50_rather_than_a_wrong_one():
    noise, _, snr = _scores()
    record = detection_summary(noise, snr + 100.0, snr, faps=(1e-2,), n_boot=5)
    assert record["fap"]["0.01"]["rho50"] is None and record["auc"] == 1.0


def test_too_few_noise_windows_for_the_fap_is_refused_by_name():
    noise, signal, snr = _scores(n_noise=500)
    with pytest.raises(ValueError, match="a FAP of 0.001 needs at least 10000 noise windows"):
        detection_summary(noise, signal, snr, faps=(1e-3,))
