"""The input's ceiling: the mel power undone from the features, trials judged per template."""

import numpy as np
import pytest

from lora_teach.experiments.input_ceiling import _found, _rho50, power_images
from lora_teach.gw.config import GWConfig


@pytest.mark.parametrize("representation", ["compressed", "resampled"])
def test_power_images_are_the_mel_power_quadratic_in_the_strain(representation):
    gw = GWConfig()
    strain = np.random.default_rng(0).standard_normal((2, 2, gw.n_segment)).astype(np.float32)
    power = power_images(strain, gw, representation)
    doubled = power_images(2 * strain, gw, representation)
    assert np.allclose(doubled, 4 * power, rtol=1e-3)


def test_each_trial_is_judged_against_its_own_templates_noise():
    rng = np.random.default_rng(1)
    noise = rng.standard_normal((3, 1000)) + np.array([[0.0], [5.0], [10.0]])
    trials = np.array([[2.0, 3.0], [7.0, 8.0], [12.0, 14.0]])
    found = _found(noise, trials, [1e-2])[1e-2]
    assert found.tolist() == [[False, True], [False, True], [False, True]]


def test_rho50_comes_from_the_trials_of_every_snr():
    rng = np.random.default_rng(2)
    snrs = np.arange(2.0, 12.0)
    hits = rng.uniform(size=(200, len(snrs))) < 1 / (1 + np.exp(-(snrs - 6.0) * 2))
    rho = _rho50({1e-3: hits}, snrs)["0.001"]
    assert rho[1] < 6.0 < rho[2]


def test_a_statistic_that_depends_on_the_snr_has_a_threshold_per_snr():
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((2, 2, 1000)) + np.array([[[0.0], [5.0]], [[10.0], [15.0]]])
    trials = np.array([[3.0, 7.0], [12.0, 16.0]])
    found = _found(noise, trials, [1e-2])[1e-2]
    assert found.tolist() == [[True, False], [False, False]]
